"""``thinkgym train``: train policies; ``thinkgym train ALGORITHM --help`` shows each one.

Example::

    thinkgym train sft --env Arithmetic --out runs/arith --steps 2000
    thinkgym train sft --recipe default --out runs/policy --export thinkgym/data/policy
"""

from __future__ import annotations

import argparse
import importlib

__all__ = ["TRAIN_COMMANDS", "add_arguments", "run"]

#: ``thinkgym train NAME`` -> module exposing ``add_arguments(parser)`` and ``run(args) -> int``
#: (its docstring's first line is the help text).
TRAIN_COMMANDS: dict[str, str] = {
    "sft": "thinkgym.commands.train_sft",
    "sb3": "thinkgym.commands.train_sb3",
    "expert-iteration": "thinkgym.commands.train_expert_iteration",
    "grpo": "thinkgym.commands.train_grpo",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one subparser per entry of :data:`TRAIN_COMMANDS` to ``parser``."""
    from thinkgym.commands._common import add_command

    sub = parser.add_subparsers(dest="train_command", required=True, metavar="ALGORITHM")
    for name, path in TRAIN_COMMANDS.items():
        add_command(sub, name, importlib.import_module(path))


def run(args: argparse.Namespace) -> int:
    """Run the train subcommand named by ``args.train_command``."""
    name = args.train_command
    if name not in TRAIN_COMMANDS:
        raise ValueError(f"unknown train command {name!r}; known: {', '.join(TRAIN_COMMANDS)}")
    return int(importlib.import_module(TRAIN_COMMANDS[name]).run(args) or 0)
