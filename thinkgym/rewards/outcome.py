"""`OutcomeVerifier`: a rule-based outcome reward (ORM) from the task's answer checker."""

from __future__ import annotations

from typing import TYPE_CHECKING

from thinkgym.rewards.combinators import ComposableReward

if TYPE_CHECKING:
    from thinkgym.envs.base import EnvState, ReasoningEnv

__all__ = ["OutcomeVerifier"]

_EXPECTED = (ValueError, ArithmeticError, TypeError, RecursionError)


class OutcomeVerifier(ComposableReward):
    """Rule-based ORM: ``correct`` for a right final answer, ``incorrect`` otherwise.

    The answer is judged by the bound env's :meth:`~thinkgym.envs.base.ReasoningEnv.check_answer`
    (which may use the hidden reference; see docs/architecture.md, "Honest search"). With
    ``use_verify=True`` and a task whose answer is a value to match against a reference
    (``outcome_needs_reference``: Arithmetic, LinearEquation), the answer is judged by
    :func:`thinkgym.rewards.verify` against :meth:`~ReasoningEnv.reference_answer` instead, so
    free-form answers (``\\frac{1}{2}`` for ``0.5``) also count; the task's answer form
    (``answer_form_error``: ``x = <number>`` for LinearEquation, one value for MathWord) is
    checked first.

    Steps earn nothing (:meth:`process` is 0).

    Args:
        correct: reward for a right answer.
        incorrect: reward for a wrong, malformed or missing answer.
        use_verify: judge with ``verify(answer, env.reference_answer(problem))`` when the task's
            answer is a value to match (``outcome_needs_reference``); tasks whose answers are
            checked otherwise (Game24: an expression of the given numbers) keep their checker.
    """

    def __init__(
        self, correct: float = 1.0, incorrect: float = 0.0, use_verify: bool = False
    ) -> None:
        self.correct = float(correct)
        self.incorrect = float(incorrect)
        self.use_verify = bool(use_verify)

    def is_correct(self, state: EnvState) -> bool:
        """Whether the finished ``state`` holds a right answer (``False`` when unsure)."""
        if not state.done or state.answer is None:
            return False
        env: ReasoningEnv | None = self.env
        if env is None:
            if state.correct is None:
                raise RuntimeError(
                    "OutcomeVerifier is not bound to an env and the state carries no verdict; "
                    "pass it to gym.make(..., reward=...) or call reward.bind(env) first"
                )
            return bool(state.correct)
        if self.use_verify and env.outcome_needs_reference:
            try:
                ref = env.reference_answer(state.problem)
            except _EXPECTED:
                ref = None
            if ref is not None:
                from thinkgym.rewards.verify import verify

                # the task's answer form first: verify grades the value, not the form, and
                # an unsolved formula (x = 9 - 6) or a hedge (at least 34) is never right
                form = getattr(env, "answer_form_error", None)
                try:
                    if callable(form) and form(state.answer):
                        return False
                except _EXPECTED:
                    return False
                return bool(verify(state.answer, str(ref)))
        try:
            ok, _ = env.check_answer(state, state.answer)
        except _EXPECTED:
            return False
        return bool(ok)

    def outcome(self, state: EnvState) -> float:
        """``correct`` or ``incorrect``."""
        return self.correct if self.is_correct(state) else self.incorrect
