"""Shared wiring of the RL training commands (expert iteration, GRPO, PPO): config dataclass
fields as options, JSON options for the dict fields, one-line errors for bad values."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

__all__ = ["add_rl_arguments", "config_from_rl_args", "json_dict"]


def json_dict(text: str) -> dict[str, Any]:
    """argparse type: a JSON object (``'{"difficulty": 3}'``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r} must be a JSON object like '{{\"k\": 1}}'")
    return value


def add_rl_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """One option per field of the config dataclass ``cls``; dict fields take JSON."""
    from thinkgym.commands._common import add_config_arguments, field_docs

    dict_fields = [f for f in dataclasses.fields(cls) if str(f.type).startswith("dict")]
    add_config_arguments(parser, cls, skip=[f.name for f in dict_fields])
    docs = field_docs(cls)
    defaults = cls()
    for f in dict_fields:
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=json_dict,
            default=argparse.SUPPRESS,
            metavar="JSON",
            help=f"{docs.get(f.name, f.name)} (default: {json.dumps(getattr(defaults, f.name))})",
        )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bars (log lines only)"
    )


def config_from_rl_args(args: argparse.Namespace, cls: type) -> Any:
    """The validated config; a bad value raises a one-line ``CommandError``."""
    from thinkgym.commands._common import CommandError, error_line

    given = {
        f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)
    }
    try:
        cfg = cls(**given)
        cfg.validate()
    except (ValueError, KeyError) as exc:
        text = error_line(exc).strip("\"'")
        for f in dataclasses.fields(cls):
            text = text.replace(f"{f.name}=", f"--{f.name.replace('_', '-')} ")
        raise CommandError(text) from None
    return cfg
