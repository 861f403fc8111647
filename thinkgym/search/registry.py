"""The planner registry: built-in planners by name, and users' own with one call."""

from __future__ import annotations

import difflib
import importlib
from typing import Any

from thinkgym.search.planner import Planner

__all__ = ["register_planner", "make_planner", "get_planner", "list_planners", "BUILTIN_PLANNERS"]

BUILTIN_PLANNERS: dict[str, str] = {
    "greedy": "thinkgym.search.best_of_n:Greedy",
    "best_of_n": "thinkgym.search.best_of_n:BestOfN",
    "beam": "thinkgym.search.beam:BeamSearch",
    "mcts": "thinkgym.search.mcts:MCTS",
    "revision": "thinkgym.search.revision:SequentialRevision",
}

_USER: dict[str, type[Planner]] = {}


def register_planner(name: str, cls: type[Planner], *, override: bool = False) -> None:
    """Register a planner class under ``name`` (it then runs in ``thinkgym bench``).

    Args:
        name: the registry name, e.g. ``"my_planner"``.
        cls: a :class:`~thinkgym.search.planner.Planner` subclass.
        override: replace an existing registration instead of raising.

    Raises:
        ValueError: the name is empty or already taken.
        TypeError: ``cls`` is not a planner class.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"planner name={name!r} must be a non-empty string")
    if not isinstance(cls, type) or not issubclass(cls, Planner):
        raise TypeError(
            f"cls={cls!r} must be a subclass of thinkgym.search.Planner (implement "
            "search(ctx) as a generator)"
        )
    if (name in _USER or name in BUILTIN_PLANNERS) and not override:
        raise ValueError(
            f"a planner named {name!r} is already registered; pick another name or pass "
            "override=True"
        )
    _USER[name] = cls


def list_planners() -> list[str]:
    """Names of every registered planner."""
    return sorted(set(BUILTIN_PLANNERS) | set(_USER))


def get_planner(name: str) -> type[Planner]:
    """The planner class registered under ``name``.

    Raises:
        KeyError: unknown name; the message lists the known ones and suggests the closest.
    """
    if name in _USER:
        return _USER[name]
    if name in BUILTIN_PLANNERS:
        module, _, attr = BUILTIN_PLANNERS[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    known = list_planners()
    hint = difflib.get_close_matches(name, known, n=1)
    extra = f" Did you mean {hint[0]!r}?" if hint else ""
    raise KeyError(
        f"no planner named {name!r}.{extra} Known planners: {', '.join(known)}. Register your "
        "own with thinkgym.search.register_planner(name, cls)."
    )


def make_planner(name: str, policy: Any = None, **kwargs: Any) -> Planner:
    """Build a registered planner: ``make_planner("beam", policy, beam_size=4)``."""
    cls = get_planner(name)
    if policy is None:
        return cls(**kwargs)
    return cls(policy, **kwargs)
