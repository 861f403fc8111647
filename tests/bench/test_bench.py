"""The search bench with a scripted policy (no model needed): library API and ``thinkgym bench``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinkgym.bench import BenchConfig, run_benchmark, write_results
from thinkgym.cli import main

ROOT = Path(__file__).resolve().parents[2]


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


def _bench_argv(out: Path) -> list[str]:
    return [
        "bench", "--policy", "random", "--envs", "game24,Arithmetic", "--budgets", "4,8",
        "--planners", "greedy,best_of_n,beam", "--problems", "2", "--seed", "3",
        "--temperature", "0.7", "--out", str(out), "--quiet", "--no-plot",
    ]  # fmt: skip


def test_results_json_records_every_setting_and_reruns_to_the_same_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = _bench_argv(tmp_path)
    monkeypatch.setattr("sys.argv", ["/usr/bin/thinkgym", *argv])
    assert main(argv) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    cfg = data["config"]
    assert cfg["envs"] == ["thinkgym/Game24-v0", "thinkgym/Arithmetic-v0"]
    assert cfg["planners"] == ["greedy", "best_of_n", "beam"] and cfg["budgets"] == [4, 8]
    assert (cfg["problems"], cfg["seed"], cfg["temperature"]) == (2, 3, 0.7)
    assert cfg["policy"] == "random" and cfg["answer_check"] is True
    assert {"prm", "orm", "batch_rows", "shards"} <= set(cfg)
    for env_id in cfg["envs"]:
        chosen = data["problems"][env_id]
        assert chosen["count"] == len(chosen["problems"]) == 2
        assert "eval_problems" in chosen["chosen_by"]
    assert data["policy"] == "random" and data["policy_model"]["spec"] == "random"
    assert data["reward_models"] == {"prm": None, "orm": None}
    assert data["backend"]["name"] == "local" and data["backend"]["workers"] == 1
    assert {"thinkgym", "torch", "transformers", "python"} <= set(data["versions"])
    assert data["argv"] == ["/usr/bin/thinkgym", *argv]
    assert data["command"].startswith("thinkgym bench --policy random --envs")
    assert data["command"] in (tmp_path / "results.md").read_text()

    config = BenchConfig.from_results(tmp_path)
    config.progress = False
    rerun = run_benchmark(config).rows

    def table(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert table(rerun) == table(data["rows"])
    assert len(rerun) == 2 * (1 + 2 * 2)


def test_from_results_names_bad_input(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="results.json"):
        BenchConfig.from_results(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({"policy": "x", "rows": []}))
    with pytest.raises(ValueError, match="records no 'config'"):
        BenchConfig.from_results(tmp_path)
    with pytest.raises(ValueError, match="'budget'.*known keys"):
        BenchConfig.from_dict({"budget": [4]})


def _tiny_report() -> object:
    config = BenchConfig(
        envs=["Game24"],
        planners=["greedy", "best_of_n", "beam"],
        budgets=[4, 8],
        problems=2,
        policy="oracle",
        progress=False,
    )
    return run_benchmark(config)


def test_results_md_explains_its_columns(tmp_path: Path) -> None:
    write_results(_tiny_report(), tmp_path, plot=False)
    md = (tmp_path / "results.md").read_text()
    table, legend = md.split("Columns", 1)
    for col in ("budget", "guidance", "answer_check", "solve_rate", "policy_calls", "tokens"):
        assert f"| {col} |" in table and f"**{col}**" in legend
    assert "**seconds**" in legend and "Settings: policy oracle" in legend


def test_plot_labels_each_point_with_its_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes

    labels: list[str] = []
    original = Axes.annotate

    def spy(self: Axes, text: str, *args: object, **kwargs: object) -> object:
        labels.append(text)
        return original(self, text, *args, **kwargs)

    monkeypatch.setattr(Axes, "annotate", spy)
    report = _tiny_report()
    paths = write_results(report, tmp_path)
    assert (tmp_path / "scaling.png") in paths
    budgeted = [r for r in report.rows if r["budget"] != "" and r["tokens"] > 0]
    assert sorted(labels) == sorted(str(r["budget"]) for r in budgeted)
    assert set(labels) == {"4", "8"}


def test_progress_bar_counts_policy_calls_up_to_its_total(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from thinkgym.search import driver
    from thinkgym.search.progress import SearchProgress

    seen: list[tuple[float, float]] = []

    class Recording(SearchProgress):
        def close(self) -> None:
            super().close()
            seen.append((self.bar.n, self.bar.total))

    monkeypatch.setattr(driver, "SearchProgress", Recording)
    config = BenchConfig(
        envs=["Game24"],
        planners=["greedy", "best_of_n", "beam"],
        budgets=[4, 8],
        problems=2,
        policy="random",
        throughput=False,
    )
    rows = run_benchmark(config).rows
    ((n, total),) = seen
    greedy = next(r for r in rows if r["planner"] == "greedy")
    # every budgeted search counts for its budget, greedy for what it spent
    assert n == total == 2 * (2 * (4 + 8)) + round(greedy["policy_calls"] * 2)
    err = capsys.readouterr().err
    assert "policy calls" in err
    assert "[bench] env 1/1 thinkgym/Game24-v0: 2 problems x 5 planner/budget runs" in err
    assert "[bench] env 1/1 thinkgym/Game24-v0: done in" in err


def test_progress_bar_redraws_while_a_round_runs() -> None:
    import threading
    from types import SimpleNamespace

    from thinkgym.search.budget import Budget, Meter
    from thinkgym.search.progress import SearchProgress

    ctx = SimpleNamespace(meter=Meter(Budget(policy_calls=5), 8), env=SimpleNamespace(max_steps=3))
    drawn = threading.Event()
    progress = SearchProgress([ctx], heartbeat=0.01)
    progress.bar.refresh = lambda *a, **k: drawn.set()  # type: ignore[method-assign]
    try:
        assert drawn.wait(timeout=10), "the heartbeat never redrew the bar"
        assert progress.bar.total == 5
    finally:
        progress.close()
