"""Run the search benchmark: planners x envs x budgets at equal compute, one or several seeds.

:func:`run_benchmark` runs a :class:`BenchConfig` and returns a :class:`BenchReport`. Problems are
held out of training (Game24: the Tree-of-Thoughts test puzzles; the other tasks their test split).
Answers are scored against the hidden reference only after search. It also measures generation
throughput against plain batch-64 ``generate`` on the same model, in the same run.
"""

from __future__ import annotations

import functools
import json
import statistics
import sys
import threading
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from thinkgym.bench.aggregate import aggregate_rows
from thinkgym.bench.config import BenchConfig, BenchReport
from thinkgym.search.best_of_n import BestOfN
from thinkgym.search.context import resolve_env
from thinkgym.search.driver import plan_together
from thinkgym.search.guidance import RewardModelGuidance
from thinkgym.search.registry import get_planner
from thinkgym.search.result import score_result


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

    spec = config.policy if isinstance(config.policy, str) else f"<{type(config.policy).__name__}>"
    model: dict[str, Any] = {"spec": spec, "label": policy_label, "path": None}
    if isinstance(config.policy, str) and Path(config.policy).is_dir():
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
            "prm": _rm_path(config.prm, config.envs),
            "orm": _rm_path(config.orm, config.envs),
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


def _rm_path(spec: str | None, envs: list[str]) -> str | None:
    """The absolute folder of a reward-model spec (a shipped name resolved), for the record."""
    try:
        path = resolve_reward_model(spec, envs)
    except (ValueError, FileNotFoundError):
        return spec
    return str(Path(path).resolve()) if path else None


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
    """The policy named by ``spec`` and a label (:func:`thinkgym.agents.registry.load_policy`:
    a registered name, a model directory, ``FILE.py:FACTORY`` or a policy object).

    ``"default"`` falls back to a RandomAgent (with a warning) when the package ships no trained
    policy; a model directory that does not exist is an error. ``batch_rows`` is the LLM
    policy's ``max_batch_rows`` (``None``: 64 on a CPU, 4096 on a GPU). ``seed`` seeds the
    scripted agents' own generator (``random``, ``oracle`` and the fallback), which ignore the
    per-call seed an LLM policy samples with.

    Raises:
        FileNotFoundError: ``spec`` names a directory or file that does not exist.
        ValueError: ``spec`` is not a registered name (the message lists them).
    """
    from thinkgym.agents.base import RandomAgent
    from thinkgym.agents.registry import describe_policy
    from thinkgym.agents.registry import load_policy as load

    if spec is None or spec == "default":
        try:
            return load("default", max_batch_rows=batch_rows), describe_policy("default")
        except FileNotFoundError as exc:
            warnings.warn(
                f"{exc}; falling back to RandomAgent: the figures measure the harness, not a "
                "learned policy",
                stacklevel=2,
            )
            return RandomAgent(env, seed=seed), "random (fallback: no shipped policy)"
    policy = load(spec, env=env, seed=seed, max_batch_rows=batch_rows)
    return policy, describe_policy(spec)


SHIPPED_REWARD_MODELS: dict[str, str] = {"game24": "prm_game24"}
"""Reward models shipped in ``thinkgym/data/``: name -> folder (``--prm game24``)."""

_DEFAULT_REWARD_MODEL = {"Game24": "game24"}
"""The shipped reward model ``default`` means for each env."""


