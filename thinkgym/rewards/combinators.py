"""Combine rewards: weighted sums, potential-based shaping, format/length penalties, aggregation.

Every reward in :mod:`thinkgym.rewards` derives from :class:`ComposableReward`, so ``r1 + r2``,
``0.5 * r`` and ``r - penalty`` build a :class:`WeightedSum`.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from thinkgym.rewards.base import Reward

if TYPE_CHECKING:
    from thinkgym.envs.base import EnvState, ReasoningEnv

__all__ = [
    "AGGREGATIONS",
    "ComposableReward",
    "FormatPenalty",
    "LengthPenalty",
    "PotentialShaping",
    "WeightedSum",
    "aggregate",
    "bind_reward",
    "previous_state",
]

AGGREGATIONS = ("min", "prod", "last", "mean")


def bind_reward(reward: Any, env: ReasoningEnv) -> Any:
    """``reward.bind(env)`` when the reward has a ``bind`` method, else the reward itself."""
    bind = getattr(reward, "bind", None)
    return bind(env) if callable(bind) else reward


def _check_reward(reward: Any, where: str) -> None:
    for method in ("process", "outcome"):
        if not callable(getattr(reward, method, None)):
            raise TypeError(
                f"{where}: {reward!r} has no {method}() method; a reward needs "
                "process(state, step, next_state) -> float and outcome(state) -> float"
            )


class ComposableReward(Reward):
    """A :class:`Reward` that supports ``+``, ``-`` and multiplication by a number."""

    def __add__(self, other: Any) -> WeightedSum:
        if isinstance(other, (int, float)):
            return NotImplemented
        return WeightedSum([(self, 1.0), (other, 1.0)])

    def __radd__(self, other: Any) -> Any:
        if other == 0:  # lets sum([r1, r2]) work
            return self
        return NotImplemented

    def __sub__(self, other: Any) -> WeightedSum:
        if isinstance(other, (int, float)):
            return NotImplemented
        return WeightedSum([(self, 1.0), (other, -1.0)])

    def __mul__(self, weight: Any) -> WeightedSum:
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            return NotImplemented
        return WeightedSum([(self, float(weight))])

    __rmul__ = __mul__

    def __neg__(self) -> WeightedSum:
        return WeightedSum([(self, -1.0)])


class WeightedSum(ComposableReward):
    """``sum_i w_i * r_i`` for both :meth:`process` and :meth:`outcome`.

    Args:
        terms: ``(reward, weight)`` pairs; a bare reward counts with weight 1. Nested sums are
            flattened.

    Example:
        >>> r = OutcomeVerifier() + 0.1 * StepVerifier()  # doctest: +SKIP
    """

    def __init__(self, terms: Iterable[tuple[Any, float] | Any]) -> None:
        flat: list[tuple[Any, float]] = []
        for term in terms:
            if isinstance(term, tuple):
                if len(term) != 2:
                    raise ValueError(f"a term must be (reward, weight), got {term!r}")
                reward, weight = term
            else:
                reward, weight = term, 1.0
            if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                raise TypeError(f"weight={weight!r} of {reward!r} must be a number")
            if not math.isfinite(weight):
                raise ValueError(f"weight={weight!r} of {reward!r} must be finite")
            _check_reward(reward, "WeightedSum")
            if isinstance(reward, WeightedSum):
                flat.extend((r, w * float(weight)) for r, w in reward.terms)
            else:
                flat.append((reward, float(weight)))
        if not flat:
            raise ValueError("WeightedSum needs at least one (reward, weight) term")
        self.terms = flat

    def bind(self, env: ReasoningEnv) -> WeightedSum:
        """A copy bound to ``env``, with every term bound too."""
        bound = copy.copy(self)
        bound.env = env
        bound.terms = [(bind_reward(r, env), w) for r, w in self.terms]
        return bound

    def process(self, state: EnvState, step: str, next_state: EnvState) -> float:
        """Weighted sum of the terms' process rewards."""
        return sum(w * float(r.process(state, step, next_state)) for r, w in self.terms if w)

    def outcome(self, state: EnvState) -> float:
        """Weighted sum of the terms' outcome rewards."""
        return sum(w * float(r.outcome(state)) for r, w in self.terms if w)

    def __repr__(self) -> str:
        return "WeightedSum([" + ", ".join(f"({r!r}, {w:g})" for r, w in self.terms) + "])"


