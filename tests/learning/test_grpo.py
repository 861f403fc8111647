"""GRPO and PPO: advantages, the update's direction, raising the reward on a toy, resume, NaN stop."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from learning_toy import register_toy, weak_policy  # noqa: E402

from thinkgym.learning.grpo import (  # noqa: E402
    GRPOConfig,
    NonFiniteLossError,
    group_advantages,
    grpo,
    policy_update,
    token_rows,
)
from thinkgym.learning.ppo import PPOConfig, gae, ppo  # noqa: E402
from thinkgym.learning.rollout import Episode, Step, collect  # noqa: E402

TOY = register_toy()
HIGH = {"rule": "high"}  # reward: any answer digit >= 5 (learnable without reading the prompt)


def _ep(index, rewards, observations):
    steps = [
        Step(observation=o, action="x", token_ids=(1,), behavior_logprobs=(-1.0,), reward=r)
        for o, r in zip(observations, rewards, strict=True)
    ]
    return Episode(index=index, sample=0, problem={}, steps=steps)


def test_outcome_advantages_are_group_relative() -> None:
    eps = [
        _ep(0, [0, 1], ["p", "p\na"]),
        _ep(0, [0, 0], ["p", "p\nb"]),
        _ep(1, [1], ["q"]),
        _ep(1, [1], ["q"]),
    ]
    adv = group_advantages(eps, "outcome")
    assert adv[0] == pytest.approx([1.0, 1.0], abs=1e-4)
    assert adv[1] == pytest.approx([-1.0, -1.0], abs=1e-4)
    assert adv[2] == adv[3] == [0.0]  # a group with equal returns teaches nothing


def test_step_advantages_use_a_leave_one_out_state_baseline() -> None:
    # episodes 0 and 1 share their second state "p\na"; 2 went elsewhere
    eps = [
        _ep(0, [0, 1], ["p", "p\na"]),
        _ep(0, [0, 0], ["p", "p\na"]),
        _ep(0, [0, 0], ["p", "p\nb"]),
    ]
    adv = group_advantages(eps, "step")
    mean, std = 1 / 3, np.std([1, 0, 0])
    assert adv[0][0] == pytest.approx((1 - mean) / std, abs=1e-4)
    assert adv[0][1] == pytest.approx((1 - 0) / std, abs=1e-4)  # baseline: episode 1's return
    assert adv[1][1] == pytest.approx((0 - 1) / std, abs=1e-4)  # baseline: episode 0's return
    assert adv[2][1] == pytest.approx((0 - mean) / std, abs=1e-4)  # nobody else: parent's value


def test_gae() -> None:
    assert gae([0, 0, 1], [0, 0, 0], 0.0, 1.0, 1.0) == [1, 1, 1]
    assert gae([0, 1], [0.5, 0.5], 0.0, 1.0, 0.0) == [0.0, 0.5]


@pytest.fixture(scope="module")
def weak():
    return weak_policy()


def _mean_reward(policy, problems, seed):
    eps = collect(
        policy,
        TOY,
        problems,
        samples=8,
        temperature=1.0,
        seed=seed,
        env_kwargs=HIGH,
        max_new_tokens=12,
    )
    return float(np.mean([e.correct for e in eps]))


def test_update_raises_the_reward_of_a_toy_policy(weak) -> None:
    import copy

    policy = copy.deepcopy(weak)
    problems = [{"seed": s} for s in range(16)]
    before = _mean_reward(policy, problems, seed=123)
    opt = torch.optim.AdamW(policy.model.parameters(), lr=2e-3, betas=(0.9, 0.95), weight_decay=0)
    for it in range(4):
        eps = collect(
            policy,
            TOY,
            problems,
            samples=8,
            temperature=1.0,
            seed=it,
            env_kwargs=HIGH,
            max_new_tokens=12,
        )
        rows = token_rows(eps, group_advantages(eps, "outcome"))
        stats = policy_update(
            policy, opt, rows, minibatch=64, epochs=2, rng=np.random.default_rng(it)
        )
        assert math.isfinite(stats["loss"]) and 0.5 < stats["ratio"] < 1.5
    after = _mean_reward(policy, problems, seed=123)
    assert after >= before + 0.15, (before, after)


def test_update_logs_the_sampled_token_nll_under_its_name(weak) -> None:
    import copy

    policy = copy.deepcopy(weak)
    eps = collect(policy, TOY, [{"seed": 0}], samples=2, env_kwargs=HIGH, max_new_tokens=12)
    rows = token_rows(eps, [[1.0] * len(e.steps) for e in eps])
    with torch.no_grad():
        lps = policy.logprobs([r["observation"] for r in rows], [r["token_ids"] for r in rows])
    nll = float(-torch.cat(lps).mean())
    opt = torch.optim.SGD(policy.model.parameters(), lr=0.0)
    stats = policy_update(policy, opt, rows, minibatch=len(rows), grad_clip=0.0)
    assert "entropy" not in stats  # the mean sampled-token NLL is not an entropy
    assert stats["neg_logprob"] == pytest.approx(nll, rel=1e-4, abs=1e-5)
    assert "entropy" not in policy_update(policy, opt, [])


def test_nan_loss_stops_before_the_update(weak) -> None:
    import copy

    policy = copy.deepcopy(weak)
    eps = collect(policy, TOY, [{"seed": 0}], samples=2, env_kwargs=HIGH, max_new_tokens=12)
    rows = token_rows(eps, [[float("nan")] * len(e.steps) for e in eps])
    opt = torch.optim.AdamW(policy.model.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in policy.model.parameters()]
    with pytest.raises(NonFiniteLossError, match="last checkpoint is intact"):
        policy_update(policy, opt, rows)
    assert all(torch.equal(a, b) for a, b in zip(before, policy.model.parameters(), strict=True))


def test_grpo_resume_reproduces_and_saves_a_loadable_policy(tmp_path, weak) -> None:
    import copy

    from thinkgym.agents.llm import LLMPolicy

    def cfg(out):
        return GRPOConfig(
            env=TOY,
            env_kwargs=HIGH,
            out_dir=str(out),
            iterations=2,
            problems_per_iter=4,
            group_size=4,
            lr=1e-3,
            max_new_tokens=12,
            eval_every=1,
            eval_limit=10,
            save_every=1,
            device="cpu",
            advantages="step",
        )

    full = grpo(cfg(tmp_path / "a"), policy=copy.deepcopy(weak), progress=False, log=lambda s: None)
    grpo(
        cfg(tmp_path / "b"),
        policy=copy.deepcopy(weak),
        progress=False,
        log=lambda s: None,
        stop_at=1,
    )
    resumed = grpo(
        cfg(tmp_path / "b"), policy=copy.deepcopy(weak), progress=False, log=lambda s: None
    )

    def strip(h):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in h]

    assert strip(resumed) == strip(full)
    assert {"kl", "neg_logprob", "clip_frac", "reward", "mixed_groups"} <= set(full[-1])
    loaded = LLMPolicy.from_pretrained(tmp_path / "a" / "policy", device="cpu")
    assert loaded.propose(["Say: 123456"], 1, temperature=0)[0][0].text


def test_ppo_runs_and_bad_config(tmp_path, weak) -> None:
    import copy

    cfg = PPOConfig(
        env=TOY,
        env_kwargs=HIGH,
        out_dir=str(tmp_path / "p"),
        iterations=1,
        problems_per_iter=4,
        group_size=2,
        max_new_tokens=12,
        eval_limit=5,
        device="cpu",
    )
    hist = ppo(cfg, policy=copy.deepcopy(weak), progress=False, log=lambda s: None)
    assert "value_loss" in hist[-1] and math.isfinite(hist[-1]["value_loss"])
    assert (tmp_path / "p" / "policy" / "config.json").is_file()
    assert any((tmp_path / "p" / "checkpoints").glob("iter-*/critic.pt"))
    with pytest.raises(ValueError, match="advantages"):
        GRPOConfig(env=TOY, advantages="per-turn").validate()
    with pytest.raises(ValueError, match="unknown reward 'defualt'.*Did you mean 'default'"):
        GRPOConfig(env=TOY, reward="defualt").validate()
