"""A name -> reward class registry: ``register_reward(name, cls)`` and ``make_reward(name, **kw)``."""

from __future__ import annotations

import difflib
import importlib
from typing import Any

__all__ = ["register_reward", "make_reward", "list_rewards"]

# Values are classes or "module:Class" strings (imported on first use, so that naming the
# learned reward model does not import torch).
_REGISTRY: dict[str, Any] = {
    "default": "thinkgym.rewards.base:DefaultReward",
    "outcome": "thinkgym.rewards.outcome:OutcomeVerifier",
    "step": "thinkgym.rewards.process:StepVerifier",
    "format": "thinkgym.rewards.combinators:FormatPenalty",
    "length": "thinkgym.rewards.combinators:LengthPenalty",
    "shaping": "thinkgym.rewards.combinators:PotentialShaping",
    "learned": "thinkgym.rewards.learned:LearnedRewardModel.from_pretrained",
}


def register_reward(name: str, cls: type | str) -> None:
    """Make a reward buildable by name with :func:`make_reward`.

    Args:
        name: the name (unique).
        cls: the reward class (or any callable returning a reward), or a ``"module:Class"``
            string imported on first use.

    Raises:
        ValueError: ``name`` is already registered or empty.
        TypeError: ``cls`` is neither callable nor an entry point string.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name={name!r} must be a non-empty string")
    if name in _REGISTRY:
        raise ValueError(
            f"a reward named {name!r} is already registered ({_REGISTRY[name]!r}); pick another "
            "name"
        )
    if isinstance(cls, str):
        if ":" not in cls:
            raise TypeError(f"entry point {cls!r} must look like 'package.module:ClassName'")
    elif not callable(cls):
        raise TypeError(f"cls={cls!r} must be a reward class or a 'module:Class' string")
    _REGISTRY[name] = cls


def list_rewards() -> list[str]:
    """The registered reward names, sorted."""
    return sorted(_REGISTRY)


def _resolve(entry: Any) -> Any:
    if not isinstance(entry, str):
        return entry
    module, _, attr = entry.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def make_reward(name: str, **kwargs: Any) -> Any:
    """Build the reward registered as ``name`` with ``kwargs``.

    Raises:
        KeyError: no reward has that name (the message lists the known ones).
    """
    if name not in _REGISTRY:
        hint = difflib.get_close_matches(str(name), list(_REGISTRY), n=1)
        extra = f" Did you mean {hint[0]!r}?" if hint else ""
        raise KeyError(
            f"no reward named {name!r}.{extra} Known: {', '.join(list_rewards())}. "
            "Register your own with thinkgym.rewards.register_reward(name, cls)."
        )
    return _resolve(_REGISTRY[name])(**kwargs)
