"""The reward protocol, re-exported from :mod:`thinkgym.envs.base` where it lives.

An env needs a reward, so the protocol (``process(state, step)`` for a step, ``outcome(state)``
for an episode) and the default reward sit in the envs layer, below every reward implementation.
"""

from __future__ import annotations

from thinkgym.envs.base import DefaultReward, Reward, RewardProtocol

__all__ = ["Reward", "RewardProtocol", "DefaultReward"]
