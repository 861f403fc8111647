"""``thinkgym train rm``: reward models (PRM, ORM) from Monte-Carlo rollout labels of a policy.

Math-Shepherd: trajectories sampled with the policy (temperature 1), every step prefix labeled by
``--k`` rollouts of the same policy, a PRM per ``--labels`` kind and an ORM trained on them;
``--out`` gets one folder per model (``LearnedRewardModel.from_pretrained`` loads it, ``thinkgym
bench --prm`` uses it) and ``summary.json`` with held-out AUCs. Every option is a field of
:class:`thinkgym.learning.reward_models.RewardModelConfig`.

Examples::

    thinkgym train rm --out runs/reward_models
    thinkgym train rm --policy random --quick --out /tmp/rm-smoke
    thinkgym train rm --only arithmetic --arith-outcome-only --labels check,hard --out runs/rm
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: one per field of :class:`~thinkgym.learning.reward_models.RewardModelConfig`."""
    from thinkgym.commands.train import add_trainer_arguments

    add_trainer_arguments(parser, "rm")


def run(args: argparse.Namespace) -> int:
    """Sample, label, train; prints the summary's held-out AUCs as JSON."""
    from thinkgym.commands.train import _config
    from thinkgym.learning.reward_models import RewardModelConfig, train_reward_models

    cfg = _config(args, RewardModelConfig)
    result = train_reward_models(cfg)
    print(f"models: {result.model}")
    return 0
