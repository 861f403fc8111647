"""Env throughput: steps/s and resets/s of every thinkgym env against a trivial Gymnasium env.

Also times problem generation against reasoning-gym's ``puzzle24`` and ``countdown`` (install the
``bench`` extra: ``pip install -e .[bench]``). Every figure is the median of ``--repeats`` runs.

Run: ``python benchmarks/env_throughput.py [--repeats 5] [--steps 20000]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np
from gymnasium import spaces

import thinkgym
from thinkgym.agents import OracleAgent
from thinkgym.envs import BUILTIN


class TrivialEnv(gym.Env):
    """The cheapest possible env: a constant observation, reward 0, never done."""

    observation_space = spaces.Discrete(2)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return 0, {}

    def step(self, action):
        return 0, 0.0, False, False, {}


gym.register("bench/Trivial-v0", entry_point=TrivialEnv, disable_env_checker=True)


def median_rate(fn, count: int, repeats: int) -> float:
    """Median over ``repeats`` of ``count / seconds(fn())``."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def trivial_steps(n: int, repeats: int) -> float:
    env = gym.make("bench/Trivial-v0")
    env.reset(seed=0)

    def run():
        step = env.step
        for _ in range(n):
            step(0)

    return median_rate(run, n, repeats)


def env_step_rate(env_id: str, n: int, repeats: int) -> tuple[float, list[float]]:
    """Steps/s through ``gym.make`` replaying precomputed oracle traces (the agent is not timed)."""
    env = gym.make(env_id)
    agent = OracleAgent(env)
    episodes = []
    seed = 0
    total = 0
    while total < n:
        obs, info = env.reset(seed=seed)
        steps, done = [], False
        while not done:
            step = agent.act(obs, info)
            obs, _, terminated, truncated, info = env.step(step)
            steps.append(step)
            done = terminated or truncated
        episodes.append((seed, steps))
        total += len(steps)
        seed += 1
    base = env.unwrapped
    starts = []
    for seed, _ in episodes:
        env.reset(seed=seed)
        starts.append(base.get_state())
    latencies: list[float] = []

    def run():
        step = env.step
        for start, (_, steps) in zip(starts, episodes, strict=True):
            base.set_state(start)
            for s in steps:
                t0 = time.perf_counter()
                step(s)
                latencies.append(time.perf_counter() - t0)

    return median_rate(run, total, repeats), latencies


def reset_rate(env_id: str, n: int, repeats: int) -> float:
    env = gym.make(env_id)

    def run():
        for seed in range(n):
            env.reset(seed=seed)

    return median_rate(run, n, repeats)


def reasoning_gym_rate(name: str, n: int, repeats: int) -> float | None:
    try:
        import reasoning_gym
    except ImportError:
        print("reasoning-gym is not installed: pip install -e .[bench]")
        return None

    def run():
        ds = reasoning_gym.create_dataset(name, size=n, seed=int(np.random.randint(1 << 30)))
        for i in range(n):
            ds[i]

    return median_rate(run, n, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20_000, help="steps per timed run")
    parser.add_argument("--resets", type=int, default=5_000, help="resets per timed run")
    parser.add_argument(
        "--rg-problems", type=int, default=50, help="reasoning-gym problems per run"
    )
    args = parser.parse_args()

    trivial = trivial_steps(args.steps * 5, args.repeats)
    print(f"trivial gym.make env: {trivial:,.0f} steps/s ({1e6 / trivial:.2f} us/step)\n")
    print("| env | steps/s | us/step (median) | step cost vs trivial | resets/s |")
    print("|---|---:|---:|---:|---:|")
    resets = {}
    for name in BUILTIN:
        env_id = f"thinkgym/{name}"
        n = args.steps if "LinearEquation" not in name else max(1000, args.steps // 10)
        rate, lat = env_step_rate(env_id, n, args.repeats)
        resets[name] = reset_rate(env_id, args.resets, args.repeats)
        print(
            f"| {env_id} | {rate:,.0f} | {1e6 * statistics.median(lat):.1f} | "
            f"{trivial / rate:.1f}x | {resets[name]:,.0f} |"
        )
    print("\nProblem generation against reasoning-gym (same run):\n")
    print("| task | thinkgym problems/s | reasoning-gym problems/s | speed-up |")
    print("|---|---:|---:|---:|")
    for ours, theirs in (("Game24-v0", "puzzle24"), ("Countdown-v0", "countdown")):
        rg = reasoning_gym_rate(theirs, args.rg_problems, max(1, args.repeats // 2))
        ratio = f"{resets[ours] / rg:,.0f}x" if rg else "n/a"
        rg_text = f"{rg:,.1f}" if rg else "n/a"
        print(f"| {ours} vs {theirs} | {resets[ours]:,.0f} | {rg_text} | {ratio} |")
    print(f"\nthinkgym {thinkgym.__version__}, {args.repeats} repeats, medians")


if __name__ == "__main__":
    main()
