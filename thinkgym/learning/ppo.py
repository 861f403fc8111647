"""Step-level PPO for an :class:`~thinkgym.agents.llm.LLMPolicy`: a value head, GAE over steps.

The MDP is the env's: a state is the transcript, an action is one step (a line of tokens). One
iteration, top to bottom:

1. **Rollouts** with :func:`thinkgym.learning.rollout.collect` (``group_size`` episodes per
   training problem; 1 is fine: PPO needs no group).
2. **Values**: a critic, a copy of the policy's network with a scalar head on the last prompt
   token, scores the state each step acted from. ``V`` of a finished episode's end is 0; a
   truncated episode bootstraps from the value of its last transcript.
3. **GAE over steps**: ``delta_t = r_t + gamma V(s_{t+1}) - V(s_t)`` with the env's per-step
   rewards; ``A_t = sum_k (gamma lambda)^k delta_{t+k}``, normalised over the batch, and given to
   every token of step ``t`` (the step's reward sits on its last token; the return-to-go of each of
   its tokens is the same). The critic regresses ``A_t + V(s_t)``.
4. **Update**: the clipped surrogate against the behaviour log-probs and the KL to the frozen
   starting policy, exactly as :mod:`thinkgym.learning.grpo`: PPO runs GRPO's public loop
   (:func:`~thinkgym.learning.grpo.policy_gradient_loop`) with its three hooks: the critic (saved
   with each checkpoint), GAE advantages and the critic's regression (``vf_epochs`` passes).

Checkpoints hold the critic and its optimizer beside the policy's; resume and the NaN stop work as
in GRPO; ``out_dir/policy`` is the final policy.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from thinkgym.learning.errors import NonFiniteLossError
from thinkgym.learning.grpo import GRPOConfig, policy_gradient_loop

__all__ = ["PPOConfig", "ppo", "Critic", "gae"]


@dataclass
class PPOConfig(GRPOConfig):
    """Settings of a PPO run (``thinkgym train ppo``); GRPO's, plus the critic's."""

    out_dir: str = "runs/ppo"
    """run directory (checkpoints, history.json, curve.png, policy/)"""
    group_size: int = 4
    """episodes per problem (any >= 1)"""
    gamma: float = 1.0
    """discount per step"""
    lam: float = 0.95
    """GAE lambda"""
    vf_lr: float = 1e-4
    """critic learning rate"""
    vf_epochs: int = 2
    """critic regression passes per iteration"""

    def validate(self) -> None:
        """GRPO's checks (a group of 1 allowed) and the critic's."""
        size = self.group_size
        self.group_size = max(2, size)
        try:
            super().validate()
        finally:
            self.group_size = size
        if size < 1:
            raise ValueError(f"group_size={size!r} must be >= 1")
        for name in ("gamma", "lam"):
            v = float(getattr(self, name))
            if not (math.isfinite(v) and 0 <= v <= 1):
                raise ValueError(f"{name}={v!r} must be in [0, 1]")
        if not (math.isfinite(self.vf_lr) and self.vf_lr > 0):
            raise ValueError(f"vf_lr={self.vf_lr!r} must be > 0")
        if self.vf_epochs < 1:
            raise ValueError(
                f"vf_epochs={self.vf_epochs!r} must be >= 1 (the critic is trained every "
                "iteration; GRPO needs none)"
            )


class Critic:
    """State values from a copy of the policy's network with a scalar head.

    Args:
        policy: the :class:`~thinkgym.agents.llm.LLMPolicy` whose network, tokenizer and template
            the critic copies (the prompt encoding is the policy's).
        lr: AdamW learning rate of the critic.
    """

    def __init__(self, policy: Any, lr: float = 1e-4) -> None:
        import torch

        self.policy = policy
        self.model = copy.deepcopy(policy.model)
        hidden = int(self.model.config.hidden_size)
        self.head = torch.nn.Linear(hidden, 1).to(policy.device)
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)
        params = list(self.model.parameters()) + list(self.head.parameters())
        self.opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=0)

    def values(self, observations: Sequence[str], *, grad: bool = False) -> Any:
        """``V(s)`` of each transcript (a 1-D tensor)."""
        import torch

        pol = self.policy
        tok = pol.tokenizer
        texts = [pol.template.render(o, tok) for o in observations]
        ids = tok(texts, add_special_tokens=pol.template.adds_special_tokens)["input_ids"]
        cap = pol._prompt_cap(1)
        ids = [i[-cap:] for i in ids]
        out = []
        ctx = torch.enable_grad() if grad else torch.no_grad()
        with ctx:
            for start in range(0, len(ids), pol.max_batch_rows):
                chunk = ids[start : start + pol.max_batch_rows]
                width = max(len(c) for c in chunk)
                x = torch.full((len(chunk), width), tok.pad_token_id or 0, dtype=torch.long)
                mask = torch.zeros_like(x)
                for j, c in enumerate(chunk):
                    x[j, : len(c)] = torch.tensor(c)
                    mask[j, : len(c)] = 1
                x, mask = x.to(pol.device), mask.to(pol.device)
                h = self.model(input_ids=x, attention_mask=mask, output_hidden_states=True)
                last = h.hidden_states[-1]  # (B, T, H)
                end = mask.sum(1) - 1
                pooled = last[torch.arange(len(chunk), device=x.device), end]
                out.append(self.head(pooled.float()).squeeze(-1))
        return torch.cat(out) if out else torch.zeros(0)

    def update(
        self,
        observations: Sequence[str],
        targets: Sequence[float],
        *,
        epochs: int,
        minibatch: int,
        rng: np.random.Generator,
        grad_clip: float = 1.0,
    ) -> dict[str, float]:
        """Regress ``V`` on ``targets``; returns the mean squared error of the last pass."""
        import torch

        if not observations or epochs == 0:
            return {"value_loss": 0.0}
        self.model.train()
        y = torch.tensor(list(targets), dtype=torch.float32)
        last = 0.0
        for _ in range(epochs):
            order = rng.permutation(len(observations))
            losses = []
            for start in range(0, len(order), minibatch):
                idx = [int(i) for i in order[start : start + minibatch]]
                v = self.values([observations[i] for i in idx], grad=True)
                loss = torch.nn.functional.mse_loss(v, y[idx].to(v.device))
                if not torch.isfinite(loss):
                    self.model.eval()
                    raise NonFiniteLossError(
                        f"the critic loss is {float(loss.detach())}; the run stopped and the last "
                        "checkpoint is intact: lower vf_lr or check the rewards"
                    )
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                if grad_clip:
                    params = list(self.model.parameters()) + list(self.head.parameters())
                    torch.nn.utils.clip_grad_norm_(params, grad_clip)
                self.opt.step()
                losses.append(float(loss.detach()))
            last = float(np.mean(losses))
        self.opt.zero_grad(set_to_none=True)
        self.model.eval()
        return {"value_loss": last}

    def save(self, ckpt: Path) -> None:
        """Write ``ckpt/critic.pt`` (network, head, optimizer)."""
        import torch

        torch.save(
            {
                "model": self.model.state_dict(),
                "head": self.head.state_dict(),
                "opt": self.opt.state_dict(),
            },
            Path(ckpt) / "critic.pt",
        )

    def load(self, ckpt: Path) -> None:
        """Read ``ckpt/critic.pt``."""
        import torch

        state = torch.load(Path(ckpt) / "critic.pt", map_location="cpu", weights_only=True)
        self.model.load_state_dict(state["model"])
        self.head.load_state_dict(state["head"])
        self.opt.load_state_dict(state["opt"])


def gae(
    rewards: Sequence[float], values: Sequence[float], last_value: float, gamma: float, lam: float
) -> list[float]:
    """Generalised advantage estimates of one episode's steps (``last_value``: V after it)."""
    adv = [0.0] * len(rewards)
    acc = 0.0
    for t in reversed(range(len(rewards))):
        nxt = values[t + 1] if t + 1 < len(values) else last_value
        delta = rewards[t] + gamma * nxt - values[t]
        acc = delta + gamma * lam * acc
        adv[t] = acc
    return adv


def ppo(
    cfg: PPOConfig,
    *,
    policy: Any = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    stop_at: int | None = None,
) -> list[dict[str, Any]]:
    """Run (or resume) PPO as configured; returns the history (one dict per iteration).

    Args:
        cfg: the settings (validated here).
        policy: a starting policy (default: ``cfg.policy``, the shipped one when ``None``).
        progress: a tqdm bar over iterations.
        log: one line per evaluation/checkpoint (default: ``tqdm.write``).
        stop_at: stop after this iteration (an interruption, for time-sliced jobs and tests).
    """
    from thinkgym.learning.grpo import load_start_policy

    cfg.validate()
    if policy is None:
        policy = load_start_policy(cfg.policy, cfg.device)
    from thinkgym.envs import make

    critic = Critic(policy, lr=cfg.vf_lr)
    env = make(cfg.env, **cfg.env_kwargs).unwrapped  # transcripts of truncated episodes
    pending: dict[str, Any] = {}

    def advantages(episodes: Sequence[Any]) -> list[list[float]]:
        obs = [s.observation for ep in episodes for s in ep.steps]
        v_all = critic.values(obs).tolist() if obs else []
        boot_obs = [env.transcript(ep.final_state) for ep in episodes if ep.truncated]
        v_boot = critic.values(boot_obs).tolist() if boot_obs else []
        out, targets, k, b = [], [], 0, 0
        for ep in episodes:
            vals = v_all[k : k + len(ep.steps)]
            k += len(ep.steps)
            last = 0.0
            if ep.truncated:
                last, b = v_boot[b], b + 1
            a = gae([s.reward for s in ep.steps], vals, last, cfg.gamma, cfg.lam)
            targets.extend(x + v for x, v in zip(a, vals, strict=True))
            out.append(a)
        flat = np.array([x for a in out for x in a]) if out else np.zeros(0)
        mean, std = (float(flat.mean()), float(flat.std())) if flat.size else (0.0, 1.0)
        pending["obs"], pending["targets"] = obs, targets
        return [[(x - mean) / (std + 1e-6) for x in a] for a in out]

    def critic_update(episodes: Sequence[Any], rng: np.random.Generator) -> dict[str, float]:
        return critic.update(
            pending["obs"],
            pending["targets"],
            epochs=cfg.vf_epochs,
            minibatch=cfg.minibatch,
            rng=rng,
            grad_clip=cfg.grad_clip,
        )

    return policy_gradient_loop(
        cfg,
        policy=policy,
        progress=progress,
        log=log,
        stop_at=stop_at,
        critic=critic,
        advantage_fn=advantages,
        critic_update=critic_update,
        name="ppo",
    )
