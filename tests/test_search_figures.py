"""benchmarks/search.py --figures: the Arithmetic best-of-N table (selection rules, smoke run)."""

from __future__ import annotations

import json
import math

import pytest
from benchmark_loader import load_benchmark


@pytest.fixture(scope="module")
def script():
    return load_benchmark("search")


def _sample(value: str, orm: float, prm: float, logprob: float = 0.0, selfeval=1.0) -> dict:
    return {
        "value": value,
        "refuted": False,
        "orm": orm,
        "prm": prm,
        "logprob": logprob,
        "selfeval": selfeval,
    }


def test_selection_rules(script):
    samples = [
        _sample("5", 0.3, 0.2),
        _sample("5", 0.3, 0.2),
        _sample("5", 0.3, 0.2),
        _sample("7", 0.6, 0.5),
        _sample("7", 0.6, 0.5),
        _sample("9", 0.95, -math.inf),  # a PRM score cut off by truncation
        None,  # a sample that never answered
        {**_sample("11", 1.0, 1.0), "refuted": True},  # refuted without the reference
    ]
    assert script._select(samples, "vote")["value"] == "5"
    assert script._select(samples, "orm")["value"] == "9"
    assert script._select(samples, "prm")["value"] == "7"
    assert script._select(samples, "orm_vote")["value"] == "7"  # 1.2 > 0.95 > 0.9
    assert script._select(samples, "prm_vote")["value"] == "7"  # 1.0 > 0.6; -inf counts 0
    assert script._select([None, None], "vote") is None
    ranked = [_sample("5", 0, 0, logprob=-0.5), _sample("7", 0, 0, logprob=-0.1), None]
    assert script._select(ranked, "logprob")["value"] == "7"  # best log-prob
    votes = [_sample("5", 0, 0, selfeval=0.9), _sample("7", 0, 0, selfeval=0.5)]
    votes += [_sample("7", 0, 0, selfeval=0.5)]
    assert script._select(votes, "selfeval")["value"] == "5"
    assert script._select(votes, "selfeval_vote")["value"] == "7"  # 1.0 > 0.9


def test_quick_arithmetic_table_with_reward_models(script, tmp_path):
    from thinkgym.rewards import LearnedRewardModel

    tiny = {"hidden_size": 32, "layers": 1, "heads": 2, "max_positions": 256}
    for kind in ("orm", "prm"):
        LearnedRewardModel.build(kind=kind, **tiny).save_pretrained(tmp_path / f"{kind}_arithmetic")
    out = tmp_path / "fig"
    argv = ["--quick", "--only", "arithmetic", "--policy", "oracle", "--arith-difficulty", "1"]
    argv += ["--arith-outcome-only", "--rm-dir", str(tmp_path), "--out", str(out), "--quiet"]
    assert script.main(argv) == 0
    rows = json.loads((out / "figures.json").read_text())
    table = {(r["planner"], r["n"]): r["solve_rate"] for r in rows if "n" in r}
    for how in script.SELECTIONS:
        assert table[(f"best_of_n/{how}", 1)] == 1.0  # the exact solver always answers right
    assert len(script.SELECTIONS) == 8 and all(r["task"] == "Arithmetic-d1-outcome" for r in rows)
    text = (out / "figures.md").read_text()
    assert (
        "outcome only" in text
        and "PRM-weighted vote" in text
        and "self-evaluation" in text
        and "| Game24" not in text
    )
