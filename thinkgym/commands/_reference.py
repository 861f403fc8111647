"""The command-line reference page (``docs/cli.md``), generated from the parsers themselves.

Every command and subcommand of ``thinkgym``, its description and examples (the command
module's docstring) and a table of its options with their defaults. ``tests/test_cli_reference.py``
checks that the page in the repository is what this module renders now; after changing an
option, rewrite it with::

    python -m thinkgym.commands._reference --write
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["iter_parsers", "render_reference", "REFERENCE_PATH"]

REFERENCE_PATH = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
"""Where the page lives in a source checkout."""

_HEADER = """\
# Command-line reference

`thinkgym` (also `python -m thinkgym`) plays, searches, benchmarks, trains and exports. This page
is generated from the command's own parsers (`python -m thinkgym.commands._reference --write`);
a test keeps it current. `thinkgym COMMAND --help` prints the same text.

Conventions of every command:

- a bad value ends in one line naming the option, the value and the fix (`thinkgym bench:
  error: argument --budgets: 0 must be >= 1 (see `thinkgym bench --help`)`), never a traceback;
  `THINKGYM_DEBUG=1` shows the traceback of an error raised while a command runs;
- `--out` names the output everywhere (`--out-dir` is the same option);
- `--plugin FILE_OR_MODULE` loads a file or module first, so the envs, planners, rewards,
  policies and trainers it registers are valid values (see `examples/register_custom_env.py`);
  a task that lacks a hook the command needs is refused at once with the hook's name;
- JSON options (`--env-kwargs`, `--planner-kwargs`) are checked against the target's signature
  and built once before any work.

"""


def iter_parsers(
    parser: argparse.ArgumentParser, name: str = "thinkgym"
) -> Iterator[tuple[str, argparse.ArgumentParser, str]]:
    """Every ``(command name, parser, one-line help)`` of ``parser``, depth first."""
    yield name, parser, ""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for sub, subparser in action.choices.items():
                for item in iter_parsers(subparser, f"{name} {sub}"):
                    yield (item[0], item[1], helps.get(sub, "")) if item[1] is subparser else item


def _cell(text: str) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text.replace("<", "&lt;").replace(">", "&gt;")


_DEFAULT_SUFFIX = re.compile(r"\s*\(default:? ([^()]*(?:\([^()]*\)[^()]*)*)\)\s*$")


def _help_and_default(action: argparse.Action) -> tuple[str, str]:
    """The option's help text without a trailing ``(default: X)``, and its default."""
    text = action.help or ""
    if "%(" in text:
        text = text % {**vars(action), "default": action.default, "prog": ""}
    match = _DEFAULT_SUFFIX.search(text)
    said = match.group(1).strip() if match else None
    if match:
        text = text[: match.start()]
    if action.required and action.option_strings:
        return text, "required"
    if not action.option_strings:
        return text, ""
    if isinstance(action, argparse._VersionAction):
        return text, ""
    if isinstance(action, argparse.BooleanOptionalAction):
        value = action.default if action.default is not argparse.SUPPRESS else said
        return text, f"`{value}`" if value not in (None, "") else "none"
    if action.nargs == 0:  # a flag: off unless given
        return text, "off"
    default = action.default
    if default is argparse.SUPPRESS or default is None or default == []:
        return text, f"`{said}`" if said and said != "none" else "none"
    if isinstance(default, list):
        default = ",".join(str(d) for d in default)
    return text, f"`{default}`"


def _options(parser: argparse.ArgumentParser) -> list[str]:
    formatter = parser._get_formatter()
    rows = ["| option | default | what it does |", "|---|---|---|"]
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if action.option_strings:
            names = ", ".join(f"`{o}`" for o in action.option_strings)
            if action.nargs != 0:
                names += f" `{formatter._metavar_formatter(action, action.dest.upper())(1)[0]}`"
        else:
            names = f"`{action.metavar or action.dest}` (positional)"
        text, default = _help_and_default(action)
        rows.append(f"| {names} | {default} | {_cell(text)} |")
    return rows if len(rows) > 2 else []


def _markdown(doc: str) -> str:
    """A command docstring as Markdown: inline literals, and ``Example::`` blocks fenced."""
    lines, out, i = doc.splitlines(), [], 0
    while i < len(lines):
        line = lines[i].rstrip()
        if line.endswith("::"):
            head = line[:-2].rstrip()
            if head:
                out.append(head.replace("``", "`") + ":")
            i += 1
            block = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("    ")):
                block.append(lines[i][4:].rstrip())
                i += 1
            while block and not block[0]:
                block.pop(0)
            while block and not block[-1]:
                block.pop()
            out += ["", "```bash", *block, "```", ""]
            continue
        out.append(line.replace("``", "`"))
        i += 1
    return "\n".join(out).strip() + "\n"


def render_reference() -> str:
    """The whole page, as Markdown."""
    from thinkgym.cli import build_parser

    out = [_HEADER]
    for name, parser, help_line in iter_parsers(build_parser()):
        depth = name.count(" ")
        out.append(f"{'##' if depth <= 1 else '###'} `{name}`\n")
        description = (parser.description or "").strip()
        if depth:
            body = description.split("\n", 1)[1] if "\n" in description else ""
            out.append(f"{help_line[:1].upper()}{help_line[1:]}.\n")
            if body.strip():
                out.append(_markdown(body))
        else:
            out.append(f"{description}\n")
            if parser.epilog:  # "examples:" and two-space indented command lines
                epilog = parser.epilog.replace("examples:", "Examples::")
                out.append(_markdown(epilog.replace("\n  thinkgym", "\n    thinkgym")))
        rows = _options(parser)
        if rows:
            out.append("\n".join(rows) + "\n")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the page, or write it to ``docs/cli.md`` with ``--write``."""
    args = sys.argv[1:] if argv is None else argv
    text = render_reference()
    if "--write" in args:
        REFERENCE_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {REFERENCE_PATH}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
