"""The requests a planner's ``search`` generator yields; the driver answers them in batches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from thinkgym.agents.search.context import Candidate
    from thinkgym.agents.search.guidance import Guidance

__all__ = ["ProposeRequest", "ScoreRequest"]


@dataclass
class ProposeRequest:
    """Ask the policy for ``n`` proposals for each observation.

    The reply is one list per observation holding at most ``n`` proposals (fewer, possibly none,
    when the policy returned fewer). Yield it through :meth:`Planner.propose
    <thinkgym.agents.search.planner.Planner.propose>`, which keeps the request within budget.
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
