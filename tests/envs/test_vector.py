"""Every thinkgym env in gymnasium's vector envs, with their default settings.

``AsyncVectorEnv`` defaults to shared memory, where gymnasium reads ``spaces.Text`` observations
back only once (all tabs ever after); thinkgym's :class:`TranscriptSpace` fixes that. These tests
compare each vector env, step by step, with the same envs run one by one.
"""

from __future__ import annotations

import copy
import functools
import pickle

import gymnasium as gym
import pytest
from gymnasium import spaces

import thinkgym  # noqa: F401  (registers the envs)
from thinkgym.envs import list_envs
from thinkgym.envs.game24 import Game24Env
from thinkgym.envs.spaces import SharedTexts, TranscriptSpace

ENV_IDS = list_envs()
SEEDS = (3, 11)


def _make(env_id: str):
    return lambda: gym.make(env_id)


def _reference_run(env_id: str) -> list[tuple[tuple[str, ...], list[float], list[bool]]]:
    """What two single envs give when fed their reference solutions step by step."""
    envs = [gym.make(env_id) for _ in SEEDS]
    obs = [env.reset(seed=s)[0] for env, s in zip(envs, SEEDS, strict=True)]
    traces = [env.unwrapped.solve(env.unwrapped.get_state().problem) for env in envs]
    out = [(tuple(obs), [0.0, 0.0], [False, False])]
    for k in range(min(len(t) for t in traces)):
        steps = [env.step(t[k]) for env, t in zip(envs, traces, strict=True)]
        out.append(
            (tuple(s[0] for s in steps), [float(s[1]) for s in steps], [bool(s[2]) for s in steps])
        )
    return out, traces


def _vector_run(vec: gym.vector.VectorEnv, traces: list[list[str]]):
    obs, _ = vec.reset(seed=list(SEEDS))
    out = [(tuple(obs), [0.0, 0.0], [False, False])]
    for k in range(min(len(t) for t in traces)):
        obs, rew, term, _, _ = vec.step(tuple(t[k] for t in traces))
        assert isinstance(obs, tuple) and all(isinstance(o, str) for o in obs)
        out.append((tuple(obs), [float(r) for r in rew], [bool(t) for t in term]))
    return out


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("vector", ["sync", "async"])
def test_vector_env_matches_single_envs(env_id: str, vector: str) -> None:
    expected, traces = _reference_run(env_id)
    cls = gym.vector.SyncVectorEnv if vector == "sync" else gym.vector.AsyncVectorEnv
    vec = cls([_make(env_id) for _ in SEEDS])  # default settings (shared memory for async)
    try:
        got = _vector_run(vec, traces)
    finally:
        vec.close()
    assert got[0][0][0].strip(), "empty first observation"
    assert "\t" * 10 not in got[0][0][0], "shared-memory padding leaked into the observation"
    assert got == expected


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_make_vec(mode: str) -> None:
    vec = gym.make_vec("thinkgym/Game24-v0", num_envs=2, vectorization_mode=mode)
    try:
        obs, _ = vec.reset(seed=5)
        single = [gym.make("thinkgym/Game24-v0").reset(seed=s)[0] for s in (5, 6)]
    finally:
        vec.close()
    assert list(obs) == single


def test_async_copy_false_is_a_live_view() -> None:
    vec = gym.vector.AsyncVectorEnv([_make("thinkgym/Game24-v0")] * 2, copy=False)
    try:
        obs, _ = vec.reset(seed=[1, 2])
        assert isinstance(obs, SharedTexts)
        first = tuple(obs)
        assert first[0].startswith("Numbers:")
        snapshot = copy.deepcopy(obs)
        assert type(snapshot) is tuple and snapshot == first
        assert pickle.loads(pickle.dumps(obs)) == first
        vec.reset(seed=[7, 8])
        assert tuple(obs) != first  # the view follows the buffer
        assert obs[0:2] == tuple(obs) and len(obs) == 2
    finally:
        vec.close()


def test_async_spawn_context() -> None:
    # A spawned worker starts a fresh interpreter: "thinkgym:" makes gym.make import thinkgym
    # (which registers the envs) before looking the id up.
    make = functools.partial(gym.make, "thinkgym:thinkgym/Countdown-v0")
    vec = gym.vector.AsyncVectorEnv([make] * 2, context="spawn")
    try:
        obs, _ = vec.reset(seed=[1, 2])
    finally:
        vec.close()
    assert list(obs) == [gym.make("thinkgym/Countdown-v0").reset(seed=s)[0] for s in (1, 2)]


class _TinyObsGame24(Game24Env):
    def max_observation_chars(self) -> int:
        return 8  # shorter than any Game24 problem line


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_async_fails_loudly_when_an_observation_does_not_fit() -> None:
    vec = gym.vector.AsyncVectorEnv([lambda: _TinyObsGame24()] * 2)
    try:
        with pytest.raises(ValueError, match="max_length=8"):
            vec.reset(seed=0)
    finally:
        vec.close(terminate=True)


def test_transcript_space_is_a_text_space() -> None:
    env = gym.make("thinkgym/Game24-v0")
    space = env.observation_space
    assert isinstance(space, TranscriptSpace) and isinstance(space, spaces.Text)
    plain = spaces.Text(space.max_length, min_length=0, charset=space.character_set)
    assert space == plain
    text = env.reset(seed=0)[0] + "\n13 - 9 = 4 × ÷"
    assert space.decode(space.encode(text)) == text
    with pytest.raises(ValueError, match="'é'"):
        space.encode("café")
    with pytest.raises(ValueError, match="does not fit"):
        space.encode("1" * (space.max_length + 1))
