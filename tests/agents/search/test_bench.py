"""The search bench with a scripted policy (no model needed): library API and ``thinkgym bench``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinkgym.agents.search.bench import BenchConfig, run_benchmark, write_results
from thinkgym.cli import main

ROOT = Path(__file__).resolve().parents[3]


def test_bench_command_writes_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "bench", "--policy", "oracle", "--envs", "Game24,Arithmetic", "--budgets", "8",
        "--problems", "2", "--out", str(tmp_path), "--quiet", "--no-plot",
        "--plugin", str(ROOT / "examples" / "custom_planner.py"),
        "--planners", "greedy,best_of_n,beam,mcts,revision,retry_greedy",
    ]  # fmt: skip
    assert main(argv) == 0
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert {r["planner"] for r in rows} >= {"greedy", "beam", "mcts", "retry_greedy"}
    assert all(r["solve_rate"] == 1.0 for r in rows if r["planner"] != "retry_greedy")
    assert [r["budget"] for r in rows if r["planner"] == "greedy"] == ["", ""]
    assert all(r["answer_check"] is True for r in rows)
    assert (tmp_path / "results.csv").is_file() and (tmp_path / "results.md").is_file()
    assert "| answer_check |" in capsys.readouterr().out


def test_bench_without_answer_check_labels_rows(tmp_path: Path) -> None:
    config = BenchConfig(
        envs=["Game24"],
        planners=["best_of_n", "beam"],
        budgets=[8],
        problems=2,
        policy="oracle",
        answer_check=False,
        progress=False,
    )
    report = run_benchmark(config)
    assert {r["answer_check"] for r in report.rows} == {False}
    assert {r["guidance"] for r in report.rows} == {"vote", "logprob"}
    assert all(r["reward_model_calls"] == 0 for r in report.rows)
    paths = write_results(report, tmp_path, plot=False)
    assert "| off |" in paths[0].read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--planners", "bean"], "Did you mean 'beam'"),
        (["--envs", "Game42"], "Game24"),
        (["--budgets", "0"], "must be >= 1"),
        (["--temperature", "nan"], "not a finite number"),
        (["--policy", "no/such/dir"], "no/such/dir"),
    ],
)
def test_bench_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    base = ["bench", "--envs", "Game24", "--problems", "1", "--budgets", "4", "--quiet"]
    base += ["--no-plot", "--out", str(tmp_path)]
    try:
        code = main(base + argv)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
