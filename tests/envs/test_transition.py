"""One transition: ``step`` and ``apply`` agree on every action; ``set_state`` refuses strangers."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

import thinkgym  # noqa: F401
from thinkgym.envs import list_envs
from thinkgym.envs.base import EnvState

ENV_IDS = list_envs()


def _actions(env, state, trace, rng) -> list:
    acts: list = list(trace)
    acts += ["", "   ", "x" * (env.max_step_chars + 1), "a\nb", "1\x00", b"\xff", b"1 + 1 = 2"]
    acts += [None, 5, 3.5, ["1"], "Answer:", "Answer: 0", "Answer: ((", "Answer: 24", "1 + 1 = 3"]
    acts += ["= 5", "x = 2", "2 * 3 = 6", "13 - 9 = 4 (left: 4 4 10)", "Answer: 1/0", "½ ≠ π"]
    acts += [env.random_step(state, rng) for _ in range(12)]
    try:
        acts += env.candidate_steps(state)[:12]
    except NotImplementedError:
        pass
    return acts


def _path(env, start: EnvState) -> list[EnvState]:
    """The states along the reference solution, the finished one included."""
    states = [start]
    for step in env.solve(start.problem):
        nxt, ok, err = env.apply(states[-1], step)
        assert ok, err
        states.append(nxt)
    assert states[-1].done
    return states


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_step_and_apply_are_one_transition(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    rng = np.random.default_rng(0)
    compared = accepted = 0
    for seed in range(4):
        env.reset(seed=seed)
        trace = env.solve(env.get_state().problem)
        for state in _path(env, env.get_state()):
            for action in _actions(env, state, trace, rng):
                nxt, ok, err = env.apply(state, action)
                env.set_state(state)
                obs, reward, terminated, truncated, info = env.step(action)
                got = env.get_state()
                assert info["valid"] == ok, (action, info, err)
                if not ok:
                    assert info["error"] == err and err, (action, info["error"], err)
                    assert got == nxt, action
                    assert reward == (0.0 if state.done else env.invalid_penalty)
                    continue
                accepted += 1
                assert err == ""
                if nxt.done and env.outcome_needs_reference:
                    # apply may not see the reference: the verdict is unknown there
                    assert nxt.correct is None
                    got = dataclasses.replace(got, correct=None)
                assert got == nxt, action
                assert obs == env.transcript(nxt)
                assert terminated == nxt.done
                compared += 1
    assert compared > 100 and accepted > 20


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_finished_episodes_take_no_more_steps(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    env.reset(seed=1)
    done = _path(env, env.get_state())[-1]
    nxt, ok, err = env.apply(done, "Answer: 1")
    assert (nxt, ok) == (done, False) and "reset()" in err
    env.set_state(done)
    _, reward, terminated, _, info = env.step("Answer: 1")
    assert env.get_state() == done and reward == 0.0 and terminated
    assert info["error"] == err


def test_rewards_get_the_next_state() -> None:
    seen = []

    class Spy:
        def process(self, state, step, next_state):
            seen.append((state, step, next_state))
            return 0.0

        def outcome(self, state):
            return 1.0

    env = gym.make("thinkgym/Countdown-v0", reward=Spy()).unwrapped
    env.reset(seed=3)
    for step in env.solve(env.get_state().problem):
        before = env.get_state()
        env.step(step)
        if not env.get_state().done:
            assert seen[-1] == (before, env.get_state().steps[-1], env.get_state())
    assert len(seen) == len(env.get_state().steps) - 1  # the answer goes to outcome()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_set_state_refuses_another_tasks_state(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    env.set_state(env.get_state())  # its own state is fine
    name = type(env).__name__
    for other_id in ENV_IDS:
        other = gym.make(other_id).unwrapped
        if type(other) is type(env):
            continue
        other.reset(seed=0)
        with pytest.raises(ValueError) as exc:
            env.set_state(other.get_state())
        msg = str(exc.value)
        assert name in msg and type(other).__name__ in msg, msg
    for garbage in (None, 3, "Numbers: 1 2 | Target: 3", {"problem": {}}):
        with pytest.raises(ValueError, match=name):
            env.set_state(garbage)
    with pytest.raises(ValueError, match=name):
        env.set_state(EnvState(problem={"what": 1}))
