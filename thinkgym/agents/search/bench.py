"""The search benchmark: planners x envs x budgets, solve rate against compute (test-time scaling).

:func:`run_benchmark` runs a :class:`BenchConfig` and returns a :class:`BenchReport`;
:func:`write_results` writes ``results.md``, ``results.csv``, ``results.json`` and ``scaling.png``
(solve rate against generated tokens, log x, one line per planner). The command line is
``thinkgym bench`` (:mod:`thinkgym.commands.bench`).

Problems are held out of training: Game24 uses the Tree-of-Thoughts test puzzles, the other tasks
their test split (:func:`thinkgym.envs.eval_problems`). Answers are scored against the hidden
reference only after search (:func:`~thinkgym.agents.search.result.score_result`). Each row says
which guidance ranked the candidates and whether the reference-free answer check was on during
search (for Game24 that check is the grader itself: with it on, best-of-N is pass@N with a
perfect verifier). ``results.md`` explains its columns under the table; ``results.json`` records
every setting needed to rerun the bench (:meth:`BenchConfig.from_results` reads them back).

It also measures generation throughput: tokens/s over the whole bench (search overhead included)
against plain batch-64 ``generate`` on the same model, in the same run.
"""

from __future__ import annotations

import csv
import functools
import json
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from thinkgym.agents.search.best_of_n import BestOfN
from thinkgym.agents.search.context import resolve_env
from thinkgym.agents.search.driver import plan_together
from thinkgym.agents.search.guidance import RewardModelGuidance
from thinkgym.agents.search.registry import get_planner
from thinkgym.agents.search.result import score_result

__all__ = [
    "BenchConfig",
    "BenchReport",
    "BenchShards",
    "run_benchmark",
    "aggregate_rows",
    "winners",
    "winner_lines",
    "summary_table",
    "markdown_seeds_table",
    "parse_seeds",
    "run_env_jobs",
    "write_results",
    "markdown_table",
    "plot_scaling",
    "load_policy",
    "load_reward_model",
    "held_out_problems",
    "task_depth",
    "DEFAULT_PLANNERS",
    "COLUMN_LEGEND",
    "bench_settings",
    "bench_versions",
]

DEFAULT_PLANNERS = ("greedy", "best_of_n", "beam", "mcts", "revision")


@dataclass
class BenchConfig:
    """What :func:`run_benchmark` runs.

    Attributes:
        envs: env names or ids.
        planners: registered planner names (``greedy`` runs once, without a budget).
        budgets: policy calls (generated steps) per problem; each budgeted planner sizes itself
            for each (:meth:`Planner.for_budget <thinkgym.agents.search.planner.Planner.for_budget>`).
        problems: held-out problems per env.
        policy: ``"default"`` (the shipped LLMPolicy), a model directory, ``"random"`` or
            ``"oracle"``.
        prm: a LearnedRewardModel directory used as a PRM (guidance of every planner).
        orm: a LearnedRewardModel directory used as an ORM (guidance when no PRM is given).
        temperature: sampling temperature of the budgeted planners.
        seed: the planners' seed (the seed of a one-seed bench).
        seeds: several seeds, run in turn with everything else the same (the seed changes only
            the sampling); the report then holds per-seed rows and their aggregate over the
            seeds. ``None`` (or one seed): just ``seed``.
        answer_check: use the env's reference-free answer check during search.
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
    policy: str = "default"
    prm: str | None = None
    orm: str | None = None
    temperature: float = 1.0
    seed: int = 0
    seeds: list[int] | None = None
    answer_check: bool = True
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
        data = asdict(self)
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


def bench_versions() -> dict[str, str | None]:
    """Versions of Python, thinkgym and the libraries the figures depend on (``None``: absent)."""
    import platform
    from importlib import metadata

    import thinkgym

    out: dict[str, str | None] = {"python": platform.python_version(), "thinkgym": None}
    out["thinkgym"] = thinkgym.__version__
    for dist in ("torch", "transformers", "gymnasium", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def bench_settings(
    config: BenchConfig,
    policy_label: str,
    problems: dict[str, list[Any]],
    backend: Any = None,
) -> dict[str, Any]:
    """Every setting needed to rerun a bench, as JSON values (``results.json`` records them).

    Args:
        config: the config that ran (recorded whole under ``config``; see
            :meth:`BenchConfig.from_results`).
        policy_label: which policy ran.
        problems: env id -> the held-out problems that ran, in order.
        backend: the :mod:`thinkgym.distributed` backend (``None``: one batch in this process).
    """
    from thinkgym.envs.splits import EVAL_SEED

    model: dict[str, Any] = {"spec": config.policy, "label": policy_label, "path": None}
    if Path(config.policy).is_dir():
        model["path"] = str(Path(config.policy).resolve())
    elif config.policy == "default" and policy_label.startswith("LLMPolicy"):
        from thinkgym.models import default_policy_dir

        model["path"] = str(default_policy_dir())
    return {
        "config": config.to_dict(),
        "problems": {
            env_id: {
                "count": len(items),
                "chosen_by": f"thinkgym.envs.eval_problems({env_id!r}, {config.problems}): the "
                f"task's held-out test split (its fixed test set first, else test-split seeds "
                f"from {EVAL_SEED:,}), pinned so every planner sees the same problems",
                "problems": [_jsonable(p) for p in items],
            }
            for env_id, items in problems.items()
        },
        "policy_model": model,
        "reward_models": {
            "prm": str(Path(config.prm).resolve()) if config.prm else None,
            "orm": str(Path(config.orm).resolve()) if config.orm else None,
        },
        "backend": {
            "name": getattr(backend, "name", None) or "local",
            "mode": "one batch in this process" if backend is None else "shards",
            "workers": getattr(backend, "workers", None) if backend is not None else 1,
            "shards": config.shards,
            "address": getattr(backend, "address", None),
        },
        "versions": bench_versions(),
    }


def _jsonable(value: Any) -> Any:
    """``value`` if JSON can hold it, else its ``repr``."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def held_out_problems(
    env_name: str, count: int, *, difficulty: int | None = None
) -> tuple[list[int | None], list[Any]]:
    """Seeds (all ``None``) and pinned problems for evaluation: the task's test split.

    The problems are :func:`thinkgym.envs.eval_problems` (Game24: the Tree-of-Thoughts test
    puzzles, at most ``count``; other tasks: ``count`` distinct test-split problems at
    ``difficulty``), the same held-out set every evaluation of the project uses.
    """
    from thinkgym.envs import eval_problems

    chosen = eval_problems(env_name, count, difficulty=difficulty)
    return [None] * len(chosen), [kw["options"]["problem"] for kw in chosen]


