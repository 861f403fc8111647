"""Compute-optimal planner choice per problem: probe cheaply, estimate difficulty, then search.

Snell, Lee, Xu and Kumar ("Scaling LLM test-time compute optimally can be more effective than
scaling model parameters", 2024) allocate test-time compute per prompt from an estimate of its
difficulty: which search strategy wins depends on how hard the problem is for the model, and a
verifier's view of a few samples predicts that well enough ("model-predicted difficulty").
:class:`AutoPlanner` does this inside one budget: it draws ``probe`` complete samples, scores the
finished ones with its guidance, turns them into a confidence in ``[0, 1]`` and hands the rest of
the budget to the planner of that difficulty bin. The probes' cost counts against the budget.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Generator
from dataclasses import replace
from typing import Any

from thinkgym.agents.base import Policy
from thinkgym.search.budget import Budget
from thinkgym.search.context import Candidate, SearchContext, root_candidate
from thinkgym.search.guidance import RewardModelGuidance, SelfEvalGuidance
from thinkgym.search.planner import Outcome, Planner
from thinkgym.search.registry import get_planner
from thinkgym.search.requests import ScoreRequest
from thinkgym.search.selection import FINAL_RULES, choose_final, normalize_answer
from thinkgym.search.tree import SearchTree

__all__ = ["AutoPlanner", "DEFAULT_ARMS", "SIGNALS"]

DEFAULT_ARMS: dict[str, str] = {
    "easy": "best_of_n_weighted",
    "medium": "dvts",
    "hard": "gumbel_mcts",
}
"""The planner of each difficulty bin: plain sampling with a weighted vote where the probes are
already good (search-and-learn and Snell et al.: sampling wins on easy problems), diverse
verifier-guided subtrees in between, a value-guided tree where the probes look hopeless."""

SIGNALS = ("auto", "verifier", "agreement")


class AutoPlanner(Planner):
    """Pick a planner and its size per problem from a cheap difficulty estimate.

    1. **Probe**: ``probe`` complete samples in lockstep (one policy call per step for all of
       them). A sample the task verifies without the reference ends the search.
    2. **Difficulty**: ``signal="verifier"``: the mean guidance score of the finished samples
       (a PRM or self-evaluation: Snell et al.'s model-predicted difficulty);
       ``"agreement"``: the share of finished samples that agree with the majority answer;
       ``"auto"``: the verifier when the guidance is a reward model or self-evaluation, else
       agreement. No finished sample: confidence 0.
    3. **Search**: confidence ``>= high``: the ``easy`` arm; ``< low``: the ``hard`` arm; else
       ``medium``. The arm is sized for the budget left after the probes and searches with the
       same context (its cost adds to the probes'); when it ends without an answer, the probes'
       best (by ``final`` rule) is the answer.

    Args:
        policy: the policy.
        probe: probe samples per problem.
        signal: ``"auto"``, ``"verifier"`` or ``"agreement"``.
        low: below this confidence a problem is hard.
        high: from this confidence on a problem is easy.
        arms: planner names per bin (``easy``, ``medium``, ``hard``); see :data:`DEFAULT_ARMS`.
        depth: typical steps of a solution (sizes the probe's share and the arms; the bench
            passes the task's).
        budget_calls: policy calls per problem the arms are sized against (``None``: the
            budget's, else each arm's defaults).
        guidance: the guidance of the probe scores and of every arm.
        final: how the probes' answers are chosen when the arm gives none (``"best"``,
            ``"vote"``, ``"weighted_vote"``).
        **kwargs: see :class:`~thinkgym.search.planner.Planner` (passed on to the arms).
    """

    name = "auto"

    def __init__(
        self,
        policy: Policy,
        *,
        probe: int = 4,
        signal: str = "auto",
        low: float = 0.3,
        high: float = 0.7,
        arms: dict[str, str] | None = None,
        depth: int = 4,
        budget_calls: int | None = None,
        guidance: Any = None,
        final: str = "weighted_vote",
        **kwargs: Any,
    ) -> None:
        super().__init__(policy, guidance=guidance, **kwargs)
        if isinstance(probe, bool) or not isinstance(probe, int) or probe < 1:
            raise ValueError(f"probe={probe!r} must be a positive integer")
        if signal not in SIGNALS:
            raise ValueError(f"signal={signal!r} is not one of {SIGNALS}")
        if not (0.0 <= low <= high <= 1.0):
            raise ValueError(f"low={low!r} and high={high!r} must satisfy 0 <= low <= high <= 1")
        if depth < 1:
            raise ValueError(f"depth={depth!r} must be >= 1")
        if final not in FINAL_RULES:
            raise ValueError(f"final={final!r} is not one of {FINAL_RULES}")
        names = dict(DEFAULT_ARMS)
        if arms is not None:
            unknown = sorted(set(arms) - set(DEFAULT_ARMS))
            if unknown:
                raise ValueError(
                    f"arms has unknown bins {unknown}; the bins are {sorted(DEFAULT_ARMS)}"
                )
            names.update(arms)
        if "auto" in names.values():
            raise ValueError("an arm of the auto planner cannot be 'auto' itself")
        self.probe = int(probe)
        self.signal = signal
        if signal == "auto":
            rm = isinstance(self.guidance, (RewardModelGuidance, SelfEvalGuidance))
            self.signal = "verifier" if rm else "agreement"
        if self.signal == "verifier" and self.guidance is None:
            raise ValueError(
                "signal='verifier' needs guidance=<reward model or 'self_eval'>; or use "
                "signal='agreement'"
            )
        self.low, self.high = float(low), float(high)
        self.depth = int(depth)
        self.final = final
        calls = budget_calls if budget_calls is not None else self.budget.policy_calls
        self.budget_calls = calls
        left = None if calls is None else max(1, calls - self.probe * self.depth)
        self.arm_names = names
        self.arms: dict[str, Planner] = {}
        shared = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop_score": self.stop_score,
            "early_stop": self.early_stop,
            "answer_check": self.answer_check,
            "step_check": self.step_check,
            "max_step_tokens": self.max_step_tokens,
        }
        for bin_name, arm in names.items():
            cls = get_planner(arm)
            budget = Budget(policy_calls=left) if left is not None else None
            self.arms[bin_name] = cls.for_budget(
                policy, budget, depth=self.depth, guidance=self.guidance, **shared
            )

    @classmethod
    def sizing(cls, policy_calls: int, depth: int) -> dict[str, Any]:
        """The arms are sized for the budget left after the probes (``probe`` from 1 to 4:
        about a quarter of the budget at most)."""
        probe = max(1, min(4, policy_calls // (4 * depth)))
        return {"probe": probe, "depth": depth, "budget_calls": policy_calls}

    def search(self, ctx: SearchContext) -> Generator[Any, Any, Outcome]:
        """Probe, bin the problem, run the arm on the same context (and the same meter)."""
        probes, verified = yield from self._probe(ctx)
        if verified is not None:
            return Outcome(
                list(verified.state.steps),
                verified.state,
                info={"bin": "verified by a probe", "confidence": 1.0, "probe": self.probe},
            )
        finished = [c for c in probes if c.state.done and c.state.correct is not False]
        scores: list[float] = []
        if finished and self.guidance is not None:
            scores = list((yield ScoreRequest(self.guidance, finished)))
        confidence = self._confidence(finished, scores)
        bin_name = (
            "easy" if confidence >= self.high else "hard" if confidence < self.low else "medium"
        )
        arm = self.arms[bin_name]
        ctx.tree = SearchTree(ctx.root)  # the arm searches a fresh tree (the probes kept none)
        outcome = yield from arm.search(ctx)
        info = dict(outcome.info)
        info.update(
            {
                "bin": bin_name,
                "arm": self.arm_names[bin_name],
                "confidence": confidence,
                "signal": self.signal,
                "probe": self.probe,
            }
        )
        if outcome.state is None and finished:
            k = choose_final(
                [c.state.answer or "" for c in finished],
                scores if scores else [0.0] * len(finished),
                [c.path_logprob / max(1, c.path_tokens) for c in finished],
                self.final if scores else "vote",
            )
            best = finished[k]
            info["chosen_by"] = "probe"
            return Outcome(list(best.state.steps), best.state, outcome.candidates, info)
        return Outcome(outcome.steps, outcome.state, outcome.candidates, info, outcome.keep_tree)

    def _confidence(self, finished: list[Candidate], scores: list[float]) -> float:
        """The difficulty estimate as a confidence in ``[0, 1]`` (1: easy)."""
        if not finished:
            return 0.0
        if self.signal == "verifier":
            vals = [min(1.0, max(0.0, s)) for s in scores if math.isfinite(s)]
            return sum(vals) / len(vals) if vals else 0.0
        votes = Counter(normalize_answer(c.state.answer or "") for c in finished)
        return votes.most_common(1)[0][1] / len(finished)

    def _probe(
        self, ctx: SearchContext
    ) -> Generator[Any, Any, tuple[list[Candidate], Candidate | None]]:
        """``probe`` complete samples in lockstep; a verified one is returned at once."""
        cur = [root_candidate(ctx.env, ctx.root) for _ in range(self.probe)]
        active = list(range(self.probe))
        while active and not ctx.meter.exhausted:
            props = yield from self.propose(
                ctx, [ctx.env.transcript(cur[i].state) for i in active], 1
            )
            still = []
            for i, plist in zip(active, props, strict=False):
                if not plist:
                    continue
                nxt = ctx.extend(cur[i], cur[i].state, plist[0])
                if nxt.accepted:
                    cur[i] = nxt
                    if self.is_done(nxt):
                        return cur, nxt
                else:  # a rejected step: stay, the action counts toward the limit
                    cur[i] = replace(cur[i], state=nxt.state)
                if not cur[i].state.done and not ctx.out_of_steps(cur[i].state):
                    still.append(i)
            active = still
        return cur, None
