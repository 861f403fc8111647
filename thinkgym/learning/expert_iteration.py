"""Expert iteration: search -> keep what the reward approves -> fine-tune -> search again.

Each round:

1. **Search** training problems (never the evaluation problems: Game24 draws from the puzzles
   outside the 100 Tree-of-Thoughts test puzzles, other tasks from seeds whose problem text is not
   an evaluation problem's) with a planner from the registry (``best_of_n``, ``beam``, ``mcts``,
   any guidance). Every finished trajectory the planner explored (its tree's answered leaves and
   its chosen trajectory) is a candidate.
2. **Approve**: each candidate is replayed through the env with the hidden reference (training
   may learn from the outcome reward; that is the point) and kept when the reward's outcome
   reaches ``approve_threshold``. Kept trajectories are deduplicated and capped per problem
   (shortest first).
3. **Fine-tune** the policy on the kept trajectories (and, with ``accumulate``, those of earlier
   rounds) with :func:`thinkgym.learning.sft.sft`.
4. **Measure** held-out greedy pass@1 and sampled pass@k.

Every phase writes its result into ``out_dir/round-NNN/`` (the approved data, the SFT
checkpoints with optimizer and RNG state, the policy, the metrics), so a run killed anywhere
resumes where it stopped and draws the same curve as an uninterrupted run. ``curve.json`` and
``curve.png`` sit in ``out_dir``.
"""

from __future__ import annotations

import difflib
import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from thinkgym.learning.logging import log_metrics

__all__ = [
    "ExpertIterationConfig",
    "ExpertIterationResult",
    "expert_iteration",
    "train_problems",
    "approved_traces",
    "approve",
    "select_diverse",
    "evaluate_policy",
    "plot_curve",
]

GAME24 = "thinkgym/Game24-v0"
INITS = ("previous", "start")
SELECTS = ("diverse", "shortest")


