"""Diverse verifier tree search (DVTS): the budget split into independent PRM-guided subtrees.

Beam search with a PRM tends to collapse onto the PRM's favourite prefix: every beam soon shares
one parent. DVTS (Beeching, Tunstall and Rush, "Scaling test-time compute with open models",
2024) keeps diversity by construction: the ``n`` beams are split into ``n / width`` independent
subtrees; each subtree keeps its own small beam (one path by default), expands it with ``width``
proposals per step, scores them with the verifier and keeps its best, never looking at the other
subtrees. The finished answers of all subtrees are pooled and the final one is chosen by
PRM-weighted vote (:mod:`thinkgym.search.selection`).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import replace
from typing import Any

from thinkgym.agents.base import Policy
from thinkgym.search.context import Candidate, SearchContext, root_candidate
from thinkgym.search.guidance import LogProbGuidance, with_aggregate
from thinkgym.search.planner import Outcome, Planner, fit_width, implied_depth, merge_proposals
from thinkgym.search.requests import ScoreRequest
from thinkgym.search.selection import FINAL_RULES, choose_final

__all__ = ["DVTS"]

_UNBOUNDED = 10**9


class DVTS(Planner):
    """Diverse verifier tree search: ``subtrees`` independent beams, pooled by weighted vote.

    Every round, each live subtree asks the policy for ``width`` next steps for each of its
    ``beam_size`` states (one batched call for all subtrees of all problems); duplicates merge,
    rejected steps drop, the accepted children are scored by the guidance and each subtree keeps
    its best ``beam_size``. A finished answer goes to the pool (one the task verifies without the
    reference ends the search when ``early_stop``); a subtree ends when it has no live state
    left. A subtree none of whose proposals is accepted keeps its state (the actions count toward
    the env's limit). When every subtree has ended with budget left, new subtrees start from the
    root, so the whole budget is spent.

    Args:
        policy: the policy.
        subtrees: independent subtrees (the beams ``n`` of search-and-learn divided by
            ``width``).
        width: proposals per state per step.
        beam_size: states each subtree keeps (1: a greedy verifier-guided path).
        guidance: the verifier: a PRM / reward model, a Guidance, a guidance name or a function;
            default :class:`~thinkgym.search.guidance.LogProbGuidance`.
        aggregate: PRM step-score aggregation for ranking and voting (``min``, ``prod``,
            ``last``, ``mean``; ``None``: the guidance's own).
        final: how the pooled answers are chosen: ``"weighted_vote"`` (default), ``"best"`` or
            ``"vote"`` (:data:`~thinkgym.search.selection.FINAL_RULES`).
        restart: start new subtrees from the root when all have ended and budget is left.
        depth_hint: steps per solution: the width of a round is cut so that the live subtrees
            can still finish within the budget left (:func:`~thinkgym.search.planner.fit_width`).
            ``None``: the depth the sizing implies (policy calls // (width x subtrees x
            beam_size)).
        **kwargs: see :class:`~thinkgym.search.planner.Planner`.
    """

    name = "dvts"

    def __init__(
        self,
        policy: Policy,
        *,
        subtrees: int = 4,
        width: int = 4,
        beam_size: int = 1,
        guidance: Any = None,
        aggregate: str | None = None,
        final: str = "weighted_vote",
        restart: bool = True,
        depth_hint: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(policy, guidance=guidance, **kwargs)
        if depth_hint is not None and (not isinstance(depth_hint, int) or depth_hint < 1):
            raise ValueError(f"depth_hint={depth_hint!r} must be a positive integer or None")
        self.depth_hint = depth_hint
        for label, v in (("subtrees", subtrees), ("width", width), ("beam_size", beam_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{label}={v!r} must be a positive integer")
        if final not in FINAL_RULES:
            raise ValueError(f"final={final!r} is not one of {FINAL_RULES}")
        self.subtrees = int(subtrees)
        self.width = int(width)
        self.beam_size = int(beam_size)
        self.guidance = with_aggregate(self.guidance or LogProbGuidance(), aggregate)
        self.final = final
        self.restart = bool(restart)

    @classmethod
    def sizing(cls, policy_calls: int, depth: int) -> dict[str, Any]:
        """``width`` 4 from 16 whole-trajectory equivalents on (2 from 4, else 1), and as many
        subtrees as fill the budget."""
        paths = max(1, policy_calls // depth)
        width = 4 if paths >= 16 else 2 if paths >= 4 else 1
        return {"width": width, "subtrees": max(1, paths // width)}

    def search(self, ctx: SearchContext) -> Generator[Any, Any, Outcome]:
        """Advance every subtree one step per round; pool the finished answers; vote."""
        tree = ctx.tree
        root = root_candidate(ctx.env, ctx.root)
        # each subtree: its live states (candidate, node id, score)
        forest: list[list[tuple[Candidate, int, float]]] = [
            [(root, 0, 0.0)] for _ in range(self.subtrees)
        ]
        pool: list[tuple[Candidate, int, float, int]] = []  # finished: cand, node, score, subtree
        started = self.subtrees
        rounds = 0
        hint = self.depth_hint or implied_depth(
            self.budget, self.width * self.subtrees * self.beam_size
        )
        while not ctx.meter.exhausted:
            live = [k for k, states in enumerate(forest) if states]
            if not live:
                # restart only under a policy-call bound (else the search would never end)
                bounded = ctx.meter.affordable(_UNBOUNDED) < _UNBOUNDED
                if not self.restart or not bounded:
                    break
                forest = [[(root, 0, 0.0)] for _ in range(self.subtrees)]
                started += self.subtrees
                live = list(range(self.subtrees))
            rounds += 1
            flat = [(k, s) for k in live for s in forest[k]]
            obs = [ctx.env.transcript(c.state) for _, (c, _, _) in flat]
            shallowest = min(len(c.state.steps) for _, (c, _, _) in flat)
            width = fit_width(ctx, self.width, len(flat), shallowest, hint)
            props = yield from self.propose(ctx, obs, width)
            children: list[tuple[int, Candidate, int]] = []  # subtree, child, parent node
            stuck: dict[int, list[tuple[Candidate, int, float]]] = {}
            for (k, (cand, node, score)), plist in zip(flat, props, strict=False):
                tree.nodes[node].visits += 1
                if not plist:
                    continue  # out of budget
                seen: set[str] = set()
                got = False
                for p in merge_proposals(plist):
                    child = ctx.extend(cand, cand.state, p)
                    if not child.accepted:
                        continue
                    got = True
                    if child.state.steps[-1] in seen:
                        continue
                    seen.add(child.state.steps[-1])
                    children.append((k, child, node))
                if not got:
                    moved = replace(cand.state, t=cand.state.t + len(plist))
                    if not ctx.out_of_steps(moved):
                        stuck.setdefault(k, []).append((replace(cand, state=moved), node, score))
            scores = (
                (yield ScoreRequest(self.guidance, [c for _, c, _ in children])) if children else []
            )
            nxt: dict[int, list[tuple[Candidate, int, float]]] = {k: [] for k in live}
            top: dict[int, tuple[float, bool]] = {}  # subtree -> best child's (score, finished)
            for (k, child, parent), sc in zip(children, scores, strict=False):
                sc = float(sc) if math.isfinite(sc) else -math.inf
                node = tree.add_proposal(parent, child.state, child.proposal, score=sc)
                if child.state.done and child.state.correct is False:
                    continue  # refuted without the reference
                if k not in top or sc > top[k][0]:
                    top[k] = (sc, child.state.done)
                if child.state.done:
                    pool.append((child, node.id, sc, k))
                    if self.is_done(child, sc):
                        return self._outcome(pool, len(pool) - 1, started, rounds)
                elif not ctx.out_of_steps(child.state):
                    nxt[k].append((child, node.id, sc))
            for k in live:
                if k in top and top[k][1]:
                    forest[k] = []  # its best child is a finished answer: the subtree is done
                    continue
                states = nxt[k] + stuck.get(k, [])
                states.sort(key=lambda x: -x[2] if math.isfinite(x[2]) else math.inf)
                forest[k] = states[: self.beam_size]
        if not pool:
            best = max((s for states in forest for s in states), key=lambda x: x[2], default=None)
            return Outcome(
                steps=list(best[0].state.steps) if best else [],
                state=None,
                info=self._info(pool, started, rounds),
            )
        k = choose_final(
            [c.state.answer or "" for c, _, _, _ in pool],
            [s for _, _, s, _ in pool],
            [c.path_logprob / max(1, c.path_tokens) for c, _, _, _ in pool],
            self.final,
            [c.proposal.count if c.proposal else 1 for c, _, _, _ in pool],
        )
        return self._outcome(pool, k, started, rounds)

    def _info(self, pool: list[Any], started: int, rounds: int) -> dict[str, Any]:
        return {
            "subtrees": started,
            "rounds": rounds,
            "finished": len(pool),
            "final": self.final,
            "aggregate": getattr(self.guidance, "aggregate", None),
        }

    def _outcome(
        self,
        pool: list[tuple[Candidate, int, float, int]],
        k: int,
        started: int,
        rounds: int,
    ) -> Outcome:
        chosen = pool[k][0]
        cands = [
            {
                "node": node,
                "subtree": sub,
                "answer": c.state.answer,
                "solved": c.state.correct,
                "score": sc,
                "logprob": c.path_logprob,
                "steps": list(c.state.steps),
            }
            for c, node, sc, sub in pool
        ]
        return Outcome(
            steps=list(chosen.state.steps),
            state=chosen.state,
            candidates=cands,
            info=self._info(pool, started, rounds),
        )
