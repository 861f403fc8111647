"""The search protocol: the requests a planner's ``search`` generator yields (the driver answers
them in batches) and the :class:`Outcome` it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thinkgym.envs.base import EnvState
    from thinkgym.search.context import Candidate
    from thinkgym.search.guidance import Guidance

__all__ = ["Outcome", "ProposeRequest", "ScoreRequest"]


@dataclass
class ProposeRequest:
    """Ask the policy for ``n`` proposals for each observation.

    The reply is one list per observation holding at most ``n`` proposals (fewer, possibly none,
    when the policy returned fewer). Yield it through :meth:`Planner.propose
    <thinkgym.search.planner.Planner.propose>`, which keeps the request within budget.
    """

    observations: list[str]
    n: int = 1


@dataclass
class ScoreRequest:
    """Ask a guidance object to score candidates.

    The reply is one float per candidate; candidates beyond the guidance or reward-model budget
    are not scored and get ``-inf``, as does a score that is NaN.
    """

    guidance: Guidance
    candidates: list[Candidate]


@dataclass
class Outcome:
    """What a planner's :meth:`Planner.search` returns for one problem.

    Attributes:
        steps: the chosen trajectory (the ``Answer:`` line included when one was given).
        state: the final state when the search ended with an answer, else ``None``.
        candidates: summary of the final candidates (JSON-ready dicts).
        info: planner-specific extras (JSON-ready).
        keep_tree: attach the context's tree to the result.
    """

    steps: list[str]
    state: EnvState | None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    keep_tree: bool = True
