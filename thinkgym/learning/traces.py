"""Step-by-step training traces from the tasks' reference solvers, with a clean train/eval split.

A :class:`Trace` is a problem (the transcript's head) and a correct sequence of steps. For
supervised fine-tuning it expands into (prompt, step) pairs: the prompt is the transcript so far,
the target is the next step.

The split is clean by construction:

* **Game24** is evaluated on the 100 Tree-of-Thoughts test puzzles
  (:func:`thinkgym.envs.game24.test_puzzles`); no trace made here has a test puzzle as its problem.
* Every other task holds out its evaluation seeds :data:`EVAL_SEEDS`: :func:`make_traces` refuses
  them, and drops any training problem whose text equals an evaluation problem's text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Trace",
    "EVAL_SEEDS",
    "GAME24",
    "make_traces",
    "eval_problems",
    "eval_texts",
    "game24_extra_traces",
    "subpuzzle_traces",
    "pairs",
]

GAME24 = "thinkgym/Game24-v0"

_HELD_OUT = range(10**6, 10**6 + 200)
EVAL_SEEDS: dict[str, range] = {
    "thinkgym/Arithmetic-v0": _HELD_OUT,
    "thinkgym/LinearEquation-v0": _HELD_OUT,
    "thinkgym/Countdown-v0": _HELD_OUT,
}
"""Held-out evaluation seeds per task (Game24 is evaluated on the 100 test puzzles instead)."""


@dataclass(frozen=True, slots=True)
class Trace:
    """A solved problem.

    Attributes:
        env_id: the task (or data source) it comes from.
        head: the problem line(s), as the env writes them.
        steps: the correct steps, the final ``Answer:`` line included.
    """

    env_id: str
    head: str
    steps: tuple[str, ...]

    def pairs(self) -> list[tuple[str, str]]:
        """(transcript so far, next step) for every step."""
        return [
            ("\n".join((self.head, *self.steps[:k])), self.steps[k]) for k in range(len(self.steps))
        ]

    @property
    def text(self) -> str:
        """The full transcript."""
        return "\n".join((self.head, *self.steps))


def save_traces(traces: Iterable[Trace], path: str | Path) -> None:
    """Write traces as JSON lines (gzip-compressed when ``path`` ends in ``.gz``)."""
    import gzip
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as fh:
        for t in traces:
            fh.write(json.dumps({"env_id": t.env_id, "head": t.head, "steps": list(t.steps)}))
            fh.write("\n")


def load_traces(path: str | Path) -> list[Trace]:
    """Read traces written by :func:`save_traces` (plain data only: JSON, never a pickle)."""
    import gzip
    import json

    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            row = json.loads(line)
            if not isinstance(row, dict) or not {"env_id", "head", "steps"} <= set(row):
                raise ValueError(f"{path}:{n} is not a trace (needs env_id, head, steps)")
            out.append(Trace(str(row["env_id"]), str(row["head"]), tuple(map(str, row["steps"]))))
    return out


def pairs(traces: Iterable[Trace]) -> list[tuple[str, str]]:
    """All (transcript so far, next step) pairs of ``traces``."""
    return [p for t in traces for p in t.pairs()]


def _make_env(env_id: str, difficulty: int | None = None, **kwargs: Any) -> Any:
    from thinkgym.envs import make, resolve_id

    if difficulty is not None:
        kwargs["difficulty"] = difficulty
    return make(resolve_id(env_id), **kwargs).unwrapped


def _full_id(env_id: str) -> str:
    from thinkgym.envs import resolve_id

    return resolve_id(env_id)


def eval_problems(env_id: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The held-out evaluation problems of a task, as ``env.reset`` keyword arguments.

    Game24: the 100 test puzzles (``{"options": {"numbers": [...]}}``); other tasks: one
    ``{"seed": s}`` per seed of :data:`EVAL_SEEDS` (tasks without an entry use the same range).
    """
    env_id = _full_id(env_id)
    if env_id == GAME24:
        from thinkgym.envs.game24 import test_puzzles

        out = [{"options": {"numbers": list(p)}} for p in test_puzzles()]
    else:
        out = [{"seed": s} for s in EVAL_SEEDS.get(env_id, _HELD_OUT)]
    return out[:limit] if limit is not None else out