def load_policy(
    spec: str, env: Any = None, batch_rows: int | None = None, *, seed: int = 0
) -> tuple[Any, str]:
    """The policy named by ``spec`` and a label.

    ``"default"`` falls back to a RandomAgent (with a warning) when the package ships no trained
    policy; a model directory that does not exist is an error. ``batch_rows`` is the LLM
    policy's ``max_batch_rows`` (``None``: 64 on a CPU, 4096 on a GPU). ``seed`` seeds the
    scripted agents' own generator (``random``, ``oracle`` and the fallback), which ignore the
    per-call seed an LLM policy samples with.

    Raises:
        FileNotFoundError: ``spec`` is neither a known name nor a model directory.
    """
    from thinkgym.agents.base import OracleAgent, RandomAgent

    if spec == "random":
        return RandomAgent(env, seed=seed), "random"
    if spec == "oracle":
        return OracleAgent(env, seed=seed), "oracle (exact solver)"
    from thinkgym.agents.llm import LLMPolicy

    if spec == "default":
        try:
            return LLMPolicy.default(max_batch_rows=batch_rows), "LLMPolicy.default()"
        except FileNotFoundError as exc:
            warnings.warn(
                f"{exc}; falling back to RandomAgent: the figures measure the harness, not a "
                "learned policy",
                stacklevel=2,
            )
            return RandomAgent(env, seed=seed), "random (fallback: no shipped policy)"
    if not Path(spec).is_dir():
        raise FileNotFoundError(
            f"policy {spec!r} is not 'default', 'random', 'oracle' or a model directory"
        )
    return LLMPolicy.from_pretrained(spec, max_batch_rows=batch_rows), spec


def load_reward_model(path: str | None) -> Any:
    """A ``LearnedRewardModel`` from ``path`` (``None``: none)."""
    if path is None:
        return None
    from thinkgym.rewards.learned import LearnedRewardModel

    return LearnedRewardModel.from_pretrained(path)


def task_depth(env: Any) -> int:
    """Typical steps per solution (sizes planners to a budget; the solver on a throwaway seed)."""
    try:
        env.reset(seed=987_654)
        return max(1, len(env.solve(env.get_state().problem)))
    except (NotImplementedError, ValueError):
        return 4


def bench_guidance(prm: Any, orm: Any) -> RewardModelGuidance | None:
    """The guidance the bench hands every planner: the PRM, else the ORM, else none."""
    if prm is not None:
        return RewardModelGuidance(prm, kind="prm")
    if orm is not None:
        return RewardModelGuidance(orm, kind="orm")
    return None


