"""Greedy pass@1 of policies on every task's held-out problems: the check a policy passes
before it replaces the shipped one (it must beat it on every task).

Example::

    python benchmarks/eval_policies.py default runs/ei-game24-r8/round-004/policy --problems 100
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import thinkgym  # noqa: F401  (registers the envs)
from thinkgym.agents.registry import load_policy
from thinkgym.envs import eval_problems
from thinkgym.learning.evaluation import pass_at, run_episodes

TASKS: list[tuple[str, dict[str, Any]]] = [
    ("Game24", {}),
    ("Countdown", {}),
    ("Arithmetic", {"difficulty": 1}),
    ("Arithmetic", {"difficulty": 2}),
    ("Arithmetic", {"difficulty": 3}),
    ("LinearEquation", {}),
    ("MathWord", {}),
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("policies", nargs="+", help="policy specs: default, a model directory, ...")
    p.add_argument("--problems", type=int, default=100, help="held-out problems per task")
    p.add_argument("--out", default=None, help="JSON file for the table")
    args = p.parse_args()
    table: dict[str, dict[str, float]] = {}
    for spec in args.policies:
        policy = load_policy(spec)
        row: dict[str, float] = {}
        for env, kwargs in TASKS:
            start = time.perf_counter()
            items = eval_problems(
                env, args.problems, difficulty=kwargs.get("difficulty"), env_kwargs=kwargs
            )
            name = env + (f" d{kwargs['difficulty']}" if "difficulty" in kwargs else "")
            row[name] = pass_at(run_episodes(policy, env, items, env_kwargs=kwargs))
            took = time.perf_counter() - start
            print(f"{spec}  {name}: {row[name]:.0%} of {len(items)} ({took:.0f} s)", flush=True)
        table[spec] = row
    print(json.dumps(table, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(table, f, indent=1)


if __name__ == "__main__":
    main()
