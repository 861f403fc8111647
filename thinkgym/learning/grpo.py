"""Step-level GRPO for an :class:`~thinkgym.agents.llm.LLMPolicy` on any registered env.

One iteration, top to bottom:

1. **Rollouts**: ``problems_per_iter`` training problems (never evaluation problems), a group of
   ``group_size`` episodes each, sampled in lockstep by :func:`thinkgym.learning.rollout.collect`
   (token ids and behaviour log-probs kept). Problems come in a seeded order, or from the
   pass-rate curriculum (``curriculum="pass_rate"``: problems solved sometimes but not always
   first, :mod:`thinkgym.learning.curriculum`), optionally through a ``difficulty_schedule``
   that advances when the training pass rate passes ``schedule_threshold``. With
   ``dynamic_sampling`` (DAPO) a group whose returns are all equal carries no outcome signal:
   it is dropped and more problems are sampled until ``problems_per_iter`` groups carry signal
   or ``max_gen_batches`` batches were generated; the share dropped is ``frac_zero_std``.
2. **Advantages** (:func:`group_advantages`), one per step:

   * ``advantages="outcome"``: GRPO's group-relative advantage of the episode's return,
     ``(G_i - mean_g G) / std_g G``, on every token of the episode.
   * ``advantages="step"``: the step's reward (the env's per-step reward: invalid penalty, process
     reward, the outcome on the final step) is placed on the last token of its step; each token's
     credit is its return-to-go ``G_{i,t}`` minus a baseline of the *state* it acted from,
     ``V(s_{i,t})``, divided by the group's return std. ``V`` is a leave-one-out Monte-Carlo value
     from the group itself (the mean return-to-go of the *other* episodes of the group that passed
     through the same transcript; a state no other episode visited inherits its parent's value;
     the root's is the group mean, GRPO's baseline), or a process reward model's score of the
     state (``step_values=<reward name>``). A baseline that depends only on the state, never on
     the episode's own later actions, leaves the policy gradient unbiased whatever the episode's
     length; see docs/architecture.md for why the naive per-turn estimator is not.

   Advantages are divided by the group's return std (``scale_rewards="group"``), the batch's
   (``"batch"``) or not at all (``"none"``).
3. **Update**: ``epochs`` passes of minibatches of steps; per token the clipped surrogate
   ``min(rho A, clip(rho, 1 - clip_low, 1 + clip_high) A)`` with
   ``rho = pi(token) / behaviour(token)`` (both under the sampling temperature), plus
   ``kl_coef`` times the k3 estimate of ``KL(pi || pi_ref)`` against the frozen starting
   policy, minus an optional entropy bonus (``entropy_coef``; with ``entropy_target`` only while
   the entropy estimate is below it); the loss is averaged over tokens (``loss_agg="token"``)
   or per step first (``"sequence"``). Entropy estimate, KL, clip fractions (low/high), reward,
   pass rates and seconds per phase (rollout, update, evaluation) are logged per iteration.

Checkpoints (``out_dir/checkpoints/iter-NNNNNN``: weights, optimizer, RNG states, history) let a
killed run resume with the same curve; a NaN or infinite loss stops the run before the optimizer
step, leaving the last checkpoint intact. ``out_dir/policy`` is the final policy
(``LLMPolicy.from_pretrained`` loads it).
"""

from __future__ import annotations

import copy
import json
import math
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from thinkgym.learning.logging import log_metrics

__all__ = [
    "GRPOConfig",
    "grpo",
    "group_advantages",
    "token_rows",
    "policy_update",
    "NonFiniteLossError",
    "policy_gradient_loop",
    "resume_checkpoint",
    "filter_groups",
]

_CKPT_RE = re.compile(r"^iter-(\d+)$")
ADVANTAGES = ("outcome", "step")
CURRICULA = ("none", "pass_rate")
SCALES = ("group", "batch", "none")
LOSS_AGGS = ("token", "sequence")


from thinkgym.learning.errors import NonFiniteLossError  # noqa: E402  (re-exported)


