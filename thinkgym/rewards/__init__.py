"""Rewards: the answer verifier, rule-based and learned outcome/process rewards.

The reward protocol (:class:`Reward`, :class:`DefaultReward`) lives with the envs
(:mod:`thinkgym.envs.base`) and is re-exported here. Monte-Carlo step labels and reward-model
training are learning: :mod:`thinkgym.learning.mc_labels`, :mod:`thinkgym.learning.reward_models`.
"""

from __future__ import annotations

from thinkgym.rewards.base import DefaultReward, Reward, RewardProtocol

# The reward API. learned.py imports torch, so its names load lazily (__getattr__).
from thinkgym.rewards.combinators import (
    AGGREGATIONS,
    ComposableReward,
    FormatPenalty,
    LengthPenalty,
    PotentialShaping,
    WeightedSum,
    aggregate,
)
from thinkgym.rewards.outcome import OutcomeVerifier
from thinkgym.rewards.process import StepVerifier
from thinkgym.rewards.registry import list_rewards, make_reward, register_reward
from thinkgym.rewards.verify import VerifyResult, verify

_LAZY = {"LearnedRewardModel"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from thinkgym.rewards import learned

        return getattr(learned, name)
    raise AttributeError(f"module 'thinkgym.rewards' has no attribute {name!r}")


__all__ = ["DefaultReward", "Reward", "RewardProtocol", "VerifyResult", "verify"]
__all__ += [
    "AGGREGATIONS",
    "ComposableReward",
    "FormatPenalty",
    "LearnedRewardModel",
    "LengthPenalty",
    "OutcomeVerifier",
    "PotentialShaping",
    "StepVerifier",
    "WeightedSum",
    "aggregate",
    "list_rewards",
    "make_reward",
    "register_reward",
]
