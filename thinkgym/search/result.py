"""What a planner returns, and the one place the hidden reference is used: :func:`score_result`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from thinkgym.envs.base import EnvState, ReasoningEnv
from thinkgym.search.budget import Budget, Cost
from thinkgym.search.context import resolve_env
from thinkgym.search.tree import SearchTree

__all__ = ["SearchResult", "score_result"]


@dataclass
class SearchResult:
    """What a planner returns.

    Attributes:
        planner: the planner's registry name.
        env_id: the env id (or class name).
        problem: the problem searched (JSON-like).
        steps: the chosen trajectory (the final ``Answer:`` line included when one was given).
        answer: the chosen final answer text (``None`` when the search ended without one).
        solved_without_reference: the task's reference-free verdict of the answer (Game24,
            Countdown: ``True``/``False``; ``None`` for tasks whose answer needs the reference).
        correct: whether the answer is right against the hidden reference; ``None`` until
            :func:`score_result` fills it in after search.
        cost: what the search spent.
        budget: the budget it ran under.
        tree: the explored tree (per-node visits/values), when the planner keeps one.
        candidates: summary of the final candidates (answers, scores, votes), JSON-ready.
        seed: the problem seed, when one was used.
        info: planner-specific extras (JSON-ready).
    """

    planner: str
    env_id: str
    problem: dict[str, Any]
    steps: list[str]
    answer: str | None
    solved_without_reference: bool | None
    cost: Cost
    budget: Budget
    correct: bool | None = None
    tree: SearchTree | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    seed: int | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (round-trips through :meth:`from_json`)."""
        return {
            "planner": self.planner,
            "env_id": self.env_id,
            "problem": _jsonable(self.problem),
            "steps": list(self.steps),
            "answer": self.answer,
            "solved_without_reference": self.solved_without_reference,
            "correct": self.correct,
            "cost": self.cost.to_dict(),
            "budget": asdict(self.budget),
            "tree": self.tree.to_json() if self.tree is not None else None,
            "candidates": _jsonable(self.candidates),
            "seed": self.seed,
            "info": _jsonable(self.info),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], env: ReasoningEnv | None = None) -> SearchResult:
        """Rebuild a result from :meth:`to_json` (tree states replayed when ``env`` is given)."""
        tree = None
        if data.get("tree") is not None:
            root = None
            if env is not None:
                root = EnvState(problem=data["problem"], data=env.initial_data(data["problem"]))
            tree = SearchTree.from_json(data["tree"], env=env, root=root)
        return cls(
            planner=data["planner"],
            env_id=data["env_id"],
            problem=data["problem"],
            steps=list(data["steps"]),
            answer=data["answer"],
            solved_without_reference=data["solved_without_reference"],
            correct=data.get("correct"),
            cost=Cost.from_dict(data["cost"]),
            budget=Budget(**data["budget"]),
            tree=tree,
            candidates=list(data.get("candidates", [])),
            seed=data.get("seed"),
            info=dict(data.get("info", {})),
        )


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if x is None or isinstance(x, (str, int, float, bool)):
        return x
    return str(x)


def score_result(env: gym.Env | ReasoningEnv | str, result: SearchResult) -> SearchResult:
    """Score a finished search against the hidden reference; fills in ``result.correct``.

    This is the only place the reference answer is used, and it runs *after* search. The
    trajectory is replayed with ``apply`` from the problem, then the final answer is checked
    with the env's ``check_answer``.

    Args:
        env: the env (or its id) the result was searched on.
        result: the result to score (modified in place and returned).

    Returns:
        ``result`` with ``correct`` set (``False`` when the search gave no answer or a step of
        the trajectory does not replay).
    """
    inner, _ = resolve_env(env)
    if result.answer is None:
        result.correct = False
        return result
    state = EnvState(problem=result.problem, data=inner.initial_data(result.problem))
    for step in result.steps:
        if state.done:
            break
        state, ok, _ = inner.apply(state, step)
        if not ok:
            result.correct = False
            return result
    if not state.done or state.answer is None:
        result.correct = False
        return result
    try:
        ok, _ = inner.check_answer(state, state.answer)
    except (ValueError, ArithmeticError, TypeError, RecursionError):
        ok = False
    result.correct = bool(ok)
    return result