def resolve_reward_model(spec: str | None, envs: list[str] | None = None) -> str | None:
    """The folder of a reward model named by ``spec``.

    Args:
        spec: a shipped name (``"game24"``: the Game24 PRM in ``thinkgym/data/prm_game24``),
            ``"default"`` (the shipped reward model of ``envs``' task), a folder, or ``None``.
        envs: the envs it guides (for ``"default"``).

    Raises:
        ValueError: ``"default"`` for envs without a shipped reward model (named).
        FileNotFoundError: a shipped reward model missing from this install.
    """
    if spec is None:
        return None
    if spec == "default":
        short = sorted({_short_env_name(e) for e in envs or []})
        names = {_DEFAULT_REWARD_MODEL.get(e) for e in short}
        if len(names) != 1 or None in names:
            raise ValueError(
                f"--prm default: no one shipped reward model fits envs {short or '(none)'}; "
                f"shipped: {', '.join(f'{k} ({v})' for k, v in _DEFAULT_REWARD_MODEL.items())}; "
                "pass a reward-model folder instead"
            )
        spec = names.pop()  # type: ignore[assignment]
    if spec in SHIPPED_REWARD_MODELS:
        from importlib import resources

        path = Path(str(resources.files("thinkgym.data").joinpath(SHIPPED_REWARD_MODELS[spec])))
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"the shipped reward model {spec!r} is missing from this install ({path})"
            )
        return str(path)
    return spec


def _short_env_name(env: str) -> str:
    """``thinkgym/Game24-v0`` or ``Game24`` -> ``Game24``."""
    name = env.rsplit("/", 1)[-1]
    base, sep, version = name.rpartition("-v")
    return base if sep and version.isdigit() else name


def load_reward_model(path: str | None, envs: list[str] | None = None) -> Any:
    """A ``LearnedRewardModel`` from ``path`` (a folder, a shipped name such as ``"game24"``, or
    ``"default"`` for ``envs``; ``None``: none), in float32 (shipped weights are float16)."""
    path = resolve_reward_model(path, envs)
    if path is None:
        return None
    import torch

    from thinkgym.rewards.learned import LearnedRewardModel

    rm = LearnedRewardModel.from_pretrained(path)
    if next(rm.model.parameters()).dtype in (torch.float16, torch.bfloat16):
        rm.model.to(torch.float32)  # half precision is slow and inexact on a CPU
    return rm


def pass_at_n(env: Any, result: Any) -> bool | None:
    """Whether any finished sample the planner kept is right against the hidden reference
    (scored after search, like :func:`~thinkgym.search.result.score_result`).

    ``None`` when the planner keeps no samples (its candidates carry no ``steps``); a sampling
    planner's pass@N is the solve rate of a perfect selector over its own N samples.
    """
    samples = [c for c in result.candidates if isinstance(c, dict) and "steps" in c]
    if not samples:
        return None
    if result.correct:
        return True
    for c in samples:
        probe = replace(result, steps=list(c["steps"]), answer=c.get("answer"), tree=None)
        if score_result(env, probe).correct:
            return True
    return False


def task_depth(env: Any) -> int:
    """Steps per solution that planners are sized for: :func:`thinkgym.search.task_depth
    <thinkgym.search.registry.task_depth>` (the one rule :func:`~thinkgym.search.make_planner`
    follows too)."""
    from thinkgym.search.registry import task_depth as depth_of

    return depth_of(env)


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
    from thinkgym.agents.registry import policy_needs_env

    shared_policy, label = None, ""
    if not policy_needs_env(config.policy):
        shared_policy, label = load_policy(
            config.policy, resolve_env(config.envs[0])[0], batch_rows=config.batch_rows
        )
    guidance = bench_guidance(
        load_reward_model(config.prm, config.envs), load_reward_model(config.orm, config.envs)
    )
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
        One ``(planner name, budget, guidance label, answer check, step check)`` per job, and
        per job one
        :class:`~thinkgym.search.result.SearchResult` per problem (not yet scored).
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
                step_check=config.step_check,
            )
            jobs.append((pname, budget, planner))
    # Every planner and budget runs at once: their requests share policy calls.
    all_results = plan_together(
        [(planner, env, seeds, problems) for _, _, planner in jobs], progress=config.progress
    )
    meta = [
        (p, b, _guidance_label(planner), planner.answer_check, planner.step_check)
        for p, b, planner in jobs
    ]
    return meta, all_results


