"""``thinkgym train``: train policies (sft, sb3, expert-iteration, grpo, ...).

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
    "ppo": "thinkgym.commands.train_ppo",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one subparser per entry of :data:`TRAIN_COMMANDS` to ``parser``.

    Every train subcommand also gets ``--log-dir`` (unless it adds its own): :func:`run` then
    writes the metrics its training loop reports with
    :func:`thinkgym.learning.logging.log_metrics`.
    """
    from thinkgym.commands._common import add_command, writable_dir

    sub = parser.add_subparsers(dest="train_command", required=True, metavar="ALGORITHM")
    for name, path in TRAIN_COMMANDS.items():
        p = add_command(sub, name, importlib.import_module(path))
        if "--log-dir" not in p._option_string_actions:
            p.add_argument(
                "--log-dir",
                type=writable_dir,
                default=None,
                help="write the training metrics there: metrics.jsonl, metrics.json, and "
                "TensorBoard scalars when tensorboard is installed (pip install thinkgym[tb])",
            )
        p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the train subcommand named by ``args.train_command`` (with ``--log-dir`` logging)."""
    from thinkgym.learning.logging import MetricLogger

    name = args.train_command
    if name not in TRAIN_COMMANDS:
        raise ValueError(f"unknown train command {name!r}; known: {', '.join(TRAIN_COMMANDS)}")
    module = importlib.import_module(TRAIN_COMMANDS[name])
    config = {
        k: v if isinstance(v, (int, float, str, bool, type(None), list, dict)) else str(v)
        for k, v in vars(args).items()
        if not k.startswith("_") and k != "func"
    }
    with MetricLogger(getattr(args, "log_dir", None), config=config) as logger:
        with logger.activate():
            return int(module.run(args) or 0)
