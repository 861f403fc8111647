"""Bench rows say which reference-free checks were on; pass@N beside the sampling planners."""

from __future__ import annotations

import json
from pathlib import Path

from thinkgym.bench import BenchConfig, aggregate_rows, run_benchmark, write_results
from thinkgym.cli import main


def test_no_step_check_is_recorded_on_every_row(tmp_path: Path) -> None:
    argv = [
        "bench", "--policy", "oracle", "--envs", "Game24", "--budgets", "8", "--problems", "2",
        "--planners", "greedy,best_of_n,dvts,gumbel_mcts", "--no-answer-check", "--no-step-check",
        "--out", str(tmp_path), "--quiet", "--no-plot",
    ]  # fmt: skip
    assert main(argv) == 0
    record = json.loads((tmp_path / "results.json").read_text())
    assert record["config"]["step_check"] is False
    assert {(r["answer_check"], r["step_check"]) for r in record["rows"]} == {(False, False)}
    md = (tmp_path / "results.md").read_text()
    assert "| step_check |" in md and "**step_check**" in md


def test_pass_at_n_is_reported_for_planners_that_keep_samples() -> None:
    config = BenchConfig(
        envs=["Game24"],
        planners=["best_of_n_vote", "beam"],
        budgets=[16],
        problems=2,
        policy="oracle",
        answer_check=False,
        progress=False,
        throughput=False,
    )
    report = run_benchmark(config)
    by = {r["planner"]: r for r in report.rows}
    assert by["best_of_n_vote"]["pass_at_n"] == 1.0  # every oracle sample is right
    assert by["beam"]["pass_at_n"] == ""  # beam keeps no whole samples
    assert all(r["step_check"] is True for r in report.rows)
    # several seeds: the aggregate keeps the step check apart and averages pass@N
    rows = [{"seed": s, **r} for s in (0, 1) for r in report.rows]
    agg = {a["planner"]: a for a in aggregate_rows(rows)}
    assert agg["best_of_n_vote"]["pass_at_n"] == 1.0 and "pass_at_n" not in agg["beam"]


def test_old_rows_without_step_check_aggregate_as_on(tmp_path: Path) -> None:
    row = {
        "env": "thinkgym/Game24-v0",
        "planner": "best_of_n",
        "budget": 8,
        "guidance": "vote",
        "answer_check": True,
        "problems": 2,
        "solve_rate": 0.5,
        "policy_calls": 8.0,
        "tokens": 1.0,
        "guidance_calls": 0.0,
        "reward_model_calls": 0.0,
        "env_steps": 8.0,
        "seconds": 1.0,
    }
    agg = aggregate_rows([{"seed": 0, **row}, {"seed": 1, **row, "solve_rate": 1.0}])
    assert len(agg) == 1 and agg[0]["step_check"] is True and agg[0]["solve_rate"] == 0.75
    config = BenchConfig(envs=["Game24"], planners=["best_of_n"], problems=1, progress=False)
    from thinkgym.bench import BenchReport

    report = BenchReport(rows=[row], policy_label="x", seconds=0.0, settings={})
    paths = write_results(report, tmp_path, plot=False)
    assert "| on | on |" in paths[0].read_text()  # an old row: both checks shown on
    assert config.step_check is True
