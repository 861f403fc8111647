"""``thinkgym train grpo``: step-level GRPO of a policy on any registered env.

Groups of episodes per training problem; group-relative outcome advantages, or per-step
advantages (``--advantages step``); clipped ratio against the behaviour log-probs; KL to the
frozen starting policy. Checkpoints in ``--out-dir/checkpoints`` (rerun to resume); the final
policy in ``--out-dir/policy``.

Examples::

    thinkgym train grpo --env Arithmetic --env-kwargs '{"difficulty": 1, "verify_steps": false}' \\
        --out-dir runs/grpo-arith1 --iterations 20
    thinkgym train grpo --env Arithmetic --advantages step --out-dir runs/grpo-step
"""

from __future__ import annotations

import argparse
import json

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: one per field of :class:`~thinkgym.learning.grpo.GRPOConfig`."""
    from thinkgym.commands._rl import add_rl_arguments
    from thinkgym.learning.grpo import GRPOConfig

    add_rl_arguments(parser, GRPOConfig)


def run(args: argparse.Namespace) -> int:
    """Run (or resume) GRPO; prints the evaluated iterations as JSON lines."""
    from thinkgym.commands._rl import config_from_rl_args
    from thinkgym.learning.grpo import GRPOConfig
    from thinkgym.learning.registry import train_grpo

    cfg = config_from_rl_args(args, GRPOConfig)
    result = train_grpo(cfg, progress=not args.no_progress)
    for row in result.history:
        if "pass@1" in row:
            print(json.dumps(row))
    print(f"policy: {result.policy_dir}")
    return 0
