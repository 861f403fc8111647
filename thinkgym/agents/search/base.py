"""Compatibility module: the search machinery now lives in one module per idea.

``budget`` (Budget, Cost, Meter), ``tree`` (Node, SearchTree), ``result`` (SearchResult,
score_result), ``requests`` (ProposeRequest, ScoreRequest), ``context`` (SearchContext, Candidate),
``planner`` (Planner, Outcome) and ``driver`` (plan_together). Import from
:mod:`thinkgym.agents.search` instead; this module re-exports the public names.
"""

from __future__ import annotations

from thinkgym.agents.search.budget import Budget, Cost, Meter
from thinkgym.agents.search.context import Candidate, SearchContext, resolve_env, root_candidate
from thinkgym.agents.search.driver import plan_together
from thinkgym.agents.search.planner import Outcome, Planner, merge_proposals, softmax
from thinkgym.agents.search.requests import ProposeRequest, ScoreRequest
from thinkgym.agents.search.result import SearchResult, score_result
from thinkgym.agents.search.tree import Node, SearchTree

__all__ = [
    "Budget",
    "Cost",
    "Meter",
    "Node",
    "SearchTree",
    "SearchResult",
    "Candidate",
    "SearchContext",
    "ProposeRequest",
    "ScoreRequest",
    "Planner",
    "Outcome",
    "plan_together",
    "score_result",
    "resolve_env",
    "root_candidate",
    "merge_proposals",
    "softmax",
]
