"""The pass-rate curriculum and the difficulty schedule: what they prefer and when they advance."""

from __future__ import annotations

import numpy as np
import pytest

from thinkgym.learning.curriculum import (
    DifficultySchedule,
    PassRateSampler,
    parse_schedule,
    problem_key,
)


def _pool(n):
    return [{"seed": s} for s in range(n)]


def test_sampler_prefers_problems_solved_sometimes_but_not_always() -> None:
    pool = _pool(30)
    sampler = PassRateSampler(pool, floor=0.02)
    for s in range(10):  # always solved
        sampler.update({"seed": s}, [True] * 8)
    for s in range(10, 20):  # never solved
        sampler.update({"seed": s}, [False] * 8)
    for s in range(20, 30):  # mixed
        sampler.update({"seed": s}, [True, False] * 4)
    rng = np.random.default_rng(0)
    counts = np.zeros(30)
    for _ in range(200):
        for p in sampler.sample(5, rng):
            counts[p["seed"]] += 1
    mixed, solved, unsolved = counts[20:].sum(), counts[:10].sum(), counts[10:20].sum()
    assert mixed > 0.8 * counts.sum(), (mixed, solved, unsolved)
    assert solved > 0 and unsolved > 0  # the floor keeps them reachable
    w = sampler.weights()
    assert w[25] > 5 * w[0] and w[25] > 5 * w[15]


def test_untried_problems_count_as_the_prior_and_rates_are_moving_averages() -> None:
    sampler = PassRateSampler(_pool(4), prior=0.5, decay=0.5)
    assert sampler.rate({"seed": 0}) == 0.5
    sampler.update({"seed": 0}, [True, True, False, False])
    assert sampler.rate({"seed": 0}) == pytest.approx(0.5)
    sampler.update({"seed": 0}, [True] * 4)
    assert sampler.rate({"seed": 0}) == pytest.approx(0.75)
    sampler.update({"seed": 1}, [False] * 4)
    assert sampler.rate({"seed": 1}) == 0.0
    summary = sampler.summary()
    assert summary["curriculum_tried"] == 0.5
    assert summary["curriculum_mixed"] == 0.5
    # no repeats within one draw while the pool lasts; a larger draw repeats
    draw = sampler.sample(4, np.random.default_rng(1))
    assert len({problem_key(p) for p in draw}) == 4
    assert len(sampler.sample(9, np.random.default_rng(1))) == 9


def test_sampler_state_round_trip() -> None:
    a = PassRateSampler(_pool(5))
    a.update({"seed": 3}, [True, False])
    b = PassRateSampler(_pool(5))
    b.load_state(a.state())
    assert np.allclose(a.weights(), b.weights())
    assert a.sample(3, np.random.default_rng(2)) == b.sample(3, np.random.default_rng(2))


def test_schedule_advances_only_past_the_threshold_over_a_full_window() -> None:
    sched = DifficultySchedule([1, 2, 3], threshold=0.75, window=8)
    assert sched.env_kwargs({"verify_steps": False}) == {"verify_steps": False, "difficulty": 1}
    assert not sched.record([True] * 7)  # all solved, but the window is not full yet
    assert sched.value == 1
    sched = DifficultySchedule([1, 2, 3], threshold=0.75, window=8)
    assert not sched.record([True] * 5 + [False] * 3)  # 5/8 < 0.75
    assert not sched.record([True] * 4)  # the last 8: 1 + 3 failures + 4 = 5/8
    assert sched.value == 1 and sched.pass_rate() == pytest.approx(5 / 8)
    assert sched.record([True] * 2)  # the last 8: 6/8 = 0.75
    assert sched.value == 2 and sched.recent == []  # a new stage starts its own window
    assert sched.env_kwargs({})["difficulty"] == 2
    sched.record([True] * 8)
    assert sched.value == 3
    assert not sched.record([True] * 100)  # the last stage is kept
    other = DifficultySchedule([1, 2, 3], threshold=0.75, window=8)
    other.load_state(sched.state())
    assert other.value == 3


def test_bad_settings_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="pool is empty"):
        PassRateSampler([])
    with pytest.raises(ValueError, match="floor"):
        PassRateSampler(_pool(2), floor=0)
    with pytest.raises(ValueError, match="threshold"):
        DifficultySchedule([1], threshold=1.5)
    with pytest.raises(ValueError, match="stages is empty"):
        DifficultySchedule([])
    assert parse_schedule("1, 2,3") == [1, 2, 3] and parse_schedule(None) == []
    with pytest.raises(ValueError, match="'two' is not an integer"):
        parse_schedule("1,two")
