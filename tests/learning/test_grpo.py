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
        return [{k: v for k, v in r.items() if not k.startswith("seconds")} for r in h]

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


# ---------------------------------------------------------------------------- the levers
def _group(index, returns):
    return [_ep(index, [r], ["p"]) for r in returns]


def test_filter_groups_drops_only_zero_variance_groups() -> None:
    from thinkgym.learning.grpo import filter_groups

    eps = _group(0, [1, 0, 1]) + _group(1, [1, 1, 1]) + _group(2, [0, 0, 0]) + _group(3, [0, 1])
    kept, seen, dropped = filter_groups(eps)
    assert (seen, dropped) == (4, 2)
    assert sorted({e.index for e in kept}) == [0, 3] and len(kept) == 5


def _scripted_collect(batches):
    """A collect() stand-in: batch b gives group k the returns ``batches[b][k]``."""
    calls = []

    def collect(policy, env, problems, *, samples, **kw):
        returns = batches[len(calls)]
        calls.append(list(problems))
        out = []
        for k, _ in enumerate(problems):
            for j, r in enumerate(returns[k]):
                ep = _ep(k, [r], ["p"])
                ep.sample, ep.correct = j, bool(r)
                out.append(ep)
        return out

    return collect, calls


def test_dynamic_sampling_refills_the_batch_with_mixed_groups_and_logs_the_share() -> None:
    from thinkgym.learning.grpo import _gather, _ProblemSource

    cfg = GRPOConfig(env=TOY, env_kwargs=HIGH, problems_per_iter=4, group_size=2)
    cfg.dynamic_sampling, cfg.max_gen_batches = True, 5
    mixed, flat = [0, 1], [1, 1]
    collect, calls = _scripted_collect(
        [[mixed, flat, flat, mixed], [flat, mixed, mixed, mixed], [mixed] * 4]
    )
    eps, info = _gather(cfg, None, 1, _ProblemSource(cfg), {}, None, collect)
    assert len(calls) == 2  # the second batch filled the 4 slots; no third batch
    assert info["gen_batches"] == 2 and info["groups_trained"] == 4
    assert info["frac_zero_std"] == pytest.approx(3 / 8)
    assert info["episodes_generated"] == 16
    groups = {}
    for e in eps:
        groups.setdefault(e.index, set()).add(e.total_reward)
    assert len(groups) == 4 and all(len(g) == 2 for g in groups.values())
    assert calls[0] != calls[1]  # fresh problems in the refill

    # without dynamic sampling: one batch, flat groups kept, no share logged
    cfg.dynamic_sampling = False
    collect, calls = _scripted_collect([[mixed, flat, flat, mixed]])
    eps, info = _gather(cfg, None, 1, _ProblemSource(cfg), {}, None, collect)
    assert len(calls) == 1 and info["groups_trained"] == 4 and "frac_zero_std" not in info


def test_dynamic_sampling_stops_at_the_generation_cap() -> None:
    from thinkgym.learning.grpo import _gather, _ProblemSource

    cfg = GRPOConfig(env=TOY, env_kwargs=HIGH, problems_per_iter=2, group_size=2)
    cfg.dynamic_sampling, cfg.max_gen_batches = True, 3
    collect, calls = _scripted_collect([[[0, 0], [1, 1]]] * 10)
    eps, info = _gather(cfg, None, 1, _ProblemSource(cfg), {}, None, collect)
    assert len(calls) == 3 and eps == [] and info["frac_zero_std"] == 1.0


def test_scale_rewards_group_batch_none() -> None:
    eps = _group(0, [1, 0]) + _group(1, [2, 2, 0, 0])
    g = group_advantages(eps, "outcome", scale="group")
    b = group_advantages(eps, "outcome", scale="batch")
    n = group_advantages(eps, "outcome", scale="none")
    assert g[0][0] == pytest.approx(1.0, abs=1e-4) and g[2][0] == pytest.approx(1.0, abs=1e-4)
    assert n[0][0] == pytest.approx(0.5) and n[2][0] == pytest.approx(1.0)
    std = np.std([1, 0, 2, 2, 0, 0])
    assert b[0][0] == pytest.approx(0.5 / std, abs=1e-4) and b[2][0] == pytest.approx(
        1 / std, abs=1e-4
    )
    with pytest.raises(ValueError, match="scale"):
        group_advantages(eps, scale="rank")


