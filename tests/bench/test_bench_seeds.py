"""``thinkgym bench --seeds``: per-seed rows, their aggregate over the seeds and the winners."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest

from thinkgym.bench import (
    BenchConfig,
    aggregate_rows,
    parse_seeds,
    run_benchmark,
    winner_lines,
    winners,
    write_results,
)
from thinkgym.cli import main


def _argv(out: Path, *seed_args: str) -> list[str]:
    return [
        "bench", "--policy", "random", "--envs", "Arithmetic", "--planners",
        "greedy,best_of_n,beam", "--budgets", "4", "--problems", "3", "--quiet", "--no-plot",
        "--out", str(out), *seed_args,
    ]  # fmt: skip


def _table(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("seconds", "seed")} for r in rows]


@pytest.fixture(scope="module")
def three_seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seeds")
    assert main(_argv(out, "--seeds", "0,1,2")) == 0
    return out


def test_three_seeds_give_per_seed_rows_and_their_aggregate(three_seeds: Path) -> None:
    data = json.loads((three_seeds / "results.json").read_text())
    rows, aggregate = data["rows"], data["aggregate"]
    assert data["seeds"] == [0, 1, 2] and data["config"]["seeds"] == [0, 1, 2]
    assert [r["seed"] for r in rows] == [0] * 3 + [1] * 3 + [2] * 3
    assert [(a["planner"], a["budget"]) for a in aggregate] == [
        ("greedy", ""),
        ("best_of_n", 4),
        ("beam", 4),
    ]
    for agg in aggregate:
        mine = [r for r in rows if (r["planner"], r["budget"]) == (agg["planner"], agg["budget"])]
        rates = [r["solve_rate"] for r in mine]
        assert agg["seeds"] == [0, 1, 2]
        assert agg["solve_rate"] == pytest.approx(statistics.fmean(rates))
        assert (agg["solve_rate_min"], agg["solve_rate_max"]) == (min(rates), max(rates))
        assert agg["solve_rate_std"] == pytest.approx(statistics.stdev(rates))
        for col in ("policy_calls", "tokens", "guidance_calls", "seconds"):
            assert agg[col] == pytest.approx(statistics.fmean(r[col] for r in mine))
    # the seed changes the sampling: the random policy's solve rates differ between seeds
    assert any(a["solve_rate_min"] < a["solve_rate_max"] for a in aggregate)


def test_each_seed_matches_a_one_seed_run(three_seeds: Path, tmp_path: Path) -> None:
    rows = json.loads((three_seeds / "results.json").read_text())["rows"]
    for seed in (0, 2):
        assert main(_argv(tmp_path, "--seed", str(seed))) == 0
        alone = json.loads((tmp_path / "results.json").read_text())["rows"]
        assert _table(alone) == _table([r for r in rows if r["seed"] == seed])


def test_seed_tables_csv_and_winner_lines(
    three_seeds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    md = (three_seeds / "results.md").read_text()
    assert "mean over 3 seeds (0, 1, 2)" in md and "| solve_rate | sd |" in md
    assert "Settings: policy random, seeds 0, 1, 2," in md
    data = json.loads((three_seeds / "results.json").read_text())
    (line,) = data["winners"]
    assert line.startswith("Arithmetic: greedy ") and "; best at 4 calls: " in line
    assert f"- {line}" in md
    with open(three_seeds / "results.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["seed"] for r in table] == ["0"] * 3 + ["1"] * 3 + ["2"] * 3 + ["mean"] * 3
    mean_rows = table[9:]
    assert {r["n_seeds"] for r in mean_rows} == {"3"}
    assert all(r["solve_rate_min"] != "" for r in mean_rows)
    assert all(r["solve_rate_min"] == "" for r in table[:9])
    # the rerun from results.json runs the same seeds
    assert BenchConfig.from_results(three_seeds).seed_list() == [0, 1, 2]
    capsys.readouterr()


def test_printed_summary_names_the_winners(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_argv(tmp_path, "--seeds", "0,1")) == 0
    out = capsys.readouterr().out
    assert "mean over 2 seeds (0, 1)" in out
    assert "Arithmetic: greedy " in out and "best at 4 calls: " in out


def test_one_seed_output_keeps_its_shape(tmp_path: Path) -> None:
    single, via_seeds = tmp_path / "seed", tmp_path / "seeds"
    assert main(_argv(single, "--seed", "1")) == 0
    assert main(_argv(via_seeds, "--seeds", "1")) == 0
    for out in (single, via_seeds):
        data = json.loads((out / "results.json").read_text())
        assert "aggregate" not in data and "seeds" not in data
        assert "seeds" not in data["config"] and data["config"]["seed"] == 1
        assert all("seed" not in r for r in data["rows"])
        md = (out / "results.md").read_text()
        assert "mean over" not in md and "best at" not in md
        assert (out / "results.csv").read_text().startswith("env,planner,budget,")
    one = json.loads((single / "results.json").read_text())["rows"]
    assert _table(one) == _table(json.loads((via_seeds / "results.json").read_text())["rows"])


@pytest.mark.parametrize(
    ("seed_args", "message"),
    [
        (["--seed", "1", "--seeds", "0,1"], "--seed 1 and --seeds 0,1 both given; use --seed N"),
        (["--seeds", "0,x"], "seed 'x' in '0,x' is not an integer; give comma-separated"),
        (["--seeds", "0,1,0"], "seed 0 appears twice in '0,1,0'"),
        (["--seeds", ","], "names no seed"),
    ],
)
def test_bad_seed_options_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], seed_args: list[str], message: str
) -> None:
    try:
        code = main(_argv(tmp_path, *seed_args))
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "results.json").exists()


def test_parse_seeds_and_config_validation() -> None:
    assert parse_seeds(" 3, 0 ,7") == [3, 0, 7]
    with pytest.raises(ValueError, match="negative"):
        parse_seeds("1,-2")
    with pytest.raises(ValueError, match=r"seed 'x' .*e\.g\. 0,1,2"):
        BenchConfig(seeds=[0, "x"]).validate()  # type: ignore[list-item]
    with pytest.raises(ValueError, match="seeds is empty"):
        BenchConfig(seeds=[]).validate()
    assert BenchConfig(seed=4).seed_list() == [4]
    assert "seeds" not in BenchConfig().to_dict()
    assert BenchConfig.from_dict(BenchConfig(seeds=[1, 2]).to_dict()).seeds == [1, 2]


def _row(planner: str, budget: int | str, rate: float, env: str = "thinkgym/Game24-v0") -> dict:
    return {
        "env": env, "planner": planner, "budget": budget, "guidance": "vote",
        "answer_check": True, "problems": 2, "solve_rate": rate, "policy_calls": 4.0,
        "tokens": 10.0, "guidance_calls": 0.0, "reward_model_calls": 0.0, "env_steps": 4.0,
        "seconds": 0.1,
    }  # fmt: skip


def test_winners_name_ties_and_skip_greedy() -> None:
    rows = []
    for seed, (g, b4, m4, b16, m16) in enumerate(
        [(0.1, 0.5, 0.5, 0.6, 0.9), (0.3, 0.6, 0.6, 0.8, 0.7)]
    ):
        for planner, budget, rate in [
            ("greedy", "", g),
            ("best_of_n", 4, b4),
            ("mcts", 4, m4),
            ("best_of_n", 16, b16),
            ("mcts", 16, m16),
        ]:
            rows.append({"seed": seed, **_row(planner, budget, rate)})
    agg = aggregate_rows(rows)
    best = winners(agg)["thinkgym/Game24-v0"]
    assert [r["planner"] for r in best[4]] == ["best_of_n", "mcts"]
    assert [r["planner"] for r in best[16]] == ["mcts"]
    assert winner_lines(agg) == [
        "Game24: greedy 0.20 (0.10-0.30); best at 4 calls: best_of_n 0.55 (0.50-0.60) = "
        "mcts 0.55 (0.50-0.60); at 16: mcts 0.80 (0.70-0.90)"
    ]


def test_plot_draws_the_seed_spread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes

    calls: list[str] = []
    for name in ("fill_between", "errorbar"):
        original = getattr(Axes, name)

        def spy(self: Axes, *args: object, _name: str = name, _f: object = original, **kw: object):
            calls.append(_name)
            return _f(self, *args, **kw)  # type: ignore[operator]

        monkeypatch.setattr(Axes, name, spy)
    config = BenchConfig(
        envs=["Arithmetic"],
        planners=["greedy", "best_of_n"],
        budgets=[4, 8],
        problems=2,
        policy="random",
        seeds=[0, 1],
        progress=False,
    )
    report = run_benchmark(config)
    assert len(report.rows) == 2 * 3 and len(report.aggregate) == 3
    paths = write_results(report, tmp_path)
    assert (tmp_path / "scaling.png") in paths
    # best_of_n's two budgets: a band; greedy's lone point: error bars
    assert sorted(calls) == ["errorbar", "fill_between"]


def test_seeds_on_a_backend_share_one_factory_and_match_one_seed_runs() -> None:
    import pickle

    from thinkgym.distributed import LocalBackend

    class Recording(LocalBackend):
        blobs: list[bytes] = []

        def map(self, factory, items, *, shards=None):  # type: ignore[no-untyped-def]
            self.blobs.append(pickle.dumps(factory))
            return super().map(factory, items, shards=shards)

    def rows(**kw: object) -> list[dict]:
        config = BenchConfig(
            envs=["Arithmetic"],
            planners=["greedy", "best_of_n"],
            budgets=[4],
            problems=4,
            policy="random",
            progress=False,
            shards=2,
            **kw,  # type: ignore[arg-type]
        )
        return run_benchmark(config, backend=Recording()).rows

    both = rows(seeds=[0, 1])
    assert len(Recording.blobs) == 2 and Recording.blobs[0] == Recording.blobs[1]
    for seed in (0, 1):
        assert _table(rows(seed=seed)) == _table([r for r in both if r["seed"] == seed])


def test_plot_takes_a_mean_that_rounds_above_its_max(tmp_path: Path) -> None:
    """0.1 three times averages to 0.10000000000000002: the error bar must not go negative."""
    pytest.importorskip("matplotlib")
    config = BenchConfig(
        envs=["Arithmetic"],
        planners=["greedy"],
        budgets=[4],
        problems=20,
        policy="random",
        seeds=[0, 1, 2],
        progress=False,
    )
    report = run_benchmark(config)
    for row in report.aggregate:
        row.update(solve_rate=sum([0.1] * 3) / 3, solve_rate_min=0.1, solve_rate_max=0.1)
    assert report.aggregate[0]["solve_rate"] > 0.1
    assert (tmp_path / "scaling.png") in write_results(report, tmp_path)
