"""A whole stable-baselines3 run (``thinkgym train sb3``): :class:`SB3Config` and :func:`train_sb3`.

``wrapper="candidates"``: the action picks one of the task's candidate steps and a small network
shared across candidates ranks them (:class:`thinkgym.learning.sb3.CandidateScorerPolicy`).
``wrapper="tokens"``: the action is one token and the policy is a causal LM
(:class:`thinkgym.learning.sb3.LLMActorCriticPolicy`, default: the shipped policy); the trained LM
is saved with ``save_pretrained`` in ``OUT/final`` and loads as an ``LLMPolicy``.

Logs go through SB3's logger (stdout, CSV, and TensorBoard when installed) in ``OUT``; a
``CheckpointCallback`` saves ``OUT/checkpoints``; an evaluation callback plays held-out problems
(the env's ``split="test"``; training envs draw ``split="train"``, so they never meet).

This module imports stable-baselines3 only when a run starts, so the config (and ``thinkgym
train sb3 --help``) works without it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ALGOS",
    "EVAL_SEED",
    "SB3Config",
    "VECS",
    "WRAPPERS",
    "default_k",
    "make_env",
    "train_sb3",
]

ALGOS = ("PPO", "A2C", "MaskablePPO")
WRAPPERS = ("candidates", "tokens")
VECS = ("dummy", "subproc")
EVAL_SEED = 10**6
"""Seed of the evaluation env (its problems come from the test split whatever the seed)."""


@dataclass
class SB3Config:
    """Settings of a stable-baselines3 run (``thinkgym train sb3``)."""

    algo: str = "MaskablePPO"
    """algorithm: PPO, A2C or MaskablePPO (candidates only)"""
    env: str = "thinkgym/Game24-v0"
    """the task (a registered env id or its short name)"""
    wrapper: str = "candidates"
    """action granularity: candidates (pick a candidate step) or tokens (one token)"""
    out: str = "runs/sb3"
    """run directory (model.zip, checkpoints/, eval/, progress.csv, final/ for tokens)"""
    difficulty: int | None = None
    """task difficulty (None: the env's default)"""
    timesteps: int = 100_000
    """env steps to train"""
    n_envs: int = 8
    """parallel envs"""
    n_steps: int = 256
    """rollout length per env"""
    batch_size: int | None = None
    """PPO minibatch (None: min(512, n_steps x n_envs))"""
    n_epochs: int = 4
    """PPO epochs per rollout"""
    lr: float | None = None
    """learning rate (None: 1e-3 for candidates, 1e-5 for tokens)"""
    ent_coef: float = 0.01
    """entropy bonus"""
    gamma: float = 1.0
    """discount, in (0, 1]"""
    seed: int = 0
    """seed of the envs and the algorithm"""
    threads: int = 1
    """torch CPU threads (small nets: 1)"""
    vec: str = "dummy"
    """VecEnv: dummy (one process) or subproc"""
    k: int | None = None
    """candidate slots (None: enough for the task's largest move list)"""
    hidden: int = 64
    """candidate scorer width"""
    policy: str | None = None
    """tokens: the causal LM to train (a model directory, 'default' or a registered name /
    FILE.py:FACTORY giving an LLMPolicy; None: the shipped policy)"""
    max_tokens: int = 128
    """tokens: observation length"""
    save_freq: int = 50_000
    """checkpoint every this many env steps"""
    eval_freq: int = 20_000
    """evaluate every this many env steps (0: off)"""
    eval_episodes: int = 50
    """held-out problems per evaluation"""

    def validate(self) -> SB3Config:
        """Check the settings; returns ``self``.

        Raises:
            ValueError: the first bad value (named, with the fix).
        """
        from thinkgym.envs import resolve_id

        for name, choices in (("algo", ALGOS), ("wrapper", WRAPPERS), ("vec", VECS)):
            value = getattr(self, name)
            match = [c for c in choices if c.lower() == str(value).lower()]
            if not match:
                raise ValueError(f"{name}={value!r} is not one of {', '.join(choices)}")
            setattr(self, name, match[0])
        self.env = resolve_id(self.env)
        for name in ("timesteps", "n_envs", "n_steps", "n_epochs", "threads", "hidden"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r} must be >= 1")
        for name in ("max_tokens", "save_freq", "eval_episodes"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r} must be >= 1")
        for name in ("batch_size", "k"):
            v = getattr(self, name)
            if v is not None and int(v) < 1:
                raise ValueError(f"{name}={v!r} must be >= 1 (or None: automatic)")
        if self.difficulty is not None and self.difficulty < 0:
            raise ValueError(f"difficulty={self.difficulty!r} must be >= 0")
        if self.eval_freq < 0 or self.seed < 0:
            raise ValueError("eval_freq and seed must be >= 0")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr={self.lr!r} must be a finite number > 0")
        if not math.isfinite(self.ent_coef):
            raise ValueError(f"ent_coef={self.ent_coef!r} must be a finite number")
        if not (math.isfinite(self.gamma) and 0 < self.gamma <= 1):
            raise ValueError(f"gamma={self.gamma!r} must be in (0, 1] (a discount)")
        if self.algo == "MaskablePPO" and self.wrapper == "tokens":
            raise ValueError(
                "MaskablePPO needs action masks, which only wrapper=candidates provides; use "
                "algo=PPO or algo=A2C with wrapper=tokens"
            )
        if self.wrapper == "candidates" and self.policy is not None:
            raise ValueError(
                "policy (--policy/--model) is for wrapper=tokens (the LM); drop it for candidates"
            )
        return self


def default_k(task: Any) -> int:
    """Enough candidate slots for a task's largest move list."""
    n = getattr(task, "n_numbers", None)
    if n is not None:  # Countdown / Game24: 6 distinct operations per pair
        return 3 * int(n) * (int(n) - 1)
    depth = getattr(task, "depth", None)
    if depth is not None:  # Arithmetic: at most one operation per pair of leaves
        return 2 ** (int(depth) - 1)
    return 8


def make_env(
    env_id: str,
    wrapper: str,
    *,
    difficulty: int | None = None,
    k: int | None = None,
    tokenizer: Any = None,
    max_tokens: int = 128,
    split: str | None = None,
) -> Any:
    """One wrapped env (module-level, so SubprocVecEnv can pickle its thunks)."""
    import gymnasium as gym

    import thinkgym  # noqa: F401  (registers the envs)
    from thinkgym.envs.wrappers import CandidateStepWrapper, TokenLevelWrapper

    kwargs: dict[str, Any] = {}
    if difficulty is not None:
        kwargs["difficulty"] = difficulty
    if split is not None:
        kwargs["split"] = split
    env = gym.make(env_id, **kwargs)
    if wrapper == "tokens":
        return TokenLevelWrapper(env, tokenizer, max_tokens=max_tokens)
    task = env.unwrapped
    try:
        return CandidateStepWrapper(env, k or default_k(task))
    except TypeError as exc:
        raise ValueError(f"wrapper=candidates does not fit {env_id}: {exc}") from None


def _lm_dir(spec: Any, out: Path) -> Path:
    """The model directory the tokens wrapper trains: the spec's, or the policy saved in ``out``."""
    from thinkgym.agents.registry import load_trainable
    from thinkgym.models import default_policy_dir

    if spec is None or spec == "default":
        return default_policy_dir()
    if isinstance(spec, str) and Path(spec).expanduser().is_dir():
        return Path(spec).expanduser()
    policy = load_trainable(spec, "sb3 (tokens)", device="cpu")
    start = out / "start_policy"
    policy.save_pretrained(start)
    return start


def train_sb3(config: SB3Config, *, policy: Any = None) -> Any:
    """stable-baselines3 (PPO, A2C, MaskablePPO) on a wrapped env, as one run.

    Args:
        config: the settings.
        policy: tokens wrapper: the starting LM (an ``LLMPolicy`` or a policy spec); overrides
            ``config.policy``.

    Returns:
        A :class:`~thinkgym.learning.registry.TrainResult`: ``model`` is the SB3 algorithm,
        ``policy`` the trained ``LLMPolicy`` (tokens wrapper; ``None`` for candidates),
        ``metrics`` the env steps done and the last held-out mean reward.

    Raises:
        ValueError: bad settings, or stable-baselines3 is not installed (the message has the
            ``pip install`` line).
    """
    cfg = config.validate()
    if policy is not None and cfg.wrapper != "tokens":
        raise ValueError("a starting policy is for wrapper=tokens (the LM); drop it")
    try:
        import stable_baselines3 as sb3
        from stable_baselines3.common.callbacks import CheckpointCallback
        from stable_baselines3.common.logger import configure
        from stable_baselines3.common.monitor import Monitor
        from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv
    except ImportError:
        raise ValueError(
            "thinkgym train sb3 needs stable-baselines3: pip install stable-baselines3 sb3-contrib"
        ) from None
    import torch

    from thinkgym.learning import sb3 as glue
    from thinkgym.learning.result import TrainResult

    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = None
    model_dir = None
    if cfg.wrapper == "tokens":
        from transformers import AutoTokenizer

        model_dir = _lm_dir(policy if policy is not None else cfg.policy, out)
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    env_kw = dict(
        difficulty=cfg.difficulty, k=cfg.k, tokenizer=tokenizer, max_tokens=cfg.max_tokens
    )
    make_env(cfg.env, cfg.wrapper, **env_kw).close()  # fail fast on a bad combination
    vec_cls = SubprocVecEnv if cfg.vec == "subproc" else DummyVecEnv
    venv = vec_cls([lambda: Monitor(make_env(cfg.env, cfg.wrapper, **env_kw))] * cfg.n_envs)
    venv.seed(cfg.seed)

    common: dict[str, Any] = dict(
        n_steps=cfg.n_steps, gamma=cfg.gamma, ent_coef=cfg.ent_coef, seed=cfg.seed, verbose=0
    )
    if cfg.wrapper == "tokens":
        sb3_policy: Any = glue.LLMActorCriticPolicy
        common["policy_kwargs"] = {"model": str(model_dir)}
        lr = cfg.lr or 1e-5
    else:
        sb3_policy = glue.CandidateScorerPolicy
        common["policy_kwargs"] = {"hidden": cfg.hidden}
        lr = cfg.lr or 1e-3
    if cfg.algo == "A2C":
        algo_cls: Any = sb3.A2C
    else:
        algo_cls = sb3.PPO if cfg.algo == "PPO" else glue.maskable_ppo()
        if cfg.algo == "MaskablePPO":
            sb3_policy = glue.MaskableCandidateScorerPolicy
        batch = cfg.batch_size or min(512, cfg.n_steps * cfg.n_envs)
        common.update(batch_size=batch, n_epochs=cfg.n_epochs)
    model = algo_cls(sb3_policy, venv, learning_rate=lr, **common)
    formats = ["stdout", "csv"]
    try:
        import tensorboard  # noqa: F401

        formats.append("tensorboard")
    except ImportError:
        pass
    logger = configure(str(out), formats)
    logger.output_formats.append(_metric_forwarder())  # `--log-dir`: the same values as JSON/TB
    model.set_logger(logger)

    callbacks: list[Any] = [
        CheckpointCallback(
            max(1, cfg.save_freq // cfg.n_envs), str(out / "checkpoints"), name_prefix="model"
        )
    ]
    evaluator = None
    if cfg.eval_freq:
        eval_env = DummyVecEnv(
            [lambda: Monitor(make_env(cfg.env, cfg.wrapper, split="test", **env_kw))]
        )
        eval_env.seed(EVAL_SEED)
        kw = dict(
            eval_freq=max(1, cfg.eval_freq // cfg.n_envs),
            n_eval_episodes=cfg.eval_episodes,
            deterministic=True,
            best_model_save_path=None,
            log_path=str(out / "eval"),
            verbose=0,
        )
        if cfg.algo == "MaskablePPO":
            from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback

            evaluator = MaskableEvalCallback(eval_env, **kw)
        else:
            from stable_baselines3.common.callbacks import EvalCallback

            evaluator = EvalCallback(eval_env, **kw)
        callbacks.append(evaluator)
    record = {"command": "thinkgym train sb3", **{k: str(v) for k, v in asdict(cfg).items()}}
    (out / "training_args.json").write_text(json.dumps(record, indent=2) + "\n")
    model.learn(cfg.timesteps, callback=callbacks)
    model.save(out / "model.zip")
    print(f"[done] {model.num_timesteps} env steps; model in {out / 'model.zip'}")
    trained, policy_dir = None, None
    if cfg.wrapper == "tokens":
        policy_dir = out / "final"
        model.policy.save_pretrained(policy_dir)
        print(f"[done] LM saved in {policy_dir} (LLMPolicy.from_pretrained loads it)")
        from thinkgym.agents.llm import LLMPolicy

        trained = LLMPolicy.from_pretrained(policy_dir, device="cpu")
    venv.close()
    metrics: dict[str, Any] = {"timesteps": int(model.num_timesteps)}
    history: list[dict[str, Any]] = []
    if evaluator is not None and getattr(evaluator, "evaluations_timesteps", None):
        for t, rewards in zip(
            evaluator.evaluations_timesteps, evaluator.evaluations_results, strict=True
        ):
            history.append(
                {"timesteps": int(t), "eval_mean_reward": float(sum(rewards) / len(rewards))}
            )
        metrics["eval_mean_reward"] = history[-1]["eval_mean_reward"]
    return TrainResult(
        policy=trained,
        model=model,
        out_dir=out,
        policy_dir=policy_dir,
        history=history,
        metrics=metrics,
    )


def _metric_forwarder() -> Any:
    """An SB3 ``KVWriter`` that hands every numeric value to :func:`log_metrics` (``--log-dir``)."""
    from stable_baselines3.common.logger import KVWriter

    from thinkgym.learning.logging import log_metrics

    class MetricForwarder(KVWriter):
        def write(
            self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0
        ) -> None:
            log_metrics(step, key_values)  # non-numbers (strings, videos) are skipped

        def close(self) -> None:
            """Nothing to close: the MetricLogger of ``thinkgym train`` owns the files."""

    return MetricForwarder()