def _rows_at_ratio(policy, ratio, advantages, lengths=None):
    """Rows whose behaviour log-probs make pi/behaviour equal ``ratio`` on every token."""
    eps = collect(
        policy, TOY, [{"seed": 0}, {"seed": 1}], samples=2, env_kwargs=HIGH, max_new_tokens=12
    )
    rows = token_rows(eps, [[a] * len(e.steps) for e, a in zip(eps, advantages, strict=True)])
    if lengths is not None:
        for r, n in zip(rows, lengths, strict=True):
            r["token_ids"] = r["token_ids"][:n]
    with torch.no_grad():
        lps = policy.logprobs([r["observation"] for r in rows], [r["token_ids"] for r in rows])
    for r, lp in zip(rows, lps, strict=True):
        r["behavior"] = tuple(float(x) - math.log(ratio) for x in lp)
    return rows


def test_asymmetric_clipping_clips_high_ratios_only_past_clip_high(weak) -> None:
    import copy

    policy = copy.deepcopy(weak)
    opt = torch.optim.SGD(policy.model.parameters(), lr=0.0)
    rows = _rows_at_ratio(policy, 1.25, [1.0, 1.0, -1.0, -1.0])
    pos = sum(len(r["token_ids"]) for r in rows if r["advantage"] > 0)
    share = pos / sum(len(r["token_ids"]) for r in rows)
    tight = policy_update(policy, opt, rows, minibatch=64, clip=0.2, grad_clip=0.0)
    loose = policy_update(
        policy, opt, rows, minibatch=64, clip_low=0.2, clip_high=0.28, grad_clip=0.0
    )
    assert tight["clip_frac_high"] == pytest.approx(share, abs=1e-5)
    assert loose["clip_frac_high"] == 0.0 and loose["clip_frac"] == 0.0
    assert tight["clip_frac_low"] == loose["clip_frac_low"] == 0.0  # ratio 1.25 is never low
    low = policy_update(
        policy, opt, _rows_at_ratio(policy, 0.7, [1.0, 1.0, -1.0, -1.0]), minibatch=64, clip_low=0.2
    )
    assert low["clip_frac_low"] > 0 and low["clip_frac_high"] == 0.0


def test_loss_aggregation_token_against_sequence(weak) -> None:
    import copy

    policy = copy.deepcopy(weak)
    opt = torch.optim.SGD(policy.model.parameters(), lr=0.0)
    rows = _rows_at_ratio(policy, 1.0, [1.0, 0.0, 0.0, 0.0])
    sizes = [len(r["token_ids"]) for r in rows]
    adv = [r["advantage"] for r in rows]
    tok = policy_update(policy, opt, rows, minibatch=64, loss_agg="token", grad_clip=0.0)
    seq = policy_update(policy, opt, rows, minibatch=64, loss_agg="sequence", grad_clip=0.0)
    # ratio 1: the loss is minus the mean advantage, over tokens or over steps
    assert tok["loss"] == pytest.approx(-np.dot(sizes, adv) / sum(sizes), abs=1e-4)
    assert seq["loss"] == pytest.approx(-np.mean(adv), abs=1e-4)
    with pytest.raises(ValueError, match="loss_agg"):
        policy_update(policy, opt, rows, loss_agg="episode")


def test_entropy_bonus_raises_entropy_and_the_adaptive_one_acts_only_below_target(weak) -> None:
    import copy

    policy = copy.deepcopy(weak)
    rows = _rows_at_ratio(policy, 1.0, [0.0, 0.0, 0.0, 0.0])  # no reward signal at all
    opt = torch.optim.SGD(policy.model.parameters(), lr=0.0)
    est = policy_update(policy, opt, rows, minibatch=64)["neg_logprob"]
    off = policy_update(policy, opt, rows, minibatch=64, entropy_coef=1.0, entropy_target=est / 2)
    on = policy_update(policy, opt, rows, minibatch=64, entropy_coef=1.0, entropy_target=est * 2)
    assert off["entropy_bonus_on"] == 0.0 and on["entropy_bonus_on"] == 1.0

    def entropy(p):
        with torch.no_grad():
            ids = p.tokenizer(p.template.render("Say: 123456", p.tokenizer))["input_ids"]
            ids = ids + p.tokenizer("Answer: ", add_special_tokens=False)["input_ids"]
            logits = p.model(input_ids=torch.tensor([ids])).logits[0, -1]
            lp = torch.log_softmax(logits, -1)
            return float(-(lp.exp() * lp).sum())

    before = entropy(policy)
    opt = torch.optim.AdamW(policy.model.parameters(), lr=3e-3)
    for i in range(6):
        fresh = _rows_at_ratio(policy, 1.0, [0.0, 0.0, 0.0, 0.0])
        policy_update(
            policy, opt, fresh, minibatch=64, entropy_coef=1.0, rng=np.random.default_rng(i)
        )
    assert entropy(policy) > before + 0.05, (before, entropy(policy))


