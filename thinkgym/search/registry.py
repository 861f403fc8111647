"""The planner registry: built-in planners by name, and users' own with one call."""

from __future__ import annotations

import copy
import difflib
import functools
import importlib
from typing import Any

from thinkgym.search.planner import Planner

__all__ = [
    "register_planner",
    "make_planner",
    "get_planner",
    "list_planners",
    "task_depth",
    "BUILTIN_PLANNERS",
    "DEFAULT_DEPTH",
]

BUILTIN_PLANNERS: dict[str, str] = {
    "greedy": "thinkgym.search.best_of_n:Greedy",
    "best_of_n": "thinkgym.search.best_of_n:BestOfN",
    "best_of_n_vote": "thinkgym.search.best_of_n:BestOfNVote",
    "best_of_n_weighted": "thinkgym.search.best_of_n:WeightedBestOfN",
    "beam": "thinkgym.search.beam:BeamSearch",
    "mcts": "thinkgym.search.mcts:MCTS",
    "gumbel_mcts": "thinkgym.search.gumbel_mcts:GumbelMCTS",
    "dvts": "thinkgym.search.dvts:DVTS",
    "auto": "thinkgym.search.auto:AutoPlanner",
    "revision": "thinkgym.search.revision:SequentialRevision",
}

_USER: dict[str, type[Planner]] = {}


