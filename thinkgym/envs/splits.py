"""One held-out split for every task: the evaluation problems and the check that guards them.

Every task takes ``split=`` (``"train"``, ``"test"``, ``"all"``). Which split a problem belongs to
is a fixed function of the problem (:meth:`~thinkgym.envs.base.ReasoningEnv.problem_split`: a hash
of the problem, or a task's fixed test set such as Game24's 100 Tree-of-Thoughts puzzles), so a
train env and a test env never share a problem, whatever seeds they are reset with.

* :func:`eval_problems` is the one source of evaluation problems: the bench, the benchmark
  scripts, the training evaluations and the examples all call it.
* :func:`is_held_out` says whether a problem line is a test problem of any task that can read it;
  training data is filtered with it (Countdown and Game24 write the same kind of problem line).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from thinkgym.envs.base import SPLITS, ReasoningEnv

__all__ = ["SPLITS", "EVAL_SEED", "DEFAULT_EVAL_SIZE", "eval_problems", "is_held_out"]

EVAL_SEED = 1_000_000
"""First seed :func:`eval_problems` draws test problems with (any seed gives a test problem in a
``split="test"`` env; fixing them fixes the evaluation set)."""

DEFAULT_EVAL_SIZE = 200
"""Evaluation problems per task when ``n`` is not given (tasks without a fixed test set)."""


def _make(env_id: str, kwargs: tuple[tuple[str, Any], ...]) -> ReasoningEnv:
    from thinkgym.envs import make, resolve_id

    return make(resolve_id(env_id), **dict(kwargs)).unwrapped


@lru_cache(maxsize=64)
def _eval_problems(
    env_id: str, n: int | None, seed: int, kwargs: tuple[tuple[str, Any], ...]
) -> tuple[str, ...]:
    env = _make(env_id, (*kwargs, ("split", "test")))
    fixed = env.fixed_test_set()
    if fixed is not None:
        return tuple(json.dumps(p) for p in (fixed if n is None else fixed[:n]))
    want = DEFAULT_EVAL_SIZE if n is None else n
    seen: set[str] = set()
    out: list[str] = []
    tries = 20 * want + 1000
    for s in range(seed, seed + tries):
        if len(out) >= want:
            break
        env.reset(seed=s)
        problem = env.get_state().problem
        key = env.problem_key(problem)
        if key not in seen:
            seen.add(key)
            out.append(json.dumps(problem))
    if len(out) < want:
        raise ValueError(
            f"{env_id} ({dict(kwargs) or 'default settings'}) gave only {len(out)} distinct test "
            f"problems in {tries} draws; ask for n <= {len(out)} or use a larger difficulty"
        )
    return tuple(out)


def eval_problems(
    env_id: str,
    n: int | None = None,
    *,
    difficulty: int | None = None,
    seed: int = EVAL_SEED,
    env_kwargs: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The held-out evaluation problems of a task, as ``env.reset`` keyword arguments.

    Each item is ``{"options": {"problem": problem}}``: the problem is pinned, so it is the same
    whatever ``split`` or seed the env that replays it was made with. Tasks with a fixed test set
    (:meth:`~thinkgym.envs.base.ReasoningEnv.fixed_test_set`: Game24's 100 Tree-of-Thoughts
    puzzles) give its first ``n`` (all of it when it is shorter); others give ``n`` distinct problems drawn from a
    ``split="test"`` env with seeds ``seed, seed + 1, ...`` (repeats skipped).

    Args:
        env_id: the task (``"thinkgym/Game24-v0"`` or a short name such as ``"Game24"``).
        n: how many (``None``: the whole fixed test set, else :data:`DEFAULT_EVAL_SIZE`).
        difficulty: the env's difficulty (``None``: its default).
        seed: first seed of the draws.
        env_kwargs: more keyword arguments of the env (``split`` is always ``"test"``).

    Returns:
        ``n`` reset keyword arguments (a fresh list of fresh dicts).

    Raises:
        ValueError: ``n`` is negative, or a task without a fixed test set has fewer distinct test
            problems than ``n``.
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise ValueError(f"n={n!r} must be None or an integer >= 0")
    kwargs = dict(env_kwargs or {})
    kwargs.pop("split", None)
    if difficulty is not None:
        kwargs["difficulty"] = difficulty
    try:
        key = tuple(sorted(kwargs.items()))
        hash(key)
    except TypeError:  # unhashable settings: no cache
        rows = _eval_problems.__wrapped__(env_id, n, seed, tuple(kwargs.items()))
    else:
        rows = _eval_problems(env_id, n, seed, key)
    return [{"options": {"problem": json.loads(r)}} for r in rows]


@lru_cache(maxsize=1)
def _readers() -> tuple[ReasoningEnv, ...]:
    """One ``split="test"`` env per built-in task (Game24 and Countdown share problem lines).

    A task whose optional dependency is missing (``ImportError``) is left out: without it, no
    data of that task can have been made either.
    """
    from thinkgym.envs import BUILTIN, NAMESPACE

    out = []
    for name in BUILTIN:
        try:
            out.append(_make(f"{NAMESPACE}/{name}", (("split", "test"),)))
        except ImportError:
            continue
    return tuple(out)


@lru_cache(maxsize=200_000)
def is_held_out(head: str) -> bool:
    """Whether a problem line is a test problem of any built-in task that can read it.

    A line counts as held out when some task parses it (:meth:`~ReasoningEnv.parse_problem`) and
    puts the problem in its test split. ``Numbers: 1 2 8 13 | Target: 24`` is held out (a Game24
    test puzzle, whichever task's data it appears in).
    """
    for env in _readers():
        try:
            problem = env.parse_problem(head)
        except (ValueError, NotImplementedError):
            continue
        if env.problem_split(problem) == "test":
            return True
    return False
