"""Figures of a trained policy: greedy pass@1, pass@16 and proposal throughput.

For each task: greedy pass@1 and pass@16 (16 episodes sampled at temperature 1; a success when any
of them is correct; the 16 first steps of a problem are one batched ``propose(obs, n=16)`` call)
on the held-out problems (200 evaluation seeds; Game24: the 100 Tree-of-Thoughts test puzzles),
then proposal throughput (steps per second) at batch 1 and 32. Prints a markdown table.

    python benchmarks/policy.py                    # the shipped policy, full run
    python benchmarks/policy.py --policy runs/policy/final
    python benchmarks/policy.py --quick            # 5 problems per task, 4 samples
"""

from __future__ import annotations

import argparse
import time

ENVS = (
    "thinkgym/Arithmetic-v0",
    "thinkgym/LinearEquation-v0",
    "thinkgym/Countdown-v0",
    "thinkgym/Game24-v0",
)


def _load(args: argparse.Namespace):
    from thinkgym.agents.llm import LLMPolicy, default_policy_dir

    if args.policy:
        return LLMPolicy.from_pretrained(args.policy, device=args.device), args.policy
    if (default_policy_dir() / "config.json").is_file() or not args.quick:
        return LLMPolicy.default(device=args.device), "shipped"
    from thinkgym.models import build_char_tokenizer, build_tiny_model

    tok = build_char_tokenizer()
    model = build_tiny_model(tok, hidden_size=64, layers=2, heads=2)
    return LLMPolicy(model, tok, device=args.device), "untrained tiny model (no shipped policy)"


def throughput(policy, batch: int, seconds: float = 3.0) -> float:
    """Proposed steps per second for ``batch`` Game24 observations per call (temperature 1)."""
    import thinkgym
    from thinkgym.envs import eval_problems

    env = thinkgym.make("thinkgym/Game24-v0")
    obs = [env.reset(**kw)[0] for kw in eval_problems("thinkgym/Game24-v0", batch)]
    while len(obs) < batch:
        obs += obs[: batch - len(obs)]
    policy.propose(obs, 1, seed=0)  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        policy.propose(obs, 1, seed=n)
        n += batch
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policy", default=None, help="policy directory (default: shipped)")
    parser.add_argument("--envs", nargs="*", default=list(ENVS), help="none: throughput only")
    parser.add_argument("--limit", type=int, default=200, help="held-out problems per task")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--difficulty", type=int, default=None, help="task difficulty (default: each task's own)"
    )
    parser.add_argument("--quick", action="store_true", help="a tiny run (CI smoke)")
    args = parser.parse_args()
    if args.quick:
        args.limit, args.samples = 5, 4
    from thinkgym.envs import eval_problems
    from thinkgym.learning.evaluation import pass_at, run_episodes

    policy, name = _load(args)
    print(f"policy: {name}; device: {policy.device}\n")
    k = args.samples
    rows = []
    for env_id in args.envs:
        problems = eval_problems(env_id, args.limit, difficulty=args.difficulty)
        t0 = time.perf_counter()
        kw = {} if args.difficulty is None else {"env_kwargs": {"difficulty": args.difficulty}}
        greedy = run_episodes(policy, env_id, problems, **kw)
        sampled = run_episodes(policy, env_id, problems, samples=k, temperature=1.0, seed=1, **kw)
        secs = time.perf_counter() - t0
        rows.append((env_id, len(problems), pass_at(greedy), pass_at(sampled), secs))
    print(f"| task | problems | greedy pass@1 | pass@{k} (T=1) | seconds |")
    print("|---|---:|---:|---:|---:|")
    for env_id, n, p1, pk, secs in rows:
        print(f"| {env_id} | {n} | {p1:.1%} | {pk:.1%} | {secs:.0f} |")
    t1 = throughput(policy, 1, 1.0 if args.quick else 3.0)
    t32 = throughput(policy, 32, 1.0 if args.quick else 3.0)
    print("\n| proposal batch | steps/s |\n|---:|---:|")
    print(f"| 1 | {t1:.1f} |\n| 32 | {t32:.1f} |")
    print(f"\nbatch-32 / batch-1 throughput: {t32 / t1:.1f}x")


if __name__ == "__main__":
    main()
