"""``thinkgym bench``: planners x envs x budgets, solve rate against compute (test-time scaling).

Writes ``results.md``, ``results.csv``, ``results.json`` and ``scaling.png`` (solve rate against
generated tokens, log x, one line per planner) under ``--out``. Problems are held out of training:
Game24 uses the Tree-of-Thoughts test puzzles, the other tasks seeds from 10,000 on. Answers are
scored against the hidden reference only after search (:func:`score_result`).

It also measures generation throughput: tokens/s over the whole bench (search overhead included)
against plain batch-64 ``generate`` on the same model, in the same run.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from thinkgym.agents.search.base import resolve_env, score_result
from thinkgym.agents.search.registry import get_planner, list_planners

__all__ = ["add_bench_arguments", "run_bench", "planner_kwargs", "load_policy", "held_out_problems"]

DEFAULT_PLANNERS = "greedy,best_of_n,beam,mcts,revision"
EVAL_SEED = 10_000


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1, with an error that names the value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the bench options to ``parser`` (used by ``thinkgym bench`` and benchmarks/search.py)."""
    parser.add_argument("--envs", default="Game24,Arithmetic", help="comma-separated env names")
    parser.add_argument(
        "--planners",
        default=DEFAULT_PLANNERS,
        help=f"comma-separated planner names ('greedy' = pass@1 baseline); known: "
        f"{', '.join(list_planners())}",
    )
    parser.add_argument(
        "--budgets", default="4,16,64", help="policy calls (generated steps) per problem"
    )
    parser.add_argument("--problems", type=int, default=20, help="problems per env")
    parser.add_argument(
        "--policy",
        default="default",
        help="'default' (the shipped LLMPolicy), a model directory, 'random' or 'oracle'",
    )
    parser.add_argument("--prm", default=None, help="LearnedRewardModel directory used as a PRM")
    parser.add_argument("--orm", default=None, help="LearnedRewardModel directory used as an ORM")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench_results", help="output directory")
    parser.add_argument("--x", choices=("tokens", "policy_calls"), default="tokens")
    parser.add_argument("--no-plot", action="store_true", help="skip the plot")
    parser.add_argument(
        "--no-throughput", action="store_true", help="skip the batch-64 generate reference"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--batch-rows",
        type=_positive_int,
        default=None,
        help="most rows (observations x samples) per forward batch of the LLM policy (default: "
        "64 on a CPU, 4096 on a GPU)",
    )
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        help="a Python file or module to load first (e.g. one that calls register_planner)",
    )


def held_out_problems(env_name: str, count: int) -> tuple[list[int | None], list[Any]]:
    """Seeds and pinned problems for evaluation (Game24: the Tree-of-Thoughts test puzzles)."""
    if "Game24" in env_name:
        from thinkgym.envs.game24 import test_puzzles

        puzzles = list(test_puzzles())[:count]
        return [None] * len(puzzles), [{"numbers": list(p), "target": 24} for p in puzzles]
    seeds = list(range(EVAL_SEED, EVAL_SEED + count))
    return seeds, [None] * count


def load_policy(spec: str, env: Any = None, batch_rows: int | None = None) -> tuple[Any, str]:
    """The policy named by ``--policy`` and a label; falls back to RandomAgent with a message.

    ``batch_rows`` is the LLM policy's ``max_batch_rows`` (rows per forward batch; ``None``: the
    policy's default, 64 on a CPU and 4096 on a GPU).
    """
    from thinkgym.agents.base import OracleAgent, RandomAgent

    if spec == "random":
        return RandomAgent(env, seed=0), "random"
    if spec == "oracle":
        return OracleAgent(env, seed=0), "oracle (exact solver)"
    try:
        from thinkgym.agents.llm import LLMPolicy
    except ImportError as exc:  # pragma: no cover - transformers is a dependency
        print(f"[bench] cannot import LLMPolicy ({exc}); using RandomAgent", file=sys.stderr)
        return RandomAgent(env, seed=0), "random (fallback)"
    try:
        if spec == "default":
            return LLMPolicy.default(max_batch_rows=batch_rows), "LLMPolicy.default()"
        return LLMPolicy.from_pretrained(spec, max_batch_rows=batch_rows), spec
    except (FileNotFoundError, OSError) as exc:
        print(
            f"[bench] no model to load ({exc}).\n[bench] Falling back to RandomAgent: the "
            "numbers below measure the harness, not a learned policy.",
            file=sys.stderr,
        )
        return RandomAgent(env, seed=0), "random (fallback: no shipped policy)"


def _depth(env: Any) -> int:
    """Typical steps per solution (sizes planners to a budget; uses the solver on a throwaway seed)."""
    try:
        env.reset(seed=987_654)
        return max(1, len(env.solve(env.get_state().problem)))
    except (NotImplementedError, ValueError):
        return 4


