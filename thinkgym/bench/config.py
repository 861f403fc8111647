"""Bench settings and results: :class:`BenchConfig` (every option, validated) and :class:`BenchReport`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from thinkgym.search.registry import get_planner

DEFAULT_PLANNERS = ("greedy", "best_of_n", "beam", "mcts", "revision")


def parse_seeds(text: str) -> list[int]:
    """The seeds of a comma-separated list such as ``"0,1,2"`` (distinct integers >= 0).

    Raises:
        ValueError: a value is not an integer >= 0, a seed repeats, or nothing is named (the
            message names the value and the fix).
    """
    parts = [t.strip() for t in str(text).split(",") if t.strip()]
    if not parts:
        raise ValueError(f"seeds {text!r} names no seed; give comma-separated integers, e.g. 0,1,2")
    seeds = []
    for part in parts:
        try:
            seed = int(part)
        except ValueError:
            raise ValueError(
                f"seed {part!r} in {text!r} is not an integer; give comma-separated integers "
                ">= 0, e.g. 0,1,2"
            ) from None
        if seed < 0:
            raise ValueError(f"seed {seed} in {text!r} is negative; seeds are integers >= 0")
        if seed in seeds:
            raise ValueError(f"seed {seed} appears twice in {text!r}; give each seed once")
        seeds.append(seed)
    return seeds


@dataclass
class BenchConfig:
    """What :func:`run_benchmark` runs.

    Attributes:
        envs: env names or ids.
        planners: registered planner names (``greedy`` runs once, without a budget).
        budgets: policy calls (generated steps) per problem; each budgeted planner sizes itself
            for each (:meth:`Planner.for_budget <thinkgym.search.planner.Planner.for_budget>`).
        problems: held-out problems per env.
        policy: ``"default"`` (the shipped LLMPolicy), a model directory, ``"random"``,
            ``"oracle"``, a name given to :func:`thinkgym.agents.register_policy`,
            ``"FILE.py:FACTORY"``, or a policy object (anything with ``propose``; the results
            then record its class name, so :meth:`from_results` cannot rebuild it).
        prm: a LearnedRewardModel directory used as a PRM (guidance of every planner), or a
            shipped one: ``"game24"`` (``"default"``: the shipped PRM of the envs' task).
        orm: a LearnedRewardModel directory used as an ORM (guidance when no PRM is given).
        temperature: sampling temperature of the budgeted planners.
        seed: the planners' seed (the seed of a one-seed bench).
        seeds: several seeds, run in turn with everything else the same (the seed changes only
            the sampling); the report then holds per-seed rows and their aggregate over the
            seeds. ``None`` (or one seed): just ``seed``.
        answer_check: use the env's reference-free answer check during search.
        step_check: use the env's reference-free step check during search (``False``: every
            well-formed step is taken as claimed; planners have their guidance only).
        batch_rows: the LLM policy's rows per forward batch (``None``: its default).
        throughput: time plain batch-64 ``generate`` before and after (LLM policies only).
        progress: show progress bars.
        shards: when a backend runs the bench (:func:`run_benchmark`'s ``backend=``), how many
            shards each env's problems are cut into (``None``: one per worker). Results depend
            on the shards (a batched search draws its samples per batch), not on the backend or
            the number of workers.
    """

    envs: list[str] = field(default_factory=lambda: ["Game24", "Arithmetic"])
    planners: list[str] = field(default_factory=lambda: list(DEFAULT_PLANNERS))
    budgets: list[int] = field(default_factory=lambda: [4, 16, 64])
    problems: int = 20
    policy: Any = "default"
    prm: str | None = None
    orm: str | None = None
    temperature: float = 1.0
    seed: int = 0
    seeds: list[int] | None = None
    answer_check: bool = True
    step_check: bool = True
    batch_rows: int | None = None
    throughput: bool = True
    progress: bool = True
    shards: int | None = None

    def validate(self) -> None:
        """Raise ``ValueError`` (naming the value) for a config that cannot run."""
        if not self.envs:
            raise ValueError("envs is empty; name at least one env (e.g. Game24)")
        if not self.planners:
            raise ValueError("planners is empty; name at least one planner (e.g. best_of_n)")
        if not isinstance(self.policy, str) and not callable(getattr(self.policy, "propose", None)):
            raise ValueError(
                f"policy={self.policy!r} is neither a policy spec (a name, a model directory, "
                "FILE.py:FACTORY) nor an object with propose(observations, n, ...)"
            )
        for name in self.planners:
            try:
                get_planner(name)
            except KeyError as exc:
                raise ValueError(exc.args[0]) from None
        if not self.budgets or any(b < 1 for b in self.budgets):
            raise ValueError(f"budgets={self.budgets!r} must be positive integers")
        if self.problems < 1:
            raise ValueError(f"problems={self.problems!r} must be >= 1")
        if not 0 <= self.temperature < float("inf"):
            raise ValueError(f"temperature={self.temperature!r} must be a finite number >= 0")
        if self.batch_rows is not None and self.batch_rows < 1:
            raise ValueError(f"batch_rows={self.batch_rows!r} must be >= 1")
        if self.shards is not None and self.shards < 1:
            raise ValueError(f"shards={self.shards!r} must be >= 1 (or None: one per worker)")
        if self.seeds is not None:
            if not self.seeds:
                raise ValueError("seeds is empty; give at least one seed (e.g. [0, 1, 2]) or None")
            parse_seeds(",".join(str(s) for s in self.seeds))  # raises, naming the bad seed

    def seed_list(self) -> list[int]:
        """The seeds the bench runs, in order: ``seeds``, else ``[seed]``."""
        return list(self.seeds) if self.seeds else [self.seed]

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain JSON values (what ``results.json`` records under ``config``).

        ``seeds`` is left out when it is ``None`` (a one-seed bench records what it always did).
        """
        policy = self.policy
        if not isinstance(policy, str):  # an object: recorded by its class, never deep-copied
            policy = f"<{type(policy).__name__}>"
        data = asdict(replace(self, policy=policy))
        if data["seeds"] is None:
            del data["seeds"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchConfig:
        """The config recorded by :meth:`to_dict` (or a ``results.json``'s ``config``).

        Raises:
            ValueError: ``data`` has keys that are not fields (named, with the known ones).
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown BenchConfig keys {unknown}; known keys: {sorted(known)}")
        return cls(**{k: list(v) if isinstance(v, tuple) else v for k, v in data.items()})

    @classmethod
    def from_results(cls, path: str | Path) -> BenchConfig:
        """The config a bench ran with, read from its ``results.json`` (the file or its dir).

        Rerunning it with :func:`run_benchmark` gives the same table for a deterministic policy
        on the same versions (``results.json`` records them under ``versions``).

        Raises:
            FileNotFoundError: no ``results.json`` there.
            ValueError: the file records no ``config`` (an older bench wrote it).
        """
        path = Path(path)
        if path.is_dir():
            path = path / "results.json"
        if not path.is_file():
            raise FileNotFoundError(f"no bench results at {path}; pass a results.json or its dir")
        data = json.loads(path.read_text())
        if "config" not in data:
            raise ValueError(
                f"{path} records no 'config' (an older bench wrote it); rerun its command instead"
            )
        return cls.from_dict(data["config"])


@dataclass
class BenchReport:
    """What :func:`run_benchmark` measured.

    Attributes:
        rows: one dict per (env, planner, budget): solve rate and mean costs per problem;
            with several seeds, one per (seed, env, planner, budget), each led by its ``seed``.
        policy_label: which policy ran.
        seconds: wall time of the searches.
        throughput: the throughput line (empty when not measured).
        settings: what a rerun needs (see :func:`bench_settings`): ``config``, ``problems``,
            ``policy_model``, ``reward_models``, ``backend`` and ``versions``.
        argv: the command line that ran the bench (``sys.argv``; ``None`` from Python).
        aggregate: with several seeds, one row per (env, planner, budget) over the seeds
            (:func:`aggregate_rows`); empty for one seed.
        seeds: the seeds that ran, in order.
    """

    rows: list[dict[str, Any]]
    policy_label: str
    seconds: float
    throughput: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    argv: list[str] | None = None
    aggregate: list[dict[str, Any]] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