def _guidance_label(planner: Any) -> str:
    """What ranked the candidates, for the tables (best-of-N: its selection rule)."""
    if isinstance(planner, BestOfN):
        return planner.select
    return planner.guidance.name if planner.guidance is not None else "none"


def load_bench_models(config: BenchConfig) -> tuple[Any, str, RewardModelGuidance | None]:
    """The shared policy (``None`` for ``random``/``oracle``, built per env), its label and the
    guidance of ``config``."""
    shared_policy, label = None, ""
    if config.policy not in ("random", "oracle"):
        shared_policy, label = load_policy(
            config.policy, resolve_env(config.envs[0])[0], batch_rows=config.batch_rows
        )
    guidance = bench_guidance(load_reward_model(config.prm), load_reward_model(config.orm))
    return shared_policy, label, guidance


def run_env_jobs(
    config: BenchConfig,
    env: Any,
    policy: Any,
    guidance: RewardModelGuidance | None,
    seeds: list[int | None],
    problems: list[Any],
) -> tuple[list[tuple[str, int | None, str, bool]], list[list[Any]]]:
    """Every planner x budget of ``config`` on these problems of ``env``, all at once.

    Returns:
        One ``(planner name, budget, guidance label, answer check)`` per job, and per job one
        :class:`~thinkgym.agents.search.result.SearchResult` per problem (not yet scored).
    """
    depth = task_depth(env)
    jobs = []
    for pname in config.planners:
        cls = get_planner(pname)
        for budget in config.budgets if cls.budgeted else [None]:
            planner = cls.for_budget(
                policy,
                budget,
                depth=depth,
                guidance=guidance,
                temperature=config.temperature,
                seed=config.seed,
                answer_check=config.answer_check,
            )
            jobs.append((pname, budget, planner))
    # Every planner and budget runs at once: their requests share policy calls.
    all_results = plan_together(
        [(planner, env, seeds, problems) for _, _, planner in jobs], progress=config.progress
    )
    meta = [(p, b, _guidance_label(planner), planner.answer_check) for p, b, planner in jobs]
    return meta, all_results


class BenchShards:
    """Factory of bench shards for a :mod:`thinkgym.distributed` backend.

    A worker calls it once: it loads the policy and reward models of ``config`` (or takes
    ``loaded``, models already in this process, for the local backend) and returns the
    function that runs every planner x budget on a shard of ``(env name, seed, problem)``
    items. Each item's result is ``(policy label, job list, one SearchResult per job)``.

    Planners and envs of ``config`` that were registered in this process only (by a
    ``--plugin`` or in Python) travel with the factory and are registered in the worker.
    """

    def __init__(self, config: BenchConfig, loaded: tuple[Any, str, Any] | None = None) -> None:
        import gymnasium as gym

        from thinkgym.agents.search.registry import BUILTIN_PLANNERS
        from thinkgym.envs import resolve_id

        self.config = replace(config, progress=False, throughput=False)
        self.loaded = loaded
        self.planners = {p: get_planner(p) for p in config.planners if p not in BUILTIN_PLANNERS}
        self.env_specs = {resolve_id(e): gym.spec(resolve_id(e)) for e in config.envs}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["loaded"] = None  # a worker loads its own models
        return state

    def __call__(self) -> Any:
        import gymnasium as gym

        from thinkgym.agents.search.registry import register_planner

        for name, cls in self.planners.items():
            register_planner(name, cls, override=True)
        for env_id, spec in self.env_specs.items():
            if env_id not in gym.registry:
                gym.registry[env_id] = spec
        loaded = self.loaded if self.loaded is not None else load_bench_models(self.config)
        return functools.partial(_bench_shard, self.config, *loaded)


def _bench_shard(
    config: BenchConfig, shared_policy: Any, label: str, guidance: Any, items: list[Any]
) -> list[tuple[str, list[Any], list[Any]]]:
    names = {item[0] for item in items}
    if len(names) != 1:
        raise ValueError(f"a bench shard holds the problems of one env, got {sorted(names)}")
    # several bench seeds share one factory (a worker loads its models once): each item then
    # carries its bench seed as a fourth element
    bench_seeds = {item[3] for item in items if len(item) > 3}
    if len(bench_seeds) > 1:
        raise ValueError(f"a bench shard runs one seed, got {sorted(bench_seeds)}")
    if bench_seeds:
        config = replace(config, seed=bench_seeds.pop(), seeds=None)
    env, _ = resolve_env(items[0][0])
    policy = shared_policy
    if policy is None or label.startswith("random"):  # scripted agents: per env and per shard
        spec = config.policy if shared_policy is None else "random"
        policy, label = load_policy(spec, env, seed=config.seed)
    meta, results = run_env_jobs(
        config, env, policy, guidance, [i[1] for i in items], [i[2] for i in items]
    )
    return [(label, meta, [res[k] for res in results]) for k in range(len(items))]


