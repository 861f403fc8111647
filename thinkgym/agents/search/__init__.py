"""Search planners: best-of-N, step-level beam search, MCTS and sequential revision.

Every planner takes a policy (anything with ``propose``), optional guidance (log-prob, entropy,
self-evaluation, environment feedback, reward models) and a :class:`Budget`, and returns a
:class:`SearchResult` with the chosen trajectory, the explored tree and the cost. Planners use only
the env's reference-free ``apply``; :func:`score_result` checks the answer against the hidden
reference after search.
"""

from __future__ import annotations

from thinkgym.agents.search.base import (
    Budget,
    Candidate,
    Cost,
    Planner,
    ProposeRequest,
    ScoreRequest,
    SearchResult,
    SearchTree,
    plan_together,
    score_result,
)
from thinkgym.agents.search.beam import BeamSearch
from thinkgym.agents.search.best_of_n import BestOfN
from thinkgym.agents.search.guidance import (
    EntropyGuidance,
    EnvFeedbackGuidance,
    FunctionGuidance,
    Guidance,
    LogProbGuidance,
    RewardModelGuidance,
    SelfEvalGuidance,
    as_guidance,
)
from thinkgym.agents.search.mcts import MCTS
from thinkgym.agents.search.registry import (
    get_planner,
    list_planners,
    make_planner,
    register_planner,
)
from thinkgym.agents.search.revision import SequentialRevision

__all__ = [
    "Budget",
    "Candidate",
    "Cost",
    "Planner",
    "ProposeRequest",
    "ScoreRequest",
    "SearchResult",
    "SearchTree",
    "score_result",
    "plan_together",
    "BestOfN",
    "BeamSearch",
    "MCTS",
    "SequentialRevision",
    "Guidance",
    "LogProbGuidance",
    "EntropyGuidance",
    "SelfEvalGuidance",
    "EnvFeedbackGuidance",
    "RewardModelGuidance",
    "FunctionGuidance",
    "as_guidance",
    "register_planner",
    "make_planner",
    "get_planner",
    "list_planners",
]
