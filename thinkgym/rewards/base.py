"""The reward protocol: ``process(state, step)`` for a step, ``outcome(state)`` for an episode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from thinkgym.envs.base import EnvState, ReasoningEnv

__all__ = ["Reward", "RewardProtocol", "DefaultReward"]


@runtime_checkable
class RewardProtocol(Protocol):
    """What an env needs from a reward object."""

    def process(self, state: EnvState, step: str) -> float:
        """Reward for an accepted step ``step`` taken from ``state``."""
        ...

    def outcome(self, state: EnvState) -> float:
        """Reward for a finished episode (``state.done`` is true)."""
        ...


class Reward:
    """Base class of rewards. Subclasses override :meth:`process` and/or :meth:`outcome`.

    An env calls :meth:`bind` once with itself, so rule-based rewards can use the task's step and
    answer checkers. ``bind`` returns a bound copy and leaves ``self`` untouched, so one reward
    object can be handed to many envs.
    """

    env: ReasoningEnv | None = None

    def bind(self, env: ReasoningEnv) -> Reward:
        """Return a copy of this reward attached to ``env``."""
        import copy

        bound = copy.copy(self)
        bound.env = env
        return bound

    def process(self, state: EnvState, step: str) -> float:
        """Reward for an accepted step (default 0)."""
        return 0.0

    def outcome(self, state: EnvState) -> float:
        """Reward for a finished episode (default 0)."""
        return 0.0

    def __repr__(self) -> str:
        fields: dict[str, Any] = {k: v for k, v in vars(self).items() if k != "env"}
        args = ", ".join(f"{k}={v!r}" for k, v in fields.items())
        return f"{type(self).__name__}({args})"


class DefaultReward(Reward):
    """1.0 for a correct final answer, 0.0 otherwise; accepted steps earn 0."""

    def outcome(self, state: EnvState) -> float:
        """1.0 when the env judged the answer correct."""
        return 1.0 if state.correct else 0.0
