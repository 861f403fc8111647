"""Compute budgets, costs, and the meter that keeps one problem's cost within its budget.

Cost units: one *policy call* is one generated candidate step (one sampled sequence); *tokens* are
generated tokens; one *guidance call* is one candidate scored by a guidance object (free ones such
as log-prob included); one *reward-model call* is one text scored by a learned model (a PRM, an
ORM, or the policy evaluating itself); one *env step* is one reference-free
:meth:`~thinkgym.envs.base.ReasoningEnv.apply`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from thinkgym.agents.base import Proposal

__all__ = ["Budget", "Cost", "Meter", "BudgetError", "UNITS"]

UNITS = ("policy_calls", "tokens", "guidance_calls", "reward_model_calls", "env_steps")
"""The budgeted cost units, in :class:`Budget`'s field order."""


class BudgetError(RuntimeError):
    """A planner spent a unit its budget had no room for (a bug of the planner, not the policy)."""


@dataclass(frozen=True)
class Budget:
    """A compute budget per problem; ``None`` means unlimited in that unit.

    Attributes:
        policy_calls: most generated candidate steps (sampled sequences) per problem.
        tokens: most generated tokens per problem.
        guidance_calls: most candidates scored by guidance per problem.
        reward_model_calls: most texts scored by a learned reward model per problem.
        env_steps: most reference-free env transitions (``apply``) per problem.
    """

    policy_calls: int | None = None
    tokens: int | None = None
    guidance_calls: int | None = None
    reward_model_calls: int | None = None
    env_steps: int | None = None

    def __post_init__(self) -> None:
        for name in UNITS:
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise ValueError(f"Budget({name}={v!r}) must be a non-negative integer or None")

    @classmethod
    def coerce(cls, value: Budget | int | dict[str, Any] | None) -> Budget:
        """A :class:`Budget` from a Budget, an int (policy calls), a dict or ``None``."""
        if value is None:
            return cls()
        if isinstance(value, Budget):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(policy_calls=value)
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(UNITS))
            if unknown:
                raise ValueError(f"budget keys {unknown} are not units; known units: {UNITS}")
            return cls(**value)
        raise TypeError(
            f"budget={value!r} must be a Budget, an int (policy calls) or a dict like "
            "{'policy_calls': 100, 'tokens': 5000}"
        )


@dataclass
class Cost:
    """What a search spent.

    Attributes:
        policy_calls: generated candidate steps (sampled sequences) asked of the policy.
        tokens: generated tokens (each step counted up to the ``max_new_tokens`` asked for).
        guidance_calls: candidates scored by guidance (free guidance included).
        reward_model_calls: texts scored by a learned reward model or by self-evaluation.
        env_steps: calls of the env's reference-free ``apply``.
        seconds: wall seconds attributed to this problem (batched calls are split by share).
    """

    policy_calls: int = 0
    tokens: int = 0
    guidance_calls: int = 0
    reward_model_calls: int = 0
    env_steps: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cost:
        """The inverse of :meth:`to_dict` (unknown keys are ignored, missing ones are 0)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class Meter:
    """Owns one problem's accounting: every unit of :class:`Cost`, checked against the budget.

    Planners never touch the counters: the driver charges proposals and scores through
    :meth:`admit_proposals` and :meth:`admit_scores`, and the search context charges env steps
    through :meth:`charge_env_step`.

    Args:
        budget: the limits.
        step_token_bound: the most tokens one generated step may be charged (the ``max_new_tokens``
            the planner asks the policy for). A batch of k sequences is only requested when
            ``k * bound`` tokens remain, so the token budget holds whatever the policy returns.
    """

    def __init__(self, budget: Budget, step_token_bound: int) -> None:
        if step_token_bound < 1:
            raise ValueError(f"step_token_bound={step_token_bound!r} must be >= 1")
        self.budget = budget
        self.cost = Cost()
        self.step_token_bound = int(step_token_bound)

    def remaining(self, unit: str) -> int | None:
        """What is left of ``unit`` (``None``: unlimited)."""
        limit = getattr(self.budget, unit)
        return None if limit is None else max(0, limit - getattr(self.cost, unit))

    def affordable(self, k: int) -> int:
        """How many of ``k`` new sequences the budget allows.

        Each sequence costs one policy call, up to ``step_token_bound`` tokens, and one env step
        (a planner applies each proposal once), so all three units are checked.
        """
        k = max(0, int(k))
        for unit, per in (("policy_calls", 1), ("tokens", self.step_token_bound), ("env_steps", 1)):
            left = self.remaining(unit)
            if left is not None:
                k = min(k, left // per)
        return k

    @property
    def exhausted(self) -> bool:
        """Whether not even one more sequence fits."""
        return self.affordable(1) == 0

    def admit_proposals(self, asked: int, proposals: list[Proposal]) -> list[Proposal]:
        """Charge one observation's reply to a request of ``asked`` sequences; return what is kept.

        At most ``asked`` sequences are kept (the first ones; a merged proposal counts ``count``
        sequences), and ``asked`` policy calls are charged whatever came back: the policy was
        asked for that many, and charging less for an empty reply would let a search never end.
        Each kept step is charged at most ``step_token_bound`` tokens per sequence.
        """
        kept: list[Proposal] = []
        room = asked
        for p in proposals:
            if room <= 0:
                break
            count = min(room, max(1, p.count))
            if count != p.count:
                p = replace(p, count=count)
            kept.append(p)
            room -= count
            self.cost.tokens += min(max(0, p.tokens), self.step_token_bound) * count
        self.cost.policy_calls += asked
        return kept

    def scorable(self, k: int, model_calls_each: int) -> int:
        """How many of ``k`` candidates guidance may still score (one guidance call each, and
        ``model_calls_each`` reward-model calls each)."""
        k = max(0, int(k))
        left = self.remaining("guidance_calls")
        if left is not None:
            k = min(k, left)
        left = self.remaining("reward_model_calls")
        if left is not None and model_calls_each > 0:
            k = min(k, left // model_calls_each)
        return k

    def admit_scores(self, costs: list[Cost]) -> None:
        """Charge the guidance calls (and what each reported spending) of scored candidates."""
        for c in costs:
            self.cost.guidance_calls += 1
            self.cost.reward_model_calls += int(c.reward_model_calls)
            self.cost.policy_calls += int(c.policy_calls)
            self.cost.tokens += int(c.tokens)

    def charge_env_step(self) -> None:
        """Charge one env transition.

        Raises:
            BudgetError: the env-step budget is spent (planners ask :meth:`affordable` first).
        """
        if self.remaining("env_steps") == 0:
            raise BudgetError(
                f"env-step budget of {self.budget.env_steps} is spent; a planner must apply each "
                "proposal at most once and stop when Meter.exhausted"
            )
        self.cost.env_steps += 1

    def add_seconds(self, seconds: float) -> None:
        """Attribute wall time to this problem."""
        if math.isfinite(seconds):
            self.cost.seconds += seconds