@dataclass
class GRPOConfig:
    """Settings of a GRPO run (``thinkgym train grpo``)."""

    env: str = "thinkgym/Arithmetic-v0"
    """the task (a registered env id or its short name)"""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """keyword arguments of the env, e.g. ``{"difficulty": 1, "verify_steps": False}``"""
    out_dir: str = "runs/grpo"
    """run directory (checkpoints, history.json, curve.png, policy/)"""
    policy: str | None = None
    """starting policy directory (``None``: the shipped policy)"""
    reward: str = "default"
    """a registered reward name: the env's reward object (its ``process``/``outcome``)"""
    advantages: str = "outcome"
    """``outcome`` (one group-relative advantage per episode) or ``step`` (per-step)"""
    step_values: str = "group"
    """state values of ``step`` advantages: ``group`` (leave-one-out MC from the group) or a
    registered reward name whose ``process(state, step)`` scores the state after a step"""
    iterations: int = 40
    """rollout -> update iterations"""
    problems_per_iter: int = 16
    """training problems per iteration"""
    group_size: int = 8
    """episodes per problem"""
    temperature: float = 1.0
    """sampling temperature (ratios and KL are taken under the same tempered distribution)"""
    max_new_tokens: int = 48
    """longest step"""
    lr: float = 2e-5
    """AdamW learning rate (constant)"""
    clip: float = 0.2
    """surrogate clipping epsilon"""
    kl_coef: float = 0.02
    """weight of the k3 KL estimate to the frozen starting policy (``0``: no reference)"""
    epochs: int = 1
    """optimisation passes over each iteration's steps"""
    minibatch: int = 64
    """steps per minibatch"""
    grad_clip: float = 1.0
    """gradient-norm clip (``0``: none)"""
    eval_every: int = 5
    """held-out greedy pass@1 every this many iterations (and at start and end; ``0``: ends)"""
    eval_limit: int | None = 100
    """held-out problems evaluated (``None``: all)"""
    save_every: int = 5
    """checkpoint every this many iterations (and at the end)"""
    override: bool = False
    """resume even when the settings differ from the run's (refused otherwise)"""
    seed: int = 0
    """seed of problems, sampling and minibatch order"""
    device: str | None = None
    """``None``/``auto``, ``cpu``, ``cuda``"""
    dynamic_sampling: bool = False
    """drop groups whose returns are all equal (no outcome signal) and sample more problems
    until ``problems_per_iter`` groups carry signal or ``max_gen_batches`` is spent (DAPO)"""
    max_gen_batches: int = 4
    """cap on generation per iteration: at most this many batches of ``problems_per_iter``
    problems (with ``dynamic_sampling``; the batch trains on what it has when the cap is hit)"""
    curriculum: str = "none"
    """``none`` (problems in a seeded order) or ``pass_rate`` (sample a pool of
    ``curriculum_pool`` training problems by running pass rate ``p``, weight ``p(1-p) + floor``:
    problems solved sometimes but not always first)"""
    curriculum_pool: int = 512
    """training problems in the ``pass_rate`` curriculum's pool"""
    curriculum_floor: float = 0.02
    """weight added to every pool problem (keeps solved/unsolved ones reachable)"""
    difficulty_schedule: str | None = None
    """comma-separated ``difficulty`` values to train through (e.g. ``1,2,3``); evaluation
    stays on ``env_kwargs``' difficulty (``None``: train on ``env_kwargs`` only)"""
    schedule_threshold: float = 0.6
    """advance to the next difficulty when the training pass rate of the current one reaches this"""
    schedule_window: int = 256
    """training episodes the schedule's running pass rate is taken over"""
    clip_low: float | None = None
    """lower clip: ratios below ``1 - clip_low`` are clipped (``None``: ``clip``)"""
    clip_high: float | None = None
    """upper clip: ratios above ``1 + clip_high`` are clipped (``None``: ``clip``; DAPO: 0.28)"""
    scale_rewards: str = "group"
    """advantage scale: ``group`` (the group's return std), ``batch`` (the batch's) or ``none``"""
    loss_agg: str = "token"
    """loss aggregation in a minibatch: ``token`` (mean over all tokens) or ``sequence`` (mean
    over steps of each step's token mean)"""
    entropy_coef: float = 0.0
    """weight of an entropy bonus (the exact token entropy at the sampled positions)"""
    entropy_target: float | None = None
    """adaptive bonus: apply ``entropy_coef`` only while the sampled-token entropy estimate of
    the minibatch is below this many nats (``None``: always)"""
    eval_k: int = 0
    """also measure held-out pass@k with k samples at ``temperature`` (``0``: no)"""
    eval_k_every: int = 0
    """pass@k every this many iterations (and at start and end; ``0``: start and end only)"""

    def validate(self) -> None:
        """Check the settings; ``ValueError`` names the bad value and the choices."""
        from thinkgym.learning.expert_iteration import _unknown, resolve_env_id
        from thinkgym.rewards.registry import list_rewards

        self.env = resolve_env_id(self.env)
        if self.reward not in list_rewards():
            raise ValueError(_unknown("reward", self.reward, list_rewards()))
        if self.eval_limit is not None and self.eval_limit < 1:
            raise ValueError(f"eval_limit={self.eval_limit!r} must be >= 1 (or None: all)")
        if self.advantages not in ADVANTAGES:
            raise ValueError(_unknown("advantages", self.advantages, ADVANTAGES))
        if self.step_values != "group" and self.step_values not in list_rewards():
            raise ValueError(_unknown("step_values", self.step_values, ["group", *list_rewards()]))
        for name in ("iterations", "problems_per_iter", "epochs", "minibatch", "max_new_tokens"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r} must be >= 1")
        if self.group_size < 2:
            raise ValueError(
                f"group_size={self.group_size!r} must be >= 2 (advantages are relative)"
            )
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"temperature={self.temperature!r} must be > 0 (RL samples)")
        for name in ("lr", "clip"):
            v = float(getattr(self, name))
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name}={v!r} must be a finite number > 0")
        if not (math.isfinite(self.kl_coef) and self.kl_coef >= 0):
            raise ValueError(f"kl_coef={self.kl_coef!r} must be >= 0")
        if self.eval_every < 0 or self.save_every < 0:
            raise ValueError("eval_every and save_every must be >= 0")
        if self.max_gen_batches < 1:
            raise ValueError(f"max_gen_batches={self.max_gen_batches!r} must be >= 1")
        if self.curriculum not in CURRICULA:
            raise ValueError(_unknown("curriculum", self.curriculum, CURRICULA))
        if self.curriculum_pool < 1:
            raise ValueError(f"curriculum_pool={self.curriculum_pool!r} must be >= 1")
        if not (math.isfinite(self.curriculum_floor) and self.curriculum_floor > 0):
            raise ValueError(f"curriculum_floor={self.curriculum_floor!r} must be > 0")
        from thinkgym.learning.curriculum import parse_schedule

        parse_schedule(self.difficulty_schedule)
        if not 0 < self.schedule_threshold <= 1:
            raise ValueError(f"schedule_threshold={self.schedule_threshold!r} must be in (0, 1]")
        if self.schedule_window < 1:
            raise ValueError(f"schedule_window={self.schedule_window!r} must be >= 1")
        for name in ("clip_low", "clip_high"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name}={v!r} must be a finite number > 0 (or None: clip)")
        if self.clip_low is not None and self.clip_low >= 1:
            raise ValueError(f"clip_low={self.clip_low!r} must be < 1 (ratios are positive)")
        if self.scale_rewards not in SCALES:
            raise ValueError(_unknown("scale_rewards", self.scale_rewards, SCALES))
        if self.loss_agg not in LOSS_AGGS:
            raise ValueError(_unknown("loss_agg", self.loss_agg, LOSS_AGGS))
        if not (math.isfinite(self.entropy_coef) and self.entropy_coef >= 0):
            raise ValueError(f"entropy_coef={self.entropy_coef!r} must be >= 0")
        if self.entropy_target is not None and not (
            math.isfinite(self.entropy_target) and self.entropy_target > 0
        ):
            raise ValueError(f"entropy_target={self.entropy_target!r} must be > 0 nats (or None)")
        if self.eval_k < 0 or self.eval_k_every < 0:
            raise ValueError("eval_k and eval_k_every must be >= 0")


