"""``thinkgym list``: list the registered environments (and planners).

Example::

    thinkgym list
    thinkgym list --plugin my_task.py      # a plugin's own envs are listed too
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options besides ``--plugin``."""


def run(args: argparse.Namespace) -> int:
    """Print one line per env id (with its entry point), then the planner names."""
    import gymnasium as gym

    import thinkgym

    for env_id in thinkgym.list_envs():
        spec = gym.spec(env_id)
        entry = spec.entry_point if isinstance(spec.entry_point, str) else spec.entry_point.__name__
        print(f"{env_id:32s} {entry}")
    try:
        from thinkgym.search.registry import list_planners
    except ImportError:  # pragma: no cover - the search package is part of the distribution
        return 0
    print(f"planners: {', '.join(list_planners())}")
    return 0