def run_benchmark(config: BenchConfig, backend: Any = None) -> BenchReport:
    """Run every planner x budget of every env of ``config`` (all of an env's jobs at once).

    With several seeds (``config.seeds``) the whole bench runs once per seed, in turn, with the
    same problems, planners and budgets (the policy and reward models are loaded once); the
    report's rows then carry their ``seed`` and :attr:`BenchReport.aggregate` holds the
    aggregate over the seeds (:func:`aggregate_rows`).

    Args:
        config: what to run (validated first).
        backend: a :class:`thinkgym.distributed.Backend` that runs each env's problems in
            shards (``config.shards``; the Ray backend on its workers, each loading the policy
            once); ``None`` runs them all in one batch in this process.

    Returns:
        The :class:`BenchReport`.
    """
    config.validate()
    say = functools.partial(_say, config.progress)

    in_process = backend is None or getattr(backend, "name", "") == "local"
    if in_process and config.policy not in ("random", "oracle"):
        say(f"loading the policy {config.policy!r}")
    shared_policy, label, guidance = load_bench_models(config) if in_process else (None, "", None)
    measure = False
    if config.throughput and shared_policy is not None:
        from thinkgym.agents.llm import LLMPolicy

        measure = isinstance(shared_policy, LLMPolicy)
    # the reference is timed before and after the bench: the machine's speed drifts
    if measure:
        say("timing plain batch-64 generate on the policy's model (the throughput reference)")
    ref_rates = (
        _generate_reference(shared_policy, resolve_env(config.envs[0])[0]) if measure else []
    )
    t_start = time.perf_counter()

    seeds = config.seed_list()
    rows: list[dict[str, Any]] = []
    tokens_total = 0
    ran: dict[str, list[Any]] = {}
    for i, seed in enumerate(seeds, 1):
        if len(seeds) == 1:
            seed_config = config
        else:
            say(f"seed {seed} ({i}/{len(seeds)})")
            seed_config = replace(config, seed=seed, seeds=None)
        seed_rows, label, ran, tokens = _run_one_seed(
            seed_config, backend, (shared_policy, label, guidance), in_process, say, config
        )
        tokens_total += tokens
        rows += seed_rows if len(seeds) == 1 else [{"seed": seed, **r} for r in seed_rows]
    bench_wall = time.perf_counter() - t_start
    report = BenchReport(
        rows=rows,
        policy_label=label,
        seconds=bench_wall,
        settings=bench_settings(config, label, ran, backend),
        aggregate=aggregate_rows(rows) if len(seeds) > 1 else [],
        seeds=seeds,
    )
    if measure:
        say("timing plain batch-64 generate again (the machine's speed drifts)")
        bench_tps = tokens_total / max(bench_wall, 1e-9)
        stats = shared_policy.stats
        in_policy = stats.tokens / stats.seconds if stats.seconds else None
        ref_rates += _generate_reference(shared_policy, resolve_env(config.envs[0])[0])
        ref = float(statistics.median(ref_rates)) if ref_rates else float("nan")
        report.throughput = (
            f"throughput: bench {bench_tps:,.0f} tokens/s over the whole run"
            + (f" ({in_policy:,.0f} tokens/s inside propose)" if in_policy else "")
            + f"; plain batch-64 generate {ref:,.0f} tokens/s (median of "
            + f"{len(ref_rates)} calls before and after the bench): the search ran at "
            + f"{bench_tps / ref:.0%} of plain generate speed"
        )
    return report


