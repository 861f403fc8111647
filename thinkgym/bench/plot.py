"""The scaling plot: solve rate against compute, one line per planner, a band over seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_scaling(rows: list[dict[str, Any]], path: Path, x: str = "tokens") -> Path:
    """Solve rate against ``x`` (``"tokens"`` or ``"policy_calls"``) per env, one line per planner.

    ``rows`` may be :func:`aggregate_rows` (several seeds): each line is then the mean, with a
    shaded band from the lowest to the highest seed (error bars for a lone point).

    Raises:
        ImportError: matplotlib is missing (``pip install thinkgym[plot]``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import ticker
    except ImportError:
        raise ImportError("the scaling plot needs matplotlib: pip install thinkgym[plot]") from None
    envs = sorted({r["env"] for r in rows})
    spread = bool(rows) and "solve_rate_min" in rows[0]
    fig, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 4), squeeze=False)
    for ax, env in zip(axes[0], envs, strict=True):
        planners = sorted({r["planner"] for r in rows if r["env"] == env})
        for k, planner in enumerate(planners):
            mine = [r for r in rows if r["env"] == env and r["planner"] == planner and r[x] > 0]
            pts = sorted((r[x], r["solve_rate"], r["budget"]) for r in mine)
            if not pts:
                continue
            style = "o" if len(pts) == 1 else "o-"
            (line,) = ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=planner)
            if spread:
                band = sorted((r[x], r["solve_rate_min"], r["solve_rate_max"]) for r in mine)
                xs, lo, hi = zip(*band, strict=True)
                if len(band) > 1:
                    ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
                else:
                    mean = pts[0][1]
                    # max(0, .): the mean of equal rates can differ from them by a rounding ulp
                    yerr = [[max(0.0, mean - lo[0])], [max(0.0, hi[0] - mean)]]
                    ax.errorbar(xs, [mean], yerr=yerr, fmt="none", ecolor=line.get_color())
            # each point's budget next to it; planners' labels are staggered so that points
            # at the same place (e.g. every planner at 100%) keep readable labels
            dy = (5, -12, 13, -20, 21, -28)[k % 6]
            for px, py, budget in pts:
                if budget == "" or budget is None:
                    continue
                ax.annotate(
                    str(budget),
                    (px, py),
                    textcoords="offset points",
                    xytext=(4, dy),
                    fontsize=7,
                    color=line.get_color(),
                )
        ax.set_xscale("log")
        # plain numbers at powers of ten only: minor-tick labels overlap on a short axis
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel(f"{x.replace('_', ' ')} per problem (log)")
        ax.set_ylabel("solve rate")
        ax.set_ylim(-0.16, 1.16)
        title = f"{env}\n(number at a point: its budget, policy calls per problem)"
        if spread:
            seeds = len(rows[0]["seeds"])
            title = title.replace("\n", f"\nmean of {seeds} seeds, band: lowest to highest seed\n")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
