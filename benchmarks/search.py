"""Search benchmark: solve rate against compute for every planner (the test-time scaling curve).

Default run (same as ``thinkgym bench``), under 5 minutes on a 2-core CPU::

    python benchmarks/search.py --out bench_results

Figures for README.md (``--figures``; longer): on the 100 Game24 test puzzles, every planner at
<= 100 policy calls per puzzle with learned/internal guidance (pass ``--prm DIR`` for a PRM trained
on MC-rollout labels), greedy pass@1, and the exact-solver upper bound (OracleAgent); then
best-of-N on Arithmetic at its hardest setting (difficulty 4) for N = 1, 4, 16, 64 with majority
vote, ORM and PRM selection::

    python benchmarks/search.py --figures --prm runs/prm --orm runs/orm --out bench_results/figures
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from thinkgym.agents.search import BestOfN, score_result
from thinkgym.agents.search.base import resolve_env
from thinkgym.agents.search.bench import (
    _load_rm,
    add_bench_arguments,
    held_out_problems,
    load_policy,
    planner_kwargs,
    run_bench,
)
from thinkgym.agents.search.registry import get_planner


def figures(args: argparse.Namespace) -> int:
    """The README figures (see the module docstring)."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env, env_id = resolve_env("Game24")
    policy, label = load_policy(args.policy, env)
    prm, orm = _load_rm(args.prm, "prm"), _load_rm(args.orm, "orm")
    seeds, problems = held_out_problems("Game24", 100)
    lines = [f"policy: {label}", "", "| Game24 (100 test puzzles) | solve rate | policy calls |"]
    lines.append("|---|---|---|")
    rows = []

    def run(name: str, planner, pol_label: str = "") -> None:
        t0 = time.perf_counter()
        res = [score_result(env, r) for r in planner.plan_many(env, seeds=seeds, problems=problems)]
        rate = sum(bool(r.correct) for r in res) / len(res)
        calls = sum(r.cost.policy_calls for r in res) / len(res)
        rows.append(
            {
                "task": "Game24",
                "planner": name,
                "solve_rate": rate,
                "policy_calls": calls,
                "seconds": time.perf_counter() - t0,
            }
        )
        lines.append(f"| {name}{pol_label} | {rate:.0%} | {calls:.1f} |")
        print(lines[-1], flush=True)

    run("greedy pass@1", BestOfN(policy, n=1, temperature=0.0, select="logprob", progress=True))
    for name in ("best_of_n", "beam", "mcts", "revision"):
        kw = planner_kwargs(name, 100, 4, {"prm": prm, "orm": orm})
        run(name, get_planner(name)(policy, budget=100, progress=True, **kw))
    oracle, _ = load_policy("oracle", env)
    run("exact solver (upper bound)", BestOfN(oracle, n=1, budget=100))
    from thinkgym.envs import make

    ar, _ = resolve_env(make("Arithmetic", difficulty=4))
    a_seeds, a_problems = held_out_problems("Arithmetic", args.problems)
    lines += ["", "| Arithmetic (difficulty 4) best-of-N | N | accuracy |", "|---|---|---|"]
    for select, rm in (("vote", None), ("orm", orm), ("prm", prm)):
        if select != "vote" and rm is None:
            lines.append(f"| {select} | - | needs --{select} DIR |")
            continue
        for n in (1, 4, 16, 64):
            pl = BestOfN(policy, n=n, select=select, reward_model=rm, early_stop=False)
            res = [
                score_result(ar, r) for r in pl.plan_many(ar, seeds=a_seeds, problems=a_problems)
            ]
            acc = sum(bool(r.correct) for r in res) / len(res)
            rows.append(
                {
                    "task": "Arithmetic-d4",
                    "planner": f"best_of_n/{select}",
                    "n": n,
                    "solve_rate": acc,
                }
            )
            lines.append(f"| {select} | {n} | {acc:.0%} |")
            print(lines[-1], flush=True)
    (out / "figures.md").write_text("\n".join(lines) + "\n")
    (out / "figures.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_bench_arguments(parser)
    parser.add_argument("--figures", action="store_true", help="the README figures (long)")
    args = parser.parse_args(argv)
    if args.figures:
        if args.problems == 8:
            args.problems = 200
        return figures(args)
    return run_bench(args)


if __name__ == "__main__":
    sys.exit(main())