@lru_cache(maxsize=32)
def eval_texts(env_id: str, difficulty: int | None = None) -> frozenset[str]:
    """Problem texts of the evaluation problems (at ``difficulty``; ``None``: the default)."""
    env_id = _full_id(env_id)
    env = _make_env(env_id, difficulty)
    out = set()
    for kw in eval_problems(env_id):
        env.reset(**kw)
        out.add(env.format_problem(env.get_state().problem))
    return frozenset(out)


def _is_test_puzzle(numbers: Sequence[int]) -> bool:
    from thinkgym.envs.game24 import test_puzzles

    return len(numbers) == 4 and tuple(sorted(int(v) for v in numbers)) in set(test_puzzles())


def _solutions(env: Any, problem: dict[str, Any], k: int, seed: Sequence[int]) -> list[tuple]:
    """Up to ``k`` distinct reference traces (several tries each, for randomised solvers)."""
    sols: list[tuple[str, ...]] = []
    for j in range(max(1, 3 * k)):
        steps = tuple(env.solve_with_rng(problem, np.random.default_rng([*seed, j])))
        if steps not in sols:
            sols.append(steps)
        if len(sols) >= k:
            break
    return sols


def make_traces(
    env_id: str,
    n: int,
    *,
    seed: int = 0,
    split: str = "train",
    difficulty: int | None = None,
    solutions_per_problem: int = 1,
    env_kwargs: dict[str, Any] | None = None,
) -> list[Trace]:
    """Reference traces of ``n`` training problems of a task.

    Problem ``i`` is drawn by ``env.reset(seed=s)`` for the ``i``-th seed ``s = seed, seed+1, ...``
    that is not an evaluation seed; problems whose text equals an evaluation problem's text are
    dropped (and replaced by the next seed). Game24 draws from the training puzzles only (never
    one of the 100 test puzzles) and, with ``difficulty=None``, cycles through its four
    difficulty quartiles.

    Args:
        env_id: a task id (``"thinkgym/Game24-v0"`` or a short name such as ``"Game24"``).
        n: number of problems.
        seed: first problem seed; must not be an evaluation seed.
        split: must be ``"train"``: training sets never contain evaluation problems.
        difficulty: the env's difficulty (``None``: its default; Game24: all quartiles).
        solutions_per_problem: distinct solutions per problem for tasks whose solver samples
            among several (Game24, Countdown); deterministic solvers give one.
        env_kwargs: more keyword arguments for the env.

    Returns:
        Up to ``n * solutions_per_problem`` traces.

    Raises:
        ValueError: ``seed`` is an evaluation seed, ``split`` is not ``"train"``, or ``n`` < 0.
    """
    env_id = _full_id(env_id)
    if split != "train":
        raise ValueError(
            f"split={split!r}: training traces come from the 'train' split only; evaluation "
            "problems are in eval_problems(env_id)"
        )
    if n < 0 or solutions_per_problem < 1:
        raise ValueError(
            f"n={n} must be >= 0 and solutions_per_problem={solutions_per_problem} >= 1"
        )
    held = EVAL_SEEDS.get(env_id, _HELD_OUT)
    if seed in held:
        raise ValueError(
            f"seed={seed} is an evaluation seed of {env_id} ({held.start}..{held.stop - 1}); "
            f"pick a seed below {held.start} or from {held.stop} up"
        )
    kwargs = dict(env_kwargs or {})
    if env_id == GAME24:
        kwargs.setdefault("split", "train")
        if kwargs["split"] != "train":
            raise ValueError("Game24 training traces must use split='train'")
        diffs = [difficulty] if difficulty is not None else [0, 1, 2, 3]
    else:
        diffs = [difficulty]
    envs = [_make_env(env_id, d, **kwargs) for d in diffs]
    banned = set(eval_texts(env_id)) | (
        set(eval_texts(env_id, difficulty)) if difficulty is not None else set()
    )
    out: list[Trace] = []
    s = seed
    made = misses = 0
    while made < n:
        if s in held:
            s = held.stop
            continue
        env = envs[made % len(envs)]
        env.reset(seed=s)
        problem = env.get_state().problem
        head = env.format_problem(problem)
        if head in banned or (env_id == GAME24 and _is_test_puzzle(problem["numbers"])):
            s += 1
            misses += 1
            if misses > 100 * (n + 10):
                raise RuntimeError(
                    f"{env_id} at difficulty={difficulty} has too few problems outside the "
                    f"evaluation set to make {n} traces"
                )
            continue
        for steps in _solutions(env, problem, solutions_per_problem, (s,)):
            out.append(Trace(env_id, head, steps))
        made += 1
        s += 1
    return out


