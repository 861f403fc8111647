"""Decoding speed of ``LLMPolicy.propose``: own decode loop vs ``generate``, chunk sizes, and
the prefix cache over search rounds.

Rows are search-like observations: prefixes of reference solutions of 64 Game24 and 64
Arithmetic problems, two samples each (256 rows). For each setting, the median of ``--repeats``
timed ``propose`` calls (T = 1, seeded, the prefix cache emptied before each) and the tokens/s it
gives; for the decode loop, the share of the time spent in the prefill forward passes (encoding
the prompts).

The second table replays search rounds: round ``k`` proposes for every problem's transcript after
``k`` reference steps (as a planner expands a child of the state it expanded the round before),
two samples each. It compares the decode loop with the prefix cache on and off and transformers'
``generate``, each the median of ``--repeats`` runs of all rounds (the cache emptied before each
run), with the prefix cache's hit rate (share of prompt tokens not re-encoded) and plain
batch-64 ``generate`` of the same model timed in the same run (the bench's throughput
reference)::

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


def rounds(count: int, depth: int = 4) -> list[list[str]]:
    """Search rounds: round ``k`` holds the transcripts after ``k`` reference steps of ``count``
    problems per task (problems with fewer steps stop early)."""
    from thinkgym.search.context import resolve_env

    out: list[list[str]] = [[] for _ in range(depth)]
    for name in ("Game24", "Arithmetic"):
        env, _ = resolve_env(name)
        for s in range(count):
            env.reset(seed=1000 + s)
            steps = env.solve(env.get_state().problem)
            for k in range(min(depth, len(steps))):
                out[k].append(env.transcript())
                env.step(steps[k])
    return [r for r in out if r]


def time_rounds(policy, batches: list[list[str]], repeats: int) -> tuple[float, int, float]:
    """Median seconds of ``repeats`` runs of all rounds (2 samples each, cache emptied first),
    the tokens generated per run and the prefix-cache hit rate of the last run."""
    times, tokens = [], 0
    for rep in range(repeats):
        if policy.prefix_cache is not None:
            policy.prefix_cache.clear()
        policy.stats.reset()
        t0 = time.perf_counter()
        for k, obs in enumerate(batches):
            policy.propose(obs, 2, seed=rep * 100 + k)
        times.append(time.perf_counter() - t0)
        tokens = policy.stats.tokens
    return statistics.median(times), tokens, policy.stats.prefix_hit_rate


def rounds_table(policy, problems: int, repeats: int) -> None:
    """Print the search-rounds table (prefix cache on / off / generate, and the reference)."""
    from thinkgym.bench.run import _generate_reference
    from thinkgym.search.context import resolve_env

    batches = rounds(problems)
    env = resolve_env("Game24")[0]
    ref_rates = _generate_reference(policy, env, repeats=repeats)
    saved = policy.prefix_cache
    print(
        f"\nSearch rounds: {len(batches)} rounds of {', '.join(str(len(b)) for b in batches)} "
        "observations x 2 samples\n"
    )
    print(
        "| decoding | seconds (median) | tokens/s | prefix-cache hit rate | vs batch-64 generate |"
    )
    print("|---|---:|---:|---:|---:|")
    results = []
    for name, compact, cache in (
        ("prefix cache on", True, saved),
        ("prefix cache off", True, None),
        ("generate (no cache)", False, None),
    ):
        policy.compact, policy.prefix_cache = compact, cache
        results.append((name, *time_rounds(policy, batches, repeats)))
    policy.compact, policy.prefix_cache = True, saved
    ref_rates += _generate_reference(policy, env, repeats=repeats)
    ref = statistics.median(ref_rates)
    for name, med, tokens, hit in results:
        rate = tokens / med
        print(f"| {name} | {med:.2f} | {rate:,.0f} | {hit:.0%} | {rate / ref:.0%} |", flush=True)
    print(
        f"\nplain batch-64 generate (32 new tokens, no stop): {ref:,.0f} tokens/s (median of "
        f"{len(ref_rates)} calls, before and after)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=64, help="problems per task")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--only-rounds", action="store_true", help="print only the search-rounds table"
    )
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

    if args.only_rounds:
        rounds_table(policy, args.problems, args.repeats)
        return 0
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
                if policy.prefix_cache is not None:  # each call starts cold, as before
                    policy.prefix_cache.clear()
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
    policy.compact, policy.max_batch_rows = True, 64
    rounds_table(policy, args.problems, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
