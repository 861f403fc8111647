"""Rule-based rewards, combinators, shaping invariance, aggregation and the reward registry."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
import zlib

import gymnasium as gym
import numpy as np
import pytest

import thinkgym  # noqa: F401  (registers the envs)
from thinkgym.envs.base import EnvState
from thinkgym.rewards import (
    FormatPenalty,
    LengthPenalty,
    OutcomeVerifier,
    PotentialShaping,
    StepVerifier,
    WeightedSum,
    aggregate,
    list_rewards,
    make_reward,
    register_reward,
)

TASKS = {
    "thinkgym/Game24-v0": "thinkgym.envs.game24",
    "thinkgym/Countdown-v0": "thinkgym.envs.countdown",
    "thinkgym/Arithmetic-v0": "thinkgym.envs.arithmetic",
    "thinkgym/LinearEquation-v0": "thinkgym.envs.linear_equation",
}


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


ENV_IDS = [
    pytest.param(
        env_id, marks=pytest.mark.skipif(not _available(mod), reason=f"{mod} not written yet")
    )
    for env_id, mod in TASKS.items()
]


def _gold(env_id: str, seed: int = 0, **kw):
    """An unwrapped env reset on a seeded problem, and its reference trace."""
    env = gym.make(env_id, **kw).unwrapped
    env.reset(seed=seed)
    return env, env.solve(env.get_state().problem)


def _play(env, steps):
    """Play steps in the env; returns the rewards."""
    return [env.step(s)[1] for s in steps]


def _wrong_answer(env, state: EnvState) -> str:
    """An answer line that is wrong for every task."""
    return "Answer: 123456789"


# ---------------------------------------------------------------------- OutcomeVerifier
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_outcome_verifier_gold_wrong_malformed(env_id):
    env, trace = _gold(env_id, reward=OutcomeVerifier(correct=2.0, incorrect=-1.0))
    rewards = _play(env, trace)
    assert rewards[-1] == 2.0 and all(r == 0.0 for r in rewards[:-1])

    env.reset(seed=0)
    assert _play(env, trace[:-1] + [_wrong_answer(env, env.get_state())])[-1] == -1.0
    for junk in [
        "Answer: ",
        "Answer: ((((",
        "Answer: 1/0",
        "Answer: __import__('os')",
        "Answer: \x00",
    ]:
        env.reset(seed=0)
        _play(env, trace[:-1])
        _, r, *_ = env.step(junk)
        assert r in (-1.0, env.invalid_penalty)  # wrong answer, or rejected as a step


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_outcome_verifier_with_verify(env_id):
    reward = OutcomeVerifier(use_verify=True)
    env, trace = _gold(env_id, reward=reward)
    state = env.get_state()
    ref = env.reference_answer(state.problem)
    assert _play(env, trace)[-1] == 1.0
    if ref is not None and env_id.endswith(("Arithmetic-v0", "LinearEquation-v0")):
        env.reset(seed=0)
        _play(env, trace[:-1])
        # A reference answer in another notation: verify() accepts it.
        assert env.step(f"Answer: {ref}.0")[1] == 1.0


def test_outcome_verifier_unbound_uses_state_verdict():
    r = OutcomeVerifier()
    assert r.outcome(EnvState(problem={}, done=True, answer="1", correct=True)) == 1.0
    assert r.outcome(EnvState(problem={}, done=False)) == 0.0
    with pytest.raises(RuntimeError, match="bind"):
        r.outcome(EnvState(problem={}, done=True, answer="1"))


# ---------------------------------------------------------------------- StepVerifier
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_step_verifier_scores(env_id):
    reward = StepVerifier(good=0.5, bad=-1.0)
    env, trace = _gold(env_id, reward=reward)
    rewards = _play(env, trace)
    assert all(r == 0.5 for r in rewards[:-1])  # accepted steps
    assert rewards[-1] == 0.0  # pure process reward: no outcome by default

    bound = reward.bind(env)
    env.reset(seed=0)
    root = env.get_state()
    gold = bound.score_steps(root, trace[:-1])
    assert gold == [0.5] * len(trace[:-1])
    # A malformed step and a wrong step score `bad` and leave the state unchanged.
    bad = bound.score_steps(root, ["((((", "", "\x00", "1 + 1 = 3"] + trace[:-1])
    assert bad[:4] == [-1.0] * 4
    assert bad[4:] == gold
    # From a transcript, when the task can read its problems back.
    try:
        text_scores = bound.score_steps(env.transcript(root), trace[:-1])
    except NotImplementedError:
        pytest.skip(f"{env_id} cannot read transcripts back")
    assert text_scores == gold


def test_step_verifier_answers_honest():
    """Game24 can judge answers without the reference; Arithmetic cannot (unknown)."""
    env, trace = _gold("thinkgym/Game24-v0")
    r = StepVerifier(good=1.0, bad=-1.0, unknown=0.0).bind(env)
    scores = r.score_steps(env.get_state(), trace)
    assert scores == [1.0] * len(trace)
    assert r.score_steps(env.get_state(), trace[:-1] + ["Answer: 1 + 2 = 24"])[-1] == -1.0
    env2, trace2 = _gold("thinkgym/Arithmetic-v0")
    r2 = StepVerifier(unknown=0.25).bind(env2)
    assert r2.score_steps(env2.get_state(), trace2)[-1] == 0.25


def test_step_verifier_outcome_value():
    env, trace = _gold("thinkgym/Countdown-v0", reward=StepVerifier(outcome_value=2.0))
    assert _play(env, trace)[-1] == 2.0


# ---------------------------------------------------------------------- combinators
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_weighted_sum_and_operators(env_id):
    combo = OutcomeVerifier() + 0.5 * StepVerifier(good=1.0) - LengthPenalty(per_step=-0.1)
    assert isinstance(combo, WeightedSum) and len(combo.terms) == 3
    env, trace = _gold(env_id, reward=combo)
    rewards = _play(env, trace)
    assert rewards[:-1] == pytest.approx([0.5 + 0.1] * (len(trace) - 1))
    assert rewards[-1] == pytest.approx(1.0 + 0.1)
    same = WeightedSum(
        [(OutcomeVerifier(), 1.0), (StepVerifier(good=1.0), 0.5), LengthPenalty(-0.1)]
    )
    assert len(same.terms) == 3
    assert sum([OutcomeVerifier(), StepVerifier()]).terms[1][1] == 1.0
    # The original objects stay unbound: one reward object can serve many envs.
    assert combo.env is None and all(r.env is None for r, _ in combo.terms)


def test_weighted_sum_errors():
    with pytest.raises(ValueError, match="at least one"):
        WeightedSum([])
    with pytest.raises(TypeError, match="process"):
        WeightedSum([(object(), 1.0)])
    with pytest.raises(TypeError, match="weight"):
        WeightedSum([(OutcomeVerifier(), "1")])
    with pytest.raises(TypeError):
        OutcomeVerifier() * "2"


def test_format_and_length_penalty():
    env = gym.make(
        "thinkgym/Countdown-v0",
        reward=FormatPenalty(step_pattern=r".*\(left: .*\)", answer_pattern=r"Answer: .* = \d+")
        + LengthPenalty(per_step=-0.01, per_char=-0.001),
    ).unwrapped
    env.reset(seed=0)
    trace = env.solve(env.get_state().problem)
    rewards = _play(env, trace)
    expect = [-0.01 - 0.001 * len(s) for s in env.get_state().steps]
    assert rewards == pytest.approx(expect)
    fp = FormatPenalty(step_pattern=r"\d+", penalty=-2.0)
    assert fp.process(None, "12", None) == 0.0 and fp.process(None, "x", None) == -2.0
    assert fp.process(None, None, None) == -2.0  # malformed input does not raise
    assert fp.outcome(EnvState(problem={}, steps=("Answer:",), done=True)) == -2.0
    with pytest.raises(ValueError, match="regular expression"):
        FormatPenalty(step_pattern="(")
    with pytest.raises(ValueError, match="<= 0"):
        LengthPenalty(per_step=0.5)


# ---------------------------------------------------------------------- shaping
def _hash_potential(state: EnvState) -> float:
    """An arbitrary deterministic potential of (problem, steps)."""
    key = repr((sorted(state.problem.items()), state.steps)).encode()
    return (zlib.crc32(key) % 1000) / 100.0 - 5.0


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("policy", ["oracle", "random"])
def test_potential_shaping_changes_return_by_constant(env_id, policy):
    """Ng et al. 1999: with gamma = 1 and Phi(terminal) = 0, every complete trajectory's shaped
    return is its unshaped return minus Phi(s0), whatever the actions."""
    from thinkgym.agents import OracleAgent, RandomAgent

    base = OutcomeVerifier() + StepVerifier(good=0.1)
    shaped = PotentialShaping(base, _hash_potential, gamma=1.0)
    plain_env = gym.make(env_id, reward=base).unwrapped
    shaped_env = gym.make(env_id, reward=shaped).unwrapped
    rng = np.random.default_rng(0)
    checked = 0
    for seed in range(6):
        obs, info = plain_env.reset(seed=seed)
        shaped_env.reset(seed=seed)
        phi0 = _hash_potential(plain_env.get_state())
        agent = OracleAgent(plain_env) if policy == "oracle" else RandomAgent(plain_env, seed=seed)
        g_plain = g_shaped = 0.0
        for _ in range(plain_env.max_steps):
            state = plain_env.get_state()
            step = (
                agent.propose([obs], 1)[0][0].text
                if policy == "oracle"
                else (plain_env.random_step(state, rng))
            )
            obs, r1, term, trunc, _ = plain_env.step(step)
            _, r2, term2, trunc2, _ = shaped_env.step(step)
            assert (term, trunc) == (term2, trunc2)
            g_plain += r1
            g_shaped += r2
            if term or trunc:
                break
        if term:
            assert g_shaped - g_plain == pytest.approx(-phi0, abs=1e-9)
            checked += 1
    if policy == "oracle":
        assert checked == 6


def test_potential_shaping_discounted_and_errors():
    env, trace = _gold("thinkgym/Countdown-v0")
    shaped = PotentialShaping(None, _hash_potential, gamma=0.9).bind(env)
    state = env.get_state()
    total, disc, s = 0.0, 1.0, state
    for step in trace:
        nxt, ok, _ = env.apply(s, step)
        total += disc * (shaped.outcome(nxt) if nxt.done else shaped.process(s, step, nxt))
        disc *= 0.9
        s = nxt
    assert total == pytest.approx(-_hash_potential(state))  # gamma^T * 0 - Phi(s0)
    with pytest.raises(ValueError, match="potential"):
        PotentialShaping(OutcomeVerifier())
    with pytest.raises(ValueError, match="gamma"):
        PotentialShaping(None, _hash_potential, gamma=0.0)
    # the env hands the next state over, so an unbound shaping reward needs no env for steps
    nxt, ok, _ = env.apply(state, trace[0])
    unbound = PotentialShaping(None, _hash_potential, gamma=0.9)
    assert ok and unbound.process(state, trace[0], nxt) == pytest.approx(
        0.9 * _hash_potential(nxt) - _hash_potential(state)
    )


# ---------------------------------------------------------------------- aggregation
def test_aggregate():
    s = [0.9, 0.5, 0.8]
    assert aggregate(s, "min") == 0.5
    assert aggregate(s, "prod") == pytest.approx(0.36)
    assert aggregate(s, "last") == 0.8
    assert aggregate(s, "mean") == pytest.approx(2.2 / 3)
    assert aggregate(s, max) == 0.9
    with pytest.raises(ValueError, match="no scores"):
        aggregate([], "min")
    with pytest.raises(ValueError, match="Did you mean 'mean'"):
        aggregate(s, "maen")


def test_aggregate_ranks_solutions():
    """Aggregated step-verifier scores rank a clean solution above one with rejected steps."""
    env, trace = _gold("thinkgym/Countdown-v0")
    r = StepVerifier(good=1.0, bad=0.0).bind(env)
    clean = r.score_steps(env.get_state(), trace)
    sloppy = r.score_steps(env.get_state(), ["1 + 1 = 3", *trace])
    for how in ("min", "prod", "mean"):
        assert aggregate(clean, how) > aggregate(sloppy, how)
    assert math.isclose(aggregate(clean, "last"), aggregate(sloppy, "last"))


# ---------------------------------------------------------------------- registry
def test_registry():
    assert {"outcome", "step", "format", "length", "learned"} <= set(list_rewards())
    assert isinstance(make_reward("outcome", correct=3.0), OutcomeVerifier)
    with pytest.raises(KeyError, match="Did you mean 'outcome'"):
        make_reward("outcom")
    with pytest.raises(ValueError, match="already registered"):
        register_reward("outcome", OutcomeVerifier)
    register_reward("test-length-2", LengthPenalty)
    assert make_reward("test-length-2", per_step=-1.0).per_step == -1.0
    with pytest.raises(TypeError):
        register_reward("test-bad", 3)


def test_rewards_import_without_torch():
    code = (
        "import sys, thinkgym.rewards as r; r.OutcomeVerifier(); r.make_reward('step');"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
