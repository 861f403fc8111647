"""Learning: trainers behind one registry and one signature, ``train(config, *, policy=None)``.

* :func:`train` runs a registered trainer by name; :func:`register_trainer` adds one;
  :func:`list_trainers` names them (``sft``, ``expert-iteration``, ``grpo``, ``ppo``, ``sb3``,
  ``rm``). Every trainer returns a :class:`TrainResult`.
* The trainers and their configs are importable from here; each module is loaded on first use,
  so ``import thinkgym.learning`` stays light (no torch).

Example::

    from thinkgym.learning import GRPOConfig, train

    result = train("grpo", GRPOConfig(env="Arithmetic", iterations=2, out_dir="runs/g"))
"""

from __future__ import annotations

import importlib
from typing import Any

from thinkgym.learning.errors import NonFiniteLossError
from thinkgym.learning.registry import (
    Trainer,
    get_trainer,
    list_trainers,
    register_trainer,
    train,
)
from thinkgym.learning.result import TrainResult

_LAZY = {
    "SFTConfig": "thinkgym.learning.sft",
    "sft": "thinkgym.learning.sft",
    "SFTRunConfig": "thinkgym.learning.sft_run",
    "train_sft": "thinkgym.learning.sft_run",
    "ExpertIterationConfig": "thinkgym.learning.expert_iteration",
    "expert_iteration": "thinkgym.learning.expert_iteration",
    "GRPOConfig": "thinkgym.learning.grpo",
    "grpo": "thinkgym.learning.grpo",
    "PPOConfig": "thinkgym.learning.ppo",
    "ppo": "thinkgym.learning.ppo",
    "SB3Config": "thinkgym.learning.sb3_run",
    "train_sb3": "thinkgym.learning.sb3_run",
    "RewardModelConfig": "thinkgym.learning.reward_models",
    "train_reward_model": "thinkgym.learning.reward_models",
    "train_reward_models": "thinkgym.learning.reward_models",
    "train_grpo": "thinkgym.learning.registry",
    "train_ppo": "thinkgym.learning.registry",
    "train_expert_iteration": "thinkgym.learning.registry",
}

__all__ = [
    "NonFiniteLossError",
    "TrainResult",
    "Trainer",
    "get_trainer",
    "list_trainers",
    "register_trainer",
    "train",
    *sorted(_LAZY),
]


def __getattr__(name: str) -> Any:
    # trainers pull in torch and transformers: import each module when it is asked for
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'thinkgym.learning' has no attribute {name!r}")
