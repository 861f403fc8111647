"""Agents: the Agent/Policy protocols, scripted agents, LLM policies and the policy registry."""

from __future__ import annotations

from typing import Any

from thinkgym.agents.base import Agent, OracleAgent, Policy, Proposal, RandomAgent, unwrap_env
from thinkgym.agents.registry import list_policies, load_policy, register_policy

__all__ = [
    "Agent",
    "LLMPolicy",
    "OracleAgent",
    "Policy",
    "PromptTemplate",
    "Proposal",
    "RandomAgent",
    "list_policies",
    "load_policy",
    "register_policy",
    "unwrap_env",
]


def __getattr__(name: str) -> Any:
    # LLMPolicy pulls in torch and transformers: import it only when it is asked for.
    if name == "LLMPolicy":
        from thinkgym.agents.llm import LLMPolicy

        return LLMPolicy
    if name == "PromptTemplate":
        from thinkgym.agents.prompting import PromptTemplate

        return PromptTemplate
    raise AttributeError(f"module 'thinkgym.agents' has no attribute {name!r}")
