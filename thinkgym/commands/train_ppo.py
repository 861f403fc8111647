"""``thinkgym train ppo``: step-level PPO (value head, GAE over steps) of a policy on any registered env.

The critic is a copy of the policy's network with a scalar head; advantages are GAE over the
env's steps, given to every token of a step; the policy update is the clipped surrogate against
the behaviour log-probs with a KL to the frozen starting policy. Checkpoints in
``--out-dir/checkpoints`` (rerun to resume); the final policy in ``--out-dir/policy``.

Example::

    thinkgym train ppo --env Arithmetic --env-kwargs '{"difficulty": 1}' --out-dir runs/ppo-arith1
"""

from __future__ import annotations

import argparse
import json

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: one per field of :class:`~thinkgym.learning.ppo.PPOConfig`."""
    from thinkgym.commands._rl import add_rl_arguments
    from thinkgym.learning.ppo import PPOConfig

    add_rl_arguments(parser, PPOConfig)


def run(args: argparse.Namespace) -> int:
    """Run (or resume) PPO; prints the evaluated iterations as JSON lines."""
    from thinkgym.commands._rl import config_from_rl_args
    from thinkgym.learning.ppo import PPOConfig
    from thinkgym.learning.registry import train_ppo

    cfg = config_from_rl_args(args, PPOConfig)
    result = train_ppo(cfg, progress=not args.no_progress)
    for row in result.history:
        if "pass@1" in row:
            print(json.dumps(row))
    print(f"policy: {result.policy_dir}")
    return 0