class BenchShards:
    """Factory of bench shards for a :mod:`thinkgym.distributed` backend.

    A worker calls it once: it loads the policy and reward models of ``config`` (or takes
    ``loaded``, models already in this process, for the local backend) and returns the
    function that runs every planner x budget on a shard of ``(env name, seed, problem)``
    items. Each item's result is ``(policy label, job list, one SearchResult per job)``.

    Planners and envs of ``config`` that were registered in this process only (by a
    ``--plugin`` or in Python) travel with the factory and are registered in the worker.
    ``counter`` (a :class:`thinkgym.distributed.Counter`) receives the rows the policy generates,
    chunk by chunk, so a progress bar in the calling process moves while the shards run.
    """

    def __init__(
        self,
        config: BenchConfig,
        loaded: tuple[Any, str, Any] | None = None,
        counter: Any = None,
    ) -> None:
        import gymnasium as gym

        from thinkgym.envs import resolve_id
        from thinkgym.search.registry import BUILTIN_PLANNERS

        self.config = replace(config, progress=False, throughput=False)
        self.loaded = loaded
        self.counter = counter
        self.planners = {p: get_planner(p) for p in config.planners if p not in BUILTIN_PLANNERS}
        self.env_specs = {resolve_id(e): gym.spec(resolve_id(e)) for e in config.envs}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["loaded"] = None  # a worker loads its own models
        return state

    def __call__(self) -> Any:
        import gymnasium as gym

        from thinkgym.search.registry import register_planner

        for name, cls in self.planners.items():
            register_planner(name, cls, override=True)
        for env_id, spec in self.env_specs.items():
            if env_id not in gym.registry:
                gym.registry[env_id] = spec
        loaded = self.loaded if self.loaded is not None else load_bench_models(self.config)
        return functools.partial(_bench_shard, self.config, *loaded, counter=self.counter)


