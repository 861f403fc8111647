"""Planners x budgets on one task with env keyword arguments and any guidance (what ``thinkgym
bench`` runs, plus ``--env-kwargs`` and internal guidance such as the free self-evaluation PRM).

Every planner and budget runs at once (their policy calls are batched together), on the task's
held-out problems (``thinkgym.envs.eval_problems``); answers are scored against the hidden
reference only after search, and pass@N (any finished sample right) is reported beside the
planners that keep whole samples. ``--samples N`` sizes every planner to N whole trajectories
(``N * depth`` policy calls, ``depth`` the task's solution length), the way best-of-N figures
count N.

Example (Arithmetic difficulty 2 with outcome rewards only: wrong arithmetic is accepted during
search and only the final answer is graded)::

    python benchmarks/search_planners.py --env Arithmetic \\
        --env-kwargs '{"difficulty": 2, "verify_steps": false}' --problems 100 --samples 16,64 \\
        --planners best_of_n_vote,best_of_n_weighted,beam,dvts,gumbel_mcts \\
        --guidance step_logprob --out runs/arith2_outcome.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from thinkgym.bench.run import load_policy, load_reward_model, pass_at_n
from thinkgym.envs import eval_problems, make
from thinkgym.search import as_guidance, get_planner, plan_together, score_result
from thinkgym.search.context import resolve_env
from thinkgym.search.registry import task_depth


def _guidance(spec: str | None, policy: Any, env_name: str) -> Any:
    """A guidance name (``logprob``, ``step_logprob``, ``self_eval``, ...) or a reward model
    (a folder, ``game24``, ``default``)."""
    if spec is None or spec == "none":
        return None
    try:
        return as_guidance(spec, policy)
    except ValueError:
        return as_guidance(load_reward_model(spec, [env_name]), policy)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the table; returns the rows and settings (also written to ``--out``)."""
    kwargs = json.loads(args.env_kwargs) if args.env_kwargs else {}
    env = make(args.env, **kwargs)
    inner, env_id = resolve_env(env)
    items = eval_problems(
        args.env, args.problems, difficulty=kwargs.get("difficulty"), env_kwargs=kwargs
    )
    problems = [it["options"]["problem"] for it in items]
    policy, label = load_policy(args.policy, inner)
    guidance = _guidance(args.guidance, policy, args.env)
    depth = task_depth(inner)
    sizes = (
        [(f"N={n}", n * depth) for n in args.samples]
        if args.samples
        else [(str(b), b) for b in args.budgets]
    )
    rows = []
    for seed in args.seeds:
        jobs, meta = [], []
        for name in args.planners:
            cls = get_planner(name)
            for size_label, calls in sizes if cls.budgeted else [("", None)]:
                planner = cls.for_budget(
                    policy,
                    calls,
                    depth=depth,
                    guidance=guidance,
                    seed=seed,
                    answer_check=not args.no_answer_check,
                    step_check=not args.no_step_check,
                )
                jobs.append((planner, inner, [None] * len(problems), problems))
                meta.append((name, size_label, calls))
        t0 = time.perf_counter()
        results = plan_together(jobs, progress=not args.quiet)
        wall = time.perf_counter() - t0
        for (name, size_label, calls), res in zip(meta, results, strict=True):
            for r in res:
                score_result(inner, r)
            passes = [pass_at_n(inner, r) for r in res]
            n = len(res)
            rows.append(
                {
                    "seed": seed,
                    "planner": name,
                    "size": size_label,
                    "budget": calls,
                    "solve_rate": sum(bool(r.correct) for r in res) / n,
                    "pass_at_n": None if None in passes else sum(map(bool, passes)) / n,
                    "policy_calls": sum(r.cost.policy_calls for r in res) / n,
                    "reward_model_calls": sum(r.cost.reward_model_calls for r in res) / n,
                    "guidance_calls": sum(r.cost.guidance_calls for r in res) / n,
                }
            )
        print(f"seed {seed}: {wall:.0f} s", file=sys.stderr)
    out = {
        "command": " ".join(sys.argv),
        "env": env_id,
        "env_kwargs": kwargs,
        "problems": len(problems),
        "policy": label,
        "guidance": getattr(guidance, "name", None) if guidance is not None else None,
        "depth": depth,
        "answer_check": not args.no_answer_check,
        "step_check": not args.no_step_check,
        "rows": rows,
    }
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=1))
    return out


def table(out: dict[str, Any]) -> str:
    """The rows as a markdown table."""
    cols = ["seed", "planner", "size", "budget", "solve_rate", "pass_at_n", "policy_calls"]
    cols += ["reward_model_calls"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in out["rows"]:
        cells = []
        for c in cols:
            v = r[c]
            if c in ("solve_rate", "pass_at_n"):
                cells.append("" if v is None else f"{v:.0%}")
            elif isinstance(v, float):
                cells.append(f"{v:,.1f}")
            else:
                cells.append("" if v is None else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ints(text: str) -> list[int]:
    return [int(t) for t in text.split(",") if t.strip()]


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, print the table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="Game24")
    p.add_argument("--env-kwargs", default=None, help="JSON keyword arguments of the env")
    p.add_argument("--problems", type=int, default=20)
    p.add_argument("--budgets", type=_ints, default=[16], help="policy calls per problem")
    p.add_argument("--samples", type=_ints, default=None, help="N: budget = N * depth")
    p.add_argument("--planners", type=lambda s: s.split(","), default=["best_of_n", "dvts"])
    p.add_argument(
        "--guidance",
        default=None,
        help="logprob, step_logprob, entropy, self_eval, a reward-model folder, game24, default",
    )
    p.add_argument("--policy", default="default")
    p.add_argument("--seeds", type=_ints, default=[0])
    p.add_argument("--no-answer-check", action="store_true")
    p.add_argument("--no-step-check", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--out", default=None, help="JSON file for the rows and settings")
    args = p.parse_args(argv)
    out = run(args)
    print(
        f"{out['env']} {out['env_kwargs']}, {out['problems']} problems, guidance "
        f"{out['guidance']}, depth {out['depth']}, answer check "
        f"{'on' if out['answer_check'] else 'off'}, step check "
        f"{'on' if out['step_check'] else 'off'}"
    )
    print(table(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
