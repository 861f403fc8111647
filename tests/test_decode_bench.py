"""Smoke test of benchmarks/decode.py (tiny settings)."""

from __future__ import annotations

import pytest
from benchmark_loader import load_benchmark


def test_decode_bench_prints_every_setting(capsys):
    script = load_benchmark("decode")
    obs = script.observations(3)
    assert len(obs) == 6 and any(o.startswith("Evaluate:") for o in obs)
    try:
        code = script.main(["--problems", "2", "--repeats", "1"])
    except FileNotFoundError:
        pytest.skip("no shipped policy")
    assert code == 0
    out = capsys.readouterr().out
    assert out.count("| own loop") == 2 and out.count("| transformers generate") == 2
    assert "| prefix cache on |" in out and "| prefix cache off | " in out
