"""Agents: the Agent/Policy protocols, scripted agents, LLM policies and search planners."""

from __future__ import annotations

from thinkgym.agents.base import Agent, OracleAgent, Policy, Proposal, RandomAgent, unwrap_env

__all__ = ["Agent", "OracleAgent", "Policy", "Proposal", "RandomAgent", "unwrap_env"]
