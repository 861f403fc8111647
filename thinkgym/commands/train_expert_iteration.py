"""``thinkgym train expert-iteration``: search training problems, keep approved trajectories, fine-tune, repeat.

Each round a registered planner searches training problems (never evaluation problems), the
trajectories the reward approves are kept (deduplicated, capped per problem), the policy is
fine-tuned on them with SFT, and held-out greedy pass@1 and pass@k are measured. Every round is
checkpointed: rerunning the same command after a kill resumes it. ``curve.json`` and
``curve.png`` land in ``--out-dir``.

Examples::

    thinkgym train expert-iteration --env Game24 --out-dir runs/ei-game24 --rounds 3
    thinkgym train expert-iteration --env Arithmetic --env-kwargs '{"difficulty": 3}' \\
        --planner beam --planner-kwargs '{"beam_size": 4}' --out-dir runs/ei-arith3
"""

from __future__ import annotations

import argparse
import json

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: one per field of :class:`~thinkgym.learning.expert_iteration.ExpertIterationConfig`."""
    from thinkgym.commands._rl import add_rl_arguments
    from thinkgym.learning.expert_iteration import ExpertIterationConfig

    add_rl_arguments(parser, ExpertIterationConfig)


def run(args: argparse.Namespace) -> int:
    """Run (or resume) expert iteration; prints the curve as JSON lines."""
    from thinkgym.commands._rl import config_from_rl_args
    from thinkgym.learning.expert_iteration import ExpertIterationConfig
    from thinkgym.learning.registry import train_expert_iteration

    cfg = config_from_rl_args(args, ExpertIterationConfig)
    result = train_expert_iteration(cfg, progress=not args.no_progress)
    for row in result.history:
        print(json.dumps(row))
    print(f"policy: {result.policy_dir}")
    return 0
