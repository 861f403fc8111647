"""Errors shared by every trainer of :mod:`thinkgym.learning`."""

from __future__ import annotations

__all__ = ["NonFiniteLossError"]


class NonFiniteLossError(FloatingPointError):
    """A training loss became NaN or infinite; the trainer stopped before the optimizer step.

    Every trainer (SFT, expert iteration, GRPO, PPO, reward models) raises this one class, so a
    caller catches one error. Nothing new is saved when it is raised: the last checkpoint stays
    as it was. It is a ``FloatingPointError``, so ``except FloatingPointError`` catches it too.
    """
