"""Plot learning curves (docs/figures.md, "Learning (earlier runs)") from finished run directories.

The runs themselves are ``thinkgym train grpo|ppo|expert-iteration`` commands (listed in
docs/figures.md); this script only reads their ``history.json`` (GRPO/PPO) or
``curve.json`` (expert iteration) and draws held-out pass@1 against iterations or rounds.

Example::

    python benchmarks/learning_curves.py --out docs/img/learning_grpo.png \\
        --run outcome=runs/grpo-a1-outcome --run per-step=runs/grpo-a1-step
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load(run: Path) -> tuple[str, list[tuple[int, float]]]:
    """(x label, [(x, pass@1)]) of a GRPO/PPO or expert-iteration run directory."""
    if (run / "history.json").is_file():
        rows = json.loads((run / "history.json").read_text())
        return "iteration", [(r["iteration"], r["pass@1"]) for r in rows if "pass@1" in r]
    rows = json.loads((run / "curve.json").read_text())
    return "round", [(r["round"], r["pass@1"]) for r in rows]


def main() -> None:
    """Parse arguments and draw the figure."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--run", action="append", required=True, metavar="LABEL=DIR")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--title", default="")
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    xlabel = ""
    for spec in args.run:
        label, _, path = spec.rpartition("=")
        xlabel, pts = load(Path(path))
        ax.plot([x for x, _ in pts], [100 * y for _, y in pts], marker="o", label=label)
        print(label, [(x, round(100 * y, 1)) for x, y in pts])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("held-out greedy pass@1 (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if args.title:
        ax.set_title(args.title, fontsize=9)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(str(args.out), dpi=120)


if __name__ == "__main__":
    main()
