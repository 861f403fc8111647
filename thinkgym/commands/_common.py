"""Shared pieces of the command modules: argument types, plugin loading, subcommand wiring.

The argument types raise :class:`argparse.ArgumentTypeError`, so a bad value ends in argparse's
one-line ``usage ... error: argument --lr: ...`` and exit status 2, never in a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib
import math
import os
import re
import runpy
import sys
import tempfile
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "CommandError",
    "HelpFormatter",
    "Parser",
    "add_command",
    "add_config_arguments",
    "config_from_args",
    "choice",
    "device_arg",
    "env_name",
    "error_line",
    "existing_dir",
    "existing_file",
    "field_docs",
    "finite_float",
    "load_plugins",
    "model_dir",
    "nonneg_int",
    "plugin_specs",
    "policy_spec",
    "positive_float",
    "positive_int",
    "probability",
    "resolve_device_arg",
    "temperature_arg",
    "warn",
    "validate_kwargs",
    "TASK_HOOKS",
    "missing_hooks",
    "require_hooks",
    "check_env_kwargs",
    "check_planner_kwargs",
    "writable_dir",
    "writable_path",
]


class CommandError(Exception):
    """A user-facing error: :func:`thinkgym.cli.main` prints its message on one line, exit 2."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line with a hint, not the usage block.

    ``thinkgym bench --budgets 0`` ends in ``thinkgym bench: error: argument --budgets: 0 must be
    >= 1 (see `thinkgym bench --help`)`` and exit status 2.
    """

    def error(self, message: str) -> typing.NoReturn:
        """Print ``message`` on one line with a pointer to ``--help``; exit 2."""
        text = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {text} (see `{self.prog} --help`)\n")


_SAYS_DEFAULT = re.compile(r"\(default[: ]|default:|\bNone:")


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the description's layout (its examples) and shows each option's default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        """The help text with the default: ``(default: X)``, ``(default: none)`` for an option
        left unset, ``(required)``; flags (off unless given) and texts that already say their
        default are left as they are."""
        text = action.help or ""
        default = action.default
        if "%(default)" in text or not action.option_strings or action.nargs == 0:
            return text  # positionals, flags (store_true, help, version) and explicit ones
        if action.required:
            return text if "required" in text else f"{text} (required)"
        if default is argparse.SUPPRESS or _SAYS_DEFAULT.search(text):
            return text
        if default is None or (isinstance(default, list) and not default):
            return text if "None:" in text else f"{text} (default: none)"
        return super()._get_help_string(action)


# ---------------------------------------------------------------------------- argument types
def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def nonneg_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be >= 0")
    return value


def finite_float(text: str) -> float:
    """argparse type: a finite number (``nan`` and ``inf`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (learning rates, temperatures, seconds)."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value:g} must be > 0")
    return value


def temperature_arg(text: str) -> float:
    """argparse type: a sampling temperature, a finite number >= 0 (0 means greedy)."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value:g} must be >= 0 (0 means greedy)")
    return value


def probability(text: str) -> float:
    """argparse type: a number in (0, 1] (``top_p``, data fractions)."""
    value = finite_float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{value:g} must be in (0, 1]")
    return value


def choice(*choices: str) -> Callable[[str], str]:
    """argparse type: one of ``choices`` (case-insensitive), with a "did you mean" hint."""

    def parse(text: str) -> str:
        for c in choices:
            if c.lower() == text.lower():
                return c
        raise argparse.ArgumentTypeError(_unknown(text, choices))

    parse.__name__ = "choice"
    return parse


def _unknown(text: str, choices: Sequence[str], what: str = "") -> str:
    hint = difflib.get_close_matches(text, list(choices), n=1, cutoff=0.5)
    did = f" (did you mean {hint[0]!r}?)" if hint else ""
    return f"unknown {what}{text!r}{did}; choose from {', '.join(choices)}"


def env_name(text: str) -> str:
    """argparse type: an env id or short name (case-insensitive), resolved to the full id."""
    import gymnasium as gym

    import thinkgym
    from thinkgym.envs import resolve_id

    try:
        return resolve_id(text)
    except gym.error.Error:
        pass
    short = sorted(k.split("/", 1)[-1].rsplit("-v", 1)[0] for k in thinkgym.list_envs())
    raise argparse.ArgumentTypeError(_unknown(text, short, "env "))


def existing_dir(text: str) -> Path:
    """argparse type: a directory that exists."""
    path = Path(text).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text!r}: no such directory")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a directory")
    return path


def existing_file(text: str) -> Path:
    """argparse type: a file that exists."""
    path = Path(text).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text!r}: no such file")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory, not a file")
    return path


def writable_dir(text: str) -> Path:
    """argparse type: a directory that exists and is writable, or can be created.

    Nothing is left behind: the check walks up to the nearest existing parent and creates and
    removes an empty file there. An empty value is refused (it would mean the current
    directory).
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("'' is empty; give a path, e.g. runs/my-run")
    path = Path(text).expanduser()
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        what = "is a file" if probe == path else f"cannot be created: {str(probe)!r} is a file"
        raise argparse.ArgumentTypeError(f"{text!r} {what}")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text!r} is not writable ({str(probe)!r} is read-only)")
    try:  # permissions can say yes where writing fails (read-only mounts, /proc, quotas)
        fd, name = tempfile.mkstemp(prefix=".thinkgym-write-check-", dir=probe)
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise argparse.ArgumentTypeError(
            f"{text!r} is not writable ({str(probe)!r}: {why.lower()}); pick another path"
        ) from None
    os.close(fd)
    os.unlink(name)
    return path


def writable_path(text: str) -> Path:
    """argparse type: an output file or directory that can be written (an existing file is
    overwritten; a missing one, with its missing parent directories, can be created).

    Nothing is created here; an empty value is refused.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("'' is empty; give a path, e.g. data/out.jsonl")
    path = Path(text).expanduser()
    if path.is_file():
        if not os.access(path, os.W_OK):
            raise argparse.ArgumentTypeError(f"{text!r} is read-only")
        return path
    writable_dir(text)
    return path


def device_arg(text: str) -> str:
    """argparse type: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``, present on this machine.

    torch is imported only for ``cuda``/``mps`` values, to check that the device exists.
    """
    base, _, index = text.partition(":")
    if base not in ("auto", "cpu", "cuda", "mps") or (index and not index.isdigit()):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a device; use auto, cpu, cuda, cuda:N or mps"
        )
    if base in ("cuda", "mps"):
        try:
            resolve_device_arg(text)
        except CommandError as exc:
            raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[-1]) from None
    return text


def resolve_device_arg(text: str) -> Any:
    """The ``torch.device`` of a ``--device`` value; :class:`CommandError` if it is not present."""
    import torch

    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(text)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise CommandError(f"--device {text}: CUDA is not available here; use --device cpu")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise CommandError(f"--device {text}: only {count} CUDA device(s) (cuda:0..)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise CommandError(f"--device {text}: MPS is not available here; use --device cpu")
    return device


# ---------------------------------------------------------------------------- plugins
_LOADED_PLUGINS: set[str] = set()


def load_plugins(specs: Sequence[str]) -> None:
    """Load each ``--plugin``: a ``.py`` file (run as a script) or an importable module.

    A plugin registers envs, planners, rewards or policies when it runs; loading the same plugin
    twice does nothing the second time.

    Raises:
        CommandError: the file does not exist, the module cannot be imported, or the plugin
            raised or called ``sys.exit`` while it ran (the message names the exception and
            where it was raised; the traceback is chained, ``THINKGYM_DEBUG=1`` shows it).
    """
    for spec in specs:
        if spec in _LOADED_PLUGINS:
            continue
        before = _registries()
        try:
            if spec.endswith(".py") or os.sep in spec or "/" in spec:
                path = Path(spec).expanduser()
                if not path.is_file():
                    raise CommandError(f"--plugin {spec}: no such file")
                runpy.run_path(str(path), run_name="thinkgym_plugin")
            else:
                importlib.import_module(spec)
        except CommandError:
            raise
        except ModuleNotFoundError as exc:
            if exc.name and spec.startswith(exc.name):
                raise CommandError(
                    f"--plugin {spec}: no module {exc.name!r} (give a .py file or a module on "
                    "sys.path)"
                ) from None
            raise CommandError(f"--plugin {spec}: {_where(exc)}") from exc
        except SystemExit as exc:  # script code run on import (argparse, sys.exit) ends here
            raise CommandError(
                f"--plugin {spec}: it called sys.exit({exc.code!r}) while being loaded; put its "
                "script code under `if __name__ == '__main__':`"
            ) from None
        except Exception as exc:  # the plugin's own code failed: say where, in one line
            raise CommandError(f"--plugin {spec}: {_where(exc)}") from exc
        _LOADED_PLUGINS.add(spec)
        if _registries() == before:
            warn(
                f"--plugin {spec} registered nothing (no env, planner, reward, policy or "
                "trainer): call thinkgym.register(...) / register_planner(...) at import, not "
                "only under `if __name__ == '__main__':`"
            )


# (module, registry dict) pairs a plugin may add to; absent modules are skipped
_REGISTRIES = (
    ("thinkgym.search.registry", "_USER"),
    ("thinkgym.rewards.registry", "_REGISTRY"),
    ("thinkgym.agents.registry", "_REGISTRY"),
    ("thinkgym.learning.registry", "_TRAINERS"),
)


def _registries() -> list[dict[str, int]]:
    """What every registry holds (name -> object id): a plugin that changes none registered
    nothing."""
    import gymnasium as gym

    snap = [{k: id(v) for k, v in gym.registry.items()}]
    for module_name, attr in _REGISTRIES:
        module = sys.modules.get(module_name)
        if module is None:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                snap.append({})
                continue
        table = getattr(module, attr, None)
        snap.append({k: id(v) for k, v in table.items()} if isinstance(table, dict) else {})
    return snap


def _where(exc: BaseException) -> str:
    """``Type: message (file:line)`` of an exception raised by a plugin's code."""
    import traceback

    place = ""
    if not isinstance(exc, SyntaxError):  # a SyntaxError's message names file and line
        frames = traceback.extract_tb(exc.__traceback__)
        if frames:
            place = f" ({frames[-1].filename}:{frames[-1].lineno})"
    return f"{type(exc).__name__}: {error_line(exc)}{place}"


# ---------------------------------------------------------------------------- wiring
def add_command(
    subparsers: Any, name: str, module: ModuleType, *, plugin_option: bool = True
) -> argparse.ArgumentParser:
    """Add the command ``name`` implemented by ``module`` to ``subparsers``.

    The help line is the first line of the module docstring, the description the whole
    docstring; ``--plugin`` is added unless the module adds its own.
    """
    doc = (module.__doc__ or name).strip()
    first = doc.splitlines()[0].strip()
    # "``thinkgym train sft``: behaviour cloning ..." -> "behaviour cloning ..."
    help_line = first.split(": ", 1)[1] if first.startswith("``") and ": " in first else first
    help_line = help_line.rstrip(".").replace("``", "'")
    parser = subparsers.add_parser(
        name, help=help_line, description=doc, formatter_class=HelpFormatter
    )
    module.add_arguments(parser)
    _alias_out(parser)
    for action in parser._actions:  # options without help text still show their default
        if action.help is None and action.option_strings and action.default is not None:
            if action.default is not argparse.SUPPRESS and action.default is not False:
                action.help = "default: %(default)s"
    if plugin_option and "--plugin" not in parser._option_string_actions:
        parser.add_argument(
            "--plugin",
            action="append",
            default=[],
            metavar="FILE_OR_MODULE",
            help="a Python file or module to load first (it may register envs, planners, "
            "rewards); repeat for several",
        )
        parser.set_defaults(_load_plugins=True)
    parser.set_defaults(func=module.run, _command_name=name)
    return parser


def _alias_out(parser: argparse.ArgumentParser) -> None:
    """Every command takes ``--out``; ``--out-dir`` is the same option (whichever it defines)."""
    actions = parser._option_string_actions
    out, out_dir = actions.get("--out"), actions.get("--out-dir")
    if out is not None and out_dir is None:
        out.option_strings.append("--out-dir")
        actions["--out-dir"] = out
    elif out_dir is not None and out is None:
        out_dir.option_strings.insert(0, "--out")
        actions["--out"] = out_dir


def plugin_specs(args: argparse.Namespace) -> list[str]:
    """The ``--plugin`` values :func:`thinkgym.cli.main` loads before running (if it owns them)."""
    if not getattr(args, "_load_plugins", False):
        return []
    return list(getattr(args, "plugin", None) or [])


def error_line(exc: BaseException) -> str:
    """``exc`` as one line (newlines and runs of spaces collapsed)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text


def warn(message: str) -> None:
    """Print a one-line warning to stderr."""
    print(f"thinkgym: warning: {message}", file=sys.stderr)


# ---------------------------------------------------------------------------- config dataclasses
def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass (cleanrl style), by field name."""
    import ast
    import inspect
    import textwrap

    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):  # pragma: no cover - no source (frozen app)
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, nxt in zip(body, body[1:], strict=False):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _str_dir(text: str) -> str:
    return str(writable_dir(text))


def model_dir(text: str) -> str:
    """argparse type: a local model directory (``config.json`` inside); nothing is downloaded."""
    from thinkgym.checkpoints import CheckpointError, check_model_dir

    try:
        return str(check_model_dir(text, "model"))
    except (FileNotFoundError, CheckpointError) as exc:
        raise argparse.ArgumentTypeError(error_line(exc)) from None


def policy_spec(text: str) -> str:
    """argparse type: a policy spec for :func:`thinkgym.agents.registry.load_policy`.

    ``default``, a registered name (``random``, ``oracle``, a ``--plugin``'s), a model
    directory (``config.json`` inside; nothing is downloaded) or ``FILE.py:FACTORY``. Checked
    without loading any weights.
    """
    from thinkgym.agents.registry import check_policy_spec
    from thinkgym.checkpoints import CheckpointError

    try:
        return check_policy_spec(text)
    except (FileNotFoundError, CheckpointError, ValueError) as exc:
        raise argparse.ArgumentTypeError(error_line(exc)) from None


# config fields whose name says what they hold get a type that checks the value at parse time
_NAMED_TYPES: dict[str, Callable[[str], str]] = {
    "policy": policy_spec,
    "init": policy_spec,
    "env": env_name,
    "env_id": env_name,
    "device": device_arg,
    "out": _str_dir,
    "out_dir": _str_dir,
    "output_dir": _str_dir,
    "log_dir": _str_dir,
}


def add_config_arguments(
    parser: argparse.ArgumentParser | Any, cls: type, *, skip: Sequence[str] = ()
) -> None:
    """Add one option per field of the dataclass ``cls`` (``batch_size`` -> ``--batch-size``).

    Help texts are the fields' docstrings, defaults the dataclass's; an option left out stays
    absent from the parsed namespace (so a recipe's value can fill it, see
    :func:`config_from_args`). ``float`` fields refuse ``nan``/``inf`` at parse time; ``str``
    fields named ``env``, ``device``, ``out_dir`` (and the like) are checked as env names,
    present devices and writable directories; ranges are the config's ``validate()``'s job.
    """
    docs = field_docs(cls)
    defaults = cls()
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        # a class (a plugin without `from __future__ import annotations`) or its text
        kind = getattr(f.type, "__name__", None) if isinstance(f.type, type) else None
        kind = (kind or str(f.type)).replace(" ", "")
        default = getattr(defaults, f.name)
        help_text = docs.get(f.name, f.name.replace("_", " ")).replace("``", "")
        if not re.search(r"\(default[: ]|default:", help_text):
            if default is not None:
                help_text = f"{help_text} (default: {default})"
            elif "None:" not in help_text:
                help_text = f"{help_text} (default: none)"
        help_text = help_text.replace("%", "%%")
        kw: dict[str, Any] = {"default": argparse.SUPPRESS, "help": help_text}
        base = kind.split("|")[0]
        special = _NAMED_TYPES.get(f.name)
        if special is not None and base == "str":
            kw["type"] = special
            kw["metavar"] = f.name.upper()
        elif base == "bool":
            kw["action"] = argparse.BooleanOptionalAction
        elif base == "int":
            kw["type"] = _int
            kw["metavar"] = "N"
        elif base == "float":
            kw["type"] = finite_float
            kw["metavar"] = "X"
        else:
            kw["metavar"] = f.name.upper()
        parser.add_argument(_option(f.name), dest=f.name, **kw)


def config_from_args(args: argparse.Namespace, base: Any) -> Any:
    """``base`` with the options given on the command line, validated.

    Raises:
        CommandError: ``validate()`` refused a value; the message names the option.
    """
    given = {
        f.name: getattr(args, f.name) for f in dataclasses.fields(base) if hasattr(args, f.name)
    }
    try:
        cfg = (
            base.replace(**given)
            if hasattr(base, "replace")
            else dataclasses.replace(base, **given)
        )
        return cfg.validate()
    except ValueError as exc:
        text = error_line(exc)
        for f in dataclasses.fields(base):
            text = text.replace(f"{type(base).__name__}.{f.name}=", f"{_option(f.name)} ")
        raise CommandError(text) from None


# ---------------------------------------------------------------------------- keyword arguments
_GYM_MAKE_KWARGS = ("max_episode_steps", "autoreset", "disable_env_checker", "render_mode")


def _keywords(target: Any) -> tuple[list[str], bool]:
    """The keyword names ``target`` (a class or a function) accepts, following ``**kwargs``
    up the base classes; and whether it still takes any keyword (an open ``**kwargs``)."""
    import inspect

    names: list[str] = []
    funcs = (
        [c.__init__ for c in target.__mro__ if "__init__" in vars(c)]
        if isinstance(target, type)
        else [target]
    )
    for func in funcs:
        try:
            params = inspect.signature(func).parameters.values()
        except (TypeError, ValueError):  # a builtin without a signature
            return names, True
        open_kwargs = ""
        for p in params:
            if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY):
                continue
            if p.kind is p.VAR_KEYWORD:
                open_kwargs = p.name
            elif p.name not in names:
                names.append(p.name)
        if not open_kwargs:
            return names, False
        if not _passes_up(func, open_kwargs):  # **task_config goes elsewhere: any key may do
            return names, True
        if func is object.__init__:
            break
    return names, not isinstance(target, type)


def _passes_up(func: Any, name: str) -> bool:
    """Whether ``func`` hands its ``**name`` to ``super().__init__`` (its source says so)."""
    import inspect

    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        return False
    return re.search(rf"super\(\)\.__init__\(.{{0,400}}?\*\*{name}\b", source, re.S) is not None


def validate_kwargs(
    target: Any,
    kwargs: dict[str, Any],
    what: str,
    *,
    build: Callable[[dict[str, Any]], Any] | None = None,
    reserved: dict[str, str] | None = None,
    extra: Sequence[str] = (),
) -> None:
    """Check user keyword arguments against ``target``'s signature, then their values.

    Every key must be a keyword ``target`` takes (its ``__init__`` for a class, following
    ``**kwargs`` to the base classes); then ``build(kwargs)``, when given, constructs the
    object cheaply so that its own checks (ranges, types) run before any long work.

    Args:
        target: the class or function the keywords go to.
        kwargs: the keywords (parsed from a JSON option).
        what: the option that gave them, e.g. ``"--planner-kwargs"`` (starts each message).
        build: constructs the target from ``kwargs``; its ``ValueError``/``TypeError`` becomes
            the error.
        reserved: keys another option sets, mapped to that option (``{"reward": "--reward"}``).
        extra: more accepted keys (e.g. ``gym.make``'s own).

    Raises:
        CommandError: one line naming the key or value and the fix.
    """
    import gymnasium as gym

    name = getattr(target, "__name__", type(target).__name__)
    if not isinstance(kwargs, dict):
        raise CommandError(f"{what}: {kwargs!r} must be a JSON object like '{{\"key\": 1}}'")
    for key, option in (reserved or {}).items():
        if key in kwargs:
            raise CommandError(
                f"{what}: {key!r} is set by {option}; drop it from {what} and pass {option}"
            )
    names, open_kwargs = _keywords(target)
    names = [n for n in dict.fromkeys([*names, *extra]) if n not in (reserved or {})]
    if not open_kwargs:
        for key in kwargs:
            if key not in names:
                hint = difflib.get_close_matches(str(key), names, n=1, cutoff=0.5)
                did = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise CommandError(
                    f"{what}: {key!r} is not an argument of {name}{did}; it takes "
                    f"{', '.join(names) or 'none'}"
                )
    if build is None:
        return
    try:
        obj = build(kwargs)
    except (ValueError, TypeError, KeyError, gym.error.Error) as exc:
        text = error_line(exc).split(" was raised from the environment creator")[0]
        raise CommandError(f"{what}: {text.strip(chr(34) + chr(39))}") from None
    close = getattr(obj, "close", None)
    if callable(close):
        close()


def check_env_kwargs(
    env: str, kwargs: dict[str, Any], what: str = "--env-kwargs", **options: Any
) -> None:
    """:func:`validate_kwargs` for an env: the keys against its class, the values by making it.

    ``options`` go to :func:`validate_kwargs` (``reserved=``).
    """
    import gymnasium as gym

    from thinkgym.envs import resolve_id

    env_id = resolve_id(env)
    spec = gym.spec(env_id)
    target = spec.entry_point
    if isinstance(target, str):
        from gymnasium.envs.registration import load_env_creator

        target = load_env_creator(target)

    def build(kw: dict[str, Any]) -> Any:
        return gym.make(env_id, **kw)

    validate_kwargs(target, kwargs, what, build=build, extra=_GYM_MAKE_KWARGS, **options)


class _NoPolicy:
    """A policy that is never called: planners are built with it to check their arguments."""

    def propose(self, observations: Any, n: int = 1, **kwargs: Any) -> list[list[Any]]:
        raise RuntimeError("argument check only")


def check_planner_kwargs(
    planner: str, kwargs: dict[str, Any], what: str = "--planner-kwargs", **options: Any
) -> None:
    """:func:`validate_kwargs` for a registered planner: the keys against its constructor, the
    values by building it (with a policy that is never called).

    ``options`` go to :func:`validate_kwargs` (``reserved=``).
    """
    from thinkgym.search.registry import get_planner

    try:
        cls = get_planner(planner)
    except KeyError as exc:
        raise CommandError(error_line(exc).strip(chr(34) + chr(39))) from None

    def build(kw: dict[str, Any]) -> Any:
        return cls(_NoPolicy(), **kw)

    reserved = {"policy": "--policy", **options.pop("reserved", {})}
    validate_kwargs(cls, kwargs, what, build=build, reserved=reserved, **options)


# ---------------------------------------------------------------------------- task hooks
TASK_HOOKS: dict[str, str] = {
    "generate_problem": "generate_problem(rng) -> problem dict: draws a problem",
    "format_problem": "format_problem(problem) -> str: the transcript's first line(s)",
    "check_step": "check_step(state, step) -> StepCheck: accepts or rejects a step",
    "check_answer": "check_answer(state, answer) -> (correct, reason): grades the answer",
    "parse_problem": "parse_problem(text) -> problem dict: the inverse of format_problem",
    "solve": "solve(problem) -> steps: a correct trace ending in an Answer: line",
    "candidate_steps": "candidate_steps(state) -> steps: every legal next step",
}
"""The hooks of :class:`~thinkgym.envs.base.ReasoningEnv` a task may have to define, and what
each does (``examples/register_custom_env.py`` defines them all)."""

CORE_HOOKS = ("generate_problem", "format_problem", "check_step", "check_answer")
"""The hooks every command needs."""


def missing_hooks(env: Any, hooks: Sequence[str]) -> list[str]:
    """The hooks of ``hooks`` that ``env``'s task leaves to :class:`ReasoningEnv` (which raises)."""
    from thinkgym.envs.base import ReasoningEnv

    inner = getattr(env, "unwrapped", env)
    if not isinstance(inner, ReasoningEnv):
        return []
    return [h for h in hooks if getattr(type(inner), h, None) is getattr(ReasoningEnv, h, None)]


def require_hooks(env: Any, hooks: Sequence[str], why: str) -> None:
    """Refuse, in one line, a task that lacks a hook ``why`` needs (before any work).

    Args:
        env: the env (wrapped or not).
        hooks: hook names (keys of :data:`TASK_HOOKS`); :data:`CORE_HOOKS` are always checked.
        why: what needs them, e.g. ``"--policy random"`` or ``"reference traces"``.

    Raises:
        CommandError: naming the first missing hook, what it does and the example to follow.
    """
    missing = missing_hooks(env, [*CORE_HOOKS, *[h for h in hooks if h not in CORE_HOOKS]])
    if missing:
        hook = missing[0]
        name = type(getattr(env, "unwrapped", env)).__name__
        need = "every command" if hook in CORE_HOOKS else why
        raise CommandError(
            f"{name} does not define {TASK_HOOKS[hook]}, which {need} needs; add it to the "
            "class (examples/register_custom_env.py defines every hook)"
        )


def missing_hook_line(exc: BaseException) -> str | None:
    """One line for a ``NotImplementedError`` raised by a task hook (``None``: not one)."""
    import traceback

    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, NotImplementedError):
        cause = cause.__cause__
    if cause is None:
        return None
    frames = traceback.extract_tb(cause.__traceback__)
    hook = frames[-1].name if frames else ""
    what = TASK_HOOKS.get(hook, f"{hook}()" if hook else "a task hook")
    text = error_line(cause)
    detail = f" ({text})" if text != "NotImplementedError" else ""
    return (
        f"the task does not define {what}{detail}; add it to the env class "
        "(examples/register_custom_env.py defines every hook)"
    )
