"""What every trainer returns: :class:`TrainResult` (see :mod:`thinkgym.learning.registry`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TrainResult"]


@dataclass
class TrainResult:
    """What a trainer returns.

    Attributes:
        policy: the trained policy (an :class:`~thinkgym.agents.llm.LLMPolicy` for the LM
            trainers; ``None`` when the trainer trains no policy).
        model: what else was trained: the SB3 algorithm, the reward models (name -> model), ...
        out_dir: the run directory.
        policy_dir: where the final policy was saved (``LLMPolicy.from_pretrained`` loads it).
        history: the curve: one dict per step, iteration or round, as the trainer logs it.
        metrics: the final figures (held-out pass@1, losses, AUCs, ...).
    """

    policy: Any = None
    model: Any = None
    out_dir: Path | None = None
    policy_dir: Path | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
