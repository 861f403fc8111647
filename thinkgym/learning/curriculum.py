"""Pass-rate curricula for RL and expert iteration: which training problems to sample next.

Two pieces, used by :func:`thinkgym.learning.grpo.grpo` and
:func:`thinkgym.learning.expert_iteration.expert_iteration`:

* :class:`PassRateSampler` keeps a running pass rate per training problem (an exponential moving
  average of the share of its episodes that were solved) and samples problems with weight
  ``p (1 - p) + floor``: a problem the policy solves sometimes but not always (``p`` near 0.5)
  is the most likely pick, one it always or never solves is picked rarely (``floor`` keeps every
  problem reachable, so a rate that changed is noticed). A problem never tried counts as
  ``prior`` (0.5 by default: try everything once early on). With group-relative advantages only
  a group with mixed outcomes carries a gradient, so this raises the share of useful groups.
* :class:`DifficultySchedule` walks a list of env settings (e.g. ``difficulty`` 1, 2, 3): it
  trains on one stage until the running pass rate of that stage's training episodes reaches
  ``threshold``, then moves to the next; the last stage is kept to the end.

Both are plain objects with a JSON-able :meth:`state` / :meth:`load_state`, so a resumed run
continues with the same rates and stage.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["PassRateSampler", "DifficultySchedule", "problem_key", "parse_schedule"]


def problem_key(problem: dict[str, Any]) -> str:
    """A stable text key of an ``env.reset`` keyword-argument dict (the same problem, the same key)."""
    return json.dumps(problem, sort_keys=True, default=str)


class PassRateSampler:
    """Sample training problems by their running pass rate (see the module docstring).

    Args:
        pool: the candidate problems (``env.reset`` keyword arguments); at least one.
        prior: the pass rate assumed for a problem never tried, in ``[0, 1]``.
        decay: weight of the newest observation in the moving average, in ``(0, 1]`` (``1``: the
            rate is the last group's share).
        floor: weight added to every problem (``> 0`` keeps always/never-solved problems
            reachable).

    Raises:
        ValueError: an empty pool or a setting out of range (the message names it).
    """

    def __init__(
        self,
        pool: Sequence[dict[str, Any]],
        *,
        prior: float = 0.5,
        decay: float = 0.5,
        floor: float = 0.02,
    ) -> None:
        if not pool:
            raise ValueError("pool is empty: give at least one training problem")
        if not 0.0 <= prior <= 1.0:
            raise ValueError(f"prior={prior!r} must be in [0, 1]")
        if not (0.0 < decay <= 1.0):
            raise ValueError(f"decay={decay!r} must be in (0, 1]")
        if not (math.isfinite(floor) and floor > 0):
            raise ValueError(f"floor={floor!r} must be a finite number > 0")
        self.pool = [dict(p) for p in pool]
        self.keys = [problem_key(p) for p in self.pool]
        self.prior, self.decay, self.floor = float(prior), float(decay), float(floor)
        self.rates: dict[str, float] = {}
        self.tries: dict[str, int] = {}

    def rate(self, problem: dict[str, Any]) -> float:
        """The running pass rate of ``problem`` (``prior`` when never tried)."""
        return self.rates.get(problem_key(problem), self.prior)

    def update(self, problem: dict[str, Any], solved: Sequence[bool]) -> None:
        """Fold one group's verdicts into the problem's rate (the first group sets it)."""
        if not len(solved):
            return
        key = problem_key(problem)
        share = float(np.mean([bool(s) for s in solved]))
        old = self.rates.get(key)
        self.rates[key] = share if old is None else (1 - self.decay) * old + self.decay * share
        self.tries[key] = self.tries.get(key, 0) + len(solved)

    def weights(self) -> np.ndarray:
        """Sampling weights of the pool, normalised to sum to 1."""
        p = np.array([self.rates.get(k, self.prior) for k in self.keys])
        w = p * (1 - p) + self.floor
        return w / w.sum()

    def sample(self, n: int, rng: np.random.Generator) -> list[dict[str, Any]]:
        """``n`` problems drawn by weight, without repeats while the pool lasts."""
        if n < 1:
            raise ValueError(f"n={n!r} must be >= 1")
        w = self.weights()
        k = min(n, len(self.pool))
        idx = list(rng.choice(len(self.pool), size=k, replace=False, p=w))
        while len(idx) < n:  # a pool smaller than n: the rest with repeats
            idx.append(int(rng.choice(len(self.pool), p=w)))
        return [dict(self.pool[int(i)]) for i in idx]

    def summary(self) -> dict[str, float]:
        """Log figures: the share of the pool tried, and of tried problems the mean rate and the
        share that is mixed (rate strictly between 0.05 and 0.95)."""
        tried = list(self.rates.values())
        return {
            "curriculum_tried": len(tried) / len(self.pool),
            "curriculum_mean_rate": float(np.mean(tried)) if tried else self.prior,
            "curriculum_mixed": float(np.mean([0.05 < r < 0.95 for r in tried])) if tried else 0.0,
        }

    def state(self) -> dict[str, Any]:
        """JSON-able state (rates and tries per problem key)."""
        return {"rates": dict(self.rates), "tries": dict(self.tries)}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state`'s output."""
        self.rates = {str(k): float(v) for k, v in state.get("rates", {}).items()}
        self.tries = {str(k): int(v) for k, v in state.get("tries", {}).items()}


def parse_schedule(text: str | Sequence[int] | None) -> list[int]:
    """``"1,2,3"`` (or ``[1, 2, 3]``) -> ``[1, 2, 3]``; ``None``/``""`` -> ``[]``.

    Raises:
        ValueError: an item that is not a non-negative integer.
    """
    if text is None or text == "":
        return []
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for item in items:
        try:
            value = int(str(item).strip())
        except ValueError:
            raise ValueError(
                f"difficulty_schedule item {item!r} is not an integer; give e.g. '1,2,3'"
            ) from None
        if value < 0:
            raise ValueError(f"difficulty_schedule item {value} must be >= 0")
        out.append(value)
    return out


class DifficultySchedule:
    """Advance through env settings when the current one's training pass rate is high enough.

    Args:
        stages: the values of ``key`` in order (e.g. ``[1, 2, 3]``); at least one.
        threshold: move on when the running pass rate of the current stage reaches this.
        window: the running pass rate is the share solved over this many latest training
            episodes of the stage (and the stage needs at least that many).
        key: the env keyword the stages set (``"difficulty"``).

    Raises:
        ValueError: no stages, a threshold outside ``(0, 1]`` or a window below 1.
    """

    def __init__(
        self,
        stages: Sequence[int],
        *,
        threshold: float = 0.6,
        window: int = 256,
        key: str = "difficulty",
    ) -> None:
        if not stages:
            raise ValueError("stages is empty: give at least one value, e.g. [1, 2, 3]")
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold={threshold!r} must be in (0, 1]")
        if window < 1:
            raise ValueError(f"window={window!r} must be >= 1")
        self.stages = list(stages)
        self.threshold, self.window, self.key = float(threshold), int(window), key
        self.stage = 0
        self.recent: list[bool] = []

    @property
    def value(self) -> Any:
        """The current stage's value (e.g. the difficulty now trained on)."""
        return self.stages[self.stage]

    def env_kwargs(self, base: dict[str, Any]) -> dict[str, Any]:
        """``base`` with the current stage's value under ``key``."""
        return {**base, self.key: self.value}

    def pass_rate(self) -> float:
        """The share solved over the current stage's latest ``window`` episodes (0 when none)."""
        return float(np.mean(self.recent)) if self.recent else 0.0

    def record(self, solved: Sequence[bool]) -> bool:
        """Add training verdicts of the current stage; advance if due. Returns whether it did."""
        self.recent = (self.recent + [bool(s) for s in solved])[-self.window :]
        if (
            self.stage < len(self.stages) - 1
            and len(self.recent) >= self.window
            and self.pass_rate() >= self.threshold
        ):
            self.stage += 1
            self.recent = []
            return True
        return False

    def state(self) -> dict[str, Any]:
        """JSON-able state (stage and recent verdicts)."""
        return {"stage": self.stage, "recent": list(self.recent)}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state`'s output."""
        self.stage = int(state.get("stage", 0))
        self.recent = [bool(x) for x in state.get("recent", [])]
