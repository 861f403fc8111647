"""The search benchmark: every planner x task at equal compute, solve rate against compute.

The bench sits above search: :mod:`~thinkgym.bench.config` holds :class:`BenchConfig` and
:class:`BenchReport`, :mod:`~thinkgym.bench.run` runs planners x envs x budgets x seeds
(:func:`run_benchmark`), :mod:`~thinkgym.bench.aggregate` folds seeds and names the winner per
budget, :mod:`~thinkgym.bench.report` writes ``results.md/csv/json`` and
:mod:`~thinkgym.bench.plot` draws ``scaling.png``. The command line is ``thinkgym bench``.
"""

from __future__ import annotations

from thinkgym.bench.aggregate import aggregate_rows, winner_lines, winners
from thinkgym.bench.config import DEFAULT_PLANNERS, BenchConfig, BenchReport, parse_seeds
from thinkgym.bench.plot import plot_scaling
from thinkgym.bench.report import (
    COLUMN_LEGEND,
    markdown_seeds_table,
    markdown_table,
    summary_table,
    write_results,
)
from thinkgym.bench.run import (
    BenchShards,
    bench_settings,
    bench_versions,
    held_out_problems,
    load_policy,
    load_reward_model,
    run_benchmark,
    run_env_jobs,
    task_depth,
)

__all__ = [
    "BenchConfig",
    "BenchReport",
    "BenchShards",
    "run_benchmark",
    "aggregate_rows",
    "winners",
    "winner_lines",
    "summary_table",
    "markdown_seeds_table",
    "parse_seeds",
    "run_env_jobs",
    "write_results",
    "markdown_table",
    "plot_scaling",
    "load_policy",
    "load_reward_model",
    "held_out_problems",
    "task_depth",
    "DEFAULT_PLANNERS",
    "COLUMN_LEGEND",
    "bench_settings",
    "bench_versions",
]