def game24_extra_traces(
    n: int,
    *,
    seed: int = 0,
    max_number: int = 24,
    solutions_per_problem: int = 1,
) -> list[Trace]:
    """Extra four-number, target-24 puzzles with numbers up to ``max_number`` (default 24).

    Drawn uniformly among solvable quadruples (Countdown rules, fixed target 24); a quadruple that
    is one of the 100 test puzzles is never produced. They widen the training distribution of
    the Game24 skill (which two numbers to combine first) beyond the 1,262 training puzzles.
    """
    from thinkgym.envs.countdown import CountdownEnv, _solvable

    env = CountdownEnv(n_numbers=4, max_number=max_number)
    rng = np.random.default_rng([seed, 24])
    out: list[Trace] = []
    made = 0
    while made < n:
        numbers = [int(v) for v in rng.integers(1, max_number + 1, size=4)]
        if _is_test_puzzle(numbers):
            continue
        if not _solvable(tuple(sorted(Fraction(v) for v in numbers)), Fraction(24)):
            continue
        problem = {"numbers": numbers, "target": 24}
        head = env.format_problem(problem)
        for steps in _solutions(env, problem, solutions_per_problem, (seed, made)):
            out.append(Trace("game24-extra", head, steps))
        made += 1
    return out


def subpuzzle_traces(traces: Iterable[Trace], *, seed: int = 0) -> list[Trace]:
    """Sub-puzzles of Countdown-style traces: the numbers left after each step, as new problems.

    ``Numbers: 4 9 10 13 | Target: 24`` solved by ``13 - 9 = 4 (left: 4 4 10)`` gives the
    three-number puzzle ``Numbers: 4 4 10 | Target: 24`` (and its two-number sub-puzzle), each
    re-solved by the solver. States with fractions are skipped (problem lines hold integers).
    Sub-puzzles have fewer than four numbers, so none is a Game24 test puzzle.
    """
    from thinkgym.envs.countdown import CountdownEnv

    env = CountdownEnv(n_numbers=3)
    seen: set[str] = set()
    out: list[Trace] = []
    for t_i, trace in enumerate(traces):
        if "| Target:" not in trace.head:
            continue
        target = int(trace.head.rsplit(":", 1)[1])
        for k, step in enumerate(trace.steps):
            if "(left:" not in step:
                continue
            left = step.rsplit("(left:", 1)[1].rstrip(")").split()
            if len(left) < 2 or any("/" in v for v in left):
                continue
            problem = {"numbers": [int(v) for v in left], "target": target}
            head = env.format_problem(problem)
            if head in seen:
                continue
            seen.add(head)
            steps = env.solve_with_rng(problem, np.random.default_rng([seed, t_i, k]))
            out.append(Trace(f"{trace.env_id}:sub", head, tuple(steps)))
    return out
