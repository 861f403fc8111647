"""``thinkgym train``: train policies and reward models (sft, sb3, expert-iteration, grpo, ppo, rm).

The subcommands are the registered trainers (thinkgym.learning.list_trainers()): one per
trainer, with one option per field of its config (the field's docstring is the help, every
default is shown). A trainer that a ``--plugin`` file registers with
thinkgym.learning.register_trainer is a subcommand too.

Example::

    thinkgym train sft --env Arithmetic --out runs/arith --steps 2000
    thinkgym train sft --recipe default --out runs/policy --export thinkgym/data/policy
    thinkgym train grpo --env Arithmetic --policy runs/arith/final --out-dir runs/grpo
    thinkgym train --plugin my_trainer.py my-trainer --help
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import inspect
import json
import sys
import types
from collections.abc import Iterator
from typing import Any

__all__ = ["TRAIN_COMMANDS", "add_arguments", "add_trainer_arguments", "run", "run_trainer"]

#: the built-in ``thinkgym train NAME`` commands -> the module that customises each one (its
#: docstring's first line is the help text); plugin trainers get a module built from their config
TRAIN_COMMANDS: dict[str, str] = {
    "sft": "thinkgym.commands.train_sft",
    "sb3": "thinkgym.commands.train_sb3",
    "expert-iteration": "thinkgym.commands.train_expert_iteration",
    "grpo": "thinkgym.commands.train_grpo",
    "ppo": "thinkgym.commands.train_ppo",
    "rm": "thinkgym.commands.train_rm",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one subparser per registered trainer to ``parser``.

    Every train subcommand also gets ``--log-dir`` (unless it adds its own): :func:`run` then
    writes the metrics its training loop reports with
    :func:`thinkgym.learning.logging.log_metrics`.
    """
    from thinkgym.commands._common import add_command, writable_dir
    from thinkgym.learning.registry import get_trainer, list_trainers

    if "--plugin" not in parser._option_string_actions:
        parser.add_argument(
            "--plugin",
            action="append",
            default=[],
            metavar="FILE_OR_MODULE",
            help="a Python file or module to load first (it may register trainers, envs, "
            "policies, rewards); its trainers become subcommands",
        )
    sub = parser.add_subparsers(dest="train_command", required=True, metavar="TRAINER")
    for name in list_trainers():
        trainer = get_trainer(name)
        module = importlib.import_module(trainer.cli) if trainer.cli else _plugin_module(trainer)
        p = add_command(sub, name, module)
        if "--log-dir" not in p._option_string_actions:
            p.add_argument(
                "--log-dir",
                type=writable_dir,
                default=None,
                help="write the training metrics there: metrics.jsonl, metrics.json, and "
                "TensorBoard scalars when tensorboard is installed (pip install thinkgym[tb])",
            )
        p.set_defaults(func=run, _trainer=module.run)


def _plugin_module(trainer: Any) -> types.ModuleType:
    """A command module for a trainer registered in Python (options from its config)."""
    cls = trainer.config_cls
    doc = (inspect.getdoc(cls) or "").strip()
    if doc.startswith(cls.__name__ + "("):  # the dataclass's generated signature: no docs
        doc = ""
    module = types.ModuleType(
        f"thinkgym_train_{trainer.name}",
        f"``thinkgym train {trainer.name}``: {trainer.summary}.\n\n"
        + (doc + "\n\n" if doc else "")
        + f"Example::\n\n    thinkgym train --plugin FILE.py {trainer.name} --help\n",
    )
    module.add_arguments = lambda parser: add_trainer_arguments(parser, trainer.name)
    module.run = lambda args: run_trainer(args, trainer.name)
    return module