@dataclass
class ExpertIterationConfig:
    """Settings of an expert-iteration run (``thinkgym train expert-iteration``)."""

    env: str = GAME24
    """the task (a registered env id or its short name)"""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """keyword arguments of the env, e.g. ``{"difficulty": 3}``"""
    out_dir: str = "runs/expert-iteration"
    """run directory (rounds, checkpoints, curve.json, curve.png)"""
    policy: str | None = None
    """starting policy directory (``None``: the shipped policy)"""
    planner: str = "best_of_n"
    """a registered planner name (``thinkgym.search.list_planners()``)"""
    planner_kwargs: dict[str, Any] = field(default_factory=lambda: {"n": 16})
    """keyword arguments of the planner (``n``, ``beam_size``, ``guidance``, ``budget``, ...)"""
    temperature: float = 1.0
    """sampling temperature of the search"""
    reward: str = "default"
    """a registered reward name whose ``outcome`` approves a trajectory (``default``: correct)"""
    approve_threshold: float = 1.0
    """a trajectory is kept when its outcome reward is at least this"""
    rounds: int = 3
    """search -> fine-tune rounds"""
    problems_per_round: int = 256
    """training problems searched per round (fresh ones each round while they last)"""
    keep_per_problem: int = 4
    """at most this many distinct approved trajectories per problem (shortest first)"""
    accumulate: bool = True
    """fine-tune on the approved data of every round so far (``False``: this round's only)"""
    sft_steps: int = 200
    """SFT optimizer steps per round"""
    batch_size: int = 64
    """SFT batch size ((prompt, step) pairs)"""
    lr: float = 3e-4
    """SFT peak learning rate"""
    eval_limit: int | None = 100
    """held-out problems evaluated (``None``: all)"""
    eval_k: int = 16
    """pass@k samples per held-out problem (``0``: greedy pass@1 only)"""
    eval_temperature: float = 1.0
    """sampling temperature of pass@k"""
    seed: int = 0
    """seed of problem order, search, SFT data order and evaluation sampling"""
    device: str | None = None
    """``None``/``auto``, ``cpu``, ``cuda``"""
    max_batch_rows: int | None = None
    """rows per policy forward batch (default: the policy's own)"""
    save_every: int = 50
    """SFT checkpoint interval within a round (a kill loses at most this many steps)"""
    init: Literal["previous", "start"] = "previous"
    """what each round fine-tunes: ``previous`` (the last round's policy) or ``start`` (the
    starting policy, on everything kept so far: ReST-EM / STaR; the search still uses the
    latest policy)"""
    mix: float = 0.0
    """share of the SFT examples drawn from the original behaviour-cloning traces (the
    ``default`` recipe's data, every task) next to the kept trajectories (``0``: none)"""
    mix_scale: float = 0.03
    """size of the behaviour-cloning pool ``mix`` draws from, as a fraction of the recipe's data
    (``0.03``: about 5,000 traces; built once per run, ``out_dir/bc_pool.jsonl``)"""
    select: str = "diverse"
    """which approved trajectories of a problem are kept (up to ``keep_per_problem``):
    ``diverse`` (distinct answers first, then the transcripts sharing the fewest steps with
    those kept) or ``shortest``"""
    curriculum: str = "none"
    """``none`` (fresh problems in a seeded order) or ``pass_rate`` (sample a pool of
    ``curriculum_pool`` training problems by the running share of approved search candidates
    ``p``, weight ``p(1-p) + 0.02``)"""
    curriculum_pool: int = 1024
    """training problems in the ``pass_rate`` curriculum's pool"""
    difficulty_schedule: str | None = None
    """comma-separated ``difficulty`` values to search through (e.g. ``2,3``); evaluation
    stays on ``env_kwargs``' difficulty"""
    schedule_threshold: float = 0.5
    """advance to the next difficulty when the share of searched problems solved reaches this"""

    def validate(self) -> None:
        """Check the settings; raises ``ValueError`` naming the bad value and the choices."""
        from thinkgym.rewards.registry import list_rewards
        from thinkgym.search import list_planners

        self.env = resolve_env_id(self.env)
        if self.planner not in list_planners():
            raise ValueError(_unknown("planner", self.planner, list_planners()))
        if self.reward not in list_rewards():
            raise ValueError(_unknown("reward", self.reward, list_rewards()))
        for name in ("rounds", "problems_per_round", "keep_per_problem", "sft_steps", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r} must be >= 1")
        if self.eval_k < 0:
            raise ValueError(f"eval_k={self.eval_k!r} must be >= 0")
        if self.eval_limit is not None and self.eval_limit < 1:
            raise ValueError(f"eval_limit={self.eval_limit!r} must be >= 1 (or None: all)")
        for name in ("lr", "temperature", "eval_temperature"):
            v = float(getattr(self, name))
            if not math.isfinite(v) or v < 0 or (name == "lr" and v == 0):
                raise ValueError(f"{name}={v!r} must be a finite number > 0")
        if self.save_every < 0:
            raise ValueError(f"save_every={self.save_every!r} must be >= 0")
        if self.init not in INITS:
            raise ValueError(_unknown("init", self.init, INITS))
        if not (math.isfinite(self.mix) and 0 <= self.mix < 1):
            raise ValueError(f"mix={self.mix!r} must be in [0, 1) (a share of the SFT examples)")
        if not (math.isfinite(self.mix_scale) and 0 < self.mix_scale <= 1):
            raise ValueError(f"mix_scale={self.mix_scale!r} must be in (0, 1]")
        if self.select not in SELECTS:
            raise ValueError(_unknown("select", self.select, SELECTS))
        if self.curriculum not in ("none", "pass_rate"):
            raise ValueError(_unknown("curriculum", self.curriculum, ("none", "pass_rate")))
        if self.curriculum_pool < 1:
            raise ValueError(f"curriculum_pool={self.curriculum_pool!r} must be >= 1")
        from thinkgym.learning.curriculum import parse_schedule

        parse_schedule(self.difficulty_schedule)
        if not 0 < self.schedule_threshold <= 1:
            raise ValueError(f"schedule_threshold={self.schedule_threshold!r} must be in (0, 1]")


@dataclass
class ExpertIterationResult:
    """What :func:`expert_iteration` did.

    Attributes:
        curve: one row per round (round 0: the starting policy): ``round``, ``pass@1``,
            ``pass@k``, ``approved``, ``problems_solved``, ``searched``, ``sft_loss``,
            ``seconds``.
        policy_dir: the final policy (``LLMPolicy.from_pretrained`` loads it).
    """

    curve: list[dict[str, Any]]
    policy_dir: Path


