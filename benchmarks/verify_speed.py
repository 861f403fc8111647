"""Speed, accuracy and hostile-input latency of ``thinkgym.rewards.verify`` vs HF ``math-verify``.

Runs the labeled suite (``tests/data/verify_suite.jsonl``) through

* ``thinkgym``: ``verify(pred, ref)`` with parse caches cleared before every pass (cold calls);
* ``math-verify``: ``verify(parse(ref), parse(pred))`` with default settings;
* ``math-verify best``: both sides wrapped in ``$...$`` unless already delimited, latex +
  expression + string (letters) extraction (the best accuracy we found without more false
  positives; ``strict=False`` gains nothing and adds 7 false positives on this suite);

and prints a markdown table: verifications per second, median and p99 latency, accuracy, false
positives on the clearly-unequal pairs, and the worst latency on hostile inputs. math-verify's
hostile inputs run in a child process under a hard wall-clock guard so they cannot hang this
script. Needs the ``bench`` extra (``pip install -e .[bench]``).

Usage::

    python benchmarks/verify_speed.py [--passes 3] [--guard 120]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "tests" / "data" / "verify_suite.jsonl"

HOSTILE = [
    "__import__('os').system('echo pwned')",
    "9**9**9**9",
    "9^{9^{9^{9}}}",
    "10^(10^10)",
    "2^{10^{10}}",
    "100000!",
    "(" * 10_000 + "1" + ")" * 10_000,
    "x" * 1_000_000,
    "\x00" * 100 + "1\x002",
    "\\frac{" * 2000 + "1" + "}{2}" * 2000,
    "\\sqrt{" * 3000 + "2" + "}" * 3000,
    "2^2^2^2^2^2^2^2^2^2^2",
    "\\binom{100000}{50000}",
    "factorial(10^7)",
    "print(1)",
    "\\(" * 10_000,
    "5" + " " * 19_000 + "apples x",
]


def _load() -> list[dict]:
    return [json.loads(line) for line in SUITE.read_text().splitlines() if line.strip()]


def _mv_fns() -> dict[str, Callable[[str, str], bool]]:
    from math_verify import (
        ExprExtractionConfig,
        LatexExtractionConfig,
        StringExtractionConfig,
        parse,
    )
    from math_verify import verify as mv_verify

    best_cfg = [LatexExtractionConfig(), ExprExtractionConfig(), StringExtractionConfig()]

    def wrap(s: str) -> str:  # math-verify's latex extraction wants $...$ or \boxed{}
        return s if ("$" in s or "\\boxed" in s or "\\(" in s) else f"${s}$"

    def plain(pred: str, ref: str) -> bool:
        return bool(mv_verify(parse(ref), parse(pred)))

    def best(pred: str, ref: str) -> bool:
        gold = parse(wrap(ref), extraction_config=best_cfg)
        target = parse(wrap(pred), extraction_config=best_cfg)
        return bool(mv_verify(gold, target))

    return {"math-verify": plain, "math-verify best": best}


def _run(fn: Callable[[str, str], bool], rows: list[dict], passes: int, before=None) -> dict:
    lat: list[float] = []
    correct = fp = 0
    total = 0.0
    for k in range(passes):
        if before is not None:
            before()
        for r in rows:
            t = time.perf_counter()
            try:
                got = fn(r["pred"], r["ref"])
            except Exception:  # noqa: BLE001 - a crashing verifier counts as "False"
                got = False
            dt = time.perf_counter() - t
            lat.append(dt)
            total += dt
            if k == 0:
                correct += got == r["equal"]
                fp += bool(got and r["clearly_unequal"])
    lat.sort()
    return {
        "per_s": len(lat) / total,
        "median_ms": statistics.median(lat) * 1e3,
        "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1e3,
        "acc": correct / len(rows),
        "fp": fp,
    }


def _ours_hostile() -> float:
    from thinkgym.rewards import verify

    worst = 0.0
    for h in HOSTILE:
        for pred, ref in ((h, "1"), ("1", h)):
            t = time.perf_counter()
            verify(pred, ref)
            worst = max(worst, time.perf_counter() - t)
    return worst


_CHILD = """
import sys, time
from benchmarks.verify_speed import HOSTILE, _mv_fns
fns = _mv_fns()
for name, fn in fns.items():
    for h in HOSTILE:
        for pred, ref in ((h, "1"), ("1", h)):
            print("start", name, flush=True)
            t = time.perf_counter()
            try:
                fn(pred, ref)
            except Exception:
                pass
            print("done", name, time.perf_counter() - t, flush=True)
"""


def _mv_hostile(guard: float) -> dict[str, str]:
    """Worst hostile latency per math-verify config, measured in a killable child process."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    worst: dict[str, float] = {}
    killed: dict[str, float] = {}
    deadline = time.monotonic() + guard
    started: tuple[str, float] | None = None
    try:
        out, _ = proc.communicate(timeout=guard)
        lines = out.splitlines()
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        lines = out.splitlines()
    for line in lines:
        parts = line.split()
        if parts[0] == "start":
            started = (" ".join(parts[1:]), time.monotonic())
        else:
            name = " ".join(parts[1:-1])
            worst[name] = max(worst.get(name, 0.0), float(parts[-1]))
            started = None
    if started is not None:  # the child was killed while running this one
        killed[started[0]] = guard
    del deadline
    res = {}
    for name in ("math-verify", "math-verify best"):
        if name in killed:
            res[name] = f"> {guard:.0f} s (killed)"
        elif name in worst:
            res[name] = f"{worst[name] * 1e3:.0f} ms"
        else:
            res[name] = "not reached (killed)"
    return res


def main() -> None:
    """Run the benchmark and print the markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passes", type=int, default=3, help="passes over the suite for thinkgym")
    ap.add_argument("--guard", type=float, default=180.0, help="hard limit for math-verify hostile")
    args = ap.parse_args()

    from thinkgym.rewards import verify
    from thinkgym.rewards.verify import clear_caches

    rows = _load()
    verify("(x+1)^2", "x^2+2x+1")  # import sympy etc. outside the timings
    results = {"thinkgym": _run(verify, rows, args.passes, before=clear_caches)}
    hostile = {"thinkgym": f"{_ours_hostile() * 1e3:.0f} ms"}
    try:
        mv_fns = _mv_fns()
    except ImportError:
        print("math-verify is not installed (pip install -e .[bench]): thinkgym only\n")
        mv_fns = {}
    for name, fn in mv_fns.items():
        fn("1", "1")
        results[name] = _run(fn, rows, 1)
    if mv_fns:
        hostile.update(_mv_hostile(args.guard))

    clear = sum(r["clearly_unequal"] for r in rows)
    print(f"Suite: {len(rows)} pairs ({clear} clearly unequal); machine: {sys.platform}\n")
    print(
        "| verifier | verif/s | median ms | p99 ms | accuracy | false positives | worst hostile |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(
            f"| {name} | {r['per_s']:.0f} | {r['median_ms']:.2f} | {r['p99_ms']:.2f} "
            f"| {r['acc']:.3f} | {r['fp']} | {hostile[name]} |"
        )
    if "math-verify" in results:
        base = results["math-verify"]["per_s"]
        print(
            f"\nthinkgym throughput: {results['thinkgym']['per_s'] / base:.1f}x "
            "math-verify (default)"
        )


if __name__ == "__main__":
    main()
