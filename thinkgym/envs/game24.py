"""Game of 24: four numbers, reach 24 with + - * /, one operation per step."""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from thinkgym.envs.countdown import CountdownEnv, count_paths
from thinkgym.envs.puzzles import is_test_puzzle, test_puzzles

__all__ = [
    "Game24Env",
    "puzzle_table",
    "test_puzzles",
    "is_test_puzzle",
    "build_puzzle_table",
    "SPLITS",
]

SPLITS = ("train", "test", "all")
"""``train`` excludes the Tree-of-Thoughts test puzzles, ``test`` is exactly them, ``all`` both."""


def build_puzzle_table() -> list[tuple[tuple[int, int, int, int], float]]:
    """Every solvable puzzle of four numbers in 1..13 with its solve share (a few seconds).

    The share is the fraction of step paths (pick two numbers and an operation, three times) that
    end at 24: high for easy puzzles, low for hard ones. The package ships this table in
    ``thinkgym/data/game24_puzzles.json``; this function rebuilds it.
    """
    table = []
    for quad in itertools.combinations_with_replacement(range(1, 14), 4):
        good, total = count_paths(tuple(Fraction(v) for v in quad), Fraction(24))
        if good:
            table.append((quad, good / total))
    return table


@lru_cache(maxsize=1)
def puzzle_table() -> tuple[tuple[tuple[int, ...], float], ...]:
    """The shipped table of solvable puzzles, easiest first."""
    raw = json.loads(resources.files("thinkgym.data").joinpath("game24_puzzles.json").read_text())
    rows = [(tuple(r[0]), float(r[1])) for r in raw["puzzles"]]
    rows.sort(key=lambda r: (-r[1], r[0]))
    return tuple(rows)


@lru_cache(maxsize=8)
def _buckets(split: str) -> tuple[tuple[tuple[int, ...], ...], ...]:
    held = set(test_puzzles())
    rows = [q for q, _ in puzzle_table()]
    if split == "train":
        rows = [q for q in rows if q not in held]
    elif split == "test":
        return (tuple(sorted(held)),) * 4
    k = len(rows)
    return tuple(tuple(rows[i * k // 4 : (i + 1) * k // 4]) for i in range(4))


class Game24Env(CountdownEnv):
    """Game of 24: combine four numbers with + - * / to make 24.

    ## Description
    ``Numbers: 4 9 10 13 | Target: 24``. Each step combines two remaining numbers, e.g.
    ``13 - 9 = 4 (left: 4 4 10)``, with exact rational arithmetic. The final line
    ``Answer: (13 - 9) * (10 - 4) = 24`` must use each given number exactly once. The answer
    check needs no hidden reference, so planners may use it during search.

    ## Action Space
    ``spaces.Text``: ``a op b = c [(left: ...)]`` or ``Answer: <expression> = 24``.

    ## Observation Space
    ``spaces.Text``: the problem line, then one accepted step per line.

    ## Reward
    Default: 1.0 for a correct answer, 0.0 for a wrong one, ``invalid_penalty`` per rejected step.

    ## Episode End
    Terminated on an ``Answer:`` line; truncated after ``max_steps`` actions.

    ## Arguments
    ``difficulty`` (0-3): quartile of the 1,362 solvable puzzles ranked by the share of random
    step paths that reach 24 (0 easiest). ``split``: ``"train"`` (default) never draws the 100
    Tree-of-Thoughts test puzzles, ``"test"`` draws only them, ``"all"`` draws any.
    ``reset(options={"numbers": [4, 9, 10, 13]})`` pins a puzzle.

    ## Version History
    * v0: initial version.
    """

    default_max_steps = 8
    fixed_target = 24
    pin_counts = (4, 4)

    def __init__(self, difficulty: int = 1, split: str = "train", **kwargs: Any) -> None:
        if split not in SPLITS:
            raise ValueError(f"split={split!r} is not one of {SPLITS}")
        if not 0 <= difficulty <= 3:
            raise ValueError(f"difficulty={difficulty!r} must be 0, 1, 2 or 3 for Game24")
        super().__init__(difficulty=difficulty, n_numbers=4, max_number=13, split=split, **kwargs)

    def fixed_test_set(self) -> list[dict[str, Any]]:
        """The 100 Tree-of-Thoughts test puzzles, in the order of :func:`test_puzzles`."""
        return [{"numbers": list(p), "target": 24} for p in test_puzzles()]

    def generate_problem(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw a solvable puzzle of the chosen difficulty quartile and split."""
        bucket = _buckets(self.split)[self.difficulty]
        quad = list(bucket[int(rng.integers(len(bucket)))])
        rng.shuffle(quad)
        return {"numbers": [int(v) for v in quad], "target": 24}

    option_keys = ("numbers", "target", "problem")

    def problem_from_options(self, options: dict[str, Any]) -> dict[str, Any] | None:
        """Pin a puzzle with ``{"numbers": [a, b, c, d]}`` (the target is always 24); a puzzle
        with no solution (``1 1 1 5``) is refused."""
        source = options if "numbers" in options else options.get("problem")
        if isinstance(source, dict) and source.get("target", 24) != 24:
            raise ValueError(
                f"Game24's target is always 24, not {source.get('target')!r}; leave 'target' "
                "out of options (or use Countdown-v0 for other targets)"
            )
        problem = super().problem_from_options(options)
        if problem is not None and problem.get("target") != 24:
            raise ValueError(
                f"Game24's target is always 24, not {problem.get('target')!r}; leave 'target' "
                "out of options (or use Countdown-v0 for other targets)"
            )
        return problem

    def format_problem(self, problem: dict[str, Any]) -> str:
        """``Numbers: 4 9 10 13 | Target: 24``."""
        return super().format_problem(problem)
