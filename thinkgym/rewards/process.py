"""`StepVerifier`: a rule-based process reward (PRM) from the task's step checker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from thinkgym.rewards.combinators import ComposableReward

if TYPE_CHECKING:
    from thinkgym.envs.base import EnvState, ReasoningEnv

__all__ = ["StepVerifier"]


class StepVerifier(ComposableReward):
    """Rule-based PRM: ``good`` for a step the task's checker accepts, ``bad`` otherwise.

    Non-answer steps are judged by :meth:`~thinkgym.envs.base.ReasoningEnv.check_step`. An
    ``Answer:`` step is judged only by checks that need no reference
    (:meth:`~ReasoningEnv.check_answer_without_reference`: Game24 and Countdown can tell,
    Arithmetic cannot); where the task cannot tell, it scores ``unknown``. So the reward is
    honest to use during search.

    Inside an env, :meth:`process` is only called for accepted steps (rejected ones get the env's
    ``invalid_penalty``), so every step there earns ``good``; :meth:`score_steps` scores arbitrary
    step lists, e.g. candidates from a policy.

    Args:
        good: score of an accepted step.
        bad: score of a rejected step (or of an answer the task can tell is wrong).
        unknown: score of an answer the task cannot judge without the reference.
        outcome_value: if not ``None``, :meth:`outcome` scores the answer step like a step
            (``good``/``bad``/``unknown``) times this factor; by default the outcome is 0 and the
            reward is a pure process reward (add an :class:`OutcomeVerifier` for the outcome).
    """

    def __init__(
        self,
        good: float = 1.0,
        bad: float = -1.0,
        unknown: float = 0.0,
        outcome_value: float | None = None,
    ) -> None:
        self.good = float(good)
        self.bad = float(bad)
        self.unknown = float(unknown)
        self.outcome_value = None if outcome_value is None else float(outcome_value)

    def _env(self) -> ReasoningEnv:
        if self.env is None:
            raise RuntimeError(
                "StepVerifier needs the task's step checker; pass it to gym.make(..., reward=...) "
                "or call reward.bind(env) first"
            )
        return self.env

    def process(self, state: EnvState, step: str, next_state: EnvState) -> float:
        """``good`` for an accepted step; an answer is judged only without the reference.

        The env calls this for accepted steps only, with the state they lead to; an answer's
        ``next_state`` may hold the reference verdict, so answers are re-judged by the
        reference-free transition (:meth:`~thinkgym.envs.base.ReasoningEnv.apply`).
        """
        if next_state.done:
            nxt, ok, _ = self._env().apply(state, step)
            return self._score(nxt, ok)
        if not self._claims_checked(step):
            return self.unknown
        return self._score(next_state, True)

    def _claims_checked(self, step: str) -> bool:
        """Whether the task checked every claim of an accepted step (MathWord says when it could
        not, e.g. ``2^100000 = 3`` or ``check_arithmetic=False``); such a step scores
        ``unknown``, not ``good``."""
        checked = getattr(self._env(), "claim_checked", None)
        return not callable(checked) or bool(checked(step))

    def _score(self, nxt: EnvState, ok: bool) -> float:
        if not ok:
            return self.bad
        if nxt.done:
            if nxt.correct is None:
                return self.unknown
            return self.good if nxt.correct else self.bad
        return self.good

    def outcome(self, state: EnvState) -> float:
        """0, or the answer step's score times ``outcome_value`` when that is set."""
        if self.outcome_value is None or not state.steps:
            return 0.0
        from thinkgym.rewards.combinators import previous_state

        nxt, ok, _ = self._env().apply(previous_state(state), state.steps[-1])
        return self.outcome_value * self._score(nxt, ok)

    def score_steps(self, state_or_transcript: EnvState | str, steps: Sequence[str]) -> list[float]:
        """Score a list of steps taken one after the other from a state (or a transcript).

        A rejected step scores ``bad`` and leaves the state unchanged, as in the env; steps after
        a final answer score ``bad``.

        Args:
            state_or_transcript: where the steps start: an :class:`EnvState` or a transcript
                (problem line(s) and accepted steps) that the env can read back.
            steps: the steps, in order.

        Returns:
            One score per step.

        Raises:
            ValueError: the transcript is not one of the bound env's task.
        """
        env = self._env()
        if isinstance(state_or_transcript, str):
            state = env.state_from_transcript(state_or_transcript)
        else:
            state = state_or_transcript
        scores = []
        for step in steps:
            if state.done:
                scores.append(self.bad)
                continue
            nxt, ok, _ = env.apply(state, step)
            unchecked = ok and not nxt.done and not self._claims_checked(step)
            scores.append(self.unknown if unchecked else self._score(nxt, ok))
            if ok:
                state = nxt
        return scores
