"""SB3 PPO trains the shipped LLM policy token by token on Arithmetic (LLMActorCriticPolicy).

For each seed: ``PPO(LLMActorCriticPolicy, TokenLevelWrapper(Arithmetic), policy_kwargs={"model":
thinkgym/data/policy})`` runs SB3's own ``learn()`` (train split); the reward curve is the mean
episode reward of the finished episodes of each rollout; the trained LM is saved with
``save_pretrained``, loaded back as an ``LLMPolicy`` and scored by greedy pass@1 on held-out
problems (``thinkgym.envs.eval_problems``: the test split), before and after.

    python benchmarks/sb3_llm_arithmetic.py --seeds 0 1 2 --timesteps 3072 --eval 100 \\
        --plot docs/sb3_llm_arithmetic.png --out docs/sb3_llm_arithmetic.json

Prints one JSON line per seed and a summary line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def pass1(model_dir: Path, problems: list[dict[str, Any]], difficulty: int) -> float:
    """Greedy pass@1 of the LM in ``model_dir`` on ``problems`` (batched episodes)."""
    from thinkgym.agents.llm import LLMPolicy
    from thinkgym.learning.evaluation import pass_at, run_episodes

    policy = LLMPolicy.from_pretrained(model_dir, device="cpu")
    results = run_episodes(
        policy,
        "thinkgym/Arithmetic-v0",
        problems,
        temperature=0.0,
        env_kwargs={"difficulty": difficulty},
    )
    return pass_at(results)


def train_one(args: argparse.Namespace, seed: int, model_dir: Path, out_dir: Path) -> dict:
    """One PPO run; returns its reward curve and wall time, and saves the LM in ``out_dir``."""
    import gymnasium as gym
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv
    from transformers import AutoTokenizer

    import thinkgym  # noqa: F401
    from thinkgym.envs.wrappers import TokenLevelWrapper
    from thinkgym.learning.sb3 import LLMActorCriticPolicy

    tok = AutoTokenizer.from_pretrained(str(model_dir))

    def make() -> Any:
        env = gym.make("thinkgym/Arithmetic-v0", difficulty=args.difficulty, split="train")
        return Monitor(TokenLevelWrapper(env, tok, max_tokens=args.max_tokens))

    curve: list[tuple[int, float, int]] = []  # (tokens so far, mean episode reward, episodes)

    class Curve(BaseCallback):
        """Mean reward of the episodes that finished during each rollout."""

        def __init__(self) -> None:
            super().__init__()
            self.rewards: list[float] = []

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:  # Monitor's summary of a finished episode
                    self.rewards.append(float(info["episode"]["r"]))
            return True

        def _on_rollout_end(self) -> None:
            if self.rewards:
                curve.append((self.num_timesteps, float(np.mean(self.rewards)), len(self.rewards)))
            self.rewards = []

    torch.manual_seed(seed)
    venv = DummyVecEnv([make] * args.n_envs)
    venv.seed(seed)
    ppo = PPO(
        LLMActorCriticPolicy,
        venv,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        n_epochs=args.n_epochs,
        learning_rate=args.lr,
        gamma=1.0,
        gae_lambda=0.95,
        ent_coef=0.0,
        policy_kwargs={"model": str(model_dir)},
        seed=seed,
        verbose=0,
    )
    t0 = time.perf_counter()
    ppo.learn(args.timesteps, callback=Curve())
    seconds = time.perf_counter() - t0
    ppo.policy.save_pretrained(out_dir)
    venv.close()
    return {"curve": curve, "train_seconds": round(seconds, 1), "tokens": ppo.num_timesteps}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the figure and print its JSON lines."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--difficulty", type=int, default=1)
    p.add_argument("--timesteps", type=int, default=3072, help="tokens (env steps) per seed")
    p.add_argument("--n-envs", type=int, default=4)
    p.add_argument("--n-steps", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--n-epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-5)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--eval", type=int, default=100, help="held-out problems")
    p.add_argument("--model", type=Path, default=None, help="default: the shipped policy")
    p.add_argument("--out", type=Path, default=None, help="write the results JSON here")
    p.add_argument("--plot", type=Path, default=None, help="write the reward-curve PNG here")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)

    import torch

    from thinkgym.envs import eval_problems
    from thinkgym.models import default_policy_dir

    torch.set_num_threads(args.threads)
    model_dir = args.model or default_policy_dir()
    problems = eval_problems("Arithmetic", args.eval, difficulty=args.difficulty)
    before = pass1(model_dir, problems, args.difficulty)
    print(json.dumps({"before_pass1": before, "eval_problems": len(problems)}), flush=True)
    runs = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            run = train_one(args, seed, model_dir, Path(tmp))
            run["after_pass1"] = pass1(Path(tmp), problems, args.difficulty)
        run["seed"] = seed
        runs.append(run)
        print(json.dumps(run), flush=True)
    after = [r["after_pass1"] for r in runs]
    summary = {
        "benchmark": "sb3_llm_arithmetic",
        "difficulty": args.difficulty,
        "tokens_per_seed": args.timesteps,
        "lr": args.lr,
        "eval_problems": len(problems),
        "before_pass1": before,
        "after_pass1": after,
        "after_mean": float(np.mean(after)),
        "runs": runs,
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.6))
        for r in runs:
            xs = [c[0] for c in r["curve"]]
            ys = [c[1] for c in r["curve"]]
            ax.plot(xs, ys, marker="o", label=f"seed {r['seed']} (pass@1 {r['after_pass1']:.0%})")
        ax.set_xlabel("tokens (SB3 env steps)")
        ax.set_ylabel("mean episode reward per rollout")
        ax.set_title(
            f"SB3 PPO + LLMActorCriticPolicy, Arithmetic d{args.difficulty} "
            f"(pass@1 before {before:.0%})",
            fontsize=9,
        )
        ax.legend(fontsize=8)
        fig.tight_layout()
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, dpi=120)
    return summary


if __name__ == "__main__":
    main()
