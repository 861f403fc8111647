"""``thinkgym list``: list the registered environments (and planners).

Example::

    thinkgym list
    thinkgym list --plugin my_task.py      # a plugin's own envs are listed too
    thinkgym list --rg                     # reasoning-gym's tasks (rg:<task> names)
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--rg``: list reasoning-gym's tasks instead (``pip install 'thinkgym[rg]'``)."""
    parser.add_argument(
        "--rg",
        action="store_true",
        help="list the reasoning-gym tasks (make one with rg:<task>, e.g. rg:leg_counting)",
    )


def _list_rg() -> int:
    from thinkgym.commands._common import CommandError

    try:
        from thinkgym.envs.reasoning_gym import UNSUPPORTED, rg_tasks
        from thinkgym.envs.reasoning_gym import _registry as rg_registry

        registry = rg_registry()
    except ImportError as exc:
        raise CommandError(f"{exc}") from None
    for task in rg_tasks(supported_only=False):
        if task in UNSUPPORTED:
            print(f"rg:{task:28s} (not with its default config: {UNSUPPORTED[task]})")
            continue
        module = registry[task][0].__module__.split(".")
        category = module[1] if len(module) > 2 else "other"
        print(f"rg:{task:28s} {category}")
    print(f"{len(rg_tasks())} reasoning-gym tasks; thinkgym.make('rg:<task>', **config)")
    return 0


def run(args: argparse.Namespace) -> int:
    """Print one line per env id (with its entry point), then the planner names."""
    if getattr(args, "rg", False):
        return _list_rg()
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