def _unknown(what: str, name: str, choices: Sequence[str]) -> str:
    hint = difflib.get_close_matches(name, list(choices), n=1)
    extra = f" Did you mean {hint[0]!r}?" if hint else ""
    return f"unknown {what} {name!r}.{extra} Choices: {', '.join(sorted(choices))}"


def resolve_env_id(name: str) -> str:
    """A full env id from a name (``"Game24"`` -> ``"thinkgym/Game24-v0"``); one-line error."""
    import gymnasium as gym

    import thinkgym  # noqa: F401  (registers the envs)
    from thinkgym.envs import resolve_id

    try:
        full = resolve_id(name)
    except gym.error.Error as exc:  # NameNotFound & co: already one line with the choices
        raise ValueError(str(exc)) from None
    except (KeyError, ValueError):
        full = name
    if full not in gym.registry:
        known = sorted(k for k in gym.registry if k.startswith("thinkgym/"))
        raise ValueError(_unknown("env", name, known))
    return full


# ---------------------------------------------------------------------------- problems
def train_problems(
    env_id: str, count: int, *, seed: int = 0, offset: int = 0, env_kwargs: dict | None = None
) -> list[dict[str, Any]]:
    """Training problems as ``env.reset`` keyword arguments, disjoint from the evaluation ones.

    Game24: puzzles outside the 100 Tree-of-Thoughts test puzzles (all difficulty quartiles), in
    a seeded order; other tasks: seeds of a ``split="train"`` env (which never draws a test
    problem, :mod:`thinkgym.envs.splits`), in a seeded order. ``offset`` skips that many problems
    of the order (round ``r`` takes the next slice; Game24's order wraps around when it runs out).

    Raises:
        ValueError: ``env_kwargs`` asks for another split than ``"train"``.
    """
    env_id = resolve_env_id(env_id)
    split = (env_kwargs or {}).get("split", "train")
    if split != "train":
        raise ValueError(f"split={split!r}: training problems come from split='train' only")
    if env_id == GAME24:
        from thinkgym.envs.game24 import puzzle_table, test_puzzles

        held = set(test_puzzles())
        pool = sorted(q for q, _ in puzzle_table() if tuple(sorted(q)) not in held)
        order = np.random.default_rng([seed, 24]).permutation(len(pool))
        return [
            {"options": {"numbers": list(pool[order[(offset + i) % len(pool)]])}}
            for i in range(count)
        ]
    seeds = np.random.default_rng([seed, 7]).permutation(10**6)
    return [{"seed": int(seeds[(offset + i) % len(seeds)])} for i in range(count)]


# ---------------------------------------------------------------------------- approval
def _graded_final(env: Any, problem: dict[str, Any], steps: Sequence[str]) -> Any:
    """Replay ``steps`` from ``problem`` with the hidden reference; the final state or None."""
    from thinkgym.envs.base import EnvState

    state = EnvState(problem=problem, data=env.initial_data(problem))
    for step in steps:
        if state.done:
            return None
        move = env.transition(state, step, use_reference=True)
        if not move.accepted:
            return None
        state = move.state
    return state if state.done else None


def _candidates(result: Any) -> list[list[str]]:
    """Every finished trajectory of a search result: the chosen one, then the tree's answers."""
    out: list[list[str]] = []
    if result.steps:
        out.append(list(result.steps))
    tree = getattr(result, "tree", None)
    if tree is not None:
        for node in tree.nodes:
            if node.answer is not None or (node.state is not None and node.state.done):
                out.append(list(tree.steps(node.id)))
    return out


def select_diverse(trajectories: Sequence[tuple[str, ...]], cap: int) -> list[tuple[str, ...]]:
    """Up to ``cap`` trajectories chosen for diversity.

    Distinct final answers first (one trajectory per answer, in turn), then, within the
    remaining ones, the trajectory that shares the fewest steps with those already chosen
    (ties: shorter, then alphabetical). The input should hold distinct trajectories.
    """
    pool = sorted(dict.fromkeys(tuple(t) for t in trajectories), key=lambda s: (len(s), s))
    chosen: list[tuple[str, ...]] = []
    answers: set[str] = set()
    steps_used: set[str] = set()
    while pool and len(chosen) < cap:

        def score(t: tuple[str, ...]) -> tuple[int, int, int]:
            answer = t[-1] if t else ""
            return (answer in answers, sum(s in steps_used for s in t), len(t))

        best = min(pool, key=score)
        pool.remove(best)
        chosen.append(best)
        answers.add(best[-1] if best else "")
        steps_used.update(best)
    return chosen


