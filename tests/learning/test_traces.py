"""Training traces: (prompt, step) pairs and a clean split from every evaluation set."""

from __future__ import annotations

import pytest

from thinkgym.envs import game24
from thinkgym.learning.traces import (
    EVAL_SEEDS,
    GAME24,
    Trace,
    eval_problems,
    eval_texts,
    game24_extra_traces,
    make_traces,
    subpuzzle_traces,
)

TEST = set(game24.test_puzzles())


def _numbers(head: str) -> tuple[int, ...]:
    return tuple(sorted(int(v) for v in head.split("|")[0].split(":")[1].split()))


def test_pairs_expand_a_trace() -> None:
    t = Trace("x", "Evaluate: 1 + 2", ("= 3", "Answer: 3"))
    assert t.pairs() == [("Evaluate: 1 + 2", "= 3"), ("Evaluate: 1 + 2\n= 3", "Answer: 3")]


@pytest.mark.parametrize("seed", [0, 1, 7, 12345, 999_000])
def test_game24_training_sets_never_contain_a_test_puzzle(seed) -> None:
    traces = make_traces(GAME24, 400, seed=seed, solutions_per_problem=2)
    assert len(traces) >= 400
    assert not {_numbers(t.head) for t in traces} & TEST


def test_game24_extra_and_subpuzzles_are_clean() -> None:
    extra = game24_extra_traces(150, seed=0, solutions_per_problem=2)
    assert not {_numbers(t.head) for t in extra} & TEST
    assert any(max(_numbers(t.head)) > 13 for t in extra)
    subs = subpuzzle_traces(extra[:60] + make_traces(GAME24, 60, seed=3))
    assert subs and all(len(_numbers(t.head)) in (2, 3) for t in subs)
    assert all(t.steps[-1].startswith("Answer:") and t.head.endswith("Target: 24") for t in subs)


def test_game24_eval_is_the_test_puzzles() -> None:
    probs = eval_problems(GAME24)
    assert len(probs) == 100
    assert {tuple(sorted(p["options"]["numbers"])) for p in probs} == TEST


def test_several_diverse_solutions_per_problem() -> None:
    traces = make_traces(GAME24, 50, seed=0, solutions_per_problem=4)
    by_head: dict[str, set] = {}
    for t in traces:
        by_head.setdefault(t.head, set()).add(t.steps)
    assert max(len(v) for v in by_head.values()) >= 3


@pytest.mark.parametrize("env_id", sorted(EVAL_SEEDS))
def test_eval_seeds_are_refused(env_id) -> None:
    held = EVAL_SEEDS[env_id]
    with pytest.raises(ValueError, match="evaluation seed"):
        make_traces(env_id, 5, seed=held.start + 3)
    # a run of seeds that reaches into the held-out range skips it
    traces = make_traces(env_id, 20, seed=held.start - 10)
    assert not {t.head for t in traces} & eval_texts(env_id)


def test_problems_equal_to_eval_problems_are_dropped() -> None:
    # Arithmetic at difficulty 0 has few distinct problems, so most of them are eval problems.
    banned = eval_texts("thinkgym/Arithmetic-v0", 0)
    traces = make_traces("thinkgym/Arithmetic-v0", 60, seed=0, difficulty=0)
    assert len(traces) == 60
    assert not {t.head for t in traces} & banned
    assert len(banned) > 100


def test_only_the_train_split() -> None:
    with pytest.raises(ValueError, match="split='test'"):
        make_traces(GAME24, 5, split="test")
