"""thinkgym: reasoning tasks as Gymnasium environments.

One environment step is one reasoning step. ``import thinkgym`` registers the built-in tasks under
the ``thinkgym`` namespace (``gym.make("thinkgym/Game24-v0")``) without importing torch or sympy.

The root is the public face: it imports only the env layer eagerly. The policy contract
(``Agent``, ``Policy``, ``Proposal``) and the subpackages ``rewards``, ``agents``, ``search``,
``learning`` and ``bench`` load on first use (``thinkgym.search.make_planner``).
"""

from __future__ import annotations

import importlib
from typing import Any

from thinkgym import envs
from thinkgym.envs import ReasoningEnv, Reward, list_envs, make, register

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "Agent": "thinkgym.agents.base",
    "Policy": "thinkgym.agents.base",
    "Proposal": "thinkgym.agents.base",
}
_SUBPACKAGES = ("expr", "rewards", "agents", "search", "learning", "bench")

__all__ = [
    "Agent",
    "Policy",
    "Proposal",
    "ReasoningEnv",
    "Reward",
    "envs",
    "list_envs",
    "make",
    "register",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # policy names and higher layers load on first use, so `import thinkgym` stays light
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"thinkgym.{name}")
    raise AttributeError(f"module 'thinkgym' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_SUBPACKAGES))