def previous_state(state: EnvState) -> EnvState:
    """The state before the final ``Answer:`` step of a finished episode.

    An answer step changes no task data, so dropping it from ``steps`` and clearing the answer
    gives back the state the answer was given from (``t`` is one less; potentials should not
    depend on ``t``).
    """
    if not state.done or not state.steps:
        return state
    return replace(
        state,
        steps=state.steps[:-1],
        t=max(state.t - 1, 0),
        done=False,
        answer=None,
        correct=None,
    )


class PotentialShaping(ComposableReward):
    """Potential-based reward shaping (Ng, Harada & Russell, 1999).

    Adds ``F(s, s') = gamma * Phi(s') - Phi(s)`` to a base reward on every transition. Summed
    over a complete episode ``s0 -> ... -> sT`` (ended by an ``Answer:`` step) the shaping terms
    telescope to ``gamma**T * Phi(sT) - Phi(s0)``; with ``Phi(terminal) = 0`` this is the
    constant ``-Phi(s0)``, which does not depend on the actions, so the optimal policies of the
    shaped and the unshaped task are the same.

    **Terminal states.** The potential of a finished state is taken as 0 (``terminal_zero=True``,
    the default), as the theorem requires for episodic tasks: the answer step receives
    ``-Phi(s_before_answer)``. With ``terminal_zero=False`` the potential is applied to terminal
    states too, and the constant becomes ``Phi(sT) - Phi(s0)``, which then *does* depend on the
    actions (only use it when ``Phi`` is constant on terminal states).

    **Not covered.** Rejected steps get the env's ``invalid_penalty`` and no shaping; the state is
    unchanged, so the missing term is ``(gamma - 1) * Phi(s)``, which is 0 for ``gamma = 1``.
    An episode cut by the time limit ends in a non-terminal state and its shaped return differs by
    ``gamma**T * Phi(sT) - Phi(s0)``; bootstrapping learners (which treat truncation as
    non-terminal) are unaffected.

    Args:
        base: the reward to shape (``None``: shaping only).
        potential: ``Phi``: a callable ``state -> float``, or an object with a ``value(state)``
            method such as a :class:`~thinkgym.rewards.LearnedRewardModel` PRM (the PRM's score
            of the latest step prefix). It must depend only on the problem and the steps taken.
        gamma: the discount factor of the learner (1.0 for undiscounted episodes).
        scale: multiplies ``F``.
        terminal_zero: take ``Phi = 0`` at finished states (see above).
    """

    def __init__(
        self,
        base: Any = None,
        potential: Callable[[EnvState], float] | Any = None,
        gamma: float = 1.0,
        scale: float = 1.0,
        terminal_zero: bool = True,
    ) -> None:
        if potential is None:
            raise ValueError(
                "PotentialShaping needs potential=: a callable state -> float or an object "
                "with value(state) (e.g. a LearnedRewardModel PRM)"
            )
        if not callable(potential) and not callable(getattr(potential, "value", None)):
            raise TypeError(
                f"potential={potential!r} is neither callable nor has a value(state) method"
            )
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"gamma={gamma!r} must be in (0, 1]")
        if base is not None:
            _check_reward(base, "PotentialShaping(base=...)")
        self.base = base
        self.potential = potential
        self.gamma = float(gamma)
        self.scale = float(scale)
        self.terminal_zero = bool(terminal_zero)

    def bind(self, env: ReasoningEnv) -> PotentialShaping:
        """A copy bound to ``env`` (the base reward and a reward-like potential are bound too)."""
        bound = copy.copy(self)
        bound.env = env
        bound.base = None if self.base is None else bind_reward(self.base, env)
        if hasattr(self.potential, "bind") and callable(getattr(self.potential, "value", None)):
            bound.potential = bind_reward(self.potential, env)
        return bound

    def phi(self, state: EnvState) -> float:
        """The potential of ``state`` (0 at finished states when ``terminal_zero``)."""
        if state.done and self.terminal_zero:
            return 0.0
        value = getattr(self.potential, "value", None)
        fn = value if callable(value) else self.potential
        return float(fn(state))

    def shaping(self, state: EnvState, next_state: EnvState) -> float:
        """``F(s, s') = scale * (gamma * Phi(s') - Phi(s))``."""
        return self.scale * (self.gamma * self.phi(next_state) - self.phi(state))

    def process(self, state: EnvState, step: str, next_state: EnvState) -> float:
        """Base process reward plus ``F(state, next_state)``."""
        base = 0.0 if self.base is None else float(self.base.process(state, step, next_state))
        return base + self.shaping(state, next_state)

    def outcome(self, state: EnvState) -> float:
        """Base outcome reward plus ``F(state before the answer, finished state)``."""
        base = 0.0 if self.base is None else float(self.base.outcome(state))
        return base + self.shaping(previous_state(state), state)


