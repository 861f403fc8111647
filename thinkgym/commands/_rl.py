"""Shared wiring of the RL training commands (expert iteration, GRPO, PPO): config dataclass
fields as options, JSON options for the dict fields, one-line errors for bad values."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
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
    """One option per field of the config dataclass ``cls``; dict fields take JSON, list fields
    are repeated (``--score-prm A --score-prm B``)."""
    from thinkgym.commands._common import add_config_arguments, field_docs

    dict_fields = [
        f for f in dataclasses.fields(cls) if f.type is dict or str(f.type).startswith("dict")
    ]
    list_fields = [
        f for f in dataclasses.fields(cls) if f.type is list or str(f.type).startswith("list")
    ]
    add_config_arguments(parser, cls, skip=[f.name for f in dict_fields + list_fields])
    docs = field_docs(cls)
    defaults = cls()
    for f in list_fields:
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            action="append",
            default=argparse.SUPPRESS,
            metavar=f.name.upper(),
            help=f"{docs.get(f.name, f.name)} (repeat for several; default: "
            f"{getattr(defaults, f.name) or 'none'})",
        )
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
        for f in dataclasses.fields(cls):  # "vf_epochs=0" -> "--vf-epochs 0", not "vf_--epochs"
            option = f"--{f.name.replace('_', '-')} "
            text = re.sub(rf"(?<![\w-]){re.escape(f.name)}=", option, text)
        raise CommandError(text) from None
    check_config_kwargs(cfg)
    return cfg


def check_config_kwargs(cfg: Any) -> None:
    """Check a config's ``env_kwargs`` and ``planner_kwargs`` before any work (one-line errors)."""
    from thinkgym.commands._common import CommandError, check_env_kwargs, check_planner_kwargs

    if getattr(cfg, "env_kwargs", None) is not None:
        # RL trainers set the env's reward from --reward; expert iteration keeps the env's own
        reserved = {"reward": "--reward"} if hasattr(cfg, "group_size") else {}
        check_env_kwargs(cfg.env, cfg.env_kwargs, reserved=reserved)
    if getattr(cfg, "planner_kwargs", None) is not None:
        reserved = {"temperature": "--temperature", "seed": "--seed", "progress": "--no-progress"}
        try:
            check_planner_kwargs(cfg.planner, cfg.planner_kwargs, reserved=reserved)
        except CommandError as exc:
            default = type(cfg)().planner_kwargs
            if cfg.planner_kwargs != default:
                raise
            raise CommandError(
                f"{exc} (the default --planner-kwargs {json.dumps(default)} are not "
                f"{cfg.planner}'s: pass --planner-kwargs '{{}}' or its own)"
            ) from None
