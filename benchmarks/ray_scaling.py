"""Ray scaling: ``thinkgym bench --backend ray --workers 1`` against ``--workers 2``.

Both runs cut each env's problems into the same shards (``--shards``, 4 by default), so they do
the same work and must print the same table (checked): the only difference is how many shards
run at once. Each configuration runs ``--repeats`` times as a fresh ``thinkgym bench`` process;
the script prints the medians of

* ``startup``: Ray start-up (``ray.init`` of a local instance plus the worker actors), as the
  bench reports it;
* ``search``: the bench's own search time, policy loading in the workers included (each worker
  loads the policy once, on its first shard);
* ``wall``: the whole command, Python start-up and Ray shutdown included;

and the speed-ups of ``search`` and ``wall`` from 1 to 2 workers. ``--local`` adds the local
backend (one process, one batch, torch on every core) on the same problems for reference.

Run it on an idle machine: other work on the cores changes the figures. Default (~10 min on a
2-core CPU)::

    python benchmarks/ray_scaling.py

Smoke test (tiny, ~2 min; the speed-up it prints means little)::

    python benchmarks/ray_scaling.py --quick
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STARTUP_RE = re.compile(r"\[bench\] ray: (\d+) workers started in ([\d.]+) s")
SEARCH_RE = re.compile(r"\[bench\] (?:ray|local): ([\d.]+) s of search")


def bench_command(args: argparse.Namespace, backend: str, workers: int | None, out: Path) -> list:
    """The ``thinkgym bench`` command line of one run."""
    cmd = [sys.executable, "-m", "thinkgym", "bench"]
    cmd += ["--envs", args.envs, "--planners", args.planners, "--budgets", args.budgets]
    cmd += ["--problems", str(args.problems), "--policy", args.policy, "--seed", str(args.seed)]
    cmd += ["--quiet", "--no-plot", "--no-throughput", "--out", str(out), "--backend", backend]
    if backend == "ray":
        cmd += ["--workers", str(workers)]
        if args.shards:
            cmd += ["--shards", str(args.shards)]
    return cmd


def run_once(cmd: list[str]) -> dict[str, float]:
    """Run one bench process; its wall time and the start-up and search times it reports."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    out: dict[str, float] = {"wall": wall}
    if m := STARTUP_RE.search(proc.stderr):
        out["startup"] = float(m.group(2))
    if m := SEARCH_RE.search(proc.stderr):
        out["search"] = float(m.group(1))
    else:  # the local backend without shards prints the bench's own line only
        m = re.search(r"\(([\d.]+) s\)\s*$", proc.stderr.strip())
        out["search"] = float(m.group(1)) if m else float("nan")
    return out


def table(out: Path) -> list[dict[str, str]]:
    """The bench rows without the timing column (must not depend on the number of workers)."""
    with open(out / "results.csv") as fh:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--envs", default="Game24")
    parser.add_argument("--planners", default="best_of_n,beam")
    parser.add_argument("--budgets", default="16")
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--policy", default="default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--shards",
        type=int,
        default=4,
        help="shards per env for both runs (0: one per worker); more shards than workers let "
        "a free worker take the next shard, so uneven shards balance out",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--local", action="store_true", help="also time --backend local")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.problems, args.budgets, args.planners, args.repeats = 2, "4", "best_of_n", 1
    configs: list[tuple[str, str, int | None]] = [("ray, 1 worker", "ray", 1)]
    configs.append(("ray, 2 workers", "ray", 2))
    if args.local:
        configs.append(("local (1 process)", "local", None))
    print(
        f"problems: {args.envs} x {args.problems}, planners {args.planners}, budgets "
        f"{args.budgets}, policy {args.policy}, shards per env: {args.shards or 'one per worker'}"
        f", {args.repeats} repeats (medians)",
        flush=True,
    )
    times: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in configs}
    tables: dict[str, list] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            for name, backend, workers in configs:
                out = Path(tmp) / f"{backend}{workers}_{rep}"
                cmd = bench_command(args, backend, workers, out)
                if rep == 0:
                    print("$ " + " ".join(cmd[1:]).replace("-m thinkgym", "thinkgym"))
                t = run_once(cmd)
                times[name].append(t)
                tables.setdefault(name, table(out))
                print(
                    f"  run {rep + 1} {name}: wall {t['wall']:.1f} s, search {t['search']:.1f} s"
                    + (f", ray start-up {t['startup']:.1f} s" if "startup" in t else ""),
                    flush=True,
                )
    med = {
        name: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        for name, runs in times.items()
    }
    print("\n| backend | wall (s) | search (s) | ray start-up (s) |")
    print("|---|---|---|---|")
    for name, m in med.items():
        startup = f"{m['startup']:.1f}" if "startup" in m else "-"
        print(f"| {name} | {m['wall']:.1f} | {m['search']:.1f} | {startup} |")
    one, two = med["ray, 1 worker"], med["ray, 2 workers"]
    print(
        f"\nspeed-up 1 -> 2 workers: search {one['search'] / two['search']:.2f}x, "
        f"whole command {one['wall'] / two['wall']:.2f}x (target >= 1.6x)"
    )
    same = tables["ray, 1 worker"] == tables["ray, 2 workers"]
    print(f"same table with 1 and 2 workers: {'yes' if same else 'NO'}")
    if args.local and args.shards:
        print(
            "local runs all problems in one batch: its table matches only with --shards 0 and "
            "--workers 1"
        )
    print(f"cores: {os.cpu_count()}; Python {sys.version.split()[0]}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
