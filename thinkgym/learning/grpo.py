"""Step-level GRPO for an :class:`~thinkgym.agents.llm.LLMPolicy` on any registered env.

One iteration, top to bottom:

1. **Rollouts**: ``problems_per_iter`` training problems (never evaluation problems), a group of
   ``group_size`` episodes each, sampled in lockstep by :func:`thinkgym.learning.rollout.collect`
   (token ids and behaviour log-probs kept).
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
     length; see docs/notes/learning.md for why the naive per-turn estimator is not.

3. **Update**: ``epochs`` passes of minibatches of steps; per token the clipped surrogate
   ``min(rho A, clip(rho, 1 - eps, 1 + eps) A)`` with ``rho = pi(token) / behaviour(token)``
   (both under the sampling temperature), plus ``kl_coef`` times the k3 estimate of
   ``KL(pi || pi_ref)`` against the frozen starting policy; the loss is averaged over tokens.
   Entropy (sample estimate ``-mean log pi``), KL, clip fraction and reward are logged.

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
]

_CKPT_RE = re.compile(r"^iter-(\d+)$")
ADVANTAGES = ("outcome", "step")


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

    def validate(self) -> None:
        """Check the settings; ``ValueError`` names the bad value and the choices."""
        from thinkgym.learning.expert_iteration import _unknown, resolve_env_id
        from thinkgym.rewards.registry import list_rewards

        self.env = resolve_env_id(self.env)
        if self.reward not in list_rewards():
            raise ValueError(_unknown("reward", self.reward, list_rewards()))
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


# ---------------------------------------------------------------------------- advantages
def _returns(ep: Any) -> list[float]:
    """Undiscounted return-to-go of each step of an episode (env rewards)."""
    out, acc = [], 0.0
    for s in reversed(ep.steps):
        acc += s.reward
        out.append(acc)
    return out[::-1]


def group_advantages(
    episodes: Sequence[Any], mode: str = "outcome", *, values: str = "group", eps: float = 1e-6
) -> list[list[float]]:
    """One advantage per step of each episode (see the module docstring).

    Args:
        episodes: :class:`~thinkgym.learning.rollout.Episode` objects; a group is the episodes
            with the same ``index``.
        mode: ``"outcome"`` or ``"step"``.
        values: ``"group"`` (leave-one-out MC values from the group), or anything else: each
            step's ``process`` score is the value of the state after it.
        eps: added to the group's return std.

    Returns:
        ``adv[e][t]``: the advantage of step ``t`` of ``episodes[e]``.
    """
    if mode not in ADVANTAGES:
        raise ValueError(f"mode={mode!r} is not one of {ADVANTAGES}")
    groups: dict[int, list[int]] = {}
    for e, ep in enumerate(episodes):
        groups.setdefault(ep.index, []).append(e)
    rtg = [_returns(ep) for ep in episodes]
    adv: list[list[float]] = [[0.0] * len(ep.steps) for ep in episodes]
    for members in groups.values():
        root = np.array([rtg[e][0] if rtg[e] else 0.0 for e in members])
        mean, std = float(root.mean()), float(root.std())
        scale = std + eps if std > 0 else 1.0
        if mode == "outcome":
            for e, g in zip(members, root, strict=True):
                adv[e] = [(float(g) - mean) / scale] * len(episodes[e].steps)
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
                adv[e][t] = (rtg[e][t] - base) / scale
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
) -> dict[str, float]:
    """Clipped-surrogate updates of ``policy.model`` on ``rows`` (token-averaged loss).

    Returns:
        Means over the minibatches of ``loss``, ``kl`` (k3 estimate), ``neg_logprob`` (the mean
        negative log-prob of the sampled tokens under the policy before each step: the
        sampled-token NLL, an estimate of the per-token entropy, not the entropy itself),
        ``clip_frac`` and ``ratio``.

    Raises:
        NonFiniteLossError: a minibatch's loss was NaN or infinite (no step was taken with it).
    """
    import torch

    if not rows:
        return {"loss": 0.0, "kl": 0.0, "neg_logprob": 0.0, "clip_frac": 0.0, "ratio": 1.0}
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
    sums = {"loss": 0.0, "kl": 0.0, "neg_logprob": 0.0, "clip_frac": 0.0, "ratio": 0.0}
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
            surrogate = torch.minimum(ratio * adv_t, ratio.clamp(1 - clip, 1 + clip) * adv_t)
            loss_tok = -surrogate
            kl = torch.zeros_like(new_t)
            if kl_coef > 0:
                ref_t = torch.cat([ref_logprobs[i] for i in idx]).to(new_t.device).detach()
                diff = ref_t - new_t
                kl = torch.exp(diff) - diff - 1  # k3: unbiased, non-negative
                loss_tok = loss_tok + kl_coef * kl
            loss = loss_tok.mean()
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
                sums["clip_frac"] += float(((ratio - 1).abs() > clip).float().mean())
                sums["ratio"] += float(ratio.mean())
            batches += 1
    opt.zero_grad(set_to_none=True)
    model.eval()
    return {k: v / max(1, batches) for k, v in sums.items()}


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
    from thinkgym.agents.registry import load_policy, require_trainable

    return require_trainable(load_policy(spec, device=device), spec, "GRPO/PPO")


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
    """Held-out pass@1 and mean training reward per iteration into ``path``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ev = [(h["iteration"], 100 * h["pass@1"]) for h in history if "pass@1" in h]
    tr = [(h["iteration"], 100 * h["solved"]) for h in history if "solved" in h]
    if ev:
        ax.plot(*zip(*ev, strict=True), marker="o", label="held-out greedy pass@1")
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
    from thinkgym.learning.expert_iteration import train_problems
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
    if resumed is not None:
        ckpt, start, state = resumed
        history = state["history"]
        if critic is not None and "critic" in state:
            critic.load(ckpt)
        write(f"[{name}] resumed from {ckpt} at iteration {start}")
    eval_probs = eval_problems(cfg.env, cfg.eval_limit, env_kwargs=cfg.env_kwargs)

    def evaluate(it: int) -> float:
        res = run_episodes(policy, cfg.env, eval_probs, env_kwargs=cfg.env_kwargs)
        return pass_at(res)

    if start == 0 and not history:
        history.append({"iteration": 0, "pass@1": evaluate(0)})
        write(f"[{name}] iteration 0: " + json.dumps(history[-1]))
    end = cfg.iterations if stop_at is None else min(cfg.iterations, stop_at)
    bar = tqdm(total=cfg.iterations, initial=start, desc=name, disable=not progress)
    for it in range(start + 1, end + 1):
        t0 = time.perf_counter()
        problems = train_problems(
            cfg.env,
            cfg.problems_per_iter,
            seed=cfg.seed,
            offset=(it - 1) * cfg.problems_per_iter,
            env_kwargs=cfg.env_kwargs,
        )
        episodes = collect(
            policy,
            cfg.env,
            problems,
            samples=cfg.group_size,
            temperature=cfg.temperature,
            seed=cfg.seed * 100_003 + it,
            max_new_tokens=cfg.max_new_tokens,
            env_kwargs=env_kwargs,
            step_reward=step_reward,
        )
        if advantage_fn is not None:
            adv = advantage_fn(episodes)
        else:
            adv = group_advantages(episodes, cfg.advantages, values=cfg.step_values)
        rows = token_rows(episodes, adv)
        rng = np.random.default_rng([cfg.seed, it])
        row: dict[str, Any] = {
            "iteration": it,
            "reward": float(np.mean([ep.total_reward for ep in episodes])),
            "solved": float(np.mean([ep.correct for ep in episodes])),
            "mixed_groups": _mixed_groups(episodes),
            "steps": len(rows),
            "tokens": int(sum(len(r["token_ids"]) for r in rows)),
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
            )
        )
        if (cfg.eval_every and it % cfg.eval_every == 0) or it == cfg.iterations:
            row["pass@1"] = evaluate(it)
        row["seconds"] = round(time.perf_counter() - t0, 2)
        history.append(row)
        log_metrics(it, row)  # `thinkgym train ... --log-dir`: JSON and TensorBoard
        bar.update(1)
        bar.set_postfix(reward=f"{row['reward']:.3f}", kl=f"{row['kl']:.4f}")
        if "pass@1" in row:
            write(f"[{name}] iteration {it}: " + json.dumps(row))
        if (cfg.save_every and it % cfg.save_every == 0) or it == end:
            state = {"history": history}
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
