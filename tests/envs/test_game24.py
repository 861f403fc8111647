"""Game of 24 and Countdown specifics."""

from __future__ import annotations

from fractions import Fraction

import gymnasium as gym
import numpy as np
import pytest

import thinkgym  # noqa: F401
from thinkgym.envs.countdown import count_paths, solve_numbers
from thinkgym.envs.game24 import build_puzzle_table, puzzle_table
from thinkgym.envs.game24 import test_puzzles as tot_test_puzzles


def test_step_errors_name_the_problem() -> None:
    env = gym.make("thinkgym/Game24-v0")
    env.reset(options={"numbers": [4, 9, 10, 13]})
    env.step("13 - 9 = 4")
    _, reward, _, _, info = env.step("9 + 4 = 13")
    assert info["error"] == "9 is not among the remaining numbers [4, 10, 4]"
    assert reward < 0
    info = env.step("10 * 4 = 41")[-1]
    assert "is 40, not 41" in info["error"]
    info = env.step("10 - 4 = 6 (left: 4 7)")[-1]
    assert "left would be" in info["error"]
    assert env.unwrapped.get_state().steps == ("13 - 9 = 4 (left: 4 10 4)",)


def test_answer_must_use_each_number_once() -> None:
    env = gym.make("thinkgym/Game24-v0")
    env.reset(options={"numbers": [4, 9, 10, 13]})
    *_, info = env.step("Answer: 4 * 6 = 24")
    assert info["correct"] is False and "exactly once" in info["error"]
    env.reset(options={"numbers": [4, 9, 10, 13]})
    *_, info = env.step("Answer: (13 - 9) * (10 - 4) = 24")
    assert info["correct"] is True


def test_fractions_are_exact() -> None:
    env = gym.make("thinkgym/Game24-v0")
    env.reset(options={"numbers": [1, 5, 5, 5]})
    assert env.step("1 / 5 = 1/5")[-1]["valid"]
    assert env.step("5 - 1/5 = 24/5")[-1]["valid"]
    assert env.step("24/5 * 5 = 24")[-1]["valid"]
    assert env.step("Answer: (5 - 1 / 5) * 5 = 24")[-1]["correct"]


def test_generated_puzzles_are_solvable_and_split() -> None:
    held = set(tot_test_puzzles())
    assert len(held) == 100
    env = gym.make("thinkgym/Game24-v0", split="train")
    for seed in range(300):
        env.reset(seed=seed)
        nums = tuple(sorted(env.unwrapped.get_state().problem["numbers"]))
        assert nums not in held
        assert solve_numbers([Fraction(v) for v in nums], Fraction(24)) is not None
    test_env = gym.make("thinkgym/Game24-v0", split="test")
    for seed in range(50):
        test_env.reset(seed=seed)
        assert tuple(sorted(test_env.unwrapped.get_state().problem["numbers"])) in held


def test_difficulty_orders_by_solve_share() -> None:
    shares = dict(puzzle_table())
    means = []
    for difficulty in range(4):
        env = gym.make("thinkgym/Game24-v0", difficulty=difficulty)
        vals = []
        for seed in range(40):
            env.reset(seed=seed)
            vals.append(shares[tuple(sorted(env.unwrapped.get_state().problem["numbers"]))])
        means.append(np.mean(vals))
    assert means == sorted(means, reverse=True)
    with pytest.raises(ValueError, match="difficulty"):
        gym.make("thinkgym/Game24-v0", difficulty=7)


def test_shipped_table_matches_solver_sample() -> None:
    table = dict(puzzle_table())
    assert len(table) == 1362
    for quad in list(table)[::97]:
        good, total = count_paths(tuple(Fraction(v) for v in quad), Fraction(24))
        assert table[quad] == pytest.approx(good / total, abs=1e-6)
    assert all(tuple(sorted(p)) in table for p in tot_test_puzzles())
    assert callable(build_puzzle_table)


def test_countdown_pinning_and_candidates() -> None:
    env = gym.make("thinkgym/Countdown-v0")
    obs, _ = env.reset(options={"numbers": [25, 4, 3, 7], "target": 103})
    assert obs == "Numbers: 25 4 3 7 | Target: 103"
    cands = env.unwrapped.candidate_steps(env.unwrapped.get_state())
    assert "25 * 4 = 100 (left: 3 7 100)" in cands
    assert all(env.unwrapped.legal(env.unwrapped.get_state(), c) for c in cands)
    with pytest.raises(ValueError, match="target"):
        env.reset(options={"numbers": [1, 2]})
    with pytest.raises(ValueError, match="integers"):
        env.reset(options={"numbers": ["a", 2], "target": 3})


def test_countdown_difficulty_sets_size() -> None:
    for difficulty, n in [(0, 3), (1, 4), (3, 6)]:
        env = gym.make("thinkgym/Countdown-v0", difficulty=difficulty)
        env.reset(seed=0)
        assert len(env.unwrapped.get_state().problem["numbers"]) == n


def test_honest_answer_check_is_reference_free_for_game24() -> None:
    env = gym.make("thinkgym/Game24-v0").unwrapped
    env.reset(options={"numbers": [4, 9, 10, 13]})
    state, ok, _ = env.apply(env.get_state(), "Answer: (13 - 9) * (10 - 4) = 24")
    assert ok and state.correct is True
