"""``thinkgym bench`` parses its options with the shared argparse types of ``_common``."""

from __future__ import annotations

import argparse

import pytest

from thinkgym.commands import bench
from thinkgym.commands._common import temperature_arg


def _action(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    return next(a for a in parser._actions if flag in a.option_strings)


def test_bench_temperature_uses_the_shared_temperature_type() -> None:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    assert _action(parser, "--temperature").type is temperature_arg
    assert parser.parse_args(["--temperature", "0"]).temperature == 0.0
    with pytest.raises(SystemExit):
        parser.parse_args(["--temperature", "-1"])
