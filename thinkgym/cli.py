"""The ``thinkgym`` command (also ``python -m thinkgym``): the top-level parser.

Each subcommand lives in ``thinkgym/commands/<name>.py`` and exposes ``add_arguments(parser)``
and ``run(args) -> int`` (see :mod:`thinkgym.commands`). :data:`COMMANDS` lists them.

A bad argument ends with a one-line message and a non-zero exit status, never a traceback; set
``THINKGYM_DEBUG=1`` to see the traceback of an error raised while a command runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "build_parser", "main"]

#: top-level command name -> module implementing it
COMMANDS: dict[str, str] = {
    "list": "thinkgym.commands.list",
    "play": "thinkgym.commands.play",
    "bench": "thinkgym.commands.bench",
    "train": "thinkgym.commands.train",
    "export": "thinkgym.commands.export",
    "serve": "thinkgym.commands.serve",
    "show-tree": "thinkgym.commands.show_tree",
}

_EPILOG = """\
examples:
  thinkgym list
  thinkgym play Game24 --agent human
  thinkgym bench --envs Game24 --planners best_of_n,beam --budgets 4,16
  thinkgym train sft --env Arithmetic --out runs/arith --steps 2000

`thinkgym COMMAND --help` shows each command's options and an example.
"""


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("thinkgym")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        from thinkgym import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``thinkgym`` command."""
    from thinkgym.commands._common import HelpFormatter, Parser, add_command

    parser = Parser(
        prog="thinkgym",
        description="Reasoning tasks as Gymnasium environments: play, train, search, benchmark.",
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"thinkgym {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, path in COMMANDS.items():
        try:
            module = importlib.import_module(path)
        except ModuleNotFoundError as exc:
            if exc.name != path:  # a dependency of the command is missing: say so
                raise
            continue  # the command's module is not part of this installation
        add_command(sub, name, module, plugin_option=name != "train")
    return parser


def _plugin_args(argv: Sequence[str]) -> list[str]:
    """The values of every ``--plugin X`` / ``--plugin=X`` in ``argv``."""
    found = []
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--plugin" and i + 1 < len(argv):
            found.append(argv[i + 1])
        elif arg.startswith("--plugin="):
            found.append(arg.split("=", 1)[1])
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``thinkgym`` console script; returns the exit status."""
    import gymnasium as gym

    from thinkgym.commands._common import CommandError, error_line, load_plugins, plugin_specs

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("THINKGYM_DEBUG", "") not in ("", "0")
    try:
        # plugins first: the envs, planners and policies they register are then valid arguments
        load_plugins(_plugin_args(argv))
    except (CommandError, ImportError, OSError, ValueError) as exc:
        if debug:
            raise
        print(f"thinkgym: error: {error_line(exc)}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    name = " ".join(
        n for n in (args.command, getattr(args, "train_command", None)) if isinstance(n, str)
    )
    try:
        load_plugins(plugin_specs(args))
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"thinkgym {name}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `thinkgym list | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except (
        CommandError,
        ValueError,
        OSError,
        ImportError,
        FloatingPointError,  # a training loss that became NaN or infinite
        gym.error.Error,
    ) as exc:
        if debug:
            raise
        print(f"thinkgym {name}: error: {error_line(exc)}", file=sys.stderr)
        return 2
    except (NotImplementedError, RuntimeError) as exc:  # a task hook a plugin left out
        from thinkgym.commands._common import missing_hook_line
        from thinkgym.distributed import BackendError, ShardError

        line = missing_hook_line(exc)
        if line is None and isinstance(exc, (BackendError, ShardError)):
            line = error_line(exc)
        if debug or line is None:
            raise
        print(f"thinkgym {name}: error: {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
