"""Rewards: the answer verifier, rule-based and learned outcome/process rewards."""

from __future__ import annotations

from thinkgym.rewards.base import DefaultReward, Reward, RewardProtocol
from thinkgym.rewards.verify import VerifyResult, verify

__all__ = ["DefaultReward", "Reward", "RewardProtocol", "VerifyResult", "verify"]