def add_trainer_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """One option per field of trainer ``name``'s config (``dict`` fields take JSON), plus
    ``--policy`` when the trainer takes a policy and its config names none, and
    ``--no-progress``."""
    from thinkgym.commands._common import policy_spec
    from thinkgym.commands._rl import add_rl_arguments
    from thinkgym.learning.registry import get_trainer

    trainer = get_trainer(name)
    cls = trainer.config_cls
    with _source_findable(cls, trainer.fn):
        add_rl_arguments(parser, cls)
    names = {f.name for f in dataclasses.fields(cls)}
    if trainer.takes_policy and not names & {"policy", "init"}:
        parser.add_argument(
            "--policy",
            dest="_policy",
            metavar="SPEC",
            type=policy_spec,
            default=None,
            help="the starting policy: 'default' (the shipped one), a registered name, a model "
            "directory or FILE.py:FACTORY",
        )


@contextlib.contextmanager
def _source_findable(cls: type, fn: Any) -> Iterator[None]:
    """Let ``inspect`` find the source of a config class defined in a ``--plugin`` file.

    A plugin file runs as a script (its module is not in ``sys.modules``), so the field
    docstrings that become the options' help could not be read; for the time of the call the
    class's module name points at the file that defined it (found from its methods or ``fn``).
    """
    name = cls.__module__
    if name in sys.modules:
        yield
        return
    code = [getattr(v, "__code__", None) for v in (*vars(cls).values(), fn) if callable(v)]
    files = [c.co_filename for c in code if c is not None and c.co_filename.endswith(".py")]
    if not files:
        yield
        return
    module = types.ModuleType(name)
    module.__file__ = files[0]
    sys.modules[name] = module
    try:
        yield
    finally:
        sys.modules.pop(name, None)


def _config(args: argparse.Namespace, cls: type) -> Any:
    """The config of the parsed options, validated (errors name the options, one line)."""
    from thinkgym.commands._common import CommandError, error_line

    given = {
        f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)
    }
    try:
        cfg = cls(**given)
        check = getattr(cfg, "validate", None)
        if callable(check):
            check()
    except (ValueError, KeyError, TypeError) as exc:
        text = error_line(exc).strip("\"'")
        for f in dataclasses.fields(cls):
            text = text.replace(f"{f.name}=", f"--{f.name.replace('_', '-')} ")
        raise CommandError(text) from None
    return cfg


def run_trainer(args: argparse.Namespace, name: str) -> int:
    """Run trainer ``name`` on the parsed options; prints its final metrics as one JSON line."""
    from thinkgym.learning.registry import get_trainer

    trainer = get_trainer(name)
    cfg = _config(args, trainer.config_cls)
    kwargs: dict[str, Any] = {}
    try:
        params = inspect.signature(trainer.fn).parameters
    except (TypeError, ValueError):
        params = {}
    if "progress" in params:
        kwargs["progress"] = not getattr(args, "no_progress", False)
    if trainer.takes_policy and getattr(args, "_policy", None) is not None:
        kwargs["policy"] = args._policy
    result = trainer.fn(cfg, **kwargs)
    print_result(result)
    return 0


def print_result(result: Any) -> None:
    """The final metrics as one JSON line, then where the run and its policy are."""
    metrics = getattr(result, "metrics", None)
    if metrics:
        print(json.dumps(metrics, default=str))
    if getattr(result, "out_dir", None) is not None:
        print(f"run: {result.out_dir}")
    if getattr(result, "policy_dir", None) is not None:
        print(f"policy: {result.policy_dir}")


def run(args: argparse.Namespace) -> int:
    """Run the train subcommand named by ``args.train_command`` (with ``--log-dir`` logging)."""
    from thinkgym.learning.logging import MetricLogger

    config = {
        k: v if isinstance(v, (int, float, str, bool, type(None), list, dict)) else str(v)
        for k, v in vars(args).items()
        if not k.startswith("_") and k != "func"
    }
    with MetricLogger(getattr(args, "log_dir", None), config=config) as logger:
        with logger.activate():
            return int(args._trainer(args) or 0)