# ---------------------------------------------------------------------------- advantages
def _returns(ep: Any) -> list[float]:
    """Undiscounted return-to-go of each step of an episode (env rewards)."""
    out, acc = [], 0.0
    for s in reversed(ep.steps):
        acc += s.reward
        out.append(acc)
    return out[::-1]


def group_advantages(
    episodes: Sequence[Any],
    mode: str = "outcome",
    *,
    values: str = "group",
    eps: float = 1e-6,
    scale: str = "group",
) -> list[list[float]]:
    """One advantage per step of each episode (see the module docstring).

    Args:
        episodes: :class:`~thinkgym.learning.rollout.Episode` objects; a group is the episodes
            with the same ``index``.
        mode: ``"outcome"`` or ``"step"``.
        values: ``"group"`` (leave-one-out MC values from the group), or anything else: each
            step's ``process`` score is the value of the state after it.
        eps: added to the return std.
        scale: what the advantages are divided by: ``"group"`` (the group's return std, GRPO),
            ``"batch"`` (the std of all episodes' returns) or ``"none"`` (Dr. GRPO: unscaled).

    Returns:
        ``adv[e][t]``: the advantage of step ``t`` of ``episodes[e]``.
    """
    if mode not in ADVANTAGES:
        raise ValueError(f"mode={mode!r} is not one of {ADVANTAGES}")
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r} is not one of {SCALES}")
    groups: dict[int, list[int]] = {}
    for e, ep in enumerate(episodes):
        groups.setdefault(ep.index, []).append(e)
    rtg = [_returns(ep) for ep in episodes]
    adv: list[list[float]] = [[0.0] * len(ep.steps) for ep in episodes]
    batch_std = float(np.std([r[0] if r else 0.0 for r in rtg])) if rtg else 0.0
    for members in groups.values():
        root = np.array([rtg[e][0] if rtg[e] else 0.0 for e in members])
        mean, std = float(root.mean()), float(root.std())
        if scale == "group":
            div = std + eps if std > 0 else 1.0
        elif scale == "batch":
            div = batch_std + eps if batch_std > 0 else 1.0
        else:
            div = 1.0
        if mode == "outcome":
            for e, g in zip(members, root, strict=True):
                adv[e] = [(float(g) - mean) / div] * len(episodes[e].steps)
            continue
        visits: dict[str, list[tuple[int, float]]] = {}
        if values == "group":
            for e in members:
                for t, s in enumerate(episodes[e].steps):
                    visits.setdefault(s.observation, []).append((e, rtg[e][t]))
        for e in members:
            parent = mean
            for t, s in enumerate(episodes[e].steps):
                if t == 0:
                    base = mean
                elif values == "group":
                    others = [g for j, g in visits[s.observation] if j != e]
                    base = float(np.mean(others)) if others else parent
                else:
                    prev = episodes[e].steps[t - 1].process
                    base = float(prev) if prev is not None else parent
                adv[e][t] = (rtg[e][t] - base) / div
                parent = base
    return adv


def token_rows(episodes: Sequence[Any], adv: Sequence[Sequence[float]]) -> list[dict[str, Any]]:
    """Training rows, one per step with sampled tokens: observation, ids, behaviour, advantage."""
    rows = []
    for ep, a in zip(episodes, adv, strict=True):
        for s, v in zip(ep.steps, a, strict=True):
            if s.token_ids:
                rows.append(
                    {
                        "observation": s.observation,
                        "token_ids": tuple(s.token_ids),
                        "behavior": tuple(s.behavior_logprobs),
                        "advantage": float(v),
                    }
                )
    return rows


def _mixed_groups(episodes: Sequence[Any]) -> float:
    """Share of groups whose episodes' returns differ (only those carry an outcome signal)."""
    groups: dict[int, set[float]] = {}
    for ep in episodes:
        groups.setdefault(ep.index, set()).add(round(ep.total_reward, 9))
    return float(np.mean([len(g) > 1 for g in groups.values()])) if groups else 0.0