def _run_one_seed(
    config: BenchConfig,
    backend: Any,
    loaded: tuple[Any, str, Any],
    in_process: bool,
    say: Any,
    shards_config: BenchConfig,
) -> tuple[list[dict[str, Any]], str, dict[str, list[Any]], int]:
    """One pass of the bench at ``config.seed``: its rows, the policy label, the problems that
    ran per env id and the tokens generated.

    On a backend the shard factory is built from ``shards_config`` (the whole bench's config);
    when that is not ``config`` (several seeds), each item carries ``config.seed``, so every
    seed's factory pickles to the same bytes and a Ray worker loads its models once."""
    shared_policy, label, guidance = loaded
    rows: list[dict[str, Any]] = []
    tokens_total = 0
    ran: dict[str, list[Any]] = {}
    n_jobs = sum(len(config.budgets) if get_planner(p).budgeted else 1 for p in config.planners)
    for k, env_name in enumerate(config.envs, 1):
        env, env_id = resolve_env(env_name)
        seeds, problems = held_out_problems(env_name, config.problems)
        ran[env_id] = problems
        t_env = time.perf_counter()
        where = "at once" if backend is None else f"in shards on the {backend.name} backend"
        say(
            f"env {k}/{len(config.envs)} {env_id}: {len(problems)} problems x {n_jobs} "
            f"planner/budget runs, {where}"
        )
        if backend is None:
            policy = shared_policy
            if policy is None or label.startswith("random"):
                spec = config.policy if shared_policy is None else "random"
                policy, label = load_policy(spec, env, seed=config.seed)
            jobs, all_results = run_env_jobs(config, env, policy, guidance, seeds, problems)
        else:
            models = (shared_policy, label, guidance) if in_process else None
            items = [(env_name, s, p) for s, p in zip(seeds, problems, strict=True)]
            if shards_config is not config:
                items = [(*item, config.seed) for item in items]
            factory = BenchShards(shards_config, models)
            per_problem = backend.map(factory, items, shards=config.shards)
            label, jobs = per_problem[0][0], per_problem[0][1]
            all_results = [[item[2][j] for item in per_problem] for j in range(len(jobs))]
        for (pname, budget, guidance_label, answer_check), results in zip(
            jobs, all_results, strict=True
        ):
            for r in results:
                score_result(env, r)
            n = max(1, len(results))
            tok = sum(r.cost.tokens for r in results)
            tokens_total += tok
            rows.append(
                {
                    "env": env_id,
                    "planner": pname,
                    "budget": budget if budget else "",
                    "guidance": guidance_label,
                    "answer_check": answer_check,
                    "problems": len(results),
                    "solve_rate": sum(bool(r.correct) for r in results) / n,
                    "policy_calls": sum(r.cost.policy_calls for r in results) / n,
                    "tokens": tok / n,
                    "guidance_calls": sum(r.cost.guidance_calls for r in results) / n,
                    "reward_model_calls": sum(r.cost.reward_model_calls for r in results) / n,
                    "env_steps": sum(r.cost.env_steps for r in results) / n,
                    # this job's share of the shared calls (see plan_together)
                    "seconds": sum(r.cost.seconds for r in results),
                }
            )
        best = max((r for r in rows if r["env"] == env_id), key=lambda r: r["solve_rate"])
        say(
            f"env {k}/{len(config.envs)} {env_id}: done in {time.perf_counter() - t_env:.0f} s; "
            f"best solve rate {best['solve_rate']:.0%} ({best['planner']}"
            + (f", budget {best['budget']})" if best["budget"] else ")")
        )
    return rows, label, ran, tokens_total


def _say(enabled: bool, message: str) -> None:
    """A progress line on stderr (when progress is on)."""
    if enabled:
        print(f"[bench] {message}", file=sys.stderr, flush=True)


_KEY = ("env", "planner", "budget", "guidance", "answer_check")
_MEAN_COLUMNS = (
    "policy_calls",
    "tokens",
    "guidance_calls",
    "reward_model_calls",
    "env_steps",
    "seconds",
)


def aggregate_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (env, planner, budget) the aggregate of per-seed rows over their seeds.

    Each aggregate row has the key columns, ``seeds`` (the seeds, in order), ``problems``,
    ``solve_rate`` (the mean over the seeds), ``solve_rate_min``, ``solve_rate_max``,
    ``solve_rate_std`` (the sample standard deviation; 0 for one seed) and the mean of each
    cost column (policy calls, tokens, guidance and reward-model calls, env steps, seconds).
    Rows keep the order in which each (env, planner, budget) first appears.

    Args:
        rows: per-seed rows, each with a ``seed`` (as :func:`run_benchmark` writes them).
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in _KEY), []).append(r)
    out = []
    for key, group in groups.items():
        rates = [float(r["solve_rate"]) for r in group]
        agg: dict[str, Any] = dict(zip(_KEY, key, strict=True))
        agg["seeds"] = [r.get("seed") for r in group]
        agg["problems"] = group[0]["problems"]
        agg["solve_rate"] = statistics.fmean(rates)
        agg["solve_rate_min"] = min(rates)
        agg["solve_rate_max"] = max(rates)
        agg["solve_rate_std"] = statistics.stdev(rates) if len(rates) > 1 else 0.0
        for col in _MEAN_COLUMNS:
            agg[col] = statistics.fmean(float(r[col]) for r in group)
        out.append(agg)
    return out


def _short_env(env_id: str) -> str:
    """``thinkgym/Game24-v0`` -> ``Game24``."""
    name = env_id.rsplit("/", 1)[-1]
    base, sep, version = name.rpartition("-v")
    return base if sep and version.isdigit() else name


