"""Training recipes: named sets of defaults for ``thinkgym train sft --recipe NAME``.

The ``default`` recipe builds the shipped policy (``thinkgym/data/policy/``): one tiny char-level
Llama trained by behaviour cloning on solver traces of all four procedural tasks. What it does
for Game24, where a tiny model must pick a first step that keeps the puzzle solvable:

* **many diverse solutions** per training puzzle (the solver samples among them), so the model
  sees every good first move instead of one arbitrary favourite;
* **extra target-24 puzzles** with numbers up to 24 (Countdown rules), never a test puzzle, which
  widen the "which pair first" skill beyond the 1,262 training puzzles;
* **sub-puzzles**: the three- and two-number states of every trace, posed as problems of their own
  (``Numbers: 4 4 10 | Target: 24``), so the later steps are learnt from many more states;
* the ``(left: ...)`` echo that the env writes after each step keeps the remaining numbers on
  the last line, next to where the model writes.

The data sizes scale with ``--data-scale`` (``0.02`` for a quick smoke run).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from thinkgym.learning.sft import SFTConfig
from thinkgym.learning.traces import (
    GAME24,
    Trace,
    game24_extra_traces,
    is_held_out,
    make_traces,
    subpuzzle_traces,
)

__all__ = ["Recipe", "RECIPES", "get_recipe", "build_traces"]


@dataclass(frozen=True)
class Recipe:
    """A named ``thinkgym train sft --recipe`` run: tasks, data table and settings.

    Attributes:
        envs: tasks trained on (and evaluated).
        data: per source, ``(problems, solutions per problem, difficulty)``; sources are env ids,
            ``"game24-extra"`` (:func:`game24_extra_traces`) and the env ids with ``":sub"``
            appended (sub-puzzles of that source's traces). ``difficulty`` is ``None`` (the
            env's default), an int, or a tuple of ints that the problems cycle through. Every
            row is drawn from the ``train`` split (:mod:`thinkgym.envs.splits`).
        config: the training, model and export settings; every field can be overridden on the
            command line. (The shipped policy must stay under 10 MB: ``export_dtype="float16"``.)
    """

    envs: tuple[str, ...]
    data: dict[str, tuple[int, int, int | tuple[int, ...] | None]] = field(default_factory=dict)
    config: SFTConfig = field(default_factory=SFTConfig)

    def as_dict(self) -> dict[str, Any]:
        """Plain values (for the run's JSON record)."""
        return asdict(self)


RECIPES: dict[str, Recipe] = {
    "default": Recipe(
        envs=(
            "thinkgym/Arithmetic-v0",
            "thinkgym/LinearEquation-v0",
            "thinkgym/Countdown-v0",
            GAME24,
        ),
        data={
            "thinkgym/Arithmetic-v0": (30_000, 1, None),
            "thinkgym/Arithmetic-v0@0": (3_000, 1, 0),
            "thinkgym/Arithmetic-v0@2": (6_000, 1, 2),
            "thinkgym/LinearEquation-v0": (30_000, 1, None),
            "thinkgym/LinearEquation-v0@0": (3_000, 1, 0),
            "thinkgym/Countdown-v0": (8_000, 2, None),
            GAME24: (6_000, 8, (0, 1, 2, 3)),  # every difficulty quartile
            "game24-extra": (10_000, 3, None),
            "game24:sub": (0, 1, None),
        },
        config=SFTConfig(
            steps=40_000,
            batch_size=256,
            lr=None,  # 1e-3 from scratch (how the shipped policy was made), 1e-4 from a --policy
            hidden=256,
            layers=6,
            heads=4,
            intermediate=512,
            max_positions=384,
            eval_every=5_000,
            eval_limit=100,
            save_every=2_000,
            export_dtype="float16",
        ),
    ),
}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; the error lists the known ones."""
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown recipe {name!r}; known: {', '.join(sorted(RECIPES))}") from None


def build_traces(
    data: dict[str, tuple[int, int, int | tuple[int, ...] | None]],
    *,
    seed: int = 0,
    scale: float = 1.0,
    log: Any = print,
) -> list[Trace]:
    """Make the traces of a recipe's ``data`` table (sizes times ``scale``).

    Keys: an env id (optionally ``@difficulty``, only to tell rows apart), ``"game24-extra"``,
    or ``"game24:sub"`` (sub-puzzles of all Game24 and extra traces made before it).

    Every row comes from the ``train`` split; as a last guard, any trace whose problem line is held
    out (:func:`~thinkgym.envs.splits.is_held_out`, for every task that can read it) is dropped
    and counted in the log (none is expected).
    """
    out: list[Trace] = []
    for i, (key, (n, k, difficulty)) in enumerate(data.items()):
        n_scaled = max(1, round(n * scale)) if n else 0
        # rows draw from disjoint seed ranges (distinct problems per row; the split is by problem)
        row_seed = 2_000_000 + seed * 1_000_000 + i * 50_000
        if key == "game24-extra":
            made = game24_extra_traces(n_scaled, seed=seed + i, solutions_per_problem=k)
        elif key == "game24:sub":
            source = [t for t in out if t.env_id in (GAME24, "game24-extra")]
            made = subpuzzle_traces(source, seed=seed + i)
        else:
            env_id = key.split("@", 1)[0]
            made = make_traces(
                env_id,
                n_scaled,
                seed=row_seed,
                difficulty=difficulty,
                solutions_per_problem=k,
            )
        clean = [t for t in made if not is_held_out(t.head)]
        dropped = f" ({len(made) - len(clean)} held-out dropped)" if len(clean) < len(made) else ""
        log(f"[data] {key}: {len(clean)} traces{dropped}")
        out.extend(clean)
    return out