# ---------------------------------------------------------------------------- entropy
def token_entropies(
    policy: Any,
    observations: Sequence[str],
    token_ids: Sequence[Sequence[int]],
    *,
    temperature: float = 1.0,
) -> list[Any]:
    """Exact per-position entropies (nats, with autograd) of the policy's next-token distribution
    at each sampled token of each step, under ``softmax(logits / temperature)``.

    The encoding is :meth:`~thinkgym.agents.llm.LLMPolicy.logprobs`' (the policy's template,
    the prompt left-truncated to leave room for the step, right padding).
    """
    import torch

    tok = policy.tokenizer
    texts = [policy.template.render(o, tok) for o in observations]
    p_ids = tok(texts, add_special_tokens=policy.template.adds_special_tokens)["input_ids"]
    c_ids = [list(c) for c in token_ids]
    if policy.max_prompt_tokens is not None:
        cap = policy.max_prompt_tokens
    else:
        ctx = getattr(policy.model.config, "max_position_embeddings", None) or 2048
        cap = max(8, int(ctx) - max((len(c) for c in c_ids), default=1))
    p_ids = [p[-cap:] for p in p_ids]
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    out: list[Any] = []
    rows = policy.max_batch_rows
    for start in range(0, len(texts), rows):
        idx = range(start, min(start + rows, len(texts)))
        width = max(len(p_ids[r]) + len(c_ids[r]) for r in idx)
        ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for j, r in enumerate(idx):
            seq = p_ids[r] + c_ids[r]
            ids[j, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[j, : len(seq)] = 1
        logits = policy.model(
            input_ids=ids.to(policy.device), attention_mask=mask.to(policy.device)
        ).logits.float()
        for j, r in enumerate(idx):
            a, k = len(p_ids[r]), len(c_ids[r])
            lp = torch.log_softmax(logits[j, a - 1 : a - 1 + k] / (temperature or 1.0), dim=-1)
            out.append(-(lp.exp() * lp).sum(-1))
    return out


# ---------------------------------------------------------------------------- update
def policy_update(
    policy: Any,
    opt: Any,
    rows: Sequence[dict[str, Any]],
    *,
    ref: Any = None,
    ref_logprobs: Sequence[Any] | None = None,
    temperature: float = 1.0,
    clip: float = 0.2,
    kl_coef: float = 0.0,
    epochs: int = 1,
    minibatch: int = 64,
    grad_clip: float = 1.0,
    rng: np.random.Generator | None = None,
    clip_low: float | None = None,
    clip_high: float | None = None,
    loss_agg: str = "token",
    entropy_coef: float = 0.0,
    entropy_target: float | None = None,
) -> dict[str, float]:
    """Clipped-surrogate updates of ``policy.model`` on ``rows``.

    Per token the surrogate is ``min(rho A, clip(rho, 1 - clip_low, 1 + clip_high) A)``
    (asymmetric clipping; both default to ``clip``), plus ``kl_coef`` times the k3 KL to the
    reference, minus ``entropy_coef`` times the exact entropy of the next-token distribution at
    each sampled position (:func:`token_entropies`, one more forward pass per minibatch); with
    ``entropy_target`` the bonus acts only while the minibatch's entropy estimate
    ``-mean log pi`` (the sampled-token NLL) is below the target (adaptive entropy control).
    ``loss_agg="token"`` averages over all tokens of a minibatch (long steps weigh more),
    ``"sequence"`` averages each step's tokens first, then the steps.

    Returns:
        Means over the minibatches of ``loss``, ``kl`` (k3 estimate), ``neg_logprob`` (the mean
        negative log-prob of the sampled tokens under the policy before each step: the
        sampled-token NLL, an estimate of the per-token entropy, not the entropy itself),
        ``clip_frac`` (ratio outside ``[1 - clip_low, 1 + clip_high]``), ``clip_frac_low`` and
        ``clip_frac_high`` (tokens whose surrogate is clipped below / above: ``A < 0`` with a
        low ratio, ``A > 0`` with a high one), ``ratio``, ``entropy_bonus_on`` (share of
        minibatches where the bonus acted) and, when it acted, ``entropy`` (the exact mean
        token entropy of those minibatches).

    Raises:
        NonFiniteLossError: a minibatch's loss was NaN or infinite (no step was taken with it).
    """
    import torch

    lo = clip if clip_low is None else clip_low
    hi = clip if clip_high is None else clip_high
    if loss_agg not in LOSS_AGGS:
        raise ValueError(f"loss_agg={loss_agg!r} is not one of {LOSS_AGGS}")
    keys = (
        "loss",
        "kl",
        "neg_logprob",
        "clip_frac",
        "clip_frac_low",
        "clip_frac_high",
        "ratio",
        "entropy_bonus_on",
    )
    if not rows:
        return {k: (1.0 if k == "ratio" else 0.0) for k in keys}
    rng = rng or np.random.default_rng(0)
    if kl_coef > 0 and ref_logprobs is None:
        if ref is None:
            raise ValueError("kl_coef > 0 needs ref (a frozen policy) or ref_logprobs")
        ref_logprobs = ref.logprobs(
            [r["observation"] for r in rows],
            [r["token_ids"] for r in rows],
            temperature=temperature,
        )
    model = policy.model
    model.train()
    sums = dict.fromkeys(keys, 0.0)
    ent_sum, ent_batches = 0.0, 0
    batches = 0
    for _ in range(epochs):
        order = rng.permutation(len(rows))
        for start in range(0, len(order), minibatch):
            idx = [int(i) for i in order[start : start + minibatch]]
            new = policy.logprobs(
                [rows[i]["observation"] for i in idx],
                [rows[i]["token_ids"] for i in idx],
                grad=True,
                temperature=temperature,
            )
            new_t = torch.cat(new)
            old_t = torch.cat([torch.tensor(rows[i]["behavior"], dtype=torch.float32) for i in idx])
            old_t = old_t.to(new_t.device)
            adv_t = torch.cat(
                [torch.full((len(rows[i]["token_ids"]),), rows[i]["advantage"]) for i in idx]
            ).to(new_t.device)
            ratio = torch.exp(new_t - old_t)
            surrogate = torch.minimum(ratio * adv_t, ratio.clamp(1 - lo, 1 + hi) * adv_t)
            loss_tok = -surrogate
            kl = torch.zeros_like(new_t)
            if kl_coef > 0:
                ref_t = torch.cat([ref_logprobs[i] for i in idx]).to(new_t.device).detach()
                diff = ref_t - new_t
                kl = torch.exp(diff) - diff - 1  # k3: unbiased, non-negative
                loss_tok = loss_tok + kl_coef * kl
            entropy_est = float(-new_t.detach().mean())
            bonus_on = entropy_coef > 0 and (entropy_target is None or entropy_est < entropy_target)
            if bonus_on:
                ent_t = torch.cat(
                    token_entropies(
                        policy,
                        [rows[i]["observation"] for i in idx],
                        [rows[i]["token_ids"] for i in idx],
                        temperature=temperature,
                    )
                ).to(new_t.device)
                loss_tok = loss_tok - entropy_coef * ent_t
                ent_sum, ent_batches = ent_sum + float(ent_t.detach().mean()), ent_batches + 1
            if loss_agg == "token":
                loss = loss_tok.mean()
            else:
                sizes = [len(rows[i]["token_ids"]) for i in idx]
                loss = torch.stack([t.mean() for t in torch.split(loss_tok, sizes)]).mean()
            if not torch.isfinite(loss):
                opt.zero_grad(set_to_none=True)
                model.eval()
                raise NonFiniteLossError(
                    f"the loss is {float(loss.detach())} (ratio max {float(ratio.detach().max()):.3g}); the run "
                    "stopped before this update and the last checkpoint is intact: lower lr or "
                    "clip, or check the rewards for NaN/inf"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            opt.step()
            with torch.no_grad():
                sums["loss"] += float(loss)
                sums["kl"] += float(kl.mean())
                # sampled-token NLL: a Monte-Carlo estimate of the entropy (not the entropy)
                sums["neg_logprob"] += float(-new_t.mean())
                low = (ratio < 1 - lo) & (adv_t < 0)
                high = (ratio > 1 + hi) & (adv_t > 0)
                sums["clip_frac"] += float(((ratio < 1 - lo) | (ratio > 1 + hi)).float().mean())
                sums["clip_frac_low"] += float(low.float().mean())
                sums["clip_frac_high"] += float(high.float().mean())
                sums["ratio"] += float(ratio.mean())
                sums["entropy_bonus_on"] += float(bonus_on)
            batches += 1
    opt.zero_grad(set_to_none=True)
    model.eval()
    stats = {k: v / max(1, batches) for k, v in sums.items()}
    if ent_batches:
        stats["entropy"] = ent_sum / ent_batches
    return stats


# ---------------------------------------------------------------------------- checkpoints
KEEP_CHECKPOINTS = 2
"""Checkpoints kept per run: the newest and the one before, so a damaged newest one has an
intact one to fall back to."""

RESUMABLE_SETTINGS = (
    "device",
    "out_dir",
    "iterations",
    "eval_every",
    "eval_limit",
    "eval_k",
    "eval_k_every",
    "save_every",
    "override",
)
"""Settings that may change when a run resumes (the device, its length, how often it evaluates
and saves); any other change is refused unless ``override``."""


def iteration_checkpoints(out_dir: str | Path) -> list[Path]:
    """Every ``out_dir/checkpoints/iter-N`` directory, newest first (unchecked)."""
    root = Path(out_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), d) for d in root.iterdir() if (m := _CKPT_RE.match(d.name))]
    return [d for _, d in sorted(found, reverse=True) if d.is_dir()]


