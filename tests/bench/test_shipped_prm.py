"""The Game24 PRM shipped in ``thinkgym/data/prm_game24``: found by name, small, used by the bench."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinkgym.bench import BenchConfig, load_reward_model, run_benchmark
from thinkgym.bench.run import resolve_reward_model
from thinkgym.cli import main


def test_shipped_prm_resolves_and_is_small() -> None:
    path = Path(resolve_reward_model("game24"))
    assert path.name == "prm_game24" and (path / "config.json").is_file()
    assert resolve_reward_model("default", ["Game24"]) == str(path)
    assert resolve_reward_model("default", ["thinkgym/Game24-v0"]) == str(path)
    weights = sum(f.stat().st_size for f in path.iterdir())
    assert weights < 12 * 2**20  # float16: a few MB
    assert json.loads((path / "config.json").read_text()).get("dtype") == "float16"
    with pytest.raises(ValueError, match="no one shipped reward model fits"):
        resolve_reward_model("default", ["Arithmetic"])
    assert resolve_reward_model(None) is None


def test_shipped_prm_loads_in_float32_and_scores_steps() -> None:
    import torch

    rm = load_reward_model("game24")
    assert next(rm.model.parameters()).dtype == torch.float32
    good = "4 9 10 13\n13 - 9 = 4 (left: 4 4 10)\n10 - 4 = 6 (left: 4 6)\n4 * 6 = 24 (left: 24)"
    bad = "4 9 10 13\n4 + 9 = 13 (left: 10 13 13)\n13 + 13 = 26 (left: 10 26)\n26 - 10 = 16 (left: 16)"
    scores = rm.score_steps([good, bad])
    assert len(scores[0]) == 3 and all(0.0 <= s <= 1.0 for row in scores for s in row)
    assert min(scores[0]) > min(scores[1])  # a dead end scores below a solution


def test_bench_with_prm_game24_counts_prm_calls(tmp_path: Path) -> None:
    argv = [
        "bench", "--envs", "Game24", "--prm", "game24", "--no-answer-check", "--problems", "2",
        "--budgets", "4", "--planners", "best_of_n,gumbel_mcts", "--out", str(tmp_path),
        "--quiet", "--no-plot", "--no-throughput",
    ]  # fmt: skip
    assert main(argv) == 0
    record = json.loads((tmp_path / "results.json").read_text())
    assert record["reward_models"]["prm"].endswith("prm_game24")
    rows = record["rows"]
    assert {r["answer_check"] for r in rows} == {False}
    assert sum(r["reward_model_calls"] for r in rows) > 0


def test_bench_default_prm_needs_a_task_that_ships_one() -> None:
    config = BenchConfig(envs=["Arithmetic"], prm="default", problems=1, progress=False)
    with pytest.raises(ValueError, match="Arithmetic"):
        run_benchmark(config)
