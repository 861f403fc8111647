"""Best-of-N: sample N complete solutions in lockstep, then pick one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator
from dataclasses import replace
from typing import Any

from thinkgym.agents.base import Policy
from thinkgym.search.context import Candidate, SearchContext
from thinkgym.search.guidance import AGGREGATES, Guidance, RewardModelGuidance, with_aggregate
from thinkgym.search.planner import Outcome, Planner
from thinkgym.search.requests import ScoreRequest
from thinkgym.search.selection import normalize_answer, pick, weighted_votes

__all__ = [
    "BestOfN",
    "BestOfNVote",
    "WeightedBestOfN",
    "Greedy",
    "normalize_answer",
    "pick",
    "weighted_votes",
]

SELECTIONS = ("vote", "orm", "prm", "logprob", "guidance")


class BestOfN(Planner):
    """N complete samples; select by majority vote, by an ORM, by an aggregated PRM or by log-prob.

    All samples of all problems advance in lockstep: one policy call per depth level. A rejected
    step leaves a sample where it was (it resamples from there next level); a sample ends with an
    ``Answer:`` line or at the env's action limit. Samples whose answer the task refutes without
    the reference (Game24) are never selected; one it verifies ends the search early.

    Args:
        policy: the policy.
        n: samples per problem (also capped by the budget).
        select: ``"vote"`` (majority over final values, ties by log-prob), ``"orm"``, ``"prm"``,
            ``"logprob"`` or ``"guidance"`` (the best score of any ``guidance``). Default:
            ``"vote"`` without guidance; with a reward model, its kind (``"prm"``/``"orm"``);
            with another guidance, ``"guidance"``.
        guidance: what ranks finished samples: the ORM/PRM for ``select="orm"``/``"prm"`` (a
            ``LearnedRewardModel``, any object with ``score_transcripts`` / ``score_steps``, or a
            :class:`~thinkgym.search.guidance.RewardModelGuidance`), or any guidance for
            ``select="guidance"``.
        aggregate: PRM aggregation: ``min``, ``prod``, ``last`` or ``mean`` (``None``: the
            guidance's own, ``min`` for a bare reward model); a PRM guidance is re-aggregated.
        weighted_vote: with ``select="orm"``/``"prm"``/``"guidance"``, pick the final value
            with the largest *sum* of scores over the samples that reach it (RM-weighted
            majority vote, as in Uesato et al. 2022 and Math-Shepherd), then its best-scored
            sample; ``False`` (default) picks the single best-scored sample.
        **kwargs: see :class:`~thinkgym.search.planner.Planner`.
    """

    name = "best_of_n"

    def __init__(
        self,
        policy: Policy,
        *,
        n: int = 8,
        select: str | None = None,
        guidance: Any = None,
        aggregate: str | None = None,
        weighted_vote: bool = False,
        **kwargs: Any,
    ) -> None:
        if aggregate is not None and aggregate not in AGGREGATES:
            raise ValueError(f"aggregate={aggregate!r} is not one of {AGGREGATES}")
        if select is not None and select not in SELECTIONS:
            raise ValueError(f"select={select!r} is not one of {SELECTIONS}")
        if select in ("orm", "prm"):
            if guidance is None:
                raise ValueError(
                    f"select={select!r} needs guidance=<reward model>; pass a LearnedRewardModel "
                    "or use select='vote'"
                )
            if not isinstance(guidance, Guidance):
                guidance = RewardModelGuidance(guidance, kind=select, aggregate=aggregate or "min")
        super().__init__(policy, guidance=guidance, **kwargs)
        self.guidance = with_aggregate(self.guidance, aggregate)
        if select is None:
            if self.guidance is None:
                select = "vote"
            elif isinstance(self.guidance, RewardModelGuidance):
                select = self.guidance.kind
            else:
                select = "guidance"
        if select in ("orm", "prm", "guidance") and self.guidance is None:
            raise ValueError(f"select={select!r} needs guidance=...; or use select='vote'")
        if select in ("vote", "logprob") and self.guidance is not None:
            raise ValueError(
                f"select={select!r} does not use guidance={guidance!r}; drop it, or pass "
                "select='prm'/'orm'/'guidance'"
            )
        if n < 1:
            raise ValueError(f"n={n!r} must be >= 1")
        if weighted_vote and select not in ("orm", "prm", "guidance"):
            raise ValueError(
                f"weighted_vote=True weighs votes by scores; it needs select='orm', 'prm' or "
                f"'guidance', not {select!r}"
            )
        self.n = int(n)
        self.select = select
        self.weighted_vote = bool(weighted_vote)
        self.aggregate = getattr(self.guidance, "aggregate", aggregate)

    @classmethod
    def sizing(cls, policy_calls: int, depth: int) -> dict[str, Any]:
        """As many whole samples as fit in the budget."""
        return {"n": max(1, policy_calls // depth)}

    def search(self, ctx: SearchContext) -> Generator[Any, Any, Outcome]:
        """Lockstep sampling, then selection."""
        tree = ctx.tree
        samples: list[tuple[Candidate | None, int]] = [(None, 0) for _ in range(self.n)]
        # (last candidate, node id); None means at the root
        active = list(range(self.n))
        found: int | None = None
        while active and found is None:
            states = [samples[i][0].state if samples[i][0] else ctx.root for i in active]
            obs = [ctx.env.transcript(s) for s in states]
            props = yield from self.propose(ctx, obs, 1)
            still = []
            for i, state, plist in zip(active, states, props, strict=False):
                if not plist:
                    continue  # out of budget: this sample ends here
                prev, node = samples[i]
                cand = ctx.extend(prev, state, plist[0])
                if cand.accepted:
                    tree.nodes[node].visits += 1
                    child = tree.add_proposal(node, cand.state, plist[0])
                    samples[i] = (cand, child.id)
                    if self.is_done(cand):
                        found = i
                        break
                    if not cand.state.done and not ctx.out_of_steps(cand.state):
                        still.append(i)
                else:
                    # keep the sample where it was; the action still counts toward truncation
                    stuck = cand.state
                    base = prev if prev is not None else Candidate(ctx.env, state, state, "")
                    samples[i] = (
                        replace(base, parent=state, state=stuck, step="", proposal=None),
                        node,
                    )
                    if not ctx.out_of_steps(stuck):
                        still.append(i)
            active = still
            if ctx.meter.exhausted:
                break
        finals = [(i, c, node) for i, (c, node) in enumerate(samples) if c and c.state.done]
        cands_json: list[dict[str, Any]] = []
        if found is not None:
            c, node = samples[found]
            assert c is not None
            return Outcome(
                steps=list(c.state.steps),
                state=c.state,
                candidates=[
                    {
                        "answer": c.state.answer,
                        "solved": True,
                        "sample": found,
                        "steps": list(c.state.steps),
                    }
                ],
                info={"samples": self.n, "finished": len(finals), "select": "verified"},
            )
        usable = [f for f in finals if f[1].state.correct is not False]
        scores: list[float] = [0.0] * len(usable)
        if usable and self.guidance is not None and self.select != "vote":
            scores = yield ScoreRequest(self.guidance, [c for _, c, _ in usable])
        elif usable and self.select == "logprob":
            scores = [c.path_logprob / max(1, c.path_tokens) for _, c, _ in usable]
        for (_, _c, node), sc in zip(usable, scores, strict=False):
            tree.nodes[node].score = float(sc)
        votes = Counter(normalize_answer(c.state.answer or "") for _, c, _ in usable)
        for i, c, _ in finals:
            key = normalize_answer(c.state.answer or "")
            cands_json.append(
                {
                    "sample": i,
                    "answer": c.state.answer,
                    "value": key,
                    "solved": c.state.correct,
                    "votes": votes.get(key, 0),
                    "logprob": c.path_logprob,
                    "steps": list(c.state.steps),
                }
            )
        score_of = {i: float(sc) for (i, _, _), sc in zip(usable, scores, strict=False)}
        for d in cands_json:
            if d["sample"] in score_of:
                d["score"] = score_of[d["sample"]]
        info = {"samples": self.n, "finished": len(finals), "select": self.select}
        if self.weighted_vote:
            info["weighted_vote"] = True
        if not usable:
            return Outcome(steps=[], state=None, candidates=cands_json, info=info)
        best = pick(
            [normalize_answer(c.state.answer or "") for _, c, _ in usable],
            [c.path_logprob / max(1, c.path_tokens) for _, c, _ in usable],
            None if self.select == "vote" else scores,
            weighted=self.weighted_vote,
        )
        _, c, _ = usable[best]
        return Outcome(steps=list(c.state.steps), state=c.state, candidates=cands_json, info=info)


class BestOfNVote(BestOfN):
    """Best-of-N by majority vote over the final values (ties by log-prob), whatever guidance it
    is handed: the reward-model-free row of a bench that hands every planner a PRM.

    Args:
        policy: the policy.
        n: samples per problem.
        **kwargs: see :class:`BestOfN` (``select`` is fixed; ``guidance`` is ignored).
    """

    name = "best_of_n_vote"

    def __init__(self, policy: Policy, *, n: int = 8, guidance: Any = None, **kwargs: Any) -> None:
        if "select" in kwargs:
            raise ValueError("best_of_n_vote fixes select='vote'; use best_of_n to choose it")
        kwargs.pop("aggregate", None)
        super().__init__(policy, n=n, select="vote", guidance=None, **kwargs)


class WeightedBestOfN(BestOfN):
    """Best-of-N by weighted majority vote: the final value with the largest sum of (aggregated)
    PRM or ORM scores, or of any guidance's scores, then its best-scored sample. Without
    guidance it is a plain majority vote.

    Args:
        policy: the policy.
        n: samples per problem.
        guidance: the reward model (or its :class:`RewardModelGuidance`), or any guidance.
        aggregate: PRM step-score aggregation (``min``, ``prod``, ``last``, ``mean``; ``None``:
            the guidance's own).
        **kwargs: see :class:`BestOfN`.
    """

    name = "best_of_n_weighted"

    def __init__(
        self,
        policy: Policy,
        *,
        n: int = 8,
        guidance: Any = None,
        aggregate: str | None = None,
        **kwargs: Any,
    ) -> None:
        if "select" in kwargs or "weighted_vote" in kwargs:
            raise ValueError(
                "best_of_n_weighted fixes select and weighted_vote; use best_of_n to choose them"
            )
        super().__init__(
            policy,
            n=n,
            guidance=guidance,
            aggregate=aggregate,
            weighted_vote=guidance is not None,
            **kwargs,
        )


class Greedy(BestOfN):
    """Greedy decoding, one trajectory (pass@1 at temperature 0): the baseline of every figure.

    It is :class:`BestOfN` with ``n=1``, ``temperature=0`` and log-prob selection; it is not sized
    by a budget (``thinkgym bench`` runs it once per env).

    Args:
        policy: the policy.
        **kwargs: see :class:`~thinkgym.search.planner.Planner` (``temperature`` must be 0
            when given).
    """

    name = "greedy"
    budgeted = False

    def __init__(self, policy: Policy, **kwargs: Any) -> None:
        temperature = kwargs.pop("temperature", 0.0)
        if temperature != 0:
            raise ValueError(
                f"greedy decodes at temperature 0, not temperature={temperature!r}; sample with "
                "best_of_n (n=1) instead"
            )
        for key in ("n", "select"):
            if key in kwargs:
                raise ValueError(f"greedy fixes {key}; use best_of_n to choose it")
        super().__init__(policy, n=1, select="logprob", temperature=0.0, **kwargs)

    @classmethod
    def for_budget(
        cls, policy: Policy, budget: Any, *, depth: int, guidance: Any = None, **kwargs: Any
    ) -> Planner:
        """Greedy decoding whatever the budget: one trajectory (``temperature`` and ``guidance``
        are ignored: it follows the policy's most likely step)."""
        kwargs.pop("temperature", None)
        return cls(policy, budget=None, **kwargs)
