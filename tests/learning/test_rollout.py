"""The rollout collector: episodes equal a replay through env.step; per-step scores; token ids."""

from __future__ import annotations

import pytest

from thinkgym.agents.base import OracleAgent, Proposal, RandomAgent
from thinkgym.envs import make
from thinkgym.learning.rollout import collect
from thinkgym.rewards.process import StepVerifier
from thinkgym.search import PolicyError

ENV = "thinkgym/Arithmetic-v0"
PROBLEMS = [{"seed": s} for s in range(5)]


def _replay(env_id, env_kwargs, ep):
    env = make(env_id, **env_kwargs)
    obs, _ = env.reset(**ep.problem)
    for step in ep.steps:
        assert step.observation == obs
        obs, reward, terminated, truncated, info = env.step(step.action)
        assert reward == step.reward
        assert bool(info["valid"]) == step.valid
    assert terminated == ep.terminated
    assert (truncated and not terminated) == ep.truncated
    assert bool(info.get("correct", False)) == ep.correct
    assert env.unwrapped.get_state() == ep.final_state


@pytest.mark.parametrize("which", ["random", "oracle"])
def test_scripted_episodes_equal_replay(which) -> None:
    env = make(ENV, difficulty=1).unwrapped
    policy = RandomAgent(env, seed=1) if which == "random" else OracleAgent(env)
    eps = collect(policy, ENV, PROBLEMS, samples=3, env_kwargs={"difficulty": 1})
    assert [(e.index, e.sample) for e in eps] == [(i, j) for i in range(5) for j in range(3)]
    for ep in eps:
        _replay(ENV, {"difficulty": 1}, ep)
    if which == "oracle":
        assert all(e.correct and e.outcome == 1.0 for e in eps)
    else:
        assert any(not s.valid for e in eps for s in e.steps)  # rejected steps are recorded


def test_llm_episodes_equal_replay_and_carry_tokens() -> None:
    torch = pytest.importorskip("torch")
    from thinkgym.agents.llm import LLMPolicy

    torch.set_num_threads(1)
    policy = LLMPolicy.default(device="cpu")
    kw = {"difficulty": 1, "reward": StepVerifier()}
    eps = collect(
        policy,
        ENV,
        PROBLEMS[:3],
        samples=4,
        temperature=1.0,
        seed=5,
        env_kwargs=kw,
        step_reward=StepVerifier(),
    )
    for ep in eps:
        _replay(ENV, kw, ep)
        for s in ep.steps:
            assert len(s.token_ids) == len(s.behavior_logprobs) >= 1
            assert s.process == (
                1.0 if s.valid and not s.action.startswith("Answer:") else s.process
            )
            assert (s.process is None) == (not s.valid)
    # the same seed gives the same episodes; greedy evaluation is the collector's verdicts
    again = collect(policy, ENV, PROBLEMS[:3], samples=4, temperature=1.0, seed=5, env_kwargs=kw)
    assert [e.actions for e in again] == [e.actions for e in eps]
    from thinkgym.learning.evaluation import run_episodes

    greedy = collect(policy, ENV, PROBLEMS[:3], temperature=0.0, env_kwargs={"difficulty": 1})
    verdicts = run_episodes(policy, ENV, PROBLEMS[:3], env_kwargs={"difficulty": 1})
    assert verdicts == [[e.correct] for e in greedy]


def test_batched_step_scorer_and_bad_input() -> None:
    env = make(ENV, difficulty=1).unwrapped
    seen = []

    def values(before, steps, after):
        seen.append(len(steps))
        return [float(len(s)) for s in steps]

    eps = collect(
        OracleAgent(env),
        ENV,
        PROBLEMS[:2],
        samples=2,
        env_kwargs={"difficulty": 1},
        step_reward=values,
    )
    assert all(s.process == float(len(s.action)) for e in eps for s in e.steps)
    assert seen and max(seen) <= 4  # one batched call per round
    with pytest.raises(ValueError, match="samples"):
        collect(OracleAgent(env), ENV, PROBLEMS, samples=0)
    with pytest.raises(TypeError, match="step_reward"):
        collect(OracleAgent(env), ENV, PROBLEMS, step_reward=3)


def test_sharded_collection_equals_the_collector_per_shard() -> None:
    pytest.importorskip("torch")
    from thinkgym.agents.llm import LLMPolicy
    from thinkgym.learning.rollout import collect_sharded

    kw = {"samples": 2, "temperature": 1.0, "seed": 3, "env_kwargs": {"difficulty": 1}}
    sharded = collect_sharded(
        None, ENV, PROBLEMS[:4], backend="local", shards=2, device="cpu", **kw
    )
    policy = LLMPolicy.default(device="cpu")
    halves = collect(policy, ENV, PROBLEMS[:2], **kw) + collect(policy, ENV, PROBLEMS[2:4], **kw)
    assert [e.actions for e in sharded] == [e.actions for e in halves]
    assert [e.index for e in sharded] == [0, 0, 1, 1, 2, 2, 3, 3]


class _ContractPolicy:
    """A Policy by the protocol alone (no ``stats``): records its keywords, pads or cuts replies."""

    def __init__(self, extra: int = 0) -> None:
        self.oracle = OracleAgent(make(ENV, difficulty=1).unwrapped)
        self.extra = extra
        self.calls: list[dict] = []

    def propose(
        self, observations, n=1, *, temperature=1.0, top_p=1.0, max_new_tokens=48, seed=None
    ):
        self.calls.append({"max_new_tokens": max_new_tokens, "seed": seed, "top_p": top_p})
        out = self.oracle.propose(observations, n, temperature=temperature, top_p=top_p)
        if self.extra < 0:
            return [plist[: n + self.extra] for plist in out]
        return [plist + [Proposal("Answer: 0")] * self.extra for plist in out]


def test_a_policy_by_the_protocol_gets_every_keyword() -> None:
    policy = _ContractPolicy()
    eps = collect(
        policy,
        ENV,
        PROBLEMS[:2],
        samples=2,
        seed=5,
        max_new_tokens=7,
        top_p=0.5,
        env_kwargs={"difficulty": 1},
    )
    assert all(e.correct for e in eps)
    assert policy.calls and all(
        c["max_new_tokens"] == 7 and c["top_p"] == 0.5 for c in policy.calls
    )
    assert [c["seed"] for c in policy.calls] == [5 + 7919 * r + 2 for r in range(len(policy.calls))]


def test_too_few_proposals_raise_and_extra_ones_are_ignored() -> None:
    with pytest.raises(PolicyError, match=r"returned 1 proposals .* asked for n=2"):
        collect(
            _ContractPolicy(extra=-1), ENV, PROBLEMS[:1], samples=2, env_kwargs={"difficulty": 1}
        )
    eps = collect(
        _ContractPolicy(extra=3), ENV, PROBLEMS[:2], samples=2, env_kwargs={"difficulty": 1}
    )
    assert all(e.correct for e in eps)  # the first n (the oracle's) are taken, not the padding


class _NextStateReward:
    """A process reward by the contract ``process(state, step, next_state)`` (all positional)."""

    env = None

    def process(self, before, step, after):
        return float(after.t - before.t)


def test_a_process_reward_gets_the_next_state() -> None:
    env = make(ENV, difficulty=1).unwrapped
    eps = collect(
        OracleAgent(env),
        ENV,
        PROBLEMS[:2],
        env_kwargs={"difficulty": 1},
        step_reward=_NextStateReward(),
    )
    assert all(s.process == 1.0 for e in eps for s in e.steps)