def register_planner(name: str, cls: type[Planner], *, override: bool = False) -> None:
    """Register a planner class under ``name`` (it then runs in ``thinkgym bench``).

    Args:
        name: the registry name, e.g. ``"my_planner"``.
        cls: a :class:`~thinkgym.search.planner.Planner` subclass.
        override: replace an existing registration instead of raising.

    Raises:
        ValueError: the name is empty or already taken.
        TypeError: ``cls`` is not a planner class.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"planner name={name!r} must be a non-empty string")
    if not isinstance(cls, type) or not issubclass(cls, Planner):
        raise TypeError(
            f"cls={cls!r} must be a subclass of thinkgym.search.Planner (implement "
            "search(ctx) as a generator)"
        )
    if (name in _USER or name in BUILTIN_PLANNERS) and not override:
        raise ValueError(
            f"a planner named {name!r} is already registered; pick another name or pass "
            "override=True"
        )
    _USER[name] = cls


def list_planners() -> list[str]:
    """Names of every registered planner."""
    return sorted(set(BUILTIN_PLANNERS) | set(_USER))


def get_planner(name: str) -> type[Planner]:
    """The planner class registered under ``name``.

    Raises:
        KeyError: unknown name; the message lists the known ones and suggests the closest.
    """
    if name in _USER:
        return _USER[name]
    if name in BUILTIN_PLANNERS:
        module, _, attr = BUILTIN_PLANNERS[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    known = list_planners()
    hint = difflib.get_close_matches(name, known, n=1)
    extra = f" Did you mean {hint[0]!r}?" if hint else ""
    raise KeyError(
        f"no planner named {name!r}.{extra} Known planners: {', '.join(known)}. Register your "
        "own with thinkgym.search.register_planner(name, cls)."
    )


DEFAULT_DEPTH = 4
"""Steps per solution assumed when sizing a planner for a budget before its env is known."""


def task_depth(env: Any, problems: int = 8) -> int:
    """Steps per solution to size planners for: the longest of the task's solver's solutions to
    ``problems`` throwaway problems (seeds from 987,654), so that a whole sample of a long problem
    still fits (best-of-N samples in lockstep: a budget cut before the answer finishes none).

    Sizes planners to a budget (:meth:`Planner.for_budget
    <thinkgym.search.planner.Planner.for_budget>`, :func:`make_planner`, ``thinkgym bench``); a
    task without a solver counts as :data:`DEFAULT_DEPTH` steps. The env you pass keeps its
    state (a copy is measured).

    Args:
        env: the env (wrapped or not) or its id.
        problems: throwaway problems measured.
    """
    from thinkgym.search.context import resolve_env

    inner, _ = resolve_env(env)
    known = getattr(inner, "solution_depth", None)  # a served env: measured on the server
    if isinstance(known, int) and known > 0:
        return known
    try:  # a copy: the env you plan on keeps its state
        inner = copy.deepcopy(inner)
    except Exception:  # noqa: BLE001 - an env that cannot be copied is measured in place
        pass
    longest = 0
    for seed in range(987_654, 987_654 + max(1, problems)):
        try:
            inner.reset(seed=seed)
            longest = max(longest, len(inner.solve(inner.get_state().problem)))
        except (NotImplementedError, ValueError, TypeError, KeyError, AttributeError):
            break
    return max(1, longest) if longest else DEFAULT_DEPTH


def make_planner(
    name: str,
    policy: Any = None,
    *,
    budget: Any = None,
    env: Any = None,
    depth: int | None = None,
    **kwargs: Any,
) -> Planner:
    """Build a registered planner, sized to its budget: ``make_planner("mcts", policy, budget=64)``.

    With a policy-call ``budget`` the planner is sized the way :meth:`Planner.for_budget
    <thinkgym.search.planner.Planner.for_budget>` sizes it (``thinkgym bench`` does the same):
    best-of-N draws as many whole samples as fit (``n = budget // depth``), beam search and MCTS
    choose their width and beams/simulations from the budget and the task's solution length.
    The length is ``depth`` when given, else that of ``env``'s task (:func:`task_depth`); with
    neither, the planner sizes itself for each env it plans on. Keyword arguments you pass
    (``n=``, ``beam_size=``, ...) override the sizing. Without a budget the planner keeps its
    defaults and nothing bounds its calls but its own size.

    Args:
        name: a registered planner name (:func:`list_planners`).
        policy: the policy (``None``: a planner that takes none).
        budget: policy calls per problem (an int), a :class:`~thinkgym.search.budget.Budget` or
            a dict of units; ``None``: unlimited.
        env: the env (or its id) to size for.
        depth: steps of a typical solution (overrides ``env``'s).
        **kwargs: the planner's own arguments (``guidance``, ``temperature``, ``seed``, ...).

    Returns:
        The planner.

    Raises:
        KeyError: unknown name.
        ValueError: ``depth`` < 1, or a bad argument of the planner.
    """
    cls = get_planner(name)
    if policy is None:
        return cls(**({"budget": budget} if budget is not None else {}), **kwargs)
    if budget is None:
        return cls(policy, **kwargs)
    if depth is None and env is not None:
        depth = task_depth(env)
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise ValueError(f"depth={depth!r} must be a positive integer (steps per solution)")
    planner = cls.for_budget(policy, budget, depth=depth or DEFAULT_DEPTH, **kwargs)
    calls = planner.budget.policy_calls
    sized_by_hand = calls is None or set(cls.sizing(calls, DEFAULT_DEPTH)) <= set(kwargs)
    if depth is None and cls.budgeted and not sized_by_hand:
        planner._size_on_plan = functools.partial(_size_for_env, dict(kwargs))
    return planner


def _size_for_env(kwargs: dict[str, Any], planner: Planner, env: Any) -> None:
    """Resize ``planner`` (built by :func:`make_planner` without env or depth) for ``env``.

    Only the sized arguments change (attributes you set on the planner stay); the env's depth is
    measured once per env object.
    """
    spec = getattr(env, "spec", None)  # envs made from one id and kwargs: one measurement
    key = (spec.id, repr(sorted((spec.kwargs or {}).items()))) if spec is not None else id(env)
    if planner.__dict__.get("_sized_env") == key:
        return
    depth = task_depth(env)
    planner._sized_env = key
    if planner.__dict__.get("_sized_depth", DEFAULT_DEPTH) == depth:
        return
    cls = type(planner)
    sized = cls.for_budget(planner.policy, planner.budget, depth=depth, **kwargs)
    keys = list(cls.sizing(planner.budget.policy_calls or 1, depth))
    if all(k in vars(sized) for k in keys):
        for k in keys:
            setattr(planner, k, getattr(sized, k))
    else:  # a planner whose attributes are named otherwise than its arguments: take them all
        hook = planner.__dict__.get("_size_on_plan")
        planner.__dict__.update(vars(sized))
        planner._size_on_plan, planner._sized_env = hook, key
    planner._sized_depth = depth