def planner_kwargs(name: str, budget: int, depth: int, guidance: dict[str, Any]) -> dict[str, Any]:
    """Planner settings that spend about ``budget`` policy calls on a task of ``depth`` steps."""
    if name == "greedy":
        return {"n": 1, "temperature": 0.0, "select": "logprob"}
    if name == "best_of_n":
        kw: dict[str, Any] = {"n": max(1, budget // depth)}
        if guidance.get("prm") is not None:
            kw.update(select="prm", reward_model=guidance["prm"])
        elif guidance.get("orm") is not None:
            kw.update(select="orm", reward_model=guidance["orm"])
        return kw
    width = max(1, min(4, budget // depth))  # a whole trajectory must fit in the budget
    if name == "beam":
        return {
            "width": width,
            "beam_size": max(1, budget // (width * depth)),
            "guidance": guidance.get("prm"),
        }
    if name == "mcts":
        return {
            "width": width,
            "simulations": max(1, budget // (width * depth)),
            "value": guidance.get("prm"),
        }
    if name == "revision":
        return {"rounds": max(0, budget // depth - 1), "guidance": guidance.get("prm")}
    return {}


def _load_rm(path: str | None, kind: str) -> Any:
    if path is None:
        return None
    from thinkgym.rewards.learned import LearnedRewardModel

    return LearnedRewardModel.from_pretrained(path)


def _generate_reference(
    policy: Any, env: Any, rows: int = 64, new_tokens: int = 32, repeats: int = 5
) -> list[float]:
    """Tokens/s of plain batch-``rows`` ``generate`` on the policy's model (sampling, no stop):
    ``repeats`` timed calls after a warm-up."""
    import torch

    model, tok = getattr(policy, "model", None), getattr(policy, "tokenizer", None)
    if model is None or tok is None:
        return []
    env.reset(seed=1)
    prompt = policy.template.render(env.transcript(), tok) if hasattr(policy, "template") else ""
    enc = tok([prompt] * rows, return_tensors="pt", padding=True).to(model.device)
    kwargs = dict(
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=True,
        pad_token_id=tok.pad_token_id,
    )
    rates = []
    with torch.inference_mode():
        model.generate(**enc, max_new_tokens=4, min_new_tokens=4, pad_token_id=tok.pad_token_id)
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = model.generate(**enc, **kwargs)
            dt = time.perf_counter() - t0
            rates.append(out.shape[0] * (out.shape[1] - enc["input_ids"].shape[1]) / dt)
    return rates


def run_bench(args: argparse.Namespace) -> int:
    """Run the benchmark described by ``args`` (see :func:`add_bench_arguments`); returns 0."""
    import importlib
    import runpy

    for plugin in getattr(args, "plugin", []) or []:
        if plugin.endswith(".py"):
            runpy.run_path(plugin, run_name="thinkgym_bench_plugin")
        else:
            importlib.import_module(plugin)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    envs = [e.strip() for e in args.envs.split(",") if e.strip()]
    planners = [p.strip() for p in args.planners.split(",") if p.strip()]
    budgets = sorted({int(b) for b in str(args.budgets).split(",") if b.strip()})
    for p in planners:
        if p != "greedy":
            get_planner(p)  # fails early with the list of known planners
    rows: list[dict[str, Any]] = []
    tokens_total = 0
    label = ""
    shared_policy = None
    if args.policy not in ("random", "oracle"):
        shared_policy, label = load_policy(
            args.policy, resolve_env(envs[0])[0], batch_rows=args.batch_rows
        )
    guidance = {"prm": _load_rm(args.prm, "prm"), "orm": _load_rm(args.orm, "orm")}
    from tqdm.auto import tqdm

    from thinkgym.agents.search.base import plan_together

    measure = shared_policy is not None and not args.no_throughput
    measure = measure and hasattr(shared_policy, "model")
    # the reference is timed before and after the bench: the machine's speed drifts
    ref_rates = _generate_reference(shared_policy, resolve_env(envs[0])[0]) if measure else []
    t_start = time.perf_counter()

    bar = tqdm(envs, desc="bench", disable=args.quiet)
    for env_name in bar:
        env, env_id = resolve_env(env_name)
        policy = shared_policy
        if policy is None or label.startswith("random"):
            policy, label = load_policy(args.policy if shared_policy is None else "random", env)
        depth = _depth(env)
        seeds, problems = held_out_problems(env_name, args.problems)
        jobs = []
        for pname in planners:
            for budget in budgets if pname != "greedy" else [0]:
                kw = planner_kwargs(pname, budget, depth, guidance)
                cls = get_planner("best_of_n" if pname == "greedy" else pname)
                kw.setdefault("temperature", args.temperature)
                planner = cls(
                    policy, budget=budget if budget else None, seed=args.seed, progress=False, **kw
                )
                jobs.append((pname, budget, planner))
        bar.set_postfix_str(f"{env_name}: {len(jobs)} planner x budget jobs at once")
        # Every planner and budget of this env runs at once: their requests share policy calls.
        t0 = time.perf_counter()
        all_results = plan_together(
            [(planner, env, seeds, problems) for _, _, planner in jobs], progress=not args.quiet
        )
        wall = time.perf_counter() - t0
        for (pname, budget, _), results in zip(jobs, all_results, strict=True):
            for r in results:
                score_result(env, r)
            n = max(1, len(results))
            tok = sum(r.cost.tokens for r in results)
            tokens_total += tok
            rows.append(
                {
                    "env": env_id,
                    "planner": pname,
                    "budget": budget if budget else "",
                    "problems": len(results),
                    "solve_rate": sum(bool(r.correct) for r in results) / n,
                    "policy_calls": sum(r.cost.policy_calls for r in results) / n,
                    "tokens": tok / n,
                    "reward_model_calls": sum(r.cost.reward_model_calls for r in results) / n,
                    "env_steps": sum(r.cost.env_steps for r in results) / n,
                    # this job's share of the shared calls (see plan_together)
                    "seconds": sum(r.cost.seconds for r in results),
                }
            )
        print(f"[bench] {env_id}: {len(jobs)} jobs in {wall:.0f} s", file=sys.stderr)
    bench_wall = time.perf_counter() - t_start
    _write(rows, out_dir, label)
    print(_markdown(rows, label))
    if not args.no_plot:
        _plot(rows, out_dir / "scaling.png", args.x)
    if measure:
        bench_tps = tokens_total / max(bench_wall, 1e-9)
        stats = getattr(shared_policy, "stats", None)
        in_policy = stats.tokens / stats.seconds if stats is not None and stats.seconds else None
        ref_rates += _generate_reference(shared_policy, resolve_env(envs[0])[0])
        ref = float(statistics.median(ref_rates)) if ref_rates else float("nan")
        msg = (
            f"throughput: bench {bench_tps:,.0f} tokens/s over the whole run"
            + (f" ({in_policy:,.0f} tokens/s inside propose)" if in_policy else "")
            + f"; plain batch-64 generate {ref:,.0f} tokens/s (median of "
            + f"{len(ref_rates)} calls before and after the bench); ratio "
            + f"{bench_tps / ref:.0%} "
            "(target >= 50%)"
        )
        print(msg)
        (out_dir / "throughput.txt").write_text(msg + "\n")
    print(f"wrote {out_dir}/results.md, results.csv, results.json ({bench_wall:.0f} s)")
    return 0


def _markdown(rows: list[dict[str, Any]], label: str) -> str:
    cols = ["env", "planner", "budget", "problems", "solve_rate", "policy_calls", "tokens"]
    cols += ["reward_model_calls", "seconds"]
    lines = [f"policy: {label}", "", "| " + " | ".join(cols) + " |"]
    lines.append("|" + "---|" * len(cols))
    for r in rows:
        cells = []
        for c in cols:
            v = r[c]
            if c == "solve_rate":
                cells.append(f"{v:.0%}")
            elif isinstance(v, float):
                cells.append(f"{v:,.1f}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _write(rows: list[dict[str, Any]], out: Path, label: str) -> None:
    (out / "results.md").write_text(_markdown(rows, label) + "\n")
    (out / "results.json").write_text(json.dumps({"policy": label, "rows": rows}, indent=1))
    if rows:
        with open(out / "results.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


def _plot(rows: list[dict[str, Any]], path: Path, x: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import ticker
    except ImportError:
        print("matplotlib is missing: skipping the plot (pip install thinkgym[plot])")
        return
    envs = sorted({r["env"] for r in rows})
    fig, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 4), squeeze=False)
    for ax, env in zip(axes[0], envs, strict=True):
        for planner in sorted({r["planner"] for r in rows if r["env"] == env}):
            pts = sorted(
                (r[x], r["solve_rate"])
                for r in rows
                if r["env"] == env and r["planner"] == planner and r[x] > 0
            )
            if not pts:
                continue
            style = "o" if len(pts) == 1 else "o-"
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=planner)
        ax.set_xscale("log")
        # plain numbers at powers of ten only: minor-tick labels overlap on a short axis
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel(f"{x.replace('_', ' ')} per problem (log)")
        ax.set_ylabel("solve rate")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(env)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"plot: {path}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m thinkgym.agents.search.bench``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_bench_arguments(parser)
    return run_bench(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
