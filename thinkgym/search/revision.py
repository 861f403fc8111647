"""Sequential revision: attempt, then revise from feedback for up to k rounds."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from typing import Any

from thinkgym.agents.base import Policy
from thinkgym.search.context import Candidate, SearchContext, root_candidate
from thinkgym.search.guidance import LogProbGuidance
from thinkgym.search.planner import Outcome, Planner
from thinkgym.search.requests import ScoreRequest

__all__ = ["SequentialRevision", "FEEDBACK_PREFIX"]

FEEDBACK_PREFIX = "Feedback:"
"""Prefix of the feedback line added to the prompt of policies that accept feedback."""

FEEDBACKS = ("env", "internal")
BACKTRACKS = ("entropy", "logprob")


class SequentialRevision(Planner):
    """Attempt a solution step by step, then revise it from feedback, for up to ``rounds`` rounds.

    ``feedback="env"`` (external guidance): a step the environment rejects starts a revision. If
    the policy reads feedback (``text_feedback=True``), the next
    prompt gets a line ``Feedback: <step> was rejected: <why>`` it can condition on; otherwise the
    policy resamples from the last accepted state (the env leaves the state unchanged). An answer
    the task refutes without the reference (Game24), or an attempt that reaches the action limit,
    backtracks one operation (the undone step is not retried there).

    ``feedback="internal"`` (internal guidance): when an attempt ends refuted, stuck, or (with
    ``threshold``) scored by ``guidance`` below the threshold, the planner backtracks to the step of
    highest entropy (``backtrack="entropy"``) or lowest log-prob (``"logprob"``) and resamples from
    there, never retrying the abandoned step at that state.

    The final answer is a verified one when found, else the best-scored unrefuted attempt.

    Args:
        policy: the policy.
        rounds: most revisions.
        feedback: ``"env"`` or ``"internal"``.
        backtrack: internal mode's backtracking signal: ``"entropy"`` or ``"logprob"``.
        guidance: scores finished attempts (default
            :class:`~thinkgym.search.guidance.LogProbGuidance`); any Guidance, reward
            model or function.
        threshold: internal mode also revises unrefuted answers scored below this.
        text_feedback: the policy reads a ``Feedback:`` line after the transcript (env mode);
            otherwise it resamples from the last accepted state.
        **kwargs: see :class:`~thinkgym.search.base.Planner`.
    """

    name = "revision"

    def __init__(
        self,
        policy: Policy,
        *,
        rounds: int = 4,
        feedback: str = "env",
        backtrack: str = "entropy",
        guidance: Any = None,
        threshold: float | None = None,
        text_feedback: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(policy, guidance=guidance, **kwargs)
        if rounds < 0:
            raise ValueError(f"rounds={rounds!r} must be >= 0")
        if feedback not in FEEDBACKS:
            raise ValueError(f"feedback={feedback!r} is not one of {FEEDBACKS}")
        if backtrack not in BACKTRACKS:
            raise ValueError(f"backtrack={backtrack!r} is not one of {BACKTRACKS}")
        self.rounds = int(rounds)
        self.feedback = feedback
        self.backtrack = backtrack
        self.guidance = self.guidance or LogProbGuidance()
        self.threshold = threshold
        self.text_feedback = bool(text_feedback)

    @classmethod
    def sizing(cls, policy_calls: int, depth: int) -> dict[str, Any]:
        """As many revision rounds as whole attempts fit in the budget, less the first."""
        return {"rounds": max(0, policy_calls // depth - 1)}

    def search(self, ctx: SearchContext) -> Generator[Any, Any, Outcome]:
        """Attempt / revise loop."""
        tree = ctx.tree
        path: list[Candidate] = [root_candidate(ctx.env, ctx.root)]
        nodes: list[int] = [0]
        tabu: dict[tuple[str, ...], set[str]] = {}
        attempts: list[tuple[Candidate, int, float]] = []
        rounds = 0
        note = ""
        events: list[dict[str, Any]] = []
        while not ctx.meter.exhausted:
            cur = path[-1]
            obs = ctx.env.transcript(cur.state)
            if note and self.text_feedback:
                obs = f"{obs}\n{note}"
            (plist,) = yield from self.propose(ctx, [obs], 1)
            if not plist:
                break
            prop = plist[0]
            banned = tabu.get(cur.state.steps, set())
            cand = ctx.extend(cur, cur.state, prop)
            if cand.accepted and cand.state.steps and cand.state.steps[-1] in banned:
                cand = replace(cand, accepted=False, error="this step was tried and revised")
            if not cand.accepted:
                stuck = replace(cur, state=replace(cur.state, t=cur.state.t + 1))
                path[-1] = stuck
                if self.feedback == "env":
                    note = f"{FEEDBACK_PREFIX} {prop.text!r} was rejected: {cand.error}"
                    rounds += 1
                    events.append({"round": rounds, "kind": "rejected", "error": cand.error})
                    if rounds > self.rounds:
                        break
                if ctx.out_of_steps(stuck.state):
                    if rounds >= self.rounds:
                        break
                    rounds += 1
                    events.append({"round": rounds, "kind": "stuck"})
                    self._backtrack(path, nodes, tabu)
                continue
            note = ""
            node = tree.add(
                nodes[-1],
                cand.state.steps[-1],
                cand.state,
                logprob=prop.logprob,
                entropy=prop.entropy,
                tokens=prop.tokens,
            )
            tree.nodes[nodes[-1]].visits += 1
            path.append(cand)
            nodes.append(node.id)
            if cand.state.done:
                (score,) = yield ScoreRequest(self.guidance, [cand])
                node.score = float(score)
                attempts.append((cand, node.id, float(score)))
                if self.is_done(cand, score):
                    return self._outcome(cand, attempts, events, rounds, early=True)
                unsure = self.threshold is not None and score < self.threshold
                wrong = cand.state.correct is False
                if not (wrong or (self.feedback == "internal" and unsure)):
                    break  # an unrefuted answer the guidance accepts
                if rounds >= self.rounds:
                    break
                rounds += 1
                events.append({"round": rounds, "kind": "refuted" if wrong else "unsure"})
                self._backtrack(path, nodes, tabu)
            elif ctx.out_of_steps(cand.state):
                if rounds >= self.rounds:
                    break
                rounds += 1
                events.append({"round": rounds, "kind": "stuck"})
                self._backtrack(path, nodes, tabu)
        live = [a for a in attempts if a[0].state.correct is not False]
        if live:
            best = max(live, key=lambda a: a[2])
            return self._outcome(best[0], attempts, events, rounds)
        return Outcome(
            steps=list(path[-1].state.steps) if not path[-1].state.done else [],
            state=None,
            candidates=self._cands(attempts),
            info={"rounds": rounds, "events": events, "attempts": len(attempts)},
        )

    def _backtrack(
        self,
        path: list[Candidate],
        nodes: list[int],
        tabu: dict[tuple[str, ...], set[str]],
    ) -> None:
        """Cut the path back to before the step chosen by the feedback mode; ban that step there."""
        n = len(path) - 1  # steps on the path
        if n == 0:
            path[0] = replace(path[0], state=replace(path[0].state, t=0))
            return
        if self.feedback == "env":
            k = max(0, n - 2) if path[-1].state.done else n - 1  # undo the last operation
        else:
            last = path[-1]
            if self.backtrack == "entropy":
                vals = list(last.step_entropies)
                k = max(range(len(vals)), key=lambda i: vals[i]) if vals else n - 1
            else:
                vals = list(last.step_logprobs)
                k = min(range(len(vals)), key=lambda i: vals[i]) if vals else n - 1
            k = min(k, n - 1)
        at = path[k].state
        banned_step = path[k + 1].state.steps[-1]
        tabu.setdefault(at.steps, set()).add(banned_step)
        # keep the action count: revising is not free, and it bounds the loop
        t = path[-1].state.t
        del path[k + 1 :]
        del nodes[k + 1 :]
        path[-1] = replace(path[-1], state=replace(path[-1].state, t=min(t, at.t + 1)))

    @staticmethod
    def _cands(attempts: list[tuple[Candidate, int, float]]) -> list[dict[str, Any]]:
        return [
            {"node": n, "answer": c.state.answer, "solved": c.state.correct, "score": s}
            for c, n, s in attempts
        ]

    def _outcome(
        self,
        cand: Candidate,
        attempts: list[tuple[Candidate, int, float]],
        events: list[dict[str, Any]],
        rounds: int,
        early: bool = False,
    ) -> Outcome:
        return Outcome(
            steps=list(cand.state.steps),
            state=cand.state,
            candidates=self._cands(attempts),
            info={
                "rounds": rounds,
                "events": events,
                "attempts": len(attempts),
                "early_stop": early,
            },
        )
