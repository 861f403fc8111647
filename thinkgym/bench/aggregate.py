"""Aggregate bench rows: mean and spread over seeds, and the winning planner per env and budget."""

from __future__ import annotations

import statistics
from typing import Any

_KEY = ("env", "planner", "budget", "guidance", "answer_check", "step_check")


_MEAN_COLUMNS = (
    "policy_calls",
    "tokens",
    "guidance_calls",
    "reward_model_calls",
    "env_steps",
    "seconds",
)


def aggregate_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (env, planner, budget) the aggregate of per-seed rows over their seeds.

    Each aggregate row has the key columns, ``seeds`` (the seeds, in order), ``problems``,
    ``solve_rate`` (the mean over the seeds), ``solve_rate_min``, ``solve_rate_max``,
    ``solve_rate_std`` (the sample standard deviation; 0 for one seed) and the mean of each
    cost column (policy calls, tokens, guidance and reward-model calls, env steps, seconds).
    Rows keep the order in which each (env, planner, budget) first appears.

    Args:
        rows: per-seed rows, each with a ``seed`` (as :func:`run_benchmark` writes them).
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        # rows written before the step check could be switched off had it on
        key = tuple(r.get(k, True) if k == "step_check" else r[k] for k in _KEY)
        groups.setdefault(key, []).append(r)
    out = []
    for key, group in groups.items():
        rates = [float(r["solve_rate"]) for r in group]
        agg: dict[str, Any] = dict(zip(_KEY, key, strict=True))
        agg["seeds"] = [r.get("seed") for r in group]
        agg["problems"] = group[0]["problems"]
        agg["solve_rate"] = statistics.fmean(rates)
        agg["solve_rate_min"] = min(rates)
        agg["solve_rate_max"] = max(rates)
        agg["solve_rate_std"] = statistics.stdev(rates) if len(rates) > 1 else 0.0
        for col in _MEAN_COLUMNS:
            agg[col] = statistics.fmean(float(r[col]) for r in group)
        passes = [float(r["pass_at_n"]) for r in group if r.get("pass_at_n") not in (None, "")]
        if passes:
            agg["pass_at_n"] = statistics.fmean(passes)
        out.append(agg)
    return out


def _short_env(env_id: str) -> str:
    """``thinkgym/Game24-v0`` -> ``Game24``."""
    name = env_id.rsplit("/", 1)[-1]
    base, sep, version = name.rpartition("-v")
    return base if sep and version.isdigit() else name


def winners(rows: list[dict[str, Any]]) -> dict[str, dict[Any, list[dict[str, Any]]]]:
    """Per env and budget, the budgeted planners' rows with the highest (mean) solve rate.

    Args:
        rows: bench rows (one seed) or :func:`aggregate_rows` (several); greedy and other
            rows without a budget are left out.

    Returns:
        env id -> budget -> the best rows (more than one when they tie), in row order.
    """
    out: dict[str, dict[Any, list[dict[str, Any]]]] = {}
    for r in rows:
        if r["budget"] in ("", None):
            continue
        out.setdefault(r["env"], {}).setdefault(r["budget"], []).append(r)
    for per_budget in out.values():
        for budget, group in per_budget.items():
            top = max(r["solve_rate"] for r in group)
            per_budget[budget] = [r for r in group if r["solve_rate"] >= top - 1e-9]
    return {env: dict(sorted(b.items())) for env, b in out.items()}


def _rate(r: dict[str, Any]) -> str:
    """``0.55 (0.50-0.60)`` (aggregate rows) or ``0.55`` (one seed)."""
    text = f"{r['solve_rate']:.2f}"
    if "solve_rate_min" in r:
        text += f" ({r['solve_rate_min']:.2f}-{r['solve_rate_max']:.2f})"
    return text


def winner_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One line per env naming the planner that wins at each budget (ties all named).

    For example ``Game24: best at 4 calls: best_of_n 0.55 (0.50-0.60); at 16: beam 0.70
    (0.65-0.75) = mcts 0.70 (0.60-0.80)``, led by greedy's rate when greedy ran. Rates are
    solve rates: the mean over the seeds with its (min-max) for :func:`aggregate_rows`.
    """
    lines = []
    for env, per_budget in winners(rows).items():
        parts = []
        greedy = [r for r in rows if r["env"] == env and r["planner"] == "greedy"]
        if greedy:
            parts.append(f"greedy {_rate(greedy[0])}")
        for i, (budget, best) in enumerate(per_budget.items()):
            named = " = ".join(f"{r['planner']} {_rate(r)}" for r in best)
            parts.append(f"best at {budget} calls: {named}" if i == 0 else f"at {budget}: {named}")
        lines.append(f"{_short_env(env)}: " + "; ".join(parts))
    return lines
