"""Compatibility module: the search machinery now lives in one module per idea.

``budget`` (Budget, Cost, Meter), ``tree`` (Node, SearchTree), ``result`` (SearchResult,
score_result), ``requests`` (ProposeRequest, ScoreRequest), ``context`` (SearchContext, Candidate),
``planner`` (Planner, Outcome) and ``driver`` (plan_together). Import from
:mod:`thinkgym.search` instead; this module re-exports the public names.
"""

from __future__ import annotations

from thinkgym.search.budget import Budget, Cost, Meter
from thinkgym.search.context import Candidate, SearchContext, resolve_env, root_candidate
from thinkgym.search.driver import plan_together
from thinkgym.search.planner import Outcome, Planner, merge_proposals, softmax
from thinkgym.search.requests import ProposeRequest, ScoreRequest
from thinkgym.search.result import SearchResult, score_result
from thinkgym.search.tree import Node, SearchTree

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
