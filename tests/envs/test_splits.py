"""One held-out split: every task takes ``split=``; train and test never share a problem."""

from __future__ import annotations

import gymnasium as gym
import pytest

import thinkgym  # noqa: F401
from thinkgym.envs import SPLITS, eval_problems, is_held_out, list_envs
from thinkgym.envs.countdown import CountdownEnv
from thinkgym.envs.game24 import is_test_puzzle
from thinkgym.envs.game24 import test_puzzles as tot_puzzles

ENV_IDS = list_envs()
PROCEDURAL = [e for e in ENV_IDS if "MathWord" not in e]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_train_and_test_envs_draw_only_their_split(env_id: str) -> None:
    keys = {}
    for split in ("train", "test"):
        env = gym.make(env_id, split=split).unwrapped
        assert env.split == split
        keys[split] = set()
        for seed in range(150):
            env.reset(seed=seed)
            problem = env.get_state().problem
            assert env.problem_split(problem) == split, (split, problem)
            keys[split].add(env.problem_key(problem))
    assert keys["train"] and keys["test"] and not keys["train"] & keys["test"]


@pytest.mark.parametrize("env_id", PROCEDURAL)
def test_default_split_is_train_and_all_draws_both(env_id: str) -> None:
    assert gym.make(env_id).unwrapped.split == "train"
    env = gym.make(env_id, split="all").unwrapped
    seen = set()
    for seed in range(200):
        env.reset(seed=seed)
        seen.add(env.problem_split(env.get_state().problem))
    assert seen == {"train", "test"}


def test_bad_split_is_refused_with_a_hint() -> None:
    with pytest.raises(ValueError, match="did you mean 'test'"):
        gym.make("thinkgym/Arithmetic-v0", split="tset")
    assert SPLITS == ("train", "test", "all")


def test_countdown_never_trains_on_a_game24_test_puzzle() -> None:
    # the Tree-of-Thoughts puzzle 1 2 8 13 -> 24 was once in the Countdown training rows
    assert is_test_puzzle([2, 8, 13, 1]) and is_held_out("Numbers: 2 8 13 1 | Target: 24")
    assert CountdownEnv().problem_split({"numbers": [2, 8, 13, 1], "target": 24}) == "test"
    train = CountdownEnv(n_numbers=4, max_number=13, split="train")
    test = CountdownEnv(n_numbers=4, max_number=13, split="test")
    held = set(tot_puzzles())
    n24 = 0
    for seed in range(1500):
        train.reset(seed=seed)
        p = train.get_state().problem
        assert not (p["target"] == 24 and tuple(sorted(p["numbers"])) in held)
        test.reset(seed=seed)
        p = test.get_state().problem
        if p["target"] == 24:
            n24 += 1
            assert tuple(sorted(p["numbers"])) in held
    assert n24 > 0


def test_the_order_of_countdown_numbers_does_not_change_the_split() -> None:
    env = CountdownEnv()
    for seed in range(100):
        env.reset(seed=seed)
        p = env.get_state().problem
        flipped = {"numbers": list(reversed(p["numbers"])), "target": p["target"]}
        assert env.problem_split(flipped) == env.problem_split(p)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_eval_problems_are_distinct_pinned_test_problems(env_id: str) -> None:
    probs = eval_problems(env_id, 60)
    assert len(probs) == 60 and probs == eval_problems(env_id, 60)
    assert probs[:20] == eval_problems(env_id, 20)  # a smaller set is a prefix
    probs[0]["options"]["problem"]["changed"] = True  # callers get fresh copies
    assert "changed" not in eval_problems(env_id, 60)[0]["options"]["problem"]
    train_env = gym.make(env_id).unwrapped  # a train env replays them: they are pinned
    keys = set()
    for kw in probs:
        train_env.reset(**kw)
        problem = train_env.get_state().problem
        keys.add(train_env.problem_key(problem))
        assert is_held_out(train_env.format_problem(problem))
    assert len(keys) == 60


def test_game24_eval_set_is_the_tree_of_thoughts_puzzles_in_order() -> None:
    probs = eval_problems("Game24")
    assert [tuple(kw["options"]["problem"]["numbers"]) for kw in probs] == list(tot_puzzles())
    assert len(eval_problems("Game24", 500)) == 100  # a fixed set gives at most itself


def test_eval_problems_errors() -> None:
    # Arithmetic at difficulty 0 has about 240 problems, about 50 of them in the test split
    with pytest.raises(ValueError, match="distinct test problems"):
        eval_problems("Arithmetic", 200, difficulty=0)
    with pytest.raises(ValueError, match="n=-1"):
        eval_problems("Arithmetic", -1)
    with pytest.raises(gym.error.Error):
        eval_problems("Arithmetik", 5)