def winners(rows: list[dict[str, Any]]) -> dict[str, dict[Any, list[dict[str, Any]]]]:
    """Per env and budget, the budgeted planners' rows with the highest (mean) solve rate.

    Args:
        rows: bench rows (one seed) or :func:`aggregate_rows` (several); greedy and other
            rows without a budget are left out.

    Returns:
        env id -> budget -> the best rows (more than one when they tie), in row order.
    """
    out: dict[str, dict[Any, list[dict[str, Any]]]] = {}
    for r in rows:
        if r["budget"] in ("", None):
            continue
        out.setdefault(r["env"], {}).setdefault(r["budget"], []).append(r)
    for per_budget in out.values():
        for budget, group in per_budget.items():
            top = max(r["solve_rate"] for r in group)
            per_budget[budget] = [r for r in group if r["solve_rate"] >= top - 1e-9]
    return {env: dict(sorted(b.items())) for env, b in out.items()}


def _rate(r: dict[str, Any]) -> str:
    """``0.55 (0.50-0.60)`` (aggregate rows) or ``0.55`` (one seed)."""
    text = f"{r['solve_rate']:.2f}"
    if "solve_rate_min" in r:
        text += f" ({r['solve_rate_min']:.2f}-{r['solve_rate_max']:.2f})"
    return text


