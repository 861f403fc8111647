"""reasoning-gym tasks as thinkgym envs: every task passes check_env; scoring, splits, seeds."""

from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

pytest.importorskip("reasoning_gym")

import thinkgym  # noqa: E402
from thinkgym.envs.reasoning_gym import (  # noqa: E402
    UNSUPPORTED,
    escape_text,
    rg_tasks,
    unescape_answer,
)

ALL_TASKS = rg_tasks(supported_only=False)
ENV_ID = "thinkgym/ReasoningGym-v0"


def test_about_a_hundred_tasks_are_known() -> None:
    assert len(ALL_TASKS) >= 100
    assert set(UNSUPPORTED) <= set(ALL_TASKS)
    assert set(rg_tasks()) == set(ALL_TASKS) - set(UNSUPPORTED)


@pytest.mark.parametrize("task", ALL_TASKS)
def test_every_task_passes_check_env(task: str) -> None:
    # a small dataset keeps the tasks that build theirs up front (acre) quick
    if task in UNSUPPORTED:
        with pytest.raises(ValueError, match="refused the composite config"):
            gym.make(ENV_ID, task=task, dataset_size=200)
        return
    env = gym.make(ENV_ID, task=task, dataset_size=200)
    check_env(env.unwrapped)
    obs, info = env.reset(seed=5)
    assert env.observation_space.contains(obs)
    assert obs == info["problem"]


def _episode(env: gym.Env, seed: int, steps: list[str]) -> tuple[float, dict]:
    env.reset(seed=seed)
    total, info = 0.0, {}
    for step in steps:
        _, reward, terminated, _, info = env.step(step)
        total += reward
        if terminated:
            break
    return total, info


def test_answer_is_scored_by_the_task_with_partial_credit() -> None:
    env = gym.make(ENV_ID, task="leg_counting")
    base = env.unwrapped
    env.reset(seed=0)
    answer = base.reference_answer(base.get_state().problem)
    total, info = _episode(env, 0, ["Count each animal's legs.", f"Answer: {answer}"])
    assert info["correct"] is True and total == 1.0
    total, info = _episode(env, 0, [f"Answer: {answer} x"])  # the task pays 0.6 for this
    assert info["correct"] is False and 0.0 < total < 1.0
    assert "partly right" in info["error"]
    assert total == pytest.approx(0.6)
    total, info = _episode(env, 0, ["Answer: many"])
    assert info["correct"] is False and total == 0.0


def test_search_never_sees_the_reference() -> None:
    base = gym.make(ENV_ID, task="leg_counting").unwrapped
    base.reset(seed=1)
    state = base.get_state()
    answer = base.reference_answer(state.problem)
    nxt, ok, _ = base.apply(state, f"Answer: {answer}")
    assert ok and nxt.done and nxt.correct is None  # graded only by step()


def test_seeds_reproduce_and_splits_never_overlap() -> None:
    a = gym.make(ENV_ID, task="basic_arithmetic")
    b = gym.make(ENV_ID, task="basic_arithmetic")
    assert [a.reset(seed=s)[0] for s in range(5)] == [b.reset(seed=s)[0] for s in range(5)]
    assert len({a.reset(seed=s)[0] for s in range(20)}) > 10
    keys = {}
    for split in ("train", "test"):
        env = gym.make(ENV_ID, task="basic_arithmetic", split=split).unwrapped
        keys[split] = set()
        for seed in range(80):
            env.reset(seed=seed)
            problem = env.get_state().problem
            assert env.problem_split(problem) == split
            keys[split].add(env.problem_key(problem))
    assert keys["train"] and keys["test"] and not keys["train"] & keys["test"]


def test_unicode_questions_and_multiline_answers_round_trip() -> None:
    for task in ("emoji_mystery", "mini_sudoku", "propositional_logic"):
        env = gym.make(ENV_ID, task=task)
        base = env.unwrapped
        for seed in range(3):
            obs, _ = env.reset(seed=seed)
            assert env.observation_space.contains(obs)
            said, step = base.solve(base.get_state().problem)
            assert env.action_space.contains(step) and "\n" not in step
            env.step(said)
            if task != "propositional_logic":  # it accepts many answers and stores an example
                _, reward, terminated, _, info = env.step(step)
                assert terminated and info["correct"] and reward == 1.0, (task, seed, info)
    assert escape_text("a∧b\n") == "a\\u2227b\n"
    assert unescape_answer("1 2\\n3 4 \\u2227 \\U0001f600") == "1 2\n3 4 ∧ \U0001f600"


def test_short_names_register_on_first_use() -> None:
    env = thinkgym.make("rg:leg_counting")
    assert env.spec.id == "thinkgym/rg-leg_counting-v0"
    assert env.unwrapped.task == "leg_counting"
    with pytest.raises(gym.error.NameNotFound, match="did you mean 'rg:leg_counting'"):
        thinkgym.make("rg:leg_countin")


def test_bad_arguments_name_the_value_and_the_fix() -> None:
    with pytest.raises(ValueError, match="not a reasoning-gym task; did you mean 'leg_counting'"):
        gym.make(ENV_ID, task="leg_countin")
    with pytest.raises(
        ValueError, match="no config field 'min_animal'.*did you mean 'min_animals'"
    ):
        gym.make(ENV_ID, task="leg_counting", min_animal=3)
    with pytest.raises(ValueError, match="dataset_seed="):
        gym.make(ENV_ID, task="leg_counting", seed=3)
    with pytest.raises(ValueError, match="refused the leg_counting config"):
        gym.make(ENV_ID, task="leg_counting", min_animals=5, max_animals=2)
    env = gym.make(ENV_ID, task="leg_counting", min_animals=2, max_animals=2)
    obs, _ = env.reset(options={"index": 7})
    assert env.unwrapped.get_state().problem == {"index": 7}
    assert obs.split("you have ")[1].count(",") == 1  # two animals
    with pytest.raises(ValueError, match="outside the dataset"):
        env.reset(options={"index": 10**9})
    with pytest.raises(ValueError, match="unknown key 'indx'"):
        env.reset(options={"indx": 1})


def test_states_do_not_move_between_tasks() -> None:
    a = gym.make(ENV_ID, task="leg_counting").unwrapped
    b = gym.make(ENV_ID, task="gcd").unwrapped
    a.reset(seed=0)
    with pytest.raises(ValueError, match="another task"):
        b.set_state(a.get_state())


def test_transcripts_read_back_through_the_tag_line() -> None:
    base = gym.make(ENV_ID, task="gcd").unwrapped
    obs, _ = base.reset(seed=4)
    assert obs.startswith(f"[rg:gcd #{base.get_state().problem['index']}]\n")
    obs, *_ = base.step("Factor both numbers.")
    rebuilt = base.state_from_transcript(obs)
    assert base.transcript(rebuilt) == obs and rebuilt.steps == ("Factor both numbers.",)
    other_seed = gym.make(ENV_ID, task="gcd", dataset_seed=1).unwrapped
    with pytest.raises(ValueError, match="another dataset_seed"):
        other_seed.state_from_transcript(obs)
    with pytest.raises(ValueError, match=r"\[rg:lcm #<index>\] tag"):
        gym.make(ENV_ID, task="lcm").unwrapped.parse_problem(obs)
