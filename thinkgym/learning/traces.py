"""Step-by-step training traces from the tasks' reference solvers, with a clean train/eval split.

A :class:`Trace` is a problem (the transcript's head) and a correct sequence of steps. For
supervised fine-tuning it expands into (prompt, step) pairs: the prompt is the transcript so far,
the target is the next step.

The split is clean by construction (:mod:`thinkgym.envs.splits`): every problem belongs to the
train or the test split of its task by a fixed rule, evaluation uses only test problems
(:func:`~thinkgym.envs.splits.eval_problems`), and every trace made here comes from a
``split="train"`` env and is dropped if its problem line is a test problem of any task that can read
it (:func:`~thinkgym.envs.splits.is_held_out`; Countdown and Game24 share problem lines).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from thinkgym.envs.splits import eval_problems, is_held_out

__all__ = [
    "Trace",
    "GAME24",
    "make_traces",
    "eval_problems",
    "is_held_out",
    "game24_extra_traces",
    "subpuzzle_traces",
    "pairs",
    "save_traces",
    "load_traces",
    "check_trace",
]

GAME24 = "thinkgym/Game24-v0"


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
    """Read traces written by :func:`save_traces` (plain data only: JSON, never a pickle).

    Raises:
        ValueError: in one line naming the file (and the line): a truncated or corrupt ``.gz``
            file, text that is not UTF-8, a line that is not JSON or not a trace, or a trace
            whose ``steps`` is not a list of strings (``"steps": "Answer: 2"`` is refused, not
            split into characters).
    """
    import gzip
    import json
    import zlib

    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except RecursionError:
                    raise ValueError(f"{path}:{n} is nested too deeply to read") from None
                except ValueError as exc:  # JSONDecodeError, or an integer too long to read
                    first = str(exc).splitlines()[0][:120]
                    raise ValueError(f"{path}:{n} is not JSON: {first}") from None
                out.append(_trace_row(path, n, row))
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ValueError(
            f"{path}: the compressed file is truncated or corrupt ({exc}); write it again"
        ) from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return out


def _trace_row(path: Path, n: int, row: Any) -> Trace:
    """One JSON row as a :class:`Trace` (``ValueError`` naming the file and line otherwise)."""
    if not isinstance(row, dict) or not {"env_id", "head", "steps"} <= set(row):
        raise ValueError(f"{path}:{n} is not a trace (needs env_id, head, steps)")
    steps, head, env_id = row["steps"], row["head"], row["env_id"]
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
        raise ValueError(
            f"{path}:{n}: 'steps' must be a list of step strings, got {type(steps).__name__} "
            f"{str(steps)[:60]!r}"
        )
    if not isinstance(head, str) or not isinstance(env_id, str):
        raise ValueError(f"{path}:{n}: 'env_id' and 'head' must be strings")
    return Trace(env_id, head, tuple(steps))


def check_trace(trace: Trace, env: Any) -> None:
    """Refuse a trace that is not one of ``env``'s task.

    A trace whose ``env_id`` names a registered env must name ``env``'s; any other (``game24-
    extra``, ``...:sub``) must have a problem line ``env`` can read (:meth:`parse_problem`).

    Raises:
        ValueError: naming the trace's task and the env.
    """
    from thinkgym.envs import resolve_id

    spec = getattr(env, "spec", None)
    name = spec.id if spec is not None else type(env).__name__
    base = trace.env_id.split(":", 1)[0]
    try:
        resolved: str | None = resolve_id(base)
    except Exception:  # an unregistered source name: read the problem line instead
        resolved = None
    if resolved is not None and spec is not None and resolved != spec.id:
        raise ValueError(
            f"a trace of {trace.env_id} cannot be exported as {name} data; export it with "
            f"--env {resolved} (or make traces of {name})"
        )
    if resolved is None:
        try:
            env.parse_problem(trace.head)
        except (ValueError, NotImplementedError) as exc:
            raise ValueError(
                f"a trace of {trace.env_id} ({trace.head[:60]!r}) is not a {name} problem: {exc}"
            ) from None


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
    difficulty: int | Sequence[int] | None = None,
    solutions_per_problem: int = 1,
    env_kwargs: dict[str, Any] | None = None,
) -> list[Trace]:
    """Reference traces of ``n`` training problems of a task.

    Problem ``i`` is drawn by ``env.reset(seed=s)`` of a ``split="train"`` env for the ``i``-th
    seed ``s = seed, seed+1, ...``; a problem whose line is held out
    (:func:`~thinkgym.envs.splits.is_held_out`) is dropped and replaced by the next seed. Any seed
    is fine: the split is a property of the problem, not of the seed.

    Args:
        env_id: a task id (``"thinkgym/Game24-v0"`` or a short name such as ``"Game24"``).
        n: number of problems.
        seed: first problem seed.
        split: must be ``"train"``: training sets never contain evaluation problems.
        difficulty: the env's difficulty (``None``: its default), or several to cycle through
            (problem ``i`` uses ``difficulty[i % len(difficulty)]``).
        solutions_per_problem: distinct solutions per problem for tasks whose solver samples
            among several (Game24, Countdown); deterministic solvers give one.
        env_kwargs: more keyword arguments for the env (``split`` must be ``"train"`` if given).

    Returns:
        Up to ``n * solutions_per_problem`` traces.

    Raises:
        ValueError: ``split`` is not ``"train"``, or ``n`` < 0.
    """
    env_id = _full_id(env_id)
    kwargs = dict(env_kwargs or {})
    if split != "train" or kwargs.get("split", "train") != "train":
        raise ValueError(
            f"split={kwargs.get('split', split)!r}: training traces come from the 'train' split "
            "only; evaluation problems are in thinkgym.envs.eval_problems(env_id)"
        )
    kwargs["split"] = "train"
    if n < 0 or solutions_per_problem < 1:
        raise ValueError(
            f"n={n} must be >= 0 and solutions_per_problem={solutions_per_problem} >= 1"
        )
    diffs = [difficulty] if difficulty is None or isinstance(difficulty, int) else list(difficulty)
    if not diffs:
        raise ValueError("difficulty=() names no difficulty; pass None, an int or a list of ints")
    envs = [_make_env(env_id, d, **kwargs) for d in diffs]
    out: list[Trace] = []
    s = seed
    made = misses = 0
    while made < n:
        env = envs[made % len(envs)]
        env.reset(seed=s)
        problem = env.get_state().problem
        head = env.format_problem(problem)
        s += 1
        if is_held_out(head):
            misses += 1
            if misses > 100 * (n + 10):
                raise RuntimeError(
                    f"{env_id} at difficulty={difficulty} has too few training problems outside "
                    f"the test split to make {n} traces"
                )
            continue
        for steps in _solutions(env, problem, solutions_per_problem, (s - 1,)):
            out.append(Trace(env_id, head, steps))
        made += 1
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
    is held out (one of the 100 test puzzles) is never produced. They widen the training distribution of
    the Game24 skill (which two numbers to combine first) beyond the 1,262 training puzzles.
    """
    from thinkgym.envs.countdown import CountdownEnv, _solvable

    env = CountdownEnv(n_numbers=4, max_number=max_number)
    rng = np.random.default_rng([seed, 24])
    out: list[Trace] = []
    made = 0
    while made < n:
        numbers = [int(v) for v in rng.integers(1, max_number + 1, size=4)]
        problem = {"numbers": numbers, "target": 24}
        head = env.format_problem(problem)
        if is_held_out(head):
            continue
        if not _solvable(tuple(sorted(Fraction(v) for v in numbers)), Fraction(24)):
            continue
        for steps in _solutions(env, problem, solutions_per_problem, (seed, made)):
            out.append(Trace("game24-extra", head, steps))
        made += 1
    return out


def subpuzzle_traces(traces: Iterable[Trace], *, seed: int = 0) -> list[Trace]:
    """Sub-puzzles of Countdown-style traces: the numbers left after each step, as new problems.

    ``Numbers: 4 9 10 13 | Target: 24`` solved by ``13 - 9 = 4 (left: 4 4 10)`` gives the
    three-number puzzle ``Numbers: 4 4 10 | Target: 24`` (and its two-number sub-puzzle), each
    re-solved by the solver. States with fractions are skipped (problem lines hold integers).
    Sub-puzzles that are held out (:func:`~thinkgym.envs.splits.is_held_out`) are skipped.
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
            if head in seen or is_held_out(head):
                continue
            seen.add(head)
            steps = env.solve_with_rng(problem, np.random.default_rng([seed, t_i, k]))
            out.append(Trace(f"{trace.env_id}:sub", head, tuple(steps)))
    return out