class FormatPenalty(ComposableReward):
    """A penalty for steps or answers that do not follow a required format.

    The env only rewards steps it accepted, so this checks a *style* on top of the task's
    grammar, e.g. that the answer line is a bare integer, or that steps echo the numbers left.

    Args:
        step_pattern: regular expression every (non-answer) step must fully match (``None``:
            no check).
        answer_pattern: regular expression the final ``Answer:`` line must fully match; the
            default asks for a non-empty answer on one line.
        penalty: the reward for a step or answer that does not match (negative).
    """

    def __init__(
        self,
        step_pattern: str | None = None,
        answer_pattern: str | None = r"Answer:\s*\S.*",
        penalty: float = -0.5,
    ) -> None:
        self.step_pattern = step_pattern
        self.answer_pattern = answer_pattern
        self.penalty = float(penalty)
        try:
            self._step_re = None if step_pattern is None else re.compile(step_pattern)
            self._answer_re = None if answer_pattern is None else re.compile(answer_pattern)
        except re.error as exc:
            raise ValueError(f"FormatPenalty got an invalid regular expression: {exc}") from None

    def __repr__(self) -> str:
        return (
            f"FormatPenalty(step_pattern={self.step_pattern!r}, "
            f"answer_pattern={self.answer_pattern!r}, penalty={self.penalty!r})"
        )

    def process(self, state: EnvState, step: str, next_state: EnvState) -> float:
        """``penalty`` when ``step`` does not fully match ``step_pattern``, else 0."""
        if self._step_re is None or not isinstance(step, str):
            return 0.0 if isinstance(step, str) else self.penalty
        return 0.0 if self._step_re.fullmatch(step.strip()) else self.penalty

    def outcome(self, state: EnvState) -> float:
        """``penalty`` when the final line does not fully match ``answer_pattern``, else 0."""
        if self._answer_re is None:
            return 0.0
        last = state.steps[-1] if state.steps else ""
        return 0.0 if self._answer_re.fullmatch(last.strip()) else self.penalty


class LengthPenalty(ComposableReward):
    """A cost per step and per character, to favour short solutions.

    Args:
        per_step: added for every step, the answer included (negative).
        per_char: added per character of each step, the answer included (negative).
    """

    def __init__(self, per_step: float = -0.01, per_char: float = 0.0) -> None:
        if per_step > 0 or per_char > 0:
            raise ValueError(
                f"per_step={per_step!r} and per_char={per_char!r} must be <= 0 for a penalty; "
                "use a negative number such as -0.01"
            )
        self.per_step = float(per_step)
        self.per_char = float(per_char)

    def process(self, state: EnvState, step: str, next_state: EnvState) -> float:
        """``per_step + per_char * len(step)``."""
        n = len(step) if isinstance(step, str) else 0
        return self.per_step + self.per_char * n

    def outcome(self, state: EnvState) -> float:
        """The cost of the answer step."""
        last = state.steps[-1] if state.steps else ""
        return self.per_step + self.per_char * len(last)


def aggregate(
    scores: Sequence[float], how: str | Callable[[Sequence[float]], float] = "min"
) -> float:
    """Aggregate a trajectory's PRM step scores into one solution score.

    ``min`` (the weakest step, as in Lightman et al. 2023 and Math-Shepherd), ``prod`` (the
    chance that every step is right, when the scores are independent probabilities), ``last``
    (the score of the final prefix) or ``mean``; or any callable.

    Args:
        scores: one score per step.
        how: the aggregation, a name from :data:`AGGREGATIONS` or a callable.

    Returns:
        The aggregated score.

    Raises:
        ValueError: ``scores`` is empty or ``how`` is unknown.
    """
    values = [float(s) for s in scores]
    if not values:
        raise ValueError("aggregate() got no scores; a trajectory needs at least one scored step")
    if callable(how):
        return float(how(values))
    if how == "min":
        return min(values)
    if how == "prod":
        return math.prod(values)
    if how == "last":
        return values[-1]
    if how == "mean":
        return sum(values) / len(values)
    import difflib

    hint = difflib.get_close_matches(str(how), AGGREGATIONS, n=1)
    extra = f" Did you mean {hint[0]!r}?" if hint else ""
    raise ValueError(f"how={how!r} is not an aggregation; use one of {AGGREGATIONS}.{extra}")
