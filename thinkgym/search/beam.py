"""Step-level beam search: keep the best partial solutions after each step."""

from __future__ import annotations

import heapq
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

__all__ = ["BeamSearch"]


def _neg(score: float) -> float:
    """The frontier's order key of a score (NaN and -inf last)."""
    return -score if math.isfinite(score) else math.inf


class BeamSearch(Planner):
    """Step-level beam search scored by a PRM (or by the policy's log-prob when none is given).

    Each round every beam asks the policy for ``width`` next steps (one batched call for all beams
    of all problems); duplicates merge, rejected steps drop, the accepted children are scored by
    the guidance and the best ``beam_size`` continue. Finished solutions are kept aside; one the
    task verifies without the reference ends the search early. A beam none of whose children is
    accepted stays (its actions count toward the env's limit). A state already reached (same
    transcript) is not expanded twice.

    Pruned states are not lost: they wait in a frontier ordered by their guidance score, and when
    the beam dies with budget left the search resumes from the best of them (``backtrack``), so
    the whole budget goes to the most promising states not yet expanded.

    Args:
        policy: the policy.
        beam_size: beams kept after each step.
        width: proposals per beam per step (expansion width).
        guidance: how children are scored: a PRM / reward model, a Guidance, a guidance name or
            a function; default :class:`~thinkgym.search.guidance.LogProbGuidance`.
        max_depth: most steps (default: the env's action limit).
        backtrack: keep the pruned states in a frontier ordered by score, and when every live
            beam has died (rejected, truncated, refuted or finished) with budget left, resume from
            the best ``beam_size`` of them; ``False``: the classic beam, which stops after
            ``max_depth`` rounds or when its beams die.
        aggregate: PRM step-score aggregation (``min``, ``prod``, ``last``, ``mean``; ``None``:
            the guidance's own).
        final: how the finished answers are chosen: ``"best"`` (the best-scored; default),
            ``"vote"`` or ``"weighted_vote"`` (:mod:`thinkgym.search.selection`).
        depth_hint: steps per solution: the width of a round is cut so that the beams in hand
            can still finish within the budget left (:func:`~thinkgym.search.planner.fit_width`).
            ``None``: the depth the sizing implies (policy calls // (width x beam_size)).
        **kwargs: see :class:`~thinkgym.search.base.Planner`.
    """

    name = "beam"

    def __init__(
        self,
        policy: Policy,
        *,
        beam_size: int = 4,
        width: int = 4,
        guidance: Any = None,
        max_depth: int | None = None,
        backtrack: bool = True,
        aggregate: str | None = None,
        final: str = "best",
        depth_hint: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(policy, guidance=guidance, **kwargs)
        if depth_hint is not None and (not isinstance(depth_hint, int) or depth_hint < 1):
            raise ValueError(f"depth_hint={depth_hint!r} must be a positive integer or None")
        self.depth_hint = depth_hint
        if beam_size < 1 or width < 1:
            raise ValueError(f"beam_size={beam_size!r} and width={width!r} must be >= 1")
        if final not in FINAL_RULES:
            raise ValueError(f"final={final!r} is not one of {FINAL_RULES}")
        self.final = final
        self.beam_size = int(beam_size)
        self.width = int(width)
        self.guidance = with_aggregate(self.guidance or LogProbGuidance(), aggregate)
        self.max_depth = max_depth
        self.backtrack = bool(backtrack)

    @classmethod
    def sizing(cls, policy_calls: int, depth: int) -> dict[str, Any]:
        """``width`` up to 4 and as many beams as leave a whole trajectory within the budget."""
        width = max(1, min(4, policy_calls // depth))
        return {"width": width, "beam_size": max(1, policy_calls // (width * depth))}

    def search(self, ctx: SearchContext) -> Generator[Any, Any, Outcome]:
        """The beam loop, resumed from the best pruned states while the budget allows."""
        tree = ctx.tree
        beams: list[tuple[Candidate, int, float]] = [(root_candidate(ctx.env, ctx.root), 0, 0.0)]
        finished: list[tuple[Candidate, int, float]] = []
        max_depth = self.max_depth or ctx.env.max_steps
        # pruned and stuck states: (times every proposal was rejected, -score, order, cand, node)
        frontier: list[tuple[int, float, int, Candidate, int]] = []
        failed: dict[int, int] = {}  # node id -> rounds in which it got no accepted child
        order = 0
        resumed = 0
        seen: set[str] = {ctx.env.transcript(ctx.root)}
        rounds = 0
        hint = self.depth_hint or implied_depth(self.budget, self.width * self.beam_size)
        while not ctx.meter.exhausted:
            if not beams:
                if not self.backtrack or not frontier:
                    break
                while frontier and len(beams) < self.beam_size:
                    _, neg, _, cand, node = heapq.heappop(frontier)
                    beams.append((cand, node, -neg))
                resumed += len(beams)
            if self.backtrack is False and rounds >= max_depth:
                break
            rounds += 1
            obs = [ctx.env.transcript(b[0].state) for b in beams]
            shallowest = min(len(b[0].state.steps) for b in beams)
            width = fit_width(ctx, self.width, len(beams), shallowest, hint)
            props = yield from self.propose(ctx, obs, width)
            children: list[tuple[Candidate, int]] = []
            keep: list[tuple[Candidate, int, float]] = []
            for (cand, node, score), plist in zip(beams, props, strict=False):
                tree.nodes[node].visits += 1
                got = False
                for p in merge_proposals(plist):
                    child = ctx.extend(cand, cand.state, p)
                    if not child.accepted:
                        continue
                    key = ctx.env.transcript(child.state)
                    got = True
                    if key in seen:
                        continue
                    seen.add(key)
                    children.append((child, node))
                if not got and plist and not ctx.out_of_steps(cand.state):
                    # every proposal was rejected: likely a dead end. It waits in the frontier
                    # behind every state that has not failed (its turn comes when they run out)
                    stuck = replace(cand, state=replace(cand.state, t=cand.state.t + len(plist)))
                    if self.backtrack:
                        failed[node] = failed.get(node, 0) + 1
                        heapq.heappush(frontier, (failed[node], _neg(score), order, stuck, node))
                        order += 1
                    else:
                        keep.append((stuck, node, score))
            scores = (
                (yield ScoreRequest(self.guidance, [c for c, _ in children])) if children else []
            )
            scored = []
            for (child, parent), sc in zip(children, scores, strict=False):
                node = tree.add_proposal(parent, child.state, child.proposal, score=float(sc))
                if self.is_done(child, sc):
                    return self._outcome(child, finished, True, resumed, len(frontier))
                if child.state.done:
                    finished.append((child, node.id, float(sc)))
                elif not ctx.out_of_steps(child.state) and node.depth < max_depth:
                    scored.append((child, node.id, float(sc)))
            pool = scored + keep
            pool.sort(key=lambda x: -x[2])
            beams = pool[: self.beam_size]
            for cand, node, sc in pool[self.beam_size :]:
                heapq.heappush(frontier, (failed.get(node, 0), _neg(sc), order, cand, node))
                order += 1
        live = [f for f in finished if f[0].state.correct is not False]
        if live:
            best = live[
                choose_final(
                    [c.state.answer or "" for c, _, _ in live],
                    [sc for _, _, sc in live],
                    [c.path_logprob / max(1, c.path_tokens) for c, _, _ in live],
                    self.final,
                    [c.proposal.count if c.proposal else 1 for c, _, _ in live],
                )
            ]
            return self._outcome(best[0], finished, False, resumed, len(frontier))
        best_partial = max(beams, key=lambda x: x[2]) if beams else None
        return Outcome(
            steps=list(best_partial[0].state.steps) if best_partial else [],
            state=None,
            candidates=self._cands(finished),
            info={
                "finished": len(finished),
                "answered": False,
                "resumed": resumed,
                "frontier": len(frontier),
            },
        )

    @staticmethod
    def _cands(finished: list[tuple[Candidate, int, float]]) -> list[dict[str, Any]]:
        return [
            {"node": n, "answer": c.state.answer, "solved": c.state.correct, "score": s}
            for c, n, s in finished
        ]

    def _outcome(
        self,
        cand: Candidate,
        finished: list[tuple[Candidate, int, float]],
        early: bool = False,
        resumed: int = 0,
        frontier: int = 0,
    ) -> Outcome:
        return Outcome(
            steps=list(cand.state.steps),
            state=cand.state,
            candidates=self._cands(finished),
            info={
                "finished": len(finished),
                "early_stop": early,
                "resumed": resumed,
                "frontier": frontier,
            },
        )
