"""MathWord: the shipped policy's pass@1 on the held-out test split, before and after a short SFT.

The fine-tune is ``thinkgym train sft --env MathWord --init <shipped policy>`` on reference traces
of the training split (the shipped problem set, ``thinkgym/data/mathword/train.jsonl``); both
evaluations play the same ``eval_problems("MathWord", N)`` (the first N rows of ``test.jsonl``,
never trained on), greedy, with the env scoring the final answer.

Run (CPU; about 30 minutes on a shared 2-core machine)::

    python benchmarks/mathword_sft.py --problems 20 --steps 60 --batch-size 16 --out /tmp/mathword-sft

It prints one markdown table; the command lines it ran are in its header.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ENV = "thinkgym/MathWord-v0"


def _pass_at_1(policy_dir: Path | None, n: int) -> tuple[float, float]:
    from thinkgym.agents.llm import LLMPolicy
    from thinkgym.envs import eval_problems
    from thinkgym.learning.evaluation import run_episodes

    policy = LLMPolicy.default() if policy_dir is None else LLMPolicy.from_pretrained(policy_dir)
    t = time.time()
    verdicts = run_episodes(policy, ENV, eval_problems(ENV, n), temperature=0.0)
    return sum(v[0] for v in verdicts) / len(verdicts), time.time() - t


def main(argv: list[str] | None = None) -> int:
    """Evaluate, fine-tune, evaluate; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=100, help="test problems (default 100)")
    parser.add_argument("--steps", type=int, default=300, help="SFT optimizer steps (default 300)")
    parser.add_argument(
        "--traces",
        type=int,
        default=600,
        help="training traces (default 600: every training row once)",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/mathword-sft"))
    parser.add_argument(
        "--eval-only",
        type=Path,
        default=None,
        metavar="POLICY_DIR",
        help="only measure this saved policy's greedy pass@1 on --problems test problems",
    )
    args = parser.parse_args(argv)

    if args.eval_only is not None:
        score, secs = _pass_at_1(args.eval_only, args.problems)
        print(
            f"| {args.eval_only} | MathWord test pass@1 (greedy, {args.problems} problems): {score:.0%} | {secs:.0f} s |"
        )
        return 0

    from thinkgym.cli import main as thinkgym_main
    from thinkgym.models import default_policy_dir

    before, secs_before = _pass_at_1(None, args.problems)
    print(f"shipped policy: pass@1 {before:.0%} on {args.problems} test problems", flush=True)
    cmd = [
        "train", "sft", "--env", "MathWord", "--init", str(default_policy_dir()),
        "--out", str(args.out), "--export", str(args.out / "policy"),
        "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--lr", str(args.lr),
        "--traces-per-env", str(args.traces), "--eval-limit", "1",
        "--eval-every", "0", "--save-every", str(args.steps), "--device", "cpu", "--seed", "0",
        "--no-progress",
    ]  # fmt: skip
    t = time.time()
    status = thinkgym_main(cmd)
    train_secs = time.time() - t
    if status != 0:
        print(f"thinkgym {' '.join(cmd)} failed with status {status}", file=sys.stderr)
        return status
    after, secs_after = _pass_at_1(args.out / "policy", args.problems)
    print(f"command: thinkgym {' '.join(cmd)}")
    print()
    print(f"| policy | MathWord test pass@1 (greedy, {args.problems} problems) | eval s |")
    print("|---|---:|---:|")
    print(f"| shipped (thinkgym/data/policy) | {before:.0%} | {secs_before:.0f} |")
    print(
        f"| + SFT {args.steps} steps on the train split ({train_secs:.0f} s) | {after:.0%} | {secs_after:.0f} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
