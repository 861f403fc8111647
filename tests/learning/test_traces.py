"""Training traces: (prompt, step) pairs and a clean split from every evaluation set."""

from __future__ import annotations

import pytest
from benchmark_loader import load_benchmark

from thinkgym.envs import eval_problems, game24, is_held_out, make
from thinkgym.learning.recipes import RECIPES, build_traces
from thinkgym.learning.traces import (
    GAME24,
    Trace,
    game24_extra_traces,
    make_traces,
    subpuzzle_traces,
)

TEST = set(game24.test_puzzles())


def _numbers(head: str) -> tuple[int, ...]:
    return tuple(sorted(int(v) for v in head.split("|")[0].split(":")[1].split()))


def _heads(env_id: str, n: int | None, difficulty: int | None = None) -> set[str]:
    env = make(env_id).unwrapped
    return {
        env.format_problem(kw["options"]["problem"])
        for kw in eval_problems(env_id, n, difficulty=difficulty)
    }


@pytest.fixture(scope="module")
def overlap_script():
    return load_benchmark("split_overlap")


def test_pairs_expand_a_trace() -> None:
    t = Trace("x", "Evaluate: 1 + 2", ("= 3", "Answer: 3"))
    assert t.pairs() == [("Evaluate: 1 + 2", "= 3"), ("Evaluate: 1 + 2\n= 3", "Answer: 3")]


def test_default_recipe_rows_never_hold_an_evaluation_problem(overlap_script) -> None:
    """Every task's rows of the default recipe (at 0.5% scale) against every evaluation set the
    project reports figures on (``benchmarks/split_overlap.py``'s list)."""
    traces = build_traces(RECIPES["default"].data, scale=0.005, log=lambda *_: None)
    sources = {t.env_id for t in traces}
    assert {
        "thinkgym/Arithmetic-v0",
        "thinkgym/LinearEquation-v0",
        "thinkgym/Countdown-v0",
        GAME24,
        "game24-extra",
    } <= sources
    assert any(s.endswith(":sub") for s in sources)
    sets = overlap_script.eval_heads()
    assert len(sets) == len(overlap_script.EVAL_SETS) and all(sets.values())
    counts = overlap_script.overlap({t.head for t in traces}, sets)
    assert not any(counts.values()), counts
    assert not any(is_held_out(t.head) for t in traces)
    assert not {_numbers(t.head) for t in traces if t.head.endswith("Target: 24")} & TEST


@pytest.mark.parametrize(("difficulty", "n_eval"), [(None, 200), (0, 100)])
def test_linear_equation_training_is_disjoint_from_its_eval_set(difficulty, n_eval) -> None:
    # LinearEquation has few distinct problems (about 580 at difficulty 0): seed conventions
    # once put 146 of the bench's 200 problems in the training data. By problem, it is 0.
    traces = make_traces("thinkgym/LinearEquation-v0", 600, seed=2_000_000, difficulty=difficulty)
    evals = _heads("thinkgym/LinearEquation-v0", n_eval, difficulty=difficulty)
    assert len(evals) == n_eval
    assert not {t.head for t in traces} & evals


@pytest.mark.parametrize("seed", [0, 1_000_003])
def test_game24_training_sets_never_contain_a_test_puzzle(seed) -> None:
    traces = make_traces(GAME24, 200, seed=seed, difficulty=(0, 1, 2, 3), solutions_per_problem=2)
    assert len(traces) >= 200
    assert not {_numbers(t.head) for t in traces} & TEST


def test_game24_extra_and_subpuzzles_are_clean() -> None:
    extra = game24_extra_traces(80, seed=0, solutions_per_problem=2)
    assert not {_numbers(t.head) for t in extra} & TEST
    assert any(max(_numbers(t.head)) > 13 for t in extra)
    subs = subpuzzle_traces(extra[:60] + make_traces(GAME24, 60, seed=3))
    assert subs and all(len(_numbers(t.head)) in (2, 3) for t in subs)
    assert all(t.steps[-1].startswith("Answer:") and t.head.endswith("Target: 24") for t in subs)
    assert not any(is_held_out(t.head) for t in extra + subs)


def test_several_diverse_solutions_per_problem() -> None:
    traces = make_traces(GAME24, 50, seed=0, solutions_per_problem=4)
    by_head: dict[str, set] = {}
    for t in traces:
        by_head.setdefault(t.head, set()).add(t.steps)
    assert max(len(v) for v in by_head.values()) >= 3


def test_difficulties_cycle() -> None:
    traces = make_traces("thinkgym/Arithmetic-v0", 6, difficulty=(0, 3))
    lengths = [len(t.steps) for t in traces]
    assert max(lengths[1::2]) > max(lengths[0::2])  # difficulty 3 needs more steps than 0


def test_only_the_train_split() -> None:
    with pytest.raises(ValueError, match="split='test'"):
        make_traces(GAME24, 5, split="test")
    with pytest.raises(ValueError, match="split='all'"):
        make_traces("thinkgym/Countdown-v0", 5, env_kwargs={"split": "all"})
    with pytest.raises(ValueError, match="difficulty"):
        make_traces("thinkgym/Countdown-v0", 5, difficulty=())


def test_the_overlap_count_sees_reordered_puzzles(overlap_script) -> None:
    sets = {"g": {"Numbers: 1 2 8 13 | Target: 24"}, "a": {"x + 1 = 2"}, "b": {"x + 1 = 3"}}
    found = overlap_script.overlap({"Numbers: 2 8 13 1 | Target: 24", "x + 1 = 2"}, sets)
    assert found == {"g": 1, "a": 1, "b": 0}
