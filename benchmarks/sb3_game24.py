"""MaskablePPO on Game24 candidate steps: solve rate on the 100 Tree-of-Thoughts test puzzles.

Trains sb3-contrib's ``MaskablePPO`` with :class:`thinkgym.learning.sb3.MaskableCandidateScorerPolicy`
on ``CandidateStepWrapper(Game24, k=36)`` (train split: the 100 test puzzles are never drawn; the
envs cycle through the four difficulty quartiles), then plays one greedy episode on each test
puzzle. In the same run it trains SB3's ``PPO("MlpPolicy")`` on ``CartPole-v1`` with the same
number of envs and rollout length, and compares env steps per second during training.

    python benchmarks/sb3_game24.py --timesteps 200000 --seed 0

Prints a JSON line with the figures (and writes it to ``--out`` when given).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

ABLATE_FINISH = False
"""Set by ``--ablate-finish``: zero the "one operation reaches 24" feature of every row."""


def make_game24(difficulty: int, split: str = "train") -> Any:
    """A CandidateStepWrapper(Game24) thunk's body (module-level so SubprocVecEnv can pickle)."""
    import gymnasium as gym

    import thinkgym  # noqa: F401  (registers the envs)
    from thinkgym.envs.wrappers import CandidateStepWrapper

    env = gym.make("thinkgym/Game24-v0", difficulty=difficulty, split=split)
    if not ABLATE_FINISH:
        return CandidateStepWrapper(env, 36)

    class NoFinishFlag(CandidateStepWrapper):
        def _refresh(self) -> None:
            super()._refresh()
            self._obs[:, 1 + 4 + 2] = 0.0  # [valid, 4 count one-hots, done, correct, finish]

    return NoFinishFlag(env, 36)


def evaluate_test(model: Any) -> tuple[float, list[bool]]:
    """One greedy episode on each Tree-of-Thoughts test puzzle; returns (solve rate, per puzzle)."""
    from thinkgym.envs.game24 import test_puzzles

    env = make_game24(0, split="test")
    solved = []
    for i, puzzle in enumerate(test_puzzles()):
        obs, _ = env.reset(seed=i, options={"numbers": list(puzzle)})
        done, reward = False, 0.0
        while not done:
            action, _ = model.predict(obs, action_masks=env.action_masks(), deterministic=True)
            obs, reward, term, trunc, _ = env.step(int(action))
            done = term or trunc
        solved.append(reward > 0)
    return float(np.mean(solved)), solved


def random_test(seed: int = 0) -> float:
    """Solve rate of uniformly random valid candidates on the test puzzles."""
    from thinkgym.envs.game24 import test_puzzles

    env = make_game24(0, split="test")
    rng = np.random.default_rng(seed)
    wins = 0
    for i, puzzle in enumerate(test_puzzles()):
        env.reset(seed=i, options={"numbers": list(puzzle)})
        done, reward = False, 0.0
        while not done:
            action = int(rng.choice(np.flatnonzero(env.action_masks())))
            _, reward, term, trunc, _ = env.step(action)
            done = term or trunc
        wins += reward > 0
    return wins / len(test_puzzles())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print its JSON line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--timesteps", type=int, default=200_000, help="MaskablePPO env steps")
    p.add_argument("--cartpole-timesteps", type=int, default=50_000, help="PPO CartPole steps")
    p.add_argument("--n-envs", type=int, default=8)
    p.add_argument("--n-steps", type=int, default=256, help="rollout length per env")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vec", choices=("dummy", "subproc"), default="dummy")
    p.add_argument("--segments", type=int, default=4, help="alternate the two trainings")
    p.add_argument("--hidden", type=int, default=64, help="width of the shared scorer MLP")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON line here")
    p.add_argument("--save", type=Path, default=None, help="save the trained model (.zip)")
    p.add_argument(
        "--ablate-finish",
        action="store_true",
        help="zero the 'one operation reaches 24' feature (what the rest of the features teach)",
    )
    args = p.parse_args(argv)
    global ABLATE_FINISH
    ABLATE_FINISH = args.ablate_finish

    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    from thinkgym.learning.sb3 import MaskableCandidateScorerPolicy, maskable_ppo

    torch.set_num_threads(1)
    vec_cls = DummyVecEnv if args.vec == "dummy" else SubprocVecEnv
    envs = [
        (lambda d=i % 4: make_game24(d)) for i in range(args.n_envs)
    ]  # every quartile of the train split
    venv = vec_cls(envs)
    venv.seed(args.seed)
    MaskablePPO = maskable_ppo()
    model = MaskablePPO(
        MaskableCandidateScorerPolicy,
        venv,
        n_steps=args.n_steps,
        batch_size=512,
        n_epochs=4,
        gamma=1.0,
        gae_lambda=0.95,
        learning_rate=1e-3,
        ent_coef=0.01,
        policy_kwargs={"hidden": args.hidden, "layers": 2},
        seed=args.seed,
        verbose=0,
    )
    cart = make_vec_env("CartPole-v1", n_envs=args.n_envs, seed=args.seed, vec_env_cls=vec_cls)
    ppo = PPO("MlpPolicy", cart, n_steps=args.n_steps, batch_size=512, n_epochs=4, seed=args.seed)
    # Interleave the two trainings in segments so that both see the same machine load (the
    # machine may be shared); each rate is total steps over its own summed training time.
    # Wall time and this process's CPU time are both kept: on a shared machine the CPU-time
    # rates say what the code costs, the wall-time rates what the run saw.
    train_s = cart_s = train_cpu = cart_cpu = 0.0
    for seg in range(args.segments):
        until = args.timesteps * (seg + 1) // args.segments
        t0, c0 = time.perf_counter(), time.process_time()
        model.learn(until - model.num_timesteps, reset_num_timesteps=False)
        train_s += time.perf_counter() - t0
        train_cpu += time.process_time() - c0
        until = args.cartpole_timesteps * (seg + 1) // args.segments
        t0, c0 = time.perf_counter(), time.process_time()
        ppo.learn(max(1, until - ppo.num_timesteps), reset_num_timesteps=False)
        cart_s += time.perf_counter() - t0
        cart_cpu += time.process_time() - c0
    game24_rate = model.num_timesteps / train_s
    cart_rate = ppo.num_timesteps / cart_s
    if args.save:
        model.save(args.save)
    rate, _ = evaluate_test(model)
    rand = random_test(args.seed)

    result = {
        "benchmark": "sb3_game24",
        "timesteps": int(model.num_timesteps),
        "seed": args.seed,
        "n_envs": args.n_envs,
        "vec": args.vec,
        "test_solve_rate": rate,
        "random_valid_solve_rate": rand,
        "train_seconds": round(train_s, 1),
        "game24_steps_per_s": round(game24_rate, 1),
        "cartpole_steps_per_s": round(cart_rate, 1),
        "ratio_to_cartpole": round(game24_rate / cart_rate, 3),
        "game24_steps_per_cpu_s": round(model.num_timesteps / train_cpu, 1),
        "cartpole_steps_per_cpu_s": round(ppo.num_timesteps / cart_cpu, 1),
        "ratio_to_cartpole_cpu": round(
            (model.num_timesteps / train_cpu) / (ppo.num_timesteps / cart_cpu), 3
        ),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "hidden": args.hidden,
        "ablate_finish": args.ablate_finish,
        "torch_threads": 1,
    }
    line = json.dumps(result)
    print(line)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(line + "\n")
    return result


if __name__ == "__main__":
    main()
