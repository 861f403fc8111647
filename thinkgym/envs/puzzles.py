"""The Tree-of-Thoughts Game of 24 test puzzles: held out of every training set.

A leaf module that both Game24 and Countdown read (Countdown's four-number, target-24 problems
split exactly as Game24's), so neither task module imports the other's.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["test_puzzles", "is_test_puzzle"]


@lru_cache(maxsize=1)
def test_puzzles() -> tuple[tuple[int, ...], ...]:
    """The 100 Tree-of-Thoughts test puzzles (Yao et al., 2023), held out of every training set."""
    raw = json.loads(resources.files("thinkgym.data").joinpath("game24_tot_test.json").read_text())
    return tuple(tuple(sorted(p)) for p in raw["puzzles"])


@lru_cache(maxsize=1)
def _test_set() -> frozenset[tuple[int, ...]]:
    return frozenset(test_puzzles())


def is_test_puzzle(numbers: Any) -> bool:
    """Whether four numbers (in any order) are one of the 100 Tree-of-Thoughts test puzzles."""
    return len(numbers) == 4 and tuple(sorted(int(v) for v in numbers)) in _test_set()
