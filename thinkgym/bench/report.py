"""Report writers: ``results.md``, ``results.csv``, ``results.json`` and the summary table."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from thinkgym.bench.aggregate import winner_lines
from thinkgym.bench.config import BenchReport
from thinkgym.bench.plot import plot_scaling

COLUMN_LEGEND = """\
Columns (costs are means per problem):

- **budget**: the most policy calls (generated candidate steps) a planner may spend on one
  problem; it sizes the planner (samples, beam width, simulations). Blank: greedy, one pass.
- **guidance**: what ranked the candidates: a learned reward model (reward_model), the
  policy's own log-probs (logprob), or best-of-N's selection rule (vote: the majority answer;
  logprob, orm, prm: the best-scored sample). none: nothing ranked them.
- **answer_check**: on: the env's reference-free answer check was used during search (a search
  may stop at an answer it accepts; for Game24 that check is the grader itself). Off: the
  planner chose its answer by guidance alone.
- **step_check**: on: the env's reference-free step check rejected false steps during search.
  Off: every well-formed step was taken as claimed; the planner had its guidance only.
- **problems**: held-out test problems run per env.
- **solve_rate**: share of the problems whose final answer matches the hidden reference
  (scored after the search ended).
- **pass_at_n**: planners that keep whole samples (best-of-N, DVTS): share of the problems where
  any of their finished samples is right, i.e. what a perfect selector would reach (scored after
  search). Blank for the others.
