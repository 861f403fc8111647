"""thinkgym: reasoning tasks as Gymnasium environments.

One environment step is one reasoning step. ``import thinkgym`` registers the built-in tasks under
the ``thinkgym`` namespace (``gym.make("thinkgym/Game24-v0")``) without importing torch or sympy.
"""

from __future__ import annotations

from thinkgym import envs
from thinkgym.agents.base import Agent, Policy, Proposal
from thinkgym.envs import ReasoningEnv, Reward, list_envs, make, register

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "Policy",
    "Proposal",
    "ReasoningEnv",
    "Reward",
    "envs",
    "list_envs",
    "make",
    "register",
    "__version__",
]