def approve(env: Any, results: Sequence[Any], reward: Any, *, threshold: float = 1.0) -> list[Any]:
    """For each search result: its distinct approved trajectories and its approval rate.

    Returns:
        One ``(trajectories, candidates, approved)`` tuple per result: the distinct approved
        step tuples, the number of finished candidates and how many of them were approved.
    """
    out = []
    for res in results:
        kept: dict[tuple[str, ...], None] = {}
        cands = _candidates(res)
        ok = 0
        for steps in cands:
            final = _graded_final(env, res.problem, steps)
            if final is None or float(reward.outcome(final)) < threshold:
                continue
            ok += 1
            kept.setdefault(tuple(final.steps), None)
        out.append((list(kept), len(cands), ok))
    return out


def approved_traces(
    env: Any,
    env_id: str,
    results: Sequence[Any],
    reward: Any,
    *,
    threshold: float = 1.0,
    cap: int = 4,
    select: str = "shortest",
    approvals: Sequence[Any] | None = None,
) -> tuple[list[Any], int]:
    """Traces of the approved trajectories of ``results`` (deduplicated, ``cap`` per problem).

    Args:
        select: ``"shortest"`` (shortest first) or ``"diverse"`` (:func:`select_diverse`).
        approvals: :func:`approve`'s output for ``results`` (computed here when ``None``).

    Returns:
        The :class:`~thinkgym.learning.traces.Trace` list and the number of problems with at
        least one approved trajectory.
    """
    from thinkgym.envs.base import EnvState
    from thinkgym.learning.traces import Trace

    if select not in SELECTS:
        raise ValueError(_unknown("select", select, SELECTS))
    if approvals is None:
        approvals = approve(env, results, reward, threshold=threshold)
    traces: list[Trace] = []
    solved = 0
    for res, (kept, _, _) in zip(results, approvals, strict=True):
        root = EnvState(problem=res.problem, data=env.initial_data(res.problem))
        head = env.transcript(root)
        if select == "diverse":
            chosen = select_diverse(kept, cap)
        else:
            chosen = sorted(kept, key=lambda s: (len(s), s))[:cap]
        solved += bool(chosen)
        traces.extend(Trace(env_id, head, s) for s in chosen)
    return traces, solved


# ---------------------------------------------------------------------------- evaluation
def evaluate_policy(
    policy: Any,
    env_id: str,
    *,
    env_kwargs: dict | None = None,
    limit: int | None = 100,
    k: int = 16,
    temperature: float = 1.0,
    seed: int = 0,
) -> dict[str, float]:
    """Held-out greedy pass@1 and sampled pass@k (``k=0``: pass@1 only) on evaluation problems."""
    from thinkgym.envs.splits import eval_problems
    from thinkgym.learning.evaluation import pass_at, run_episodes

    problems = eval_problems(env_id, limit, env_kwargs=env_kwargs)
    row = {"pass@1": pass_at(run_episodes(policy, env_id, problems, env_kwargs=env_kwargs))}
    if k > 0:
        res = run_episodes(
            policy,
            env_id,
            problems,
            samples=k,
            temperature=temperature,
            seed=seed,
            env_kwargs=env_kwargs,
        )
        row[f"pass@{k}"] = pass_at(res)
    return row


# ---------------------------------------------------------------------------- the loop
def _round_dir(out: Path, r: int) -> Path:
    return out / f"round-{r:03d}"


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    tmp.replace(path)


def _load_policy(spec: str | Path | None, cfg: ExpertIterationConfig) -> Any:
    """The policy of ``spec`` (:func:`thinkgym.agents.registry.load_policy`; ``None``: the
    shipped one), checked to be trainable."""
    from thinkgym.agents.registry import load_trainable

    return load_trainable(
        spec, "expert iteration", device=cfg.device, max_batch_rows=cfg.max_batch_rows
    )


