"""How many evaluation problems occur in the training data? (It should be 0 for every set.)

Builds the training rows of a recipe (``thinkgym train sft --recipe default``; ``--scale`` as
``--data-scale``) and counts, for every evaluation set the project reports figures on, how many of
its problems are the problem of some training row. The comparison is by problem line (and, for
Countdown-style lines, also by the sorted numbers and target, so a reordered puzzle counts too).

Run::

    python benchmarks/split_overlap.py                 # the full default recipe (minutes)
    python benchmarks/split_overlap.py --scale 0.01    # a quick look

Before the held-out split was a property of the problem (seed conventions), 146 of the bench's 200
LinearEquation problems and 3 of its 200 Arithmetic problems were in the default recipe's data,
and its Countdown rows held a Tree-of-Thoughts test puzzle (``2 8 13 1``, target 24).
"""

from __future__ import annotations

import argparse
import re
import sys
import time

# (label, env id, n or None for a fixed test set, difficulty or None for the default)
EVAL_SETS: tuple[tuple[str, str, int | None, int | None], ...] = (
    ("bench / train evals: Arithmetic", "thinkgym/Arithmetic-v0", 200, None),
    ("bench / train evals: LinearEquation", "thinkgym/LinearEquation-v0", 200, None),
    ("bench / train evals: Countdown", "thinkgym/Countdown-v0", 200, None),
    ("Game24: Tree-of-Thoughts test puzzles", "thinkgym/Game24-v0", None, None),
    ("MathWord: test file", "thinkgym/MathWord-v0", None, None),
    ("search figures: Arithmetic d4", "thinkgym/Arithmetic-v0", 200, 4),
    ("Arithmetic d2 (a recipe row's difficulty)", "thinkgym/Arithmetic-v0", 200, 2),
    ("Arithmetic d0 (all its test problems)", "thinkgym/Arithmetic-v0", 40, 0),
    ("LinearEquation d0 (a recipe row's difficulty)", "thinkgym/LinearEquation-v0", 100, 0),
    ("Countdown d0", "thinkgym/Countdown-v0", 200, 0),
    ("Countdown d2", "thinkgym/Countdown-v0", 200, 2),
    ("Countdown d3", "thinkgym/Countdown-v0", 200, 3),
)
"""Every evaluation set a figure or a training evaluation of the project uses (``n`` problems of
:func:`thinkgym.envs.eval_problems`; smaller sets are prefixes of these)."""

_NUMBERS = re.compile(r"^Numbers: ([\d ]+) \| Target: (\d+)$")


def _key(head: str) -> str:
    m = _NUMBERS.match(head)
    if m is None:
        return head
    return f"{sorted(int(v) for v in m.group(1).split())}|{m.group(2)}"


def eval_heads() -> dict[str, set[str]]:
    """Problem lines of each evaluation set, by label."""
    from thinkgym.envs import eval_problems, make

    out = {}
    for label, env_id, n, difficulty in EVAL_SETS:
        try:
            env = make(env_id).unwrapped
        except ImportError as exc:  # MathWord reads its files with `datasets`
            print(f"[overlap] skipping {label}: {exc}", file=sys.stderr)
            continue
        out[label] = {
            env.format_problem(kw["options"]["problem"])
            for kw in eval_problems(env_id, n, difficulty=difficulty)
        }
    return out


def overlap(train_heads: set[str], sets: dict[str, set[str]]) -> dict[str, int]:
    """For each evaluation set, how many of its problems are training problems."""
    keys = {_key(h) for h in train_heads}
    return {label: sum(_key(h) in keys for h in heads) for label, heads in sets.items()}


def main(argv: list[str] | None = None) -> int:
    """Print the overlap table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", default="default")
    parser.add_argument("--scale", type=float, default=1.0, help="data scale (as --data-scale)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--rows",
        nargs="*",
        default=None,
        help="only these rows of the recipe's data table (e.g. thinkgym/LinearEquation-v0); "
        "the row seeds stay those of the full table",
    )
    args = parser.parse_args(argv)
    from thinkgym.learning.recipes import build_traces, get_recipe

    data = get_recipe(args.recipe).data
    unknown = sorted(set(args.rows or ()) - set(data))
    if unknown:
        parser.error(f"unknown rows {unknown}; the recipe has {sorted(data)}")
    keep = set(data) if args.rows is None else set(args.rows)
    # rows left out build 0 problems, so the kept rows keep their seeds
    table = {k: (n if k in keep else 0, s, d) for k, (n, s, d) in data.items()}
    t0 = time.perf_counter()
    traces = build_traces(table, seed=args.seed, scale=args.scale)
    heads = {t.head for t in traces}
    sets = eval_heads()
    counts = overlap(heads, sets)
    print(
        f"\nrecipe {args.recipe!r} (rows: {', '.join(sorted(keep))}) at scale {args.scale}: "
        f"{len(traces)} traces, {len(heads)} "
        f"distinct problems ({time.perf_counter() - t0:.0f} s)\n"
    )
    print("| evaluation set | problems | in the training data |")
    print("|---|---|---|")
    for label, n in counts.items():
        print(f"| {label} | {len(sets[label])} | {n} |")
    return 0 if not any(counts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