def latest_iteration_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete ``out_dir/checkpoints/iter-N`` (``None`` when none)."""
    for d in iteration_checkpoints(out_dir):
        if (d / "trainer_state.pt").is_file():
            return d
    return None


def check_resume_config(out: Path, cfg: Any, write: Callable[[str], None]) -> None:
    """Refuse to resume the run in ``out`` with other settings than its ``config.json``'s.

    Only a run with checkpoints is compared; :data:`RESUMABLE_SETTINGS` may change;
    ``cfg.override`` resumes anyway (with one line naming what changed).

    Raises:
        thinkgym.checkpoints.SettingsChangedError: a setting changed (named, with both values).
    """
    from thinkgym.checkpoints import CheckpointError, check_resume_settings, read_json

    path = out / "config.json"
    if not path.is_file() or not iteration_checkpoints(out):
        return
    try:
        saved = read_json(path)
    except CheckpointError as exc:
        write(f"[grpo] the run's settings are unreadable, not compared: {exc}")
        return
    now = json.loads(json.dumps(asdict(cfg)))
    differ = check_resume_settings(
        saved,
        now,
        source=str(out),
        ignore=RESUMABLE_SETTINGS,
        override=bool(getattr(cfg, "override", False)),
    )
    if differ:
        write(f"[grpo] override: resuming {out} with other settings {differ} (saved, now)")


def save_checkpoint(out: Path, it: int, policy: Any, opt: Any, state: dict[str, Any]) -> Path:
    """Write ``out/checkpoints/iter-N`` atomically (weights, optimizer, RNG, ``state``)."""
    import torch

    ckpt = out / "checkpoints" / f"iter-{it:06d}"
    tmp = ckpt.with_name(ckpt.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    policy.model.save_pretrained(str(tmp), safe_serialization=True)
    policy.tokenizer.save_pretrained(str(tmp))
    torch.save(
        {
            "step": it,
            "optimizer": opt.state_dict(),
            "rng": {"torch": torch.get_rng_state()},
            "state": json.dumps(state),
        },
        tmp / "trainer_state.pt",
    )
    if ckpt.exists():
        shutil.rmtree(ckpt)
    tmp.rename(ckpt)
    older = [d for d in iteration_checkpoints(out) if int(d.name.split("-")[1]) < it]
    for d in older[KEEP_CHECKPOINTS - 1 :]:  # the newest older one stays: a fallback
        shutil.rmtree(d, ignore_errors=True)
    return ckpt


def load_checkpoint(
    ckpt: Path, policy: Any, opt: Any, *, end: int | None = None
) -> tuple[int, dict[str, Any]]:
    """Restore weights, optimizer and RNG from ``ckpt``; returns (iteration, saved state).

    Every part is checked before anything is loaded: the state file (a corrupt, truncated or
    foreign one, a ``step`` beyond ``end`` or other than the directory's), the optimizer state
    (one entry per parameter, of the parameter's shape), the RNG state and the weights.

    Raises:
        thinkgym.checkpoints.CheckpointError: the checkpoint is unusable (the message names the
            file and why).
    """
    import torch

    from thinkgym.checkpoints import CheckpointError, load_trainer_state, load_weights

    path = ckpt / "trainer_state.pt"
    m = _CKPT_RE.match(ckpt.name)
    saved = load_trainer_state(
        path,
        required=("step", "optimizer", "rng", "state"),
        end=end,
        expect_step=int(m.group(1)) if m else None,
    )
    try:
        state = json.loads(saved["state"])
        if not isinstance(state, dict) or not isinstance(state.get("history"), list):
            raise ValueError("no history")
        rng = saved["rng"]["torch"]
        if not isinstance(rng, torch.Tensor) or rng.dtype != torch.uint8:
            raise ValueError("bad RNG state")
        optim = saved["optimizer"]
        groups = optim["param_groups"]
        if len(groups) != len(opt.param_groups):
            raise ValueError("the optimizer state belongs to another model")
        params = [p for g in opt.param_groups for p in g["params"]]
        ids = [i for g in groups for i in g["params"]]
        if len(ids) != len(params):
            raise ValueError("the optimizer state belongs to another model")
        shapes = {i: tuple(p.shape) for i, p in zip(ids, params, strict=True)}
        for i, entry in optim["state"].items():
            for key in ("exp_avg", "exp_avg_sq"):
                if key in entry and tuple(entry[key].shape) != shapes[i]:
                    raise ValueError(f"optimizer {key} of parameter {i} has the wrong shape")
    except (KeyError, TypeError, IndexError, ValueError, AttributeError) as exc:
        raise CheckpointError(
            f"{path}: corrupt trainer state ({type(exc).__name__}: {exc})"
        ) from None
    load_weights(policy.model, ckpt)  # checks names and shapes before copying
    try:
        opt.load_state_dict(optim)
        torch.set_rng_state(rng)
    except (KeyError, TypeError, IndexError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: unusable optimizer or RNG state ({exc})") from None
    return int(saved["step"]), state


def resume_checkpoint(
    out: Path, policy: Any, opt: Any, *, end: int, write: Callable[[str], None], name: str
) -> tuple[Path, int, dict[str, Any]] | None:
    """Restore the newest usable checkpoint of ``out`` (``None``: there is none).

    A damaged checkpoint (a corrupt ``trainer_state.pt``, a stray ``iter-N`` beyond ``end``)
    is set aside as ``iter-N.damaged`` with one line and the next older one is tried.

    Raises:
        thinkgym.checkpoints.CheckpointError: checkpoints exist and none is usable.
    """
    from thinkgym.checkpoints import restore_newest

    found = restore_newest(
        iteration_checkpoints(out),
        lambda c: load_checkpoint(c, policy, opt, end=end),
        write=write,
        tag=name,
    )
    if found is None:
        return None
    ckpt, (start, state) = found
    return ckpt, start, state


def load_start_policy(spec: Any, device: Any = None) -> Any:
    """The starting policy of ``spec`` (:func:`thinkgym.agents.registry.load_policy`: ``None``
    is the shipped one), checked to be trainable (an LLM policy)."""
    from thinkgym.agents.registry import load_trainable

    return load_trainable(spec, "GRPO/PPO", device=device)


def frozen_copy(policy: Any) -> Any:
    """A frozen copy of ``policy`` (same tokenizer and template): the KL reference."""
    from thinkgym.agents.llm import LLMPolicy

    model = copy.deepcopy(policy.model)
    for p in model.parameters():
        p.requires_grad_(False)
    return LLMPolicy(
        model,
        policy.tokenizer,
        template=policy.template,
        device=policy.device,
        max_batch_rows=policy.max_batch_rows,
    )


def plot_history(history: Sequence[dict[str, Any]], path: Path, title: str) -> bool:
    """Held-out greedy pass@1 (and pass@k where measured) and the share of training episodes
    solved per iteration into ``path``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ev = [(h["iteration"], 100 * h["pass@1"]) for h in history if "pass@1" in h]
    tr = [(h["iteration"], 100 * h["solved"]) for h in history if "solved" in h]
    ks = sorted(
        {k for h in history for k in h if k.startswith("pass@") and k != "pass@1"},
        key=lambda k: int(k.split("@")[1]),
    )
    if ev:
        ax.plot(*zip(*ev, strict=True), marker="o", label="held-out greedy pass@1")
    for key in ks:
        pts = [(h["iteration"], 100 * h[key]) for h in history if key in h]
        ax.plot(*zip(*pts, strict=True), marker="s", ls="--", label=f"held-out {key}")
    if tr:
        ax.plot(*zip(*tr, strict=True), alpha=0.6, label="training episodes solved")
    ax.set_xlabel("iteration")
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(str(path), dpi=120)
    plt.close(fig)
    return True


# ---------------------------------------------------------------------------- sampling
def _cfg(cfg: Any, name: str) -> Any:
    """A config field, or GRPOConfig's default for configs that lack it."""
    return getattr(cfg, name, getattr(GRPOConfig, name))


class _ProblemSource:
    """Where an iteration's training problems come from: a seeded order (a cursor that moves
    past every problem drawn) or the pass-rate curriculum, per difficulty stage if scheduled."""

    def __init__(self, cfg: Any) -> None:
        from thinkgym.learning.curriculum import DifficultySchedule, parse_schedule

        self.cfg = cfg
        self.cursor = 0
        stages = parse_schedule(_cfg(cfg, "difficulty_schedule"))
        self.schedule = (
            DifficultySchedule(
                stages,
                threshold=_cfg(cfg, "schedule_threshold"),
                window=_cfg(cfg, "schedule_window"),
            )
            if stages
            else None
        )
        self.sampler: Any = None
        self._sampler_stage = -1

    def env_kwargs(self, base: dict[str, Any]) -> dict[str, Any]:
        """The training env's kwargs now (the schedule's difficulty over ``base``)."""
        return self.schedule.env_kwargs(base) if self.schedule else dict(base)

    def _pool_sampler(self) -> Any:
        from thinkgym.learning.curriculum import PassRateSampler
        from thinkgym.learning.expert_iteration import train_problems

        stage = self.schedule.stage if self.schedule else 0
        if self.sampler is None or self._sampler_stage != stage:
            pool = train_problems(
                self.cfg.env,
                _cfg(self.cfg, "curriculum_pool"),
                seed=self.cfg.seed,
                env_kwargs=self.env_kwargs(self.cfg.env_kwargs),
            )
            self.sampler = PassRateSampler(pool, floor=_cfg(self.cfg, "curriculum_floor"))
            self._sampler_stage = stage
        return self.sampler

    def draw(self, n: int, rng: np.random.Generator) -> list[dict[str, Any]]:
        """``n`` training problems."""
        from thinkgym.learning.expert_iteration import train_problems

        if _cfg(self.cfg, "curriculum") == "pass_rate":
            return self._pool_sampler().sample(n, rng)
        problems = train_problems(
            self.cfg.env,
            n,
            seed=self.cfg.seed,
            offset=self.cursor,
            env_kwargs=self.env_kwargs(self.cfg.env_kwargs),
        )
        self.cursor += n
        return problems

    def record(self, problems: Sequence[dict[str, Any]], episodes: Sequence[Any]) -> None:
        """Fold one batch's verdicts into the curriculum and the schedule."""
        if _cfg(self.cfg, "curriculum") == "pass_rate":
            sampler = self._pool_sampler()
            for k, prob in enumerate(problems):
                sampler.update(prob, [ep.correct for ep in episodes if ep.index == k])
        if self.schedule is not None:
            self.schedule.record([ep.correct for ep in episodes])

    def summary(self) -> dict[str, Any]:
        """Log figures of the curriculum and schedule."""
        out: dict[str, Any] = {}
        if self.sampler is not None:
            out.update(self.sampler.summary())
        if self.schedule is not None:
            out["difficulty"] = self.schedule.value
            out["schedule_pass_rate"] = round(self.schedule.pass_rate(), 4)
        return out

    def state(self) -> dict[str, Any]:
        """JSON-able state for checkpoints."""
        return {
            "cursor": self.cursor,
            "schedule": self.schedule.state() if self.schedule else None,
            "sampler": self.sampler.state() if self.sampler is not None else None,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state`'s output."""
        self.cursor = int(state.get("cursor", 0))
        if self.schedule is not None and state.get("schedule"):
            self.schedule.load_state(state["schedule"])
        if state.get("sampler") is not None and _cfg(self.cfg, "curriculum") == "pass_rate":
            self._pool_sampler().load_state(state["sampler"])


def _group_returns(episodes: Sequence[Any]) -> dict[int, list[float]]:
    groups: dict[int, list[float]] = {}
    for ep in episodes:
        groups.setdefault(ep.index, []).append(round(ep.total_reward, 9))
    return groups


def filter_groups(episodes: Sequence[Any]) -> tuple[list[Any], int, int]:
    """Drop the groups whose episodes all have the same return (DAPO's dynamic sampling).

    Returns:
        (the episodes of the groups kept, groups seen, groups dropped).
    """
    groups = _group_returns(episodes)
    keep = {i for i, g in groups.items() if len(set(g)) > 1}
    return [ep for ep in episodes if ep.index in keep], len(groups), len(groups) - len(keep)


def _gather(
    cfg: Any,
    policy: Any,
    it: int,
    source: _ProblemSource,
    env_kwargs: dict[str, Any],
    step_reward: Any,
    collect: Callable[..., list[Any]],
) -> tuple[list[Any], dict[str, Any]]:
    """One iteration's episodes: a batch of groups, refilled by dynamic sampling when enabled.

    Without ``dynamic_sampling`` this is one batch of ``problems_per_iter`` groups. With it,
    zero-variance groups are dropped and more batches are generated until ``problems_per_iter``
    groups carry signal or ``max_gen_batches`` batches were generated; the surplus is cut.
    Episode ``index`` values are renumbered so that groups stay distinct across batches.
    """
    dynamic = bool(_cfg(cfg, "dynamic_sampling"))
    want = cfg.problems_per_iter
    cap = _cfg(cfg, "max_gen_batches") if dynamic else 1
    rng = np.random.default_rng([cfg.seed, it, 17])
    kept: list[Any] = []
    seen = dropped = generated = batches = 0
    solved: list[bool] = []
    mixed: list[bool] = []
    n_groups = 0
    while batches < cap and n_groups < want:
        problems = source.draw(want, rng)
        train_kwargs = source.env_kwargs(env_kwargs)
        eps = collect(
            policy,
            cfg.env,
            problems,
            samples=cfg.group_size,
            temperature=cfg.temperature,
            seed=cfg.seed * 100_003 + it + 7_919 * batches,
            max_new_tokens=cfg.max_new_tokens,
            env_kwargs=train_kwargs,
            step_reward=step_reward,
        )
        source.record(problems, eps)
        generated += len(eps)
        solved += [ep.correct for ep in eps]
        mixed += [len(set(g)) > 1 for g in _group_returns(eps).values()]
        if dynamic:
            eps, n_seen, n_dropped = filter_groups(eps)
            seen, dropped = seen + n_seen, dropped + n_dropped
        for ep in eps:
            ep.index += batches * want  # groups of different batches stay apart
        kept += eps
        n_groups = len({ep.index for ep in kept})
        batches += 1
    if n_groups > want:  # cut the surplus groups of the last batch
        first = sorted({ep.index for ep in kept})[:want]
        keep = set(first)
        kept = [ep for ep in kept if ep.index in keep]
    info: dict[str, Any] = {
        "solved": float(np.mean(solved)) if solved else 0.0,
        "mixed_groups": float(np.mean(mixed)) if mixed else 0.0,
        "gen_batches": batches,
        "episodes_generated": generated,
        "groups_trained": len({ep.index for ep in kept}),
    }
    if dynamic:
        info["frac_zero_std"] = dropped / seen if seen else 0.0
    info.update(source.summary())
    return kept, info


# ---------------------------------------------------------------------------- the loop
def grpo(
    cfg: GRPOConfig,
    *,
    policy: Any = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    stop_at: int | None = None,
) -> list[dict[str, Any]]:
    """Run (or resume) GRPO as configured; returns the history (one dict per iteration).

    Args:
        cfg: the settings (validated here).
        policy: a starting policy (default: ``cfg.policy``, the shipped one when ``None``).
        progress: a tqdm bar over iterations.
        log: one line per evaluation/checkpoint (default: ``tqdm.write``).
        stop_at: stop after this iteration (an interruption, for time-sliced jobs and tests).
    """
    return policy_gradient_loop(cfg, policy=policy, progress=progress, log=log, stop_at=stop_at)


def policy_gradient_loop(
    cfg: Any,
    *,
    policy: Any = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    stop_at: int | None = None,
    critic: Any = None,
    advantage_fn: Callable[..., list[list[float]]] | None = None,
    critic_update: Callable[..., dict[str, float]] | None = None,
    name: str = "grpo",
) -> list[dict[str, Any]]:
    """The rollout -> advantages -> clipped update loop shared by GRPO and PPO.

    GRPO calls it without hooks; PPO (:func:`thinkgym.learning.ppo.ppo`) passes all three.
    Resume, checkpoints (with the critic), evaluation and logging are the loop's.

    Args:
        cfg: a :class:`GRPOConfig` (or a subclass such as ``PPOConfig``), validated here.
        policy: the starting policy (default: ``cfg.policy``).
        progress: a tqdm bar over iterations.
        log: one line per evaluation/checkpoint (default: ``tqdm.write``).
        stop_at: stop after this iteration.
        critic: hook: an object with ``save(ckpt_dir)`` and ``load(ckpt_dir)``, saved with every
            checkpoint and restored on resume.
        advantage_fn: hook: ``advantage_fn(episodes) -> adv[e][t]``, one advantage per step of
            each episode (default: :func:`group_advantages` as configured).
        critic_update: hook: ``critic_update(episodes, rng) -> metrics``, called after the
            advantages and before the policy update; its metrics join the iteration's row.
        name: the run's name in log lines and the progress bar.

    Returns:
        The history, one dict per iteration.
    """
    import torch
    from tqdm.auto import tqdm

    from thinkgym.envs import make
    from thinkgym.envs.splits import eval_problems
    from thinkgym.learning.evaluation import pass_at, run_episodes
    from thinkgym.learning.rollout import collect
    from thinkgym.rewards.registry import make_reward

    cfg.validate()
    write = log or tqdm.write
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    check_resume_config(out, cfg, write)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2, sort_keys=True))
    if policy is None:
        policy = load_start_policy(cfg.policy, cfg.device)
    ref = frozen_copy(policy) if cfg.kl_coef > 0 else None
    opt = torch.optim.AdamW(policy.model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0)
    env_kwargs = dict(cfg.env_kwargs)
    env_kwargs["reward"] = make_reward(cfg.reward)
    step_reward = None
    if cfg.advantages == "step" and cfg.step_values != "group":
        step_reward = make_reward(cfg.step_values)
    make(cfg.env, **env_kwargs)  # fail early on bad env kwargs
    history: list[dict[str, Any]] = []
    start = 0
    resumed = resume_checkpoint(out, policy, opt, end=cfg.iterations, write=write, name=name)
    ckpt = resumed[0] if resumed is not None else None
    sampler = _ProblemSource(cfg)
    if resumed is not None:
        ckpt, start, state = resumed
        history = state["history"]
        if "sampler" in state:
            sampler.load_state(state["sampler"])
        if critic is not None and "critic" in state:
            critic.load(ckpt)
        write(f"[{name}] resumed from {ckpt} at iteration {start}")
    eval_probs = eval_problems(cfg.env, cfg.eval_limit, env_kwargs=cfg.env_kwargs)

    def evaluate(it: int) -> float:
        res = run_episodes(policy, cfg.env, eval_probs, env_kwargs=cfg.env_kwargs)
        return pass_at(res)

    def evaluate_k() -> float:
        res = run_episodes(
            policy,
            cfg.env,
            eval_probs,
            samples=cfg.eval_k,
            temperature=cfg.temperature,
            seed=cfg.seed,
            max_new_tokens=cfg.max_new_tokens,
            env_kwargs=cfg.env_kwargs,
        )
        return pass_at(res)

    if start == 0 and not history:
        history.append({"iteration": 0, "pass@1": evaluate(0)})
        if _cfg(cfg, "eval_k"):
            history[-1][f"pass@{cfg.eval_k}"] = evaluate_k()
        write(f"[{name}] iteration 0: " + json.dumps(history[-1]))
    end = cfg.iterations if stop_at is None else min(cfg.iterations, stop_at)
    bar = tqdm(total=cfg.iterations, initial=start, desc=name, disable=not progress)
    for it in range(start + 1, end + 1):
        t0 = time.perf_counter()
        # each iteration's rollouts start from an empty prefix cache: the sampled tokens never
        # depend on the cache, but its batching changes the last bits of the behaviour log-probs,
        # and a resumed run must reproduce the uninterrupted one exactly
        cache = getattr(policy, "prefix_cache", None)
        if cache is not None:
            cache.clear()
        episodes, sampling = _gather(cfg, policy, it, sampler, env_kwargs, step_reward, collect)
        t_roll = time.perf_counter()
        if advantage_fn is not None:
            adv = advantage_fn(episodes)
        else:
            adv = group_advantages(
                episodes, cfg.advantages, values=cfg.step_values, scale=_cfg(cfg, "scale_rewards")
            )
        rows = token_rows(episodes, adv)
        rng = np.random.default_rng([cfg.seed, it])
        row: dict[str, Any] = {
            "iteration": it,
            "reward": float(np.mean([ep.total_reward for ep in episodes])) if episodes else 0.0,
            "solved": sampling.pop("solved"),
            "mixed_groups": sampling.pop("mixed_groups"),
            "steps": len(rows),
            "tokens": int(sum(len(r["token_ids"]) for r in rows)),
            **sampling,
        }
        if critic_update is not None:
            row.update(critic_update(episodes, rng))
        row.update(
            policy_update(
                policy,
                opt,
                rows,
                ref=ref,
                temperature=cfg.temperature,
                clip=cfg.clip,
                kl_coef=cfg.kl_coef,
                epochs=cfg.epochs,
                minibatch=cfg.minibatch,
                grad_clip=cfg.grad_clip,
                rng=rng,
                clip_low=_cfg(cfg, "clip_low"),
                clip_high=_cfg(cfg, "clip_high"),
                loss_agg=_cfg(cfg, "loss_agg"),
                entropy_coef=_cfg(cfg, "entropy_coef"),
                entropy_target=_cfg(cfg, "entropy_target"),
            )
        )
        t_upd = time.perf_counter()
        if (cfg.eval_every and it % cfg.eval_every == 0) or it == cfg.iterations:
            row["pass@1"] = evaluate(it)
        k_every = _cfg(cfg, "eval_k_every")
        if _cfg(cfg, "eval_k") and ((k_every and it % k_every == 0) or it == cfg.iterations):
            row[f"pass@{cfg.eval_k}"] = evaluate_k()
        row["seconds_rollout"] = round(t_roll - t0, 2)
        row["seconds_update"] = round(t_upd - t_roll, 2)
        row["seconds_eval"] = round(time.perf_counter() - t_upd, 2)
        row["seconds"] = round(time.perf_counter() - t0, 2)
        history.append(row)
        log_metrics(it, row)  # `thinkgym train ... --log-dir`: JSON and TensorBoard
        bar.update(1)
        bar.set_postfix(reward=f"{row['reward']:.3f}", kl=f"{row['kl']:.4f}")
        if "pass@1" in row:
            write(f"[{name}] iteration {it}: " + json.dumps(row))
        if (cfg.save_every and it % cfg.save_every == 0) or it == end:
            state = {"history": history, "sampler": sampler.state()}
            if critic is not None:
                state["critic"] = True
            path = save_checkpoint(out, it, policy, opt, state)
            if critic is not None:
                critic.save(path)
        (out / "history.json").write_text(json.dumps(history, indent=1))
    bar.close()
    plot_history(history, out / "curve.png", f"{name}, {cfg.env} {cfg.env_kwargs}")
    if end == cfg.iterations:
        policy.save_pretrained(out / "policy")
    return history
