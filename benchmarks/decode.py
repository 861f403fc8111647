"""Decoding speed of ``LLMPolicy.propose``: own decode loop vs ``generate``, and chunk sizes.

Rows are search-like observations: prefixes of reference solutions of 64 Game24 and 64
Arithmetic problems, two samples each (256 rows). For each setting, the median of ``--repeats``
timed ``propose`` calls (T = 1, seeded) and the tokens/s it gives; for the decode loop, the share
of the time spent in the prefill forward passes (encoding the prompts)::

    python benchmarks/decode.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np


def observations(count: int, seed: int = 0) -> list[str]:
    """Transcripts cut after a random number of reference steps, ``count`` per task."""
    from thinkgym.search.context import resolve_env

    rng = np.random.default_rng(seed)
    out = []
    for name in ("Game24", "Arithmetic"):
        env, _ = resolve_env(name)
        for s in range(count):
            env.reset(seed=1000 + s)
            steps = env.solve(env.get_state().problem)
            for step in steps[: int(rng.integers(0, len(steps)))]:
                env.step(step)
            out.append(env.transcript())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=64, help="problems per task")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from thinkgym.agents.llm import LLMPolicy

    obs = observations(args.problems)
    policy = LLMPolicy.default()
    model_forward = policy.model.forward
    prefill = [0.0]

    def timed_forward(*a, **kw):  # prefill = a forward over more than one new token
        t0 = time.perf_counter()
        out = model_forward(*a, **kw)
        if kw["input_ids"].shape[1] > 1:
            prefill[0] += time.perf_counter() - t0
        return out

    print(f"{len(obs) * 2} rows ({len(obs)} observations x 2 samples), {policy.device}\n")
    print("| decoding | rows per chunk | seconds (median) | tokens/s | prefill share |")
    print("|---|---:|---:|---:|---:|")
    for compact in (True, False):
        for rows in (64, 256):
            policy.compact, policy.max_batch_rows = compact, rows
            policy.model.forward = timed_forward
            times, tokens = [], 0
            prefill[0] = 0.0
            for rep in range(args.repeats):
                policy.stats.reset()
                t0 = time.perf_counter()
                policy.propose(obs, 2, seed=rep)
                times.append(time.perf_counter() - t0)
                tokens = policy.stats.tokens
            policy.model.forward = model_forward
            med = statistics.median(times)
            share = f"{prefill[0] / sum(times):.0%}" if compact else "-"
            name = "own loop (drops finished rows)" if compact else "transformers generate"
            print(f"| {name} | {rows} | {med:.2f} | {tokens / med:,.0f} | {share} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
