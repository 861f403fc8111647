"""``verify`` under load: 8 threads, hostile inputs in half of them, the labeled suite in all.

Every thread runs the labeled suite (``tests/data/verify_suite.jsonl``) plus a few pairs that
used to need the sympy worker process (no real sample point evaluates them), in its own shuffled
order; threads 0-3 also interleave hostile inputs (huge powers and factorials, deep nesting,
megabyte strings, inputs aimed at quadratic regexes, program code). The script prints the
accuracy on the normal pairs (every verdict of every thread), how many verdicts differ from a
quiet single-thread run, and the worst and p99 latencies of normal and hostile calls.

Usage::

    python benchmarks/verify_hostile.py [--threads 8] [--passes 2] [--timeout 1.0] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "tests" / "data" / "verify_suite.jsonl"

HOSTILE = [
    "__import__('os').system('echo pwned')",
    "print(1)",
    "9**9**9**9",
    "9^{9^{9^{9}}}",
    "10^(10^10)",
    "2^{10^{10}}",
    "100000!",
    "factorial(10^7)",
    "factorial(10**7)",
    "(10^{400})!",
    "\\binom{100000}{50000}",
    "(" * 10_000 + "1" + ")" * 10_000,
    "x" * 1_000_000,
    "1" * 1_000_000,
    "\x00" * 100 + "1\x002",
    "\\frac{" * 2000 + "1" + "}{2}" * 2000,
    "\\sqrt{" * 3000 + "2" + "}" * 3000,
    "-" * 5000 + "1",
    "2^2^2^2^2^2^2^2^2^2^2",
    "\\boxed{" * 1000,
    "\\(" * 10_000,
    "$$ a " * 4000,
    "5" + " " * 19_000 + "apples x",
    "the answer is " + "not " * 4000 + "5",
    "\\sin(10^{3000}) + x",
    "(x+1)^{300} - (1+x)^{300}",
    "\\log(x - x)",
    "\\exp(x^{100}) ((x+1)^{60} - (x-1)^{60})",  # killed the old shared sympy worker
    "\\exp(x^{100}) \\sin(x)^{2} + \\exp(x^{100}) \\cos(x)^{2}",
    "2⁴" * 500,
    "①②③",
]

# Pairs no real point of size > 1 evaluates (they went to the sympy worker before).
FORMER_WORKER = [
    ("exp(x^{100}) * 2", "2\\exp(x^{100})", True),
    ("\\exp(x^{100})", "\\exp(x^{100}) + 1", False),
    ("\\exp(x^{200} + 1)", "e \\cdot \\exp(x^{200})", True),
    ("\\log(x - x)", "x", False),
]


def main() -> None:
    """Run the mix and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=8, help="threads in all")
    ap.add_argument("--passes", type=int, default=2, help="passes over the suite per thread")
    ap.add_argument("--timeout", type=float, default=1.0, help="verify's timeout (s)")
    ap.add_argument("--seed", type=int, default=0, help="shuffling seed")
    ap.add_argument(
        "--exclude",
        action="append",
        default=[],
        help="drop hostile inputs containing this text (to time older versions that hang on some)",
    )
    args = ap.parse_args()
    if args.threads < 2 or args.passes < 1 or not args.timeout > 0:
        ap.error("need --threads >= 2, --passes >= 1 and --timeout > 0")

    from thinkgym.rewards import verify
    from thinkgym.rewards.verify import clear_caches

    hostile = [h for h in HOSTILE if not any(x in h for x in args.exclude)]
    rows = [json.loads(line) for line in SUITE.read_text().splitlines() if line.strip()]
    normal = [(r["pred"], r["ref"], r["equal"]) for r in rows] + FORMER_WORKER
    quiet = {(p, r): verify(p, r, timeout=args.timeout) for p, r, _ in normal}  # 1 thread
    clear_caches()  # the threads parse cold

    lock = threading.Lock()
    normal_lat: list[float] = []
    hostile_lat: list[float] = []
    wrong: list[tuple[str, str]] = []
    former = {(p, r) for p, r, _ in FORMER_WORKER}
    former_seen = [0, 0]  # verdicts, wrong ones
    changed: list[tuple[str, str]] = []

    def run(k: int) -> None:
        rng = random.Random(args.seed * 1000 + k)
        jobs: list[tuple[str, str, bool | None]] = []
        for _ in range(args.passes):
            jobs += normal
            if k < args.threads // 2:
                jobs += [(h, "1", None) for h in hostile]
        rng.shuffle(jobs)
        for pred, ref, want in jobs:
            start = time.monotonic()
            got = verify(pred, ref, timeout=args.timeout)
            took = time.monotonic() - start
            with lock:
                if want is None:
                    hostile_lat.append(took)
                    if got is not False:
                        wrong.append((pred[:40], "hostile scored True"))
                else:
                    normal_lat.append(took)
                    if got is not want:
                        wrong.append((pred[:40], ref[:20]))
                    if (pred, ref) in former:
                        former_seen[0] += 1
                        former_seen[1] += got is not want
                    if got is not quiet[(pred, ref)]:
                        changed.append((pred[:40], ref[:20]))

    wall = time.monotonic()
    threads = [threading.Thread(target=run, args=(k,)) for k in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - wall

    def p99(xs: list[float]) -> float:
        return statistics.quantiles(xs, n=100)[98] if len(xs) > 1 else xs[0]

    n_wrong = sum(1 for w in wrong if w[1] != "hostile scored True")
    print(
        f"threads={args.threads} (hostile inputs in {args.threads // 2}) passes={args.passes} "
        f"timeout={args.timeout}s seed={args.seed} cpus={os.cpu_count()} python={sys.version.split()[0]}"
    )
    print(
        f"normal verdicts: {len(normal_lat)} ({len(normal)} pairs incl. {len(FORMER_WORKER)} former worker-path)"
    )
    print(f"accuracy on normal pairs: {1 - n_wrong / len(normal_lat):.3f} ({n_wrong} wrong)")
    print(
        f"accuracy on the former worker-path pairs: {1 - former_seen[1] / former_seen[0]:.3f} "
        f"({former_seen[1]} of {former_seen[0]} wrong)"
    )
    print(f"verdicts that differ from a quiet single-thread run: {len(changed)}")
    print(
        f"hostile calls: {len(hostile_lat)} ({len(hostile)} inputs), "
        f"any scored True: {len(wrong) - n_wrong}"
    )
    print(
        f"latency normal: median {statistics.median(normal_lat) * 1e3:.1f} ms, "
        f"p99 {p99(normal_lat) * 1e3:.0f} ms, worst {max(normal_lat) * 1e3:.0f} ms"
    )
    print(
        f"latency hostile: median {statistics.median(hostile_lat) * 1e3:.1f} ms, "
        f"p99 {p99(hostile_lat) * 1e3:.0f} ms, worst {max(hostile_lat) * 1e3:.0f} ms"
    )
    print(f"wall: {wall:.1f} s")
    if wrong:
        print("wrong:", wrong[:10])


if __name__ == "__main__":
    main()
