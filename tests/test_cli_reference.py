"""``docs/cli.md`` is the reference the parsers render now (every command, option and default)."""

from __future__ import annotations

import argparse

from thinkgym.cli import build_parser
from thinkgym.commands._reference import REFERENCE_PATH, iter_parsers, render_reference


def test_the_cli_reference_page_is_current() -> None:
    assert REFERENCE_PATH.is_file(), f"{REFERENCE_PATH} is missing"
    expected = render_reference()
    assert REFERENCE_PATH.read_text(encoding="utf-8") == expected, (
        "docs/cli.md is out of date with the command's options; rewrite it with "
        "`python -m thinkgym.commands._reference --write`"
    )


def test_the_page_names_every_command_and_option_with_an_example() -> None:
    page = render_reference()
    for name, parser, _ in iter_parsers(build_parser()):
        assert f"`{name}`" in page, name
        for action in parser._actions:
            for option in action.option_strings:
                if not isinstance(action, argparse._HelpAction):
                    assert f"`{option}`" in page, (name, option)
    sections = page.split("\n## ")[1:]
    assert all("```bash" in section for section in sections), "a command without an example"