def plot_curve(curve: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> bool:
    """Draw held-out pass@1 (and pass@k) and the share of searched training problems solved per
    round into ``path``; ``False`` when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(5, 3.2))
    rounds = [row["round"] for row in curve]
    keys = [k for k in curve[0] if k.startswith("pass@")] if curve else []
    for key in sorted(keys, key=lambda k: int(k.split("@")[1])):
        ax.plot(rounds, [100 * row.get(key, float("nan")) for row in curve], marker="o", label=key)
    found = [
        (row["round"], 100 * row["problems_solved"] / row["searched"])
        for row in curve
        if row.get("searched")
    ]
    if found:
        ax.plot(
            *zip(*found, strict=True), alpha=0.6, ls=":", label="training problems solved by search"
        )
    ax.set_xlabel("round")
    ax.set_ylabel("held-out solved (%)")
    ax.set_xticks(rounds)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(str(path), dpi=120)
    plt.close(fig)
    return True


# ---------------------------------------------------------------------------- rounds
def _distinct_answers(traces: Sequence[Any]) -> int:
    """Distinct (problem, final step) pairs among ``traces``."""
    return len({(t.head, t.steps[-1] if t.steps else "") for t in traces})


def _mix_traces(cfg: Any, out: Path, kept: int, r: int, write: Callable[[str], None]) -> list:
    """``mix / (1 - mix) * kept`` behaviour-cloning traces (the ``default`` recipe's data, every
    task) drawn for round ``r`` from a pool built once (``out/bc_pool.jsonl``)."""
    from thinkgym.learning.recipes import build_traces, get_recipe
    from thinkgym.learning.traces import load_traces, save_traces

    path = out / "bc_pool.jsonl"
    if path.is_file():
        pool = load_traces(path)
    else:
        pool = build_traces(
            get_recipe("default").data, seed=cfg.seed + 17, scale=cfg.mix_scale, log=write
        )
        save_traces(pool, path)
    want = min(len(pool), math.ceil(cfg.mix / (1 - cfg.mix) * kept))
    idx = np.random.default_rng([cfg.seed, r, 31]).choice(len(pool), size=want, replace=False)
    return [pool[int(i)] for i in sorted(idx)]


class _RoundSource:
    """Each round's training problems: fresh ones in a seeded order, or the pass-rate
    curriculum; per difficulty stage when scheduled. Its state lives in ``out/curriculum.json``."""

    def __init__(self, cfg: Any, out: Path) -> None:
        from thinkgym.learning.curriculum import DifficultySchedule, parse_schedule

        self.cfg, self.path = cfg, out / "curriculum.json"
        stages = parse_schedule(cfg.difficulty_schedule)
        self.schedule = (
            DifficultySchedule(
                stages, threshold=cfg.schedule_threshold, window=cfg.problems_per_round
            )
            if stages
            else None
        )
        self.sampler: Any = None
        self._stage = -1
        if self.path.is_file():
            state = json.loads(self.path.read_text())
            if self.schedule is not None and state.get("schedule"):
                self.schedule.load_state(state["schedule"])
            if state.get("sampler") is not None and cfg.curriculum == "pass_rate":
                self._pool().load_state(state["sampler"])

    def env_kwargs(self) -> dict[str, Any]:
        base = dict(self.cfg.env_kwargs)
        return self.schedule.env_kwargs(base) if self.schedule else base

    def _pool(self) -> Any:
        from thinkgym.learning.curriculum import PassRateSampler

        stage = self.schedule.stage if self.schedule else 0
        if self.sampler is None or self._stage != stage:
            pool = train_problems(
                self.cfg.env,
                self.cfg.curriculum_pool,
                seed=self.cfg.seed,
                env_kwargs=self.env_kwargs(),
            )
            self.sampler, self._stage = PassRateSampler(pool), stage
        return self.sampler

    def draw(self, r: int) -> list[dict[str, Any]]:
        n = self.cfg.problems_per_round
        if self.cfg.curriculum == "pass_rate":
            return self._pool().sample(n, np.random.default_rng([self.cfg.seed, r, 23]))
        return train_problems(
            self.cfg.env, n, seed=self.cfg.seed, offset=(r - 1) * n, env_kwargs=self.env_kwargs()
        )

    def record(self, problems: Sequence[dict[str, Any]], approvals: Sequence[Any]) -> None:
        if self.cfg.curriculum == "pass_rate":
            sampler = self._pool()
            for prob, (_, cands, ok) in zip(problems, approvals, strict=True):
                sampler.update(prob, [True] * ok + [False] * max(0, cands - ok) or [False])
        if self.schedule is not None:
            self.schedule.record([bool(kept) for kept, _, _ in approvals])

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.sampler is not None:
            out.update(self.sampler.summary())
        if self.schedule is not None:
            out["difficulty"] = self.schedule.value
        return out

    def save(self) -> None:
        _write_json(
            self.path,
            {
                "schedule": self.schedule.state() if self.schedule else None,
                "sampler": self.sampler.state() if self.sampler is not None else None,
            },
        )


def expert_iteration(
    cfg: ExpertIterationConfig,
    *,
    policy: Any = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    on_phase: Callable[[int, str], None] | None = None,
    backend: Any = None,
) -> ExpertIterationResult:
    """Run (or resume) expert iteration as configured.

    Args:
        cfg: the settings (validated here).
        policy: a starting :class:`~thinkgym.agents.llm.LLMPolicy` (default: loaded from
            ``cfg.policy``, the shipped one when that is ``None``). On resume the policy of the
            last finished round replaces it.
        progress: tqdm bars (rounds, search, SFT, evaluation).
        log: one line per event (default: ``tqdm.write``).
        backend: a :class:`thinkgym.distributed.Backend` that runs each round's search in
            shards (``make_backend("ray", workers=4)``: the planner and its policy are shipped
            to the workers; :func:`~thinkgym.search.sharded.plan_sharded`); ``None``
            searches here, all problems in one batch.
        on_phase: called as ``on_phase(round, phase)`` after each phase is saved (``"search"``,
            ``"sft"``, ``"eval"``); tests interrupt a run here.

    Returns:
        The :class:`ExpertIterationResult`.
    """
    from tqdm.auto import tqdm

    from thinkgym.envs import make
    from thinkgym.learning.sft import sft
    from thinkgym.learning.traces import load_traces, save_traces
    from thinkgym.rewards.registry import make_reward
    from thinkgym.search import get_planner
    from thinkgym.search.sharded import plan_sharded

    cfg.validate()
    write = log or tqdm.write
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = asdict(cfg)
    cfg_path = out / "config.json"
    if cfg_path.is_file():
        saved = json.loads(cfg_path.read_text())
        differ = {k: (saved.get(k), v) for k, v in settings.items() if saved.get(k) != v}
        differ.pop("device", None)
        if differ:
            write(f"[ei] warning: resuming {out} with other settings {differ} (saved, now)")
    _write_json(cfg_path, settings)

    env = make(cfg.env, **cfg.env_kwargs).unwrapped
    bound = make_reward(cfg.reward)
    reward = bound.bind(env) if callable(getattr(bound, "bind", None)) else bound
    planner_cls = get_planner(cfg.planner)

    # Resume: the last round whose metrics were written is finished.
    done = -1
    while (_round_dir(out, done + 1) / "metrics.json").is_file():
        done += 1
    curve = [json.loads((_round_dir(out, r) / "metrics.json").read_text()) for r in range(done + 1)]
    if done >= 1:
        policy = _load_policy(_round_dir(out, done) / "policy", cfg)
        write(f"[ei] resumed after round {done}")
    elif policy is None:
        policy = _load_policy(cfg.policy, cfg)

    def measure(r: int, extra: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        row = {"round": r, **extra}
        row.update(
            evaluate_policy(
                policy,
                cfg.env,
                env_kwargs=cfg.env_kwargs,
                limit=cfg.eval_limit,
                k=cfg.eval_k,
                temperature=cfg.eval_temperature,
                seed=cfg.seed + 1000 * r,
            )
        )
        row["eval_seconds"] = round(time.perf_counter() - t0, 1)
        rdir = _round_dir(out, r)
        rdir.mkdir(parents=True, exist_ok=True)
        _write_json(rdir / "metrics.json", row)
        curve.append(row)
        log_metrics(r, row)  # `thinkgym train ... --log-dir`: JSON and TensorBoard
        _write_json(out / "curve.json", curve)
        plot_curve(curve, out / "curve.png", f"expert iteration, {cfg.env}, {cfg.planner}")
        write(f"[ei] round {r}: " + json.dumps(row))
        if on_phase is not None:
            on_phase(r, "eval")

    if done < 0:
        measure(0, {"approved": 0, "problems_solved": 0, "searched": 0})
        done = 0
    start_dir = out / "start-policy"
    if cfg.init == "start" and not (start_dir / "config.json").is_file():
        if done > 0:
            raise ValueError(
                f"init='start' needs the starting weights in {start_dir}, which this run "
                "(begun with init='previous') did not save; start a new out_dir"
            )
        policy.save_pretrained(start_dir)
    source = _RoundSource(cfg, out)
    envs: dict[str, Any] = {}

    def env_for(kwargs: dict[str, Any]) -> Any:
        key = json.dumps(kwargs, sort_keys=True, default=str)
        if key not in envs:
            envs[key] = make(cfg.env, **kwargs).unwrapped
        return envs[key]

    bar = tqdm(total=cfg.rounds, initial=done, desc="rounds", disable=not progress)
    for r in range(done + 1, cfg.rounds + 1):
        t0 = time.perf_counter()
        rdir = _round_dir(out, r)
        rdir.mkdir(parents=True, exist_ok=True)
        data_path = rdir / "data.jsonl"
        stats_path = rdir / "search.json"
        # 1-2. search training problems, keep the approved trajectories
        if not (data_path.is_file() and stats_path.is_file()):
            round_env = env_for(source.env_kwargs())
            problems = source.draw(r)
            planner = planner_cls(
                policy,
                temperature=cfg.temperature,
                seed=cfg.seed * 1000 + r,
                progress=progress,
                **cfg.planner_kwargs,
            )
            policy.model.eval()
            if "options" in problems[0]:
                results = plan_sharded(
                    planner, round_env, problems=[p["options"] for p in problems], backend=backend
                )
            else:
                results = plan_sharded(
                    planner, round_env, seeds=[p["seed"] for p in problems], backend=backend
                )
            approvals = approve(round_env, results, reward, threshold=cfg.approve_threshold)
            traces, solved = approved_traces(
                round_env,
                cfg.env,
                results,
                reward,
                threshold=cfg.approve_threshold,
                cap=cfg.keep_per_problem,
                select=cfg.select,
                approvals=approvals,
            )
            save_traces(traces, data_path)
            stats = {
                "searched": len(problems),
                "problems_solved": solved,
                "approved": len(traces),
                "distinct_answers": _distinct_answers(traces),
                **source.summary(),
            }
            source.record(problems, approvals)
            source.save()
            _write_json(stats_path, stats)
            if on_phase is not None:
                on_phase(r, "search")
        stats = json.loads(stats_path.read_text())
        data: list[Any] = []
        for q in range(1 if cfg.accumulate else r, r + 1):
            path = _round_dir(out, q) / "data.jsonl"
            if path.is_file():
                data.extend(load_traces(path))
        data = list(dict.fromkeys(data))  # dedup across rounds, order kept
        kept_examples = len(data)
        if data and cfg.mix > 0:
            data = data + _mix_traces(cfg, out, len(data), r, write)
        # 3. fine-tune
        sft_loss = None
        if data and cfg.init == "start":
            from thinkgym.checkpoints import load_weights

            load_weights(policy.model, start_dir)  # ReST-EM: every round starts from the start
        if not data:
            write(
                f"[ei] round {r}: no approved trajectory in {stats['searched']} problems; "
                "the policy is not fine-tuned this round"
            )
        else:
            res = sft(
                policy,
                data,
                steps=cfg.sft_steps,
                batch_size=min(cfg.batch_size, max(1, sum(len(t.steps) for t in data))),
                lr=cfg.lr,
                warmup=max(1, cfg.sft_steps // 10),
                out_dir=rdir / "sft",
                save_every=cfg.save_every,
                keep_checkpoints=1,
                resume=True,
                seed=cfg.seed * 1000 + r,
                progress=progress,
                log=write,
            )
            sft_loss = float(np.mean(res.losses[-10:])) if res.losses else None
        policy.model.eval()
        policy.save_pretrained(rdir / "policy")
        if on_phase is not None:
            on_phase(r, "sft")
        # 4. measure
        measure(
            r,
            {
                **stats,
                "train_examples": len(data),
                "kept_traces": kept_examples,
                "mix_traces": len(data) - kept_examples,
                "sft_loss": sft_loss,
                "seconds": round(time.perf_counter() - t0, 1),
            },
        )
        if (rdir / "sft").is_dir():  # the round is done: its policy/ has the weights
            shutil.rmtree(rdir / "sft", ignore_errors=True)
        bar.update(1)
    bar.close()
    return ExpertIterationResult(curve=curve, policy_dir=_round_dir(out, cfg.rounds) / "policy")