def test_grpo_with_every_lever_records_its_choices(tmp_path, weak) -> None:
    import copy
    import json

    cfg = GRPOConfig(
        env=TOY,
        env_kwargs=HIGH,
        out_dir=str(tmp_path / "g"),
        iterations=2,
        problems_per_iter=4,
        group_size=4,
        max_new_tokens=12,
        eval_limit=5,
        eval_k=2,
        device="cpu",
        dynamic_sampling=True,
        max_gen_batches=2,
        curriculum="pass_rate",
        curriculum_pool=16,
        difficulty_schedule="1,2",
        schedule_window=4,
        schedule_threshold=0.01,
        clip_high=0.28,
        scale_rewards="none",
        loss_agg="sequence",
        entropy_coef=0.01,
        entropy_target=1.0,
    )
    hist = grpo(cfg, policy=copy.deepcopy(weak), progress=False, log=lambda s: None)
    saved = json.loads((tmp_path / "g" / "config.json").read_text())
    assert saved["dynamic_sampling"] is True and saved["curriculum"] == "pass_rate"
    assert saved["clip_high"] == 0.28 and saved["loss_agg"] == "sequence"
    last = hist[-1]
    for key in (
        "frac_zero_std",
        "gen_batches",
        "curriculum_tried",
        "difficulty",
        "clip_frac_high",
        "entropy_bonus_on",
        "seconds_rollout",
        "seconds_update",
        "pass@2",
    ):
        assert key in last, key
    assert hist[-1]["difficulty"] == 2  # the schedule advanced past its (tiny) threshold
    assert "pass@2" in hist[0]


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("curriculum", "easy", "curriculum"),
        ("scale_rewards", "rank", "scale_rewards"),
        ("loss_agg", "episode", "loss_agg"),
        ("clip_low", 1.5, "clip_low"),
        ("clip_high", -0.1, "clip_high"),
        ("max_gen_batches", 0, "max_gen_batches"),
        ("entropy_target", 0.0, "entropy_target"),
        ("difficulty_schedule", "1,x", "not an integer"),
    ],
)
def test_bad_lever_values_are_refused_by_name(field, value, match) -> None:
    cfg = GRPOConfig(env=TOY)
    setattr(cfg, field, value)
    with pytest.raises(ValueError, match=match):
        cfg.validate()


def test_command_line_takes_the_levers() -> None:
    import argparse

    from thinkgym.commands._rl import config_from_rl_args
    from thinkgym.commands.train_grpo import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--env", "Arithmetic", "--dynamic-sampling", "--max-gen-batches", "3"]
        + ["--curriculum", "pass_rate", "--clip-low", "0.2", "--clip-high", "0.28"]
        + ["--scale-rewards", "none", "--loss-agg", "sequence", "--entropy-coef", "0.01"]
        + ["--entropy-target", "0.3", "--difficulty-schedule", "1,2,3", "--eval-k", "8"]
    )
    cfg = config_from_rl_args(args, GRPOConfig)
    assert cfg.dynamic_sampling and cfg.max_gen_batches == 3 and cfg.curriculum == "pass_rate"
    assert (cfg.clip_low, cfg.clip_high, cfg.scale_rewards) == (0.2, 0.28, "none")
    assert (cfg.loss_agg, cfg.entropy_coef, cfg.entropy_target) == ("sequence", 0.01, 0.3)
    assert cfg.difficulty_schedule == "1,2,3" and cfg.eval_k == 8