def winner_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One line per env naming the planner that wins at each budget (ties all named).

    For example ``Game24: best at 4 calls: best_of_n 0.55 (0.50-0.60); at 16: beam 0.70
    (0.65-0.75) = mcts 0.70 (0.60-0.80)``, led by greedy's rate when greedy ran. Rates are
    solve rates: the mean over the seeds with its (min-max) for :func:`aggregate_rows`.
    """
    lines = []
    for env, per_budget in winners(rows).items():
        parts = []
        greedy = [r for r in rows if r["env"] == env and r["planner"] == "greedy"]
        if greedy:
            parts.append(f"greedy {_rate(greedy[0])}")
        for i, (budget, best) in enumerate(per_budget.items()):
            named = " = ".join(f"{r['planner']} {_rate(r)}" for r in best)
            parts.append(f"best at {budget} calls: {named}" if i == 0 else f"at {budget}: {named}")
        lines.append(f"{_short_env(env)}: " + "; ".join(parts))
    return lines


def summary_table(report: BenchReport, *, markdown: bool = False) -> str:
    """The table of ``report``: its rows for one seed (:func:`markdown_table`), else the
    aggregate over the seeds (:func:`markdown_seeds_table`) followed by the winner lines
    (:func:`winner_lines`; a markdown list under a heading when ``markdown``)."""
    if not report.aggregate:
        return markdown_table(report.rows, report.policy_label)
    table = markdown_seeds_table(report.aggregate, report.policy_label, report.seeds)
    lines = winner_lines(report.aggregate)
    if markdown:
        head = "Best planner at each budget (highest mean solve rate over the seeds, (min-max)):"
        return table + "\n\n" + head + "\n\n" + "\n".join(f"- {line}" for line in lines)
    return table + "\n\n" + "\n".join(lines)


def write_results(
    report: BenchReport, out: str | Path, *, plot: bool = True, x: str = "tokens"
) -> list[Path]:
    """Write ``results.md``, ``results.json``, ``results.csv`` (and ``scaling.png``) to ``out``.

    Returns:
        The paths written.

    Raises:
        ImportError: ``plot=True`` without matplotlib (the tables are written first).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, label = report.rows, report.policy_label
    paths = [out / "results.md", out / "results.json"]
    md = summary_table(report, markdown=True) + "\n\n" + COLUMN_LEGEND
    if report.aggregate:
        md += "\n\n" + SEEDS_LEGEND + "\n"
    if report.settings:
        md += "\n" + _settings_line(report)
    paths[0].write_text(md + "\n")
    record: dict[str, Any] = {"policy": label}
    if report.argv is not None:
        import shlex

        record["argv"] = list(report.argv)
        record["command"] = shlex.join(["thinkgym", *report.argv[1:]])
    record.update(report.settings)
    record["seconds"] = report.seconds
    if report.throughput:
        record["throughput"] = report.throughput
    record["rows"] = rows
    if report.aggregate:
        record["seeds"] = list(report.seeds)
        record["aggregate"] = report.aggregate
        record["winners"] = winner_lines(report.aggregate)
    paths[1].write_text(json.dumps(record, indent=1, default=repr))
    if rows:
        with open(out / "results.csv", "w", newline="") as fh:
            if report.aggregate:
                _write_seeds_csv(fh, rows, report.aggregate)
            else:
                w = csv.DictWriter(fh, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
        paths.append(out / "results.csv")
    if report.throughput:
        (out / "throughput.txt").write_text(report.throughput + "\n")
        paths.append(out / "throughput.txt")
    if plot:
        paths.append(plot_scaling(report.aggregate or rows, out / "scaling.png", x))
    return paths


def _write_seeds_csv(fh: Any, rows: list[dict[str, Any]], aggregate: list[dict[str, Any]]) -> None:
    """Per-seed rows, then the aggregate rows (``seed`` = ``mean``; the spread in the
    ``solve_rate_min``/``_max``/``_std`` and ``n_seeds`` columns, blank on per-seed rows)."""
    extra = ["solve_rate_min", "solve_rate_max", "solve_rate_std", "n_seeds"]
    w = csv.DictWriter(fh, fieldnames=list(rows[0]) + extra, restval="")
    w.writeheader()
    w.writerows(rows)
    for agg in aggregate:
        row = {k: v for k, v in agg.items() if k != "seeds"}
        w.writerow({**row, "seed": "mean", "n_seeds": len(agg["seeds"])})


def _generate_reference(
    policy: Any, env: Any, rows: int = 64, new_tokens: int = 32, repeats: int = 5
) -> list[float]:
    """Tokens/s of plain batch-``rows`` ``generate`` on an LLMPolicy's model (sampling, no
    stop): ``repeats`` timed calls after a warm-up."""
    import torch

    model, tok = policy.model, policy.tokenizer
    env.reset(seed=1)
    prompt = policy.template.render(env.transcript(), tok)
    enc = tok([prompt] * rows, return_tensors="pt", padding=True).to(model.device)
    kwargs = dict(
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=True,
        pad_token_id=tok.pad_token_id,
    )
    rates = []
    with torch.inference_mode():
        model.generate(**enc, max_new_tokens=4, min_new_tokens=4, pad_token_id=tok.pad_token_id)
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = model.generate(**enc, **kwargs)
            dt = time.perf_counter() - t0
            rates.append(out.shape[0] * (out.shape[1] - enc["input_ids"].shape[1]) / dt)
    return rates


COLUMN_LEGEND = """\
Columns (costs are means per problem):

- **budget**: the most policy calls (generated candidate steps) a planner may spend on one
  problem; it sizes the planner (samples, beam width, simulations). Blank: greedy, one pass.
- **guidance**: what ranked the candidates: a learned reward model (reward_model), the
  policy's own log-probs (logprob), or best-of-N's selection rule (vote: the majority answer;
  logprob, orm, prm: the best-scored sample). none: nothing ranked them.
- **answer_check**: on: the env's reference-free answer check was used during search (a search
  may stop at an answer it accepts; for Game24 that check is the grader itself). Off: the
  planner chose its answer by guidance alone.
- **problems**: held-out test problems run per env.
- **solve_rate**: share of the problems whose final answer matches the hidden reference
  (scored after the search ended).
- **policy_calls**: candidate steps generated (one sampled sequence each).
- **tokens**: tokens generated.
- **reward_model_calls**: texts scored by a learned reward model (or by self-evaluation).
- **seconds**: wall seconds of the planner's searches summed over its problems; all planners
  of an env run together and split the shared batched calls by their share."""
"""The legend under the table in ``results.md``."""


SEEDS_LEGEND = """\
With several seeds (the seed changes only the sampling; problems, planners and budgets are the
same), each cell is the mean over the seeds; **solve_rate** reads `mean (min-max)` and **sd** is
the sample standard deviation of the solve rate over the seeds. results.json (`rows`, each with
its `seed`; `aggregate`) and results.csv (per-seed rows, then rows with seed `mean`) keep both.
The lines under the table name, per env and budget, the planner with the highest mean solve
rate (ties all named; greedy, which has no budget, leads the line)."""
"""The legend ``results.md`` adds under :data:`COLUMN_LEGEND` when several seeds ran."""


def _settings_line(report: BenchReport) -> str:
    """One line naming the settings (all of them, and the command, are in results.json)."""
    cfg = report.settings.get("config", {})
    parts = [
        f"policy {report.policy_label}",
        f"seeds {', '.join(map(str, cfg['seeds']))}"
        if cfg.get("seeds")
        else f"seed {cfg.get('seed')}",
        f"temperature {cfg.get('temperature')}",
        f"backend {report.settings.get('backend', {}).get('name')}",
    ]
    versions = report.settings.get("versions", {})
    parts += [f"{k} {v}" for k, v in versions.items() if k in ("thinkgym", "torch") and v]
    line = "Settings: " + ", ".join(parts) + ". Every setting needed to rerun is in results.json"
    if report.argv is not None:
        import shlex

        line += f"; command: `{shlex.join(['thinkgym', *report.argv[1:]])}`"
    return line + "."


def markdown_table(rows: list[dict[str, Any]], label: str) -> str:
    """The rows as a markdown table headed by the policy label."""
    cols = ["env", "planner", "budget", "guidance", "answer_check", "problems", "solve_rate"]
    cols += ["policy_calls", "tokens", "reward_model_calls", "seconds"]
    lines = [f"policy: {label}", "", "| " + " | ".join(cols) + " |"]
    lines.append("|" + "---|" * len(cols))
    for r in rows:
        cells = []
        for c in cols:
            v = r[c]
            if c == "solve_rate":
                cells.append(f"{v:.0%}")
            elif c == "answer_check":
                cells.append("on" if v else "off")
            elif isinstance(v, float):
                cells.append(f"{v:,.1f}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_seeds_table(
    aggregate: list[dict[str, Any]], label: str, seeds: list[int] | None = None
) -> str:
    """The :func:`aggregate_rows` as a markdown table: solve rate as ``mean (min-max)``, its
    standard deviation (``sd``) and mean costs, headed by the policy label and the seeds."""
    cols = ["env", "planner", "budget", "guidance", "answer_check", "problems", "solve_rate"]
    cols += ["sd", "policy_calls", "tokens", "reward_model_calls", "seconds"]
    seeds = seeds if seeds is not None else (aggregate[0]["seeds"] if aggregate else [])
    head = f"policy: {label}; mean over {len(seeds)} seeds ({', '.join(map(str, seeds))})"
    lines = [head, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in aggregate:
        cells = []
        for c in cols:
            if c == "solve_rate":
                lo, hi = r["solve_rate_min"], r["solve_rate_max"]
                cells.append(f"{r[c]:.0%} ({lo:.0%}-{hi:.0%})")
            elif c == "sd":
                cells.append(f"{r['solve_rate_std']:.0%}")
            elif c == "answer_check":
                cells.append("on" if r[c] else "off")
            elif isinstance(r[c], float):
                cells.append(f"{r[c]:,.1f}")
            else:
                cells.append(str(r[c]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_scaling(rows: list[dict[str, Any]], path: Path, x: str = "tokens") -> Path:
    """Solve rate against ``x`` (``"tokens"`` or ``"policy_calls"``) per env, one line per planner.

    ``rows`` may be :func:`aggregate_rows` (several seeds): each line is then the mean, with a
    shaded band from the lowest to the highest seed (error bars for a lone point).

    Raises:
        ImportError: matplotlib is missing (``pip install thinkgym[plot]``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import ticker
    except ImportError:
        raise ImportError("the scaling plot needs matplotlib: pip install thinkgym[plot]") from None
    envs = sorted({r["env"] for r in rows})
    spread = bool(rows) and "solve_rate_min" in rows[0]
    fig, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 4), squeeze=False)
    for ax, env in zip(axes[0], envs, strict=True):
        planners = sorted({r["planner"] for r in rows if r["env"] == env})
        for k, planner in enumerate(planners):
            mine = [r for r in rows if r["env"] == env and r["planner"] == planner and r[x] > 0]
            pts = sorted((r[x], r["solve_rate"], r["budget"]) for r in mine)
            if not pts:
                continue
            style = "o" if len(pts) == 1 else "o-"
            (line,) = ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=planner)
            if spread:
                band = sorted((r[x], r["solve_rate_min"], r["solve_rate_max"]) for r in mine)
                xs, lo, hi = zip(*band, strict=True)
                if len(band) > 1:
                    ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
                else:
                    mean = pts[0][1]
                    # max(0, .): the mean of equal rates can differ from them by a rounding ulp
                    yerr = [[max(0.0, mean - lo[0])], [max(0.0, hi[0] - mean)]]
                    ax.errorbar(xs, [mean], yerr=yerr, fmt="none", ecolor=line.get_color())
            # each point's budget next to it; planners' labels are staggered so that points
            # at the same place (e.g. every planner at 100%) keep readable labels
            dy = (5, -12, 13, -20, 21, -28)[k % 6]
            for px, py, budget in pts:
                if budget == "" or budget is None:
                    continue
                ax.annotate(
                    str(budget),
                    (px, py),
                    textcoords="offset points",
                    xytext=(4, dy),
                    fontsize=7,
                    color=line.get_color(),
                )
        ax.set_xscale("log")
        # plain numbers at powers of ten only: minor-tick labels overlap on a short axis
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel(f"{x.replace('_', ' ')} per problem (log)")
        ax.set_ylabel("solve rate")
        ax.set_ylim(-0.16, 1.16)
        title = f"{env}\n(number at a point: its budget, policy calls per problem)"
        if spread:
            seeds = len(rows[0]["seeds"])
            title = title.replace("\n", f"\nmean of {seeds} seeds, band: lowest to highest seed\n")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
