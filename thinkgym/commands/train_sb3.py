"""``thinkgym train sb3``: stable-baselines3 (PPO, A2C, MaskablePPO) on a wrapped thinkgym env.

``--wrapper candidates``: the action picks one of the task's candidate steps and a small network
shared across candidates ranks them (:class:`thinkgym.learning.sb3.CandidateScorerPolicy`).
``--wrapper tokens``: the action is one token and the policy is a causal LM
(:class:`thinkgym.learning.sb3.LLMActorCriticPolicy`, default: the shipped policy); the trained LM
is saved with ``save_pretrained`` in ``OUT/final`` and loads as an ``LLMPolicy``.

Logs go through SB3's logger (stdout, CSV, and TensorBoard when installed) in ``OUT``; a
``CheckpointCallback`` saves ``OUT/checkpoints``; an evaluation callback plays held-out problems
(the env's ``split="test"``; training envs draw ``split="train"``, so they never meet; Game24's
test split is the 100 Tree-of-Thoughts puzzles).

Examples::

    thinkgym train sb3 --algo MaskablePPO --env Game24 --wrapper candidates --out runs/g24 \\
        --timesteps 200000
    thinkgym train sb3 --algo PPO --env Arithmetic --difficulty 1 --wrapper tokens \\
        --out runs/arith_tok --timesteps 4096 --lr 1e-5 --n-envs 4 --n-steps 256
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from thinkgym.commands._common import (
    choice,
    env_name,
    existing_dir,
    finite_float,
    nonneg_int,
    positive_float,
    positive_int,
    probability,
    writable_dir,
)

__all__ = ["add_arguments", "run", "ALGOS", "WRAPPERS", "EVAL_SEED"]

ALGOS = ("PPO", "A2C", "MaskablePPO")
WRAPPERS = ("candidates", "tokens")
EVAL_SEED = 10**6
"""Seed of the evaluation env (its problems come from the test split whatever the seed)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train sb3`` options to ``parser``."""
    parser.add_argument("--algo", type=choice(*ALGOS), default="MaskablePPO", help="algorithm")
    parser.add_argument("--env", type=env_name, required=True, help="task (e.g. Game24)")
    parser.add_argument(
        "--wrapper", type=choice(*WRAPPERS), default="candidates", help="action granularity"
    )
    parser.add_argument("--out", type=writable_dir, required=True, help="run directory")
    parser.add_argument("--difficulty", type=nonneg_int, default=None, help="task difficulty")
    parser.add_argument("--timesteps", type=positive_int, default=100_000, help="env steps")
    parser.add_argument("--n-envs", type=positive_int, default=8, help="parallel envs")
    parser.add_argument("--n-steps", type=positive_int, default=256, help="rollout per env")
    parser.add_argument("--batch-size", type=positive_int, default=None, help="PPO minibatch")
    parser.add_argument("--n-epochs", type=positive_int, default=4, help="PPO epochs per rollout")
    parser.add_argument("--lr", type=positive_float, default=None, help="learning rate")
    parser.add_argument("--ent-coef", type=finite_float, default=0.01, help="entropy bonus")
    parser.add_argument("--gamma", type=probability, default=1.0, help="discount, in (0, 1]")
    parser.add_argument("--seed", type=nonneg_int, default=0)
    parser.add_argument(
        "--threads", type=positive_int, default=1, help="torch CPU threads (small nets: 1)"
    )
    parser.add_argument("--vec", type=choice("dummy", "subproc"), default="dummy", help="VecEnv")
    parser.add_argument("--k", type=positive_int, default=None, help="candidate slots (auto)")
    parser.add_argument("--hidden", type=positive_int, default=64, help="candidate scorer width")
    parser.add_argument(
        "--model",
        type=existing_dir,
        default=None,
        help="tokens: causal LM directory (default: the shipped policy)",
    )
    parser.add_argument(
        "--max-tokens", type=positive_int, default=128, help="tokens: observation length"
    )
    parser.add_argument(
        "--save-freq", type=positive_int, default=50_000, help="checkpoint every N env steps"
    )
    parser.add_argument(
        "--eval-freq", type=nonneg_int, default=20_000, help="evaluate every N env steps (0: off)"
    )
    parser.add_argument(
        "--eval-episodes", type=positive_int, default=50, help="held-out problems per evaluation"
    )


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
        raise ValueError(f"--wrapper candidates does not fit {env_id}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    """Run ``thinkgym train sb3``; returns the exit status."""
    if args.algo == "MaskablePPO" and args.wrapper == "tokens":
        raise ValueError(
            "MaskablePPO needs action masks, which only --wrapper candidates provides; use "
            "--algo PPO or --algo A2C with --wrapper tokens"
        )
    if args.wrapper == "candidates" and args.model is not None:
        raise ValueError("--model is for --wrapper tokens (the LM); drop it for candidates")
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

    torch.set_num_threads(args.threads)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = None
    model_dir = None
    if args.wrapper == "tokens":
        from transformers import AutoTokenizer

        from thinkgym.models import default_policy_dir

        model_dir = Path(args.model) if args.model else default_policy_dir()
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    env_kw = dict(
        difficulty=args.difficulty, k=args.k, tokenizer=tokenizer, max_tokens=args.max_tokens
    )
    make_env(args.env, args.wrapper, **env_kw).close()  # fail fast on a bad combination
    vec_cls = SubprocVecEnv if args.vec == "subproc" else DummyVecEnv
    venv = vec_cls([lambda: Monitor(make_env(args.env, args.wrapper, **env_kw))] * args.n_envs)
    venv.seed(args.seed)

    common: dict[str, Any] = dict(
        n_steps=args.n_steps, gamma=args.gamma, ent_coef=args.ent_coef, seed=args.seed, verbose=0
    )
    if args.wrapper == "tokens":
        policy: Any = glue.LLMActorCriticPolicy
        common["policy_kwargs"] = {"model": str(model_dir)}
        lr = args.lr or 1e-5
    else:
        policy = glue.CandidateScorerPolicy
        common["policy_kwargs"] = {"hidden": args.hidden}
        lr = args.lr or 1e-3
    if args.algo == "A2C":
        algo_cls: Any = sb3.A2C
    else:
        algo_cls = sb3.PPO if args.algo == "PPO" else glue.maskable_ppo()
        if args.algo == "MaskablePPO":
            policy = glue.MaskableCandidateScorerPolicy
        batch = args.batch_size or min(512, args.n_steps * args.n_envs)
        common.update(batch_size=batch, n_epochs=args.n_epochs)
    model = algo_cls(policy, venv, learning_rate=lr, **common)
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
            max(1, args.save_freq // args.n_envs), str(out / "checkpoints"), name_prefix="model"
        )
    ]
    if args.eval_freq:
        eval_env = DummyVecEnv(
            [lambda: Monitor(make_env(args.env, args.wrapper, split="test", **env_kw))]
        )
        eval_env.seed(EVAL_SEED)
        kw = dict(
            eval_freq=max(1, args.eval_freq // args.n_envs),
            n_eval_episodes=args.eval_episodes,
            deterministic=True,
            best_model_save_path=None,
            log_path=str(out / "eval"),
            verbose=0,
        )
        if args.algo == "MaskablePPO":
            from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback

            callbacks.append(MaskableEvalCallback(eval_env, **kw))
        else:
            from stable_baselines3.common.callbacks import EvalCallback

            callbacks.append(EvalCallback(eval_env, **kw))
    record = {"command": "thinkgym train sb3", **{k: str(v) for k, v in vars(args).items()}}
    (out / "training_args.json").write_text(json.dumps(record, indent=2) + "\n")
    model.learn(args.timesteps, callback=callbacks)
    model.save(out / "model.zip")
    print(f"[done] {model.num_timesteps} env steps; model in {out / 'model.zip'}")
    if args.wrapper == "tokens":
        model.policy.save_pretrained(out / "final")
        print(f"[done] LM saved in {out / 'final'} (LLMPolicy.from_pretrained loads it)")
    venv.close()
    return 0


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
