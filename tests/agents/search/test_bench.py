"""Smoke test of the search bench with a scripted policy (no model needed)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from thinkgym.agents.search.bench import add_bench_arguments, run_bench

ROOT = Path(__file__).resolve().parents[3]


def test_bench_writes_tables(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_bench_arguments(parser)
    args = parser.parse_args(
        [
            "--policy", "oracle", "--envs", "Game24,Arithmetic", "--budgets", "8",
            "--problems", "2", "--out", str(tmp_path), "--quiet", "--no-plot",
            "--plugin", str(ROOT / "examples" / "custom_planner.py"),
            "--planners", "greedy,best_of_n,beam,mcts,revision,retry_greedy",
        ]
    )  # fmt: skip
    assert run_bench(args) == 0
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert {r["planner"] for r in rows} >= {"beam", "mcts", "retry_greedy"}
    assert all(r["solve_rate"] == 1.0 for r in rows if r["planner"] != "retry_greedy")
    assert (tmp_path / "results.csv").is_file() and (tmp_path / "results.md").is_file()
