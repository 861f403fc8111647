"""Search planners: greedy, best-of-N (vote, reward model, weighted vote), step-level beam
search, MCTS (PUCT and Gumbel), DVTS, sequential revision and a per-problem automatic choice.

Every planner takes a policy (anything with ``propose``), optional ``guidance`` (log-prob,
entropy, self-evaluation, environment feedback, reward models) and a :class:`Budget`, and returns a
:class:`SearchResult` with the chosen trajectory, the explored tree and the cost. Planners use only
the env's reference-free ``apply``; :func:`score_result` checks the answer against the hidden
reference after search.

Write your own planner by subclassing :class:`Planner` and implementing ``search(ctx)``, a
generator over a :class:`SearchContext` that yields :class:`ProposeRequest` /
:class:`ScoreRequest` objects and returns an :class:`Outcome`; register it with
:func:`register_planner` (``examples/custom_planner.py``).
"""

from __future__ import annotations

from thinkgym.search.auto import AutoPlanner
from thinkgym.search.beam import BeamSearch
from thinkgym.search.best_of_n import BestOfN, BestOfNVote, Greedy, WeightedBestOfN
from thinkgym.search.budget import Budget, BudgetError, Cost, Meter
from thinkgym.search.context import Candidate, SearchContext, resolve_env
from thinkgym.search.driver import GuidanceError, PolicyError, plan_together
from thinkgym.search.dvts import DVTS
from thinkgym.search.guidance import (
    EntropyGuidance,
    EnvFeedbackGuidance,
    FunctionGuidance,
    Guidance,
    LogProbGuidance,
    RewardModelGuidance,
    SelfEvalGuidance,
    StepLogProbGuidance,
    as_guidance,
)
from thinkgym.search.gumbel_mcts import GumbelMCTS
from thinkgym.search.mcts import MCTS
from thinkgym.search.planner import Outcome, Planner
from thinkgym.search.registry import (
    get_planner,
    list_planners,
    make_planner,
    register_planner,
)
from thinkgym.search.requests import ProposeRequest, ScoreRequest
from thinkgym.search.result import SearchResult, score_result
from thinkgym.search.revision import SequentialRevision
from thinkgym.search.tree import Node, SearchTree

__all__ = [
    "Budget",
    "Cost",
    "Meter",
    "BudgetError",
    "Candidate",
    "SearchContext",
    "Outcome",
    "Planner",
    "ProposeRequest",
    "ScoreRequest",
    "SearchResult",
    "SearchTree",
    "Node",
    "PolicyError",
    "GuidanceError",
    "score_result",
    "resolve_env",
    "plan_together",
    "Greedy",
    "BestOfN",
    "BestOfNVote",
    "WeightedBestOfN",
    "BeamSearch",
    "MCTS",
    "GumbelMCTS",
    "DVTS",
    "AutoPlanner",
    "SequentialRevision",
    "Guidance",
    "LogProbGuidance",
    "EntropyGuidance",
    "SelfEvalGuidance",
    "StepLogProbGuidance",
    "EnvFeedbackGuidance",
    "RewardModelGuidance",
    "FunctionGuidance",
    "as_guidance",
    "register_planner",
    "make_planner",
    "get_planner",
    "list_planners",
]