def _bench_shard(
    config: BenchConfig,
    shared_policy: Any,
    label: str,
    guidance: Any,
    items: list[Any],
    counter: Any = None,
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
    hooked = counter is not None and hasattr(policy, "progress_hook")
    if hooked:
        before, policy.progress_hook = policy.progress_hook, counter.add
    try:
        meta, results = run_env_jobs(
            config, env, policy, guidance, [i[1] for i in items], [i[2] for i in items]
        )
    finally:
        if hooked:
            policy.progress_hook = before
    return [(label, meta, [res[k] for res in results]) for k in range(len(items))]


def run_benchmark(
    config: BenchConfig, backend: Any = None, *, save_trees: str | Path | None = None
) -> BenchReport:
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
        save_trees: a directory: each problem's search tree of every planner, budget and
            seed is written there as JSON (:func:`thinkgym.bench.trees.save_trees`; ``thinkgym
            show-tree FILE`` renders one as an HTML page).

    Returns:
        The :class:`BenchReport`.
    """
    config.validate()
    resolve_reward_model(config.prm, config.envs)  # a bad name fails before any work
    resolve_reward_model(config.orm, config.envs)
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
        _generate_reference(shared_policy, resolve_env(config.envs[0])[0], progress=config.progress)
        if measure
        else []
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
            seed_config,
            backend,
            (shared_policy, label, guidance),
            in_process,
            say,
            config,
            save_trees=save_trees,
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
        ref_rates += _generate_reference(
            shared_policy, resolve_env(config.envs[0])[0], progress=config.progress
        )
        ref = float(statistics.median(ref_rates)) if ref_rates else float("nan")
        report.throughput = (
            f"throughput: bench {bench_tps:,.0f} tokens/s over the whole run"
            + (f" ({in_policy:,.0f} tokens/s inside propose)" if in_policy else "")
            + f"; plain batch-64 generate {ref:,.0f} tokens/s (median of "
            + f"{len(ref_rates)} calls before and after the bench): the search ran at "
            + f"{bench_tps / ref:.0%} of plain generate speed"
            + _prefix_cache_note(stats)
        )
    return report


def _prefix_cache_note(stats: Any) -> str:
    """The prefix cache's hit rate for the throughput line ("" when no prompt was encoded)."""
    prompt = getattr(stats, "prompt_tokens", 0)
    if not prompt:
        return ""
    return (
        f"; prefix cache hit rate {stats.cached_tokens / prompt:.0%} ({stats.cached_tokens:,} "
        f"of {prompt:,} prompt tokens served from cached keys/values)"
    )


def _run_one_seed(
    config: BenchConfig,
    backend: Any,
    loaded: tuple[Any, str, Any],
    in_process: bool,
    say: Any,
    shards_config: BenchConfig,
    save_trees: str | Path | None = None,
) -> tuple[list[dict[str, Any]], str, dict[str, list[Any]], int]:
    """One pass of the bench at ``config.seed``: its rows, the policy label, the problems that
    ran per env id and the tokens generated (and each search tree written to ``save_trees``).

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
            counter = backend.counter() if config.progress else None
            factory = BenchShards(shards_config, models, counter=counter)
            with _ShardProgress(counter, _expected_rows(config, env, len(items))):
                per_problem = backend.map(factory, items, shards=config.shards)
            label, jobs = per_problem[0][0], per_problem[0][1]
            all_results = [[item[2][j] for item in per_problem] for j in range(len(jobs))]
        for (pname, budget, guidance_label, answer_check, step_check), results in zip(
            jobs, all_results, strict=True
        ):
            for r in results:
                score_result(env, r)
            if save_trees is not None:
                from thinkgym.bench.trees import save_trees as write_trees

                write_trees(
                    save_trees,
                    env,
                    results,
                    budget=budget,
                    seed=config.seed,
                    guidance=guidance_label,
                    checks={"answer_check": answer_check, "step_check": step_check},
                )
            passes = [pass_at_n(env, r) for r in results]
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
                    "step_check": step_check,
                    "problems": len(results),
                    "solve_rate": sum(bool(r.correct) for r in results) / n,
                    "pass_at_n": ("" if None in passes else sum(bool(p) for p in passes) / n),
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


def _expected_rows(config: BenchConfig, env: Any, problems: int) -> int:
    """About how many policy rows the bench asks for these problems: every budget of every
    budgeted planner, the env's step limit for the others."""
    per_problem = 0
    for name in config.planners:
        budgeted = get_planner(name).budgeted
        per_problem += sum(config.budgets) if budgeted else int(getattr(env, "max_steps", 1))
    return max(1, per_problem * problems)


class _ShardProgress:
    """A bar over the rows a backend's workers report to a counter (read every ``every`` s)."""

    def __init__(self, counter: Any, total: int, every: float = 2.0) -> None:
        self.counter, self.total, self.every = counter, total, every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _ShardProgress:
        if self.counter is None:
            return self
        from tqdm.auto import tqdm

        self.start = self.counter.value()
        self.bar = tqdm(total=self.total, desc="search (shards)", unit=" rows", leave=False)
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(self.every):
            self._show()

    def _show(self) -> None:
        done = self.counter.value() - self.start
        if done > self.bar.n:
            self.bar.total = max(self.bar.total or 0, done)
            self.bar.update(done - self.bar.n)
        else:
            self.bar.refresh()

    def __exit__(self, *exc: object) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._show()
        self.bar.close()


def _say(enabled: bool, message: str) -> None:
    """A progress line on stderr (when progress is on)."""
    if enabled:
        print(f"[bench] {message}", file=sys.stderr, flush=True)


def _generate_reference(
    policy: Any,
    env: Any,
    rows: int = 64,
    new_tokens: int = 32,
    repeats: int = 5,
    progress: bool = False,
) -> list[float]:
    """Tokens/s of plain batch-``rows`` ``generate`` on an LLMPolicy's model (sampling, no
    stop): ``repeats`` timed calls after a warm-up; ``progress`` shows a bar over the calls."""
    import torch
    from tqdm.auto import tqdm

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
    bar = tqdm(
        total=repeats + 1,
        desc="throughput reference",
        unit=" generate calls",
        leave=False,
        disable=not progress,
    )
    with torch.inference_mode(), bar:
        model.generate(**enc, max_new_tokens=4, min_new_tokens=4, pad_token_id=tok.pad_token_id)
        bar.update(1)
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = model.generate(**enc, **kwargs)
            dt = time.perf_counter() - t0
            rates.append(out.shape[0] * (out.shape[1] - enc["input_ids"].shape[1]) / dt)
            bar.update(1)
    return rates