- **policy_calls**: candidate steps generated (one sampled sequence each).
- **tokens**: tokens generated.
- **reward_model_calls**: texts scored by a learned reward model (or by self-evaluation).
- **seconds**: wall seconds of the planner's searches summed over its problems; all planners
  of an env run together and split the shared batched calls by their share."""


"""The legend under the table in ``results.md``."""


SEEDS_LEGEND = """\
With several seeds (the seed changes only the sampling; problems, planners and budgets are the
same), each cell is the mean over the seeds; **solve_rate** reads `mean (min-max)` and **sd** is
the sample standard deviation of the solve rate over the seeds. results.json (`rows`, each with
its `seed`; `aggregate`) and results.csv (per-seed rows, then rows with seed `mean`) keep both.
The lines under the table name, per env and budget, the planner with the highest mean solve
rate (ties all named; greedy, which has no budget, leads the line)."""


"""The legend ``results.md`` adds under :data:`COLUMN_LEGEND` when several seeds ran."""


def summary_table(report: BenchReport, *, markdown: bool = False) -> str:
    """The table of ``report``: its rows for one seed (:func:`markdown_table`), else the
    aggregate over the seeds (:func:`markdown_seeds_table`) followed by the winner lines
    (:func:`winner_lines`; a markdown list under a heading when ``markdown``)."""
    if not report.aggregate:
        return markdown_table(report.rows, report.policy_label)
    table = markdown_seeds_table(report.aggregate, report.policy_label, report.seeds)
    lines = winner_lines(report.aggregate)
    if markdown:
        head = "Best planner at each budget (highest mean solve rate over the seeds, (min-max)):"
        return table + "\n\n" + head + "\n\n" + "\n".join(f"- {line}" for line in lines)
    return table + "\n\n" + "\n".join(lines)


def write_results(
    report: BenchReport, out: str | Path, *, plot: bool = True, x: str = "tokens"
) -> list[Path]:
    """Write ``results.md``, ``results.json``, ``results.csv`` (and ``scaling.png``) to ``out``.

    Returns:
        The paths written.

    Raises:
        ImportError: ``plot=True`` without matplotlib (the tables are written first).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, label = report.rows, report.policy_label
    paths = [out / "results.md", out / "results.json"]
    md = summary_table(report, markdown=True) + "\n\n" + COLUMN_LEGEND
    if report.aggregate:
        md += "\n\n" + SEEDS_LEGEND + "\n"
    if report.settings:
        md += "\n" + _settings_line(report)
    paths[0].write_text(md + "\n")
    record: dict[str, Any] = {"policy": label}
    if report.argv is not None:
        import shlex

        record["argv"] = list(report.argv)
        record["command"] = shlex.join(["thinkgym", *report.argv[1:]])
    record.update(report.settings)
    record["seconds"] = report.seconds
    if report.throughput:
        record["throughput"] = report.throughput
    record["rows"] = rows
    if report.aggregate:
        record["seeds"] = list(report.seeds)
        record["aggregate"] = report.aggregate
        record["winners"] = winner_lines(report.aggregate)
    paths[1].write_text(json.dumps(record, indent=1, default=repr))
    if rows:
        with open(out / "results.csv", "w", newline="") as fh:
            if report.aggregate:
                _write_seeds_csv(fh, rows, report.aggregate)
            else:
                w = csv.DictWriter(fh, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
        paths.append(out / "results.csv")
    if report.throughput:
        (out / "throughput.txt").write_text(report.throughput + "\n")
        paths.append(out / "throughput.txt")
    if plot:
        paths.append(plot_scaling(report.aggregate or rows, out / "scaling.png", x))
    return paths


def _write_seeds_csv(fh: Any, rows: list[dict[str, Any]], aggregate: list[dict[str, Any]]) -> None:
    """Per-seed rows, then the aggregate rows (``seed`` = ``mean``; the spread in the
    ``solve_rate_min``/``_max``/``_std`` and ``n_seeds`` columns, blank on per-seed rows)."""
    extra = ["solve_rate_min", "solve_rate_max", "solve_rate_std", "n_seeds"]
    w = csv.DictWriter(fh, fieldnames=list(rows[0]) + extra, restval="")
    w.writeheader()
    w.writerows(rows)
    for agg in aggregate:
        row = {k: v for k, v in agg.items() if k != "seeds"}
        w.writerow({**row, "seed": "mean", "n_seeds": len(agg["seeds"])})


def _settings_line(report: BenchReport) -> str:
    """One line naming the settings (all of them, and the command, are in results.json)."""
    cfg = report.settings.get("config", {})
    parts = [
        f"policy {report.policy_label}",
        f"seeds {', '.join(map(str, cfg['seeds']))}"
        if cfg.get("seeds")
        else f"seed {cfg.get('seed')}",
        f"temperature {cfg.get('temperature')}",
        f"backend {report.settings.get('backend', {}).get('name')}",
    ]
    versions = report.settings.get("versions", {})
    parts += [f"{k} {v}" for k, v in versions.items() if k in ("thinkgym", "torch") and v]
    line = "Settings: " + ", ".join(parts) + ". Every setting needed to rerun is in results.json"
    if report.argv is not None:
        import shlex

        line += f"; command: `{shlex.join(['thinkgym', *report.argv[1:]])}`"
    return line + "."


def markdown_table(rows: list[dict[str, Any]], label: str) -> str:
    """The rows as a markdown table headed by the policy label."""
    cols = ["env", "planner", "budget", "guidance", "answer_check", "step_check", "problems"]
    cols += ["solve_rate"] + (["pass_at_n"] if _has_pass(rows) else [])
    cols += ["policy_calls", "tokens", "reward_model_calls", "seconds"]
    lines = [f"policy: {label}", "", "| " + " | ".join(cols) + " |"]
    lines.append("|" + "---|" * len(cols))
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c, True) if c == "step_check" else r.get(c, "")
            if c == "solve_rate" or (c == "pass_at_n" and v != ""):
                cells.append(f"{v:.0%}")
            elif c in ("answer_check", "step_check"):
                cells.append("on" if v else "off")
            elif isinstance(v, float):
                cells.append(f"{v:,.1f}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_seeds_table(
    aggregate: list[dict[str, Any]], label: str, seeds: list[int] | None = None
) -> str:
    """The :func:`aggregate_rows` as a markdown table: solve rate as ``mean (min-max)``, its
    standard deviation (``sd``) and mean costs, headed by the policy label and the seeds."""
    cols = ["env", "planner", "budget", "guidance", "answer_check", "step_check", "problems"]
    # sd right after solve_rate: it is the solve rate's spread over the seeds
    cols += ["solve_rate", "sd"] + (["pass_at_n"] if _has_pass(aggregate) else [])
    cols += ["policy_calls", "tokens", "reward_model_calls", "seconds"]
    seeds = seeds if seeds is not None else (aggregate[0]["seeds"] if aggregate else [])
    head = f"policy: {label}; mean over {len(seeds)} seeds ({', '.join(map(str, seeds))})"
    lines = [head, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in aggregate:
        cells = []
        for c in cols:
            if c == "solve_rate":
                lo, hi = r["solve_rate_min"], r["solve_rate_max"]
                cells.append(f"{r[c]:.0%} ({lo:.0%}-{hi:.0%})")
            elif c == "sd":
                cells.append(f"{r['solve_rate_std']:.0%}")
            elif c == "pass_at_n":
                cells.append(f"{r[c]:.0%}" if r.get(c, "") != "" else "")
            elif c in ("answer_check", "step_check"):
                cells.append("on" if r.get(c, True) else "off")
            elif isinstance(r[c], float):
                cells.append(f"{r[c]:,.1f}")
            else:
                cells.append(str(r[c]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _has_pass(rows: list[dict[str, Any]]) -> bool:
    """Whether any row has a pass@N (a planner that keeps whole samples ran)."""
    return any(r.get("pass_at_n", "") != "" for r in rows)
