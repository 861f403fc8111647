"""Reward-model training: binary cross-entropy on labeled positions of a `LearnedRewardModel`.

The model class (scoring, saving, loading) lives in the rewards layer
(:class:`thinkgym.rewards.learned.LearnedRewardModel`); training it is learning, so it lives here.
Labels may be soft (Math-Shepherd's share of successful rollouts, from
:mod:`thinkgym.learning.mc_labels`).

* :func:`train_reward_model`: one model from labeled examples.
* :class:`RewardModelConfig` and :func:`train_reward_models`: a whole run (``thinkgym train
  rm``): sample trajectories with a policy, label them with Monte-Carlo rollouts of the same
  policy (Math-Shepherd), train PRMs and an ORM, report held-out AUCs.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinkgym.rewards.learned import LearnedRewardModel, _check_kind

__all__ = ["RewardModelConfig", "train_reward_model", "train_reward_models"]


def _normalise_examples(examples: Sequence[Any], kind: str) -> list[tuple[str, list[float | None]]]:
    out: list[tuple[str, list[float | None]]] = []
    for k, ex in enumerate(examples):
        if hasattr(ex, "transcript") and hasattr(ex, "soft"):  # LabeledTrajectory
            text, labels = ex.transcript, list(ex.soft)
        elif isinstance(ex, dict):
            text, labels = ex.get("text"), ex.get("labels", ex.get("label"))
        elif isinstance(ex, (tuple, list)) and len(ex) == 2:
            text, labels = ex
        else:
            raise TypeError(
                f"example {k} is {type(ex).__name__}; use (text, labels) for a PRM, (text, label) "
                "for an ORM, a dict with 'text' and 'labels', or a LabeledTrajectory"
            )
        if not isinstance(text, str):
            raise TypeError(f"example {k}: the text must be a string, got {type(text).__name__}")
        if kind == "orm":
            if isinstance(labels, (list, tuple)):
                labels = labels[-1] if labels else None
            labels = [labels]
        elif not isinstance(labels, (list, tuple)):
            raise TypeError(
                f"example {k}: a PRM example needs a list of step labels, got {labels!r}"
            )
        clean: list[float | None] = []
        for lab in labels:
            if lab is None or (isinstance(lab, float) and math.isnan(lab)):
                clean.append(None)
                continue
            lab = float(lab)
            if not 0.0 <= lab <= 1.0:
                raise ValueError(f"example {k}: label {lab!r} must be in [0, 1] (or None)")
            clean.append(lab)
        out.append((text, clean))
    return out


Row = tuple[list[int], list[int], list[float]]


def _rows(
    model: LearnedRewardModel, data: list[tuple[str, list[float | None]]], kind: str
) -> list[Row]:
    """Token ids, labeled positions and labels of each example (unlabeled positions dropped)."""
    encoded = model._encode([t for t, _ in data], steps=(kind == "prm"))
    rows: list[Row] = []
    for (ids, pos), (_, labels) in zip(encoded, data, strict=True):
        if kind == "prm" and len(labels) != len(pos):
            raise ValueError(
                f"a PRM example has {len(labels)} labels but {len(pos)} step lines: "
                f"{ids and model.tokenizer.decode(ids)[:120]!r}; give one label per step line"
            )
        keep = [(p, y) for p, y in zip(pos, labels, strict=True) if y is not None and p >= 0]
        if keep:
            rows.append((ids, [p for p, _ in keep], [y for _, y in keep]))
    return rows


def _batch_loss(model: LearnedRewardModel, batch: Sequence[Row], reduction: str = "mean") -> Any:
    """Binary cross-entropy of the head's logits at the labeled positions of ``batch``."""
    import torch

    logits, offsets = model._logits([ids for ids, _, _ in batch])
    b_idx = [b for b, (_, pos, _) in enumerate(batch) for _ in pos]
    t_idx = [offsets[b] + p for b, (_, pos, _) in enumerate(batch) for p in pos]
    target = torch.tensor([y for _, _, ys in batch for y in ys], dtype=logits.dtype)
    picked = logits[torch.tensor(b_idx), torch.tensor(t_idx)]
    return torch.nn.functional.binary_cross_entropy_with_logits(
        picked, target.to(picked.device), reduction=reduction
    )


def _mean_loss(model: LearnedRewardModel, rows: Sequence[Row], batch_size: int) -> float:
    """Mean binary cross-entropy over every labeled position of ``rows`` (no gradient)."""
    import torch

    net = model.model
    was_training = net.training
    net.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            total += float(_batch_loss(model, chunk, reduction="sum"))
            count += sum(len(ys) for _, _, ys in chunk)
    net.train(was_training)
    return total / max(1, count)


def train_reward_model(
    model: LearnedRewardModel | None,
    examples: Sequence[Any],
    *,
    kind: str = "prm",
    steps: int = 200,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
    weight_decay: float = 0.0,
    problem_lines: int | None = None,
    valid: Sequence[Any] | None = None,
    eval_every: int = 0,
    patience: int | None = None,
    lr_schedule: str = "constant",
    **build_kwargs: Any,
) -> LearnedRewardModel:
    """Train a reward model with binary cross-entropy on labeled positions.

    Args:
        model: the model to fine-tune, or ``None`` to build a tiny one with
            :meth:`LearnedRewardModel.build` (``build_kwargs`` size it: ``hidden_size``,
            ``layers``, ``heads``, ...).
        examples: PRM: ``(text, labels)`` with one label per step line (``None`` skips a step)
            or :class:`~thinkgym.learning.mc_labels.LabeledTrajectory` (soft labels); ORM: ``(text, label)``.
            Labels are probabilities in [0, 1] (soft labels allowed).
        kind: ``"prm"`` or ``"orm"``.
        steps: optimizer steps.
        batch_size: examples per step (drawn at random with replacement, seeded).
        lr: AdamW learning rate.
        seed: seeds the initial weights (when building) and the batch order.
        progress: show a tqdm progress bar with the running loss.
        weight_decay: AdamW weight decay.
        problem_lines: problem lines at the start of each text (default 1).
        valid: held-out examples (same forms as ``examples``) for early stopping: every
            ``eval_every`` steps the mean binary cross-entropy on their labeled positions is
            measured, and the weights with the lowest one are restored at the end.
        eval_every: validation interval in optimizer steps (``0``: no validation; needs
            ``valid``).
        patience: stop after this many validations without a new best (``None``: run all
            ``steps``).
        lr_schedule: ``"constant"`` or ``"cosine"`` (linear warm-up over the first 5% of the
            steps, then cosine decay to 0).

    Returns:
        The trained model in eval mode, with ``kind`` set. ``model.train_loss`` is the running
        training loss at the end; ``model.history`` lists ``{"step", "train_loss",
        "valid_loss"}`` per validation and ``model.best_step`` the step whose weights were kept
        (``None`` without validation).

    Raises:
        ValueError: a bad setting (named in the message) or examples without labels.
    """
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    _check_kind(kind)
    for name, val in (("steps", steps), ("batch_size", batch_size)):
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise ValueError(f"{name}={val!r} must be a positive integer")
    if not lr > 0:
        raise ValueError(f"lr={lr!r} must be positive")
    if lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule={lr_schedule!r} must be 'constant' or 'cosine'")
    if isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every < 0:
        raise ValueError(f"eval_every={eval_every!r} must be an integer >= 0 (0: no validation)")
    if eval_every and not valid:
        raise ValueError(f"eval_every={eval_every} needs validation examples: pass valid=[...]")
    if patience is not None and (not isinstance(patience, int) or patience < 1):
        raise ValueError(f"patience={patience!r} must be a positive integer or None")
    data = _normalise_examples(examples, kind)
    if not data:
        raise ValueError("train_reward_model got no examples")
    if model is None:
        model = LearnedRewardModel.build(
            kind=kind, seed=seed, problem_lines=problem_lines, **build_kwargs
        )
    elif build_kwargs:
        raise TypeError(
            f"{sorted(build_kwargs)} only size a new model; pass model=None to build one"
        )
    model.kind = kind
    if problem_lines is not None:
        model.problem_lines = problem_lines

    rows = _rows(model, data, kind)
    if not rows:
        raise ValueError("no labeled position left to train on (all labels are None or cut off)")
    valid_rows = _rows(model, _normalise_examples(valid, kind), kind) if eval_every else []
    if eval_every and not valid_rows:
        raise ValueError("the validation examples have no labeled position")

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = model.model
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    warm = max(1, steps // 20)

    def factor(step: int) -> float:
        if lr_schedule == "constant":
            return 1.0
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1.0 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    bar = tqdm(range(steps), desc=f"train {kind}", disable=not progress, leave=False)
    ema = None
    history: list[dict[str, float]] = []
    best: tuple[float, int, dict[str, Any]] | None = None
    since_best = 0
    for step in bar:
        idx = rng.integers(len(rows), size=batch_size)
        loss = _batch_loss(model, [rows[i] for i in idx])
        if not torch.isfinite(loss):
            from thinkgym.learning.errors import NonFiniteLossError

            raise NonFiniteLossError(
                f"the reward-model loss became {loss.item()} at step {step}; lower lr={lr!r}"
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        value = loss.item()
        ema = value if ema is None else 0.9 * ema + 0.1 * value
        if eval_every and ((step + 1) % eval_every == 0 or step + 1 == steps):
            v = _mean_loss(model, valid_rows, batch_size=max(batch_size, 64))
            history.append({"step": step + 1, "train_loss": ema, "valid_loss": v})
            if best is None or v < best[0]:
                state = {k: t.detach().clone() for k, t in net.state_dict().items()}
                best, since_best = (v, step + 1, state), 0
            else:
                since_best += 1
            bar.set_postfix(loss=f"{ema:.4f}", valid=f"{v:.4f}")
            if patience is not None and since_best >= patience:
                break
        else:
            bar.set_postfix(loss=f"{ema:.4f}")
    bar.close()
    if best is not None:
        net.load_state_dict(best[2])
    net.eval()
    model.train_loss = ema
    model.history = history
    model.best_step = best[1] if best is not None else None
    return model


# ============================================================================ a whole run
# ``thinkgym train rm`` / ``train("rm", ...)``: sample trajectories with a policy, label every
# step prefix with Monte-Carlo rollouts of the same policy (Math-Shepherd), train PRMs and an ORM.


@dataclass
class RewardModelConfig:
    """Settings of a reward-model run (``thinkgym train rm``): Math-Shepherd PRMs and an ORM.

    Sample trajectories with the policy (temperature 1), label every step prefix with ``k``
    rollouts of the *same* policy (hard label: some rollout reaches a correct answer; soft: the
    share that does), and train reward models on the labels. No exact solver is used: the labels
    say what this policy can reach from a step.

    * ``OUT/prm_game24``: a PRM on Game24 *train* puzzles (the 100 test puzzles are never drawn).
    * ``OUT/prm_arithmetic`` and ``OUT/orm_arithmetic``: a PRM and an ORM on Arithmetic (train
      split; the ORM label is whether the final answer is correct).
    * ``OUT/summary.json``: counts, label balance and held-out ROC AUC of each model.
    """

    policy: str | None = None
    """the policy that samples and labels: a model directory, 'default' (None: the shipped one),
    'random' (smoke tests) or a registered name / FILE.py:FACTORY"""
    out: str = "runs/reward_models"
    """output directory (one folder per model, summary.json)"""
    device: str = "auto"
    """device of the policy (reward models train on the CPU)"""
    seed: int = 0
    """seed of problems, sampling, labels and training"""
    batch_rows: int | None = None
    """most rows per forward batch of the policy (None: 64 on a CPU, 4096 on a GPU)"""
    game24_problems: int = 48
    """Game24 train puzzles"""
    game24_samples: int = 1
    """Game24 trajectories per puzzle to MC-label"""
    arith_problems: int = 24
    """Arithmetic problems"""
    arith_difficulty: int = 4
    """Arithmetic difficulty (4: the hardest)"""
    orm_samples: int = 4
    """ORM trajectories per problem"""
    prm_samples: int = 1
    """Arithmetic: sampled trajectories per problem to MC-label for the PRM (at most
    orm_samples; Game24 labels game24_samples per puzzle)"""
    k: int = 4
    """MC rollouts per step"""
    max_steps: int = 0
    """action limit of an episode, rollouts included (0: the env's)"""
    labels: str = "hard"
    """PRM labels, a comma list (one PRM each; the first is saved as prm_<task>, the others as
    prm_<task>_<labels>): hard / soft (Monte-Carlo, Math-Shepherd) or check (the env's exact
    step check, as PRM800K's human labels; only=arithmetic with arith_outcome_only)"""
    valid: float = 0.1
    """share of the training problems kept for early stopping (with eval_every)"""
    eval_every: int = 0
    """validation interval in training steps; the best weights are kept (0: none)"""
    patience: int | None = None
    """stop after this many validations without gain (None: never)"""
    lr_schedule: str = "constant"
    """constant or cosine"""
    score_prm: list[str] = field(default_factory=list)
    """score these saved PRMs instead of training: every sampled trajectory is held out and
    MC-labeled; reports each PRM's and the self-evaluation's AUCs; no ORM is trained"""
    steps: int = 150
    """training steps per model"""
    batch_size: int = 16
    """examples per training step"""
    lr: float = 1e-3
    """AdamW learning rate of the reward models"""
    init_from: str = "scratch"
    """reward model start: scratch (a fresh tiny model sized by hidden/layers/max_positions) or
    policy (the policy's transformer with a new scalar head)"""
    hidden: int = 64
    """reward model hidden size (scratch)"""
    layers: int = 2
    """reward model layers (scratch)"""
    max_positions: int = 1024
    """reward model context (scratch)"""
    holdout: float = 0.2
    """share of problems held out (AUCs are measured on them)"""
    figure_problems: int = 200
    """Arithmetic problems the figures evaluate (their split is avoided)"""
    only: str = "all"
    """which task: all, game24 or arithmetic"""
    arith_outcome_only: bool = False
    """Arithmetic with verify_steps=False (wrong arithmetic accepted; outcome reward only)"""
    quick: bool = False
    """a tiny run (smoke test): a few problems, short training, tiny models"""

    def label_kinds(self) -> list[str]:
        """The PRM label kinds of ``labels``, in order."""
        return [k.strip() for k in self.labels.split(",") if k.strip()]

    def validate(self) -> RewardModelConfig:
        """Check the settings; returns ``self``.

        Raises:
            ValueError: the first bad value, named, with the choices or the fix.
        """
        kinds = self.label_kinds()
        unknown = [k for k in kinds if k not in PRM_LABELS]
        if unknown or not kinds:
            raise ValueError(f"labels={self.labels!r}: use a comma list of {', '.join(PRM_LABELS)}")
        if "check" in kinds and not (self.arith_outcome_only and self.only == "arithmetic"):
            raise ValueError(
                "labels=check needs a task with an exact step check in an outcome-only setting: "
                "only=arithmetic with arith_outcome_only"
            )
        for name, choices in (
            ("lr_schedule", ("constant", "cosine")),
            ("init_from", ("scratch", "policy")),
            ("only", ("all", "game24", "arithmetic")),
        ):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name}={getattr(self, name)!r} is not one of {choices}")
        for name in ("game24_problems", "game24_samples", "arith_problems", "orm_samples"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r} must be >= 1")
        for name in ("prm_samples", "k", "steps", "batch_size", "hidden", "layers"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r} must be >= 1")
        if self.max_positions < 32:
            raise ValueError(f"max_positions={self.max_positions!r} must be >= 32")
        if self.arith_difficulty < 0 or self.max_steps < 0 or self.eval_every < 0:
            raise ValueError("arith_difficulty, max_steps and eval_every must be >= 0")
        if self.batch_rows is not None and self.batch_rows < 1:
            raise ValueError(f"batch_rows={self.batch_rows!r} must be >= 1")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience={self.patience!r} must be >= 1 (or None)")
        for name in ("valid", "holdout"):
            v = float(getattr(self, name))
            if not (math.isfinite(v) and 0 <= v < 1):
                raise ValueError(f"{name}={v!r} must be a share in [0, 1)")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr={self.lr!r} must be a finite number > 0")
        for path in self.score_prm:
            from thinkgym.checkpoints import check_model_dir

            check_model_dir(path, "reward model")
        return self

    def quickened(self) -> RewardModelConfig:
        """The ``quick`` (smoke-test) sizes: every count capped to a few."""
        return dataclasses.replace(
            self,
            game24_problems=min(self.game24_problems, 4),
            arith_problems=min(self.arith_problems, 4),
            orm_samples=min(self.orm_samples, 2),
            k=min(self.k, 2),
            steps=min(self.steps, 20),
            hidden=min(self.hidden, 32),
            layers=min(self.layers, 1),
            batch_size=min(self.batch_size, 4),
            max_steps=self.max_steps or 4,
        )


ARITH_TRAIN_SEED = 2_000_000
"""First Arithmetic training seed (plus ``50_000 * seed``)."""
GAME24_TRAIN_SEED = 0


def _log(msg: str) -> None:
    print(msg, flush=True)


# ---------------------------------------------------------------------- problems
def game24_problems(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` distinct Game24 train puzzles, drawn round-robin from the 4 difficulty quartiles."""
    from thinkgym.agents.base import unwrap_env
    from thinkgym.envs import make
    from thinkgym.envs.game24 import test_puzzles

    held = set(test_puzzles())
    envs = [unwrap_env(make("Game24", difficulty=d, split="train")) for d in range(4)]
    out: list[dict[str, Any]] = []
    seen: set[tuple[int, ...]] = set()
    s = GAME24_TRAIN_SEED + 100_000 * seed
    while len(out) < count:
        env = envs[s % 4]
        env.reset(seed=s)
        s += 1
        problem = env.get_state().problem
        key = tuple(sorted(problem["numbers"]))
        assert key not in held, f"Game24 train split drew test puzzle {key}"
        if key in seen:
            if len(seen) >= 1000 and s > 100 * count:  # pragma: no cover - far beyond sizes used
                raise RuntimeError("ran out of distinct Game24 train puzzles")
            continue
        seen.add(key)
        out.append({"options": {"numbers": list(problem["numbers"])}})
    return out


def arithmetic_problems(env: Any, count: int, seed: int, figure_problems: int) -> list[dict]:
    """``count`` Arithmetic training problems: drawn from the ``train`` split, so none is an
    evaluation problem of the figures (:func:`thinkgym.envs.eval_problems` draws from ``test``).

    ``figure_problems`` is kept for the command line; the split does not depend on it. Problems
    are pinned (``{"options": {"problem": ...}}``), so the env's own split setting does not
    matter.
    """
    from thinkgym.agents.base import unwrap_env
    from thinkgym.envs import is_held_out, make

    inner = unwrap_env(env)
    kwargs = {"difficulty": inner.difficulty, "split": "train"}
    train_env = unwrap_env(make("Arithmetic", **kwargs))
    out: list[dict[str, Any]] = []
    s = ARITH_TRAIN_SEED + 50_000 * seed
    while len(out) < count:
        train_env.reset(seed=s)
        s += 1
        problem = train_env.get_state().problem
        assert not is_held_out(train_env.format_problem(problem)), problem
        out.append({"options": {"problem": problem}})
    return out


# ---------------------------------------------------------------------- sampling and labels
def sample(env: Any, policy: Any, problems: list[dict], samples: int, limit: int, desc: str):
    """``samples`` trajectories per problem with the policy at temperature 1.

    All live trajectories advance together: one batched ``propose`` call per step level.

    Returns:
        per problem, a list of ``(final_state, correct)``: ``correct`` says whether the final
        answer is right per the env's ``check_answer`` (``False`` without an answer).
    """
    from tqdm.auto import tqdm

    from thinkgym.envs.base import answer_text, is_answer
    from thinkgym.learning.mc_labels import _EXPECTED, _track

    starts = []
    for kw in problems:
        env.reset(**kw)
        state = env.get_state()
        _track(policy, state)
        starts.append(state)
    states = [starts[i] for i in range(len(problems)) for _ in range(samples)]
    finals: list[Any] = [None] * len(states)
    active = list(range(len(states)))
    bar = tqdm(total=len(states), desc=desc, leave=False)
    while active:
        proposals = policy.propose([env.transcript(states[i]) for i in active], 1)
        still = []
        for i, props in zip(active, proposals, strict=True):
            step = props[0].text if props else ""
            nxt, ok, _ = env.apply(states[i], step)
            if ok and nxt.done:
                try:
                    good = is_answer(step) and bool(
                        env.check_answer(states[i], answer_text(step))[0]
                    )
                except _EXPECTED:
                    good = False
                finals[i] = (nxt, good)
                bar.update(1)
            elif nxt.t >= limit:
                finals[i] = (nxt, False)
                bar.update(1)
            else:
                still.append(i)
            states[i] = nxt
        active = still
    bar.close()
    return [finals[i * samples : (i + 1) * samples] for i in range(len(problems))]


def split_holdout(n: int, frac: float) -> int:
    """How many of ``n`` problems go to the held-out split (at least 1 when n >= 2)."""
    if n < 2 or frac <= 0:
        return 0
    return min(n - 1, max(1, round(n * frac)))


def label_stats(labeled: list[Any]) -> dict[str, Any]:
    """Counts and label balance of MC-labeled trajectories."""
    steps = sum(len(t.steps) for t in labeled)
    hard = sum(sum(t.hard) for t in labeled)
    soft = sum(sum(t.soft) for t in labeled)
    return {
        "trajectories": len(labeled),
        "steps": steps,
        "hard_positive_share": hard / steps if steps else None,
        "soft_mean": soft / steps if steps else None,
        "correct_trajectories": sum(t.correct for t in labeled),
    }


def auc_or_none(scores: list[float], labels: list[bool]) -> float | None:
    """ROC AUC, or ``None`` when one class is missing (NaN scores are dropped)."""
    import math

    from thinkgym.learning.mc_labels import roc_auc

    pairs = [(s, y) for s, y in zip(scores, labels, strict=True) if not math.isnan(s)]
    try:
        return roc_auc([s for s, _ in pairs], [y for _, y in pairs])
    except ValueError:
        return None


def _fmt(v: float | None, spec: str = ".3f") -> str:
    return "n/a" if v is None else format(v, spec)


def _fit(
    kind: str,
    examples: list[Any],
    env: Any,
    cfg: RewardModelConfig,
    policy: Any = None,
    valid: list[Any] | None = None,
) -> Any:
    """A reward model of ``kind`` trained on ``examples`` with the run's settings: a fresh tiny
    model (``init_from="scratch"``) or the policy's transformer with a new head
    (``init_from="policy"``).
    With ``valid`` and ``eval_every``, the weights with the lowest validation loss are kept."""
    from thinkgym.rewards import LearnedRewardModel

    common = {"kind": kind, "steps": cfg.steps, "batch_size": cfg.batch_size, "lr": cfg.lr}
    common.update(seed=cfg.seed, problem_lines=env.problem_line_count)
    common.update(lr_schedule=cfg.lr_schedule)
    if valid and cfg.eval_every:
        common.update(valid=valid, eval_every=cfg.eval_every, patience=cfg.patience)
    if cfg.init_from == "policy" and hasattr(policy, "model"):
        start = LearnedRewardModel.from_policy(
            policy, kind=kind, seed=cfg.seed, problem_lines=env.problem_line_count
        )
        return train_reward_model(start, examples, **common)
    return train_reward_model(
        None,
        examples,
        **common,
        hidden_size=cfg.hidden,
        layers=cfg.layers,
        max_positions=cfg.max_positions,
    )


def self_evaluation_scores(
    policy: Any, env: Any, finals: list[Any]
) -> dict[str, list[list[float]]]:
    """Self-evaluation PRM scores, no training: per step prefix, the lowest over the steps so
    far of the policy's ``"mean"`` and ``"min"`` token log-prob of a step given the transcript
    before it (temperature 1; one teacher-forced pass gives both). A step the policy itself
    finds unlikely is suspect, and a prefix is as suspect as its worst step (a PRM scores the
    prefix: once a step is wrong, every later prefix is wrong too)."""
    from thinkgym.envs.base import EnvState

    prompts, conts, owner = [], [], []
    for i, final in enumerate(finals):
        state = EnvState(problem=final.problem, data=env.initial_data(final.problem))
        for step in final.steps:
            prompts.append(env.transcript(state))
            conts.append(step + "\n")
            owner.append(i)
            state, ok, _ = env.apply(state, step)
            if not ok:
                raise ValueError(f"step {step!r} of a sampled trajectory is rejected on replay")
    order = sorted(range(len(prompts)), key=lambda j: len(prompts[j]))
    scores = {"mean": [0.0] * len(prompts), "min": [0.0] * len(prompts)}
    chunk = 512
    for start in range(0, len(order), chunk):
        idx = order[start : start + chunk]
        lps = policy.logprobs([prompts[j] for j in idx], [conts[j] for j in idx])
        for j, lp in zip(idx, lps, strict=True):
            if len(lp):
                scores["mean"][j] = float(lp.float().mean())
                scores["min"][j] = float(lp.float().min())
    out: dict[str, list[list[float]]] = {}
    for how, per_step in scores.items():
        rows: list[list[float]] = [[] for _ in finals]
        for j, i in enumerate(owner):
            rows[i].append(min(per_step[j], rows[i][-1]) if rows[i] else per_step[j])
        out[how] = rows
    return out


PRM_LABELS = ("hard", "soft", "check")


def _prm_aucs(scores: list[list[float]], targets: dict[str, list[list[float]]]) -> dict[str, Any]:
    """Held-out step AUC of ``scores`` against each label set (positive: label >= 0.5), and the
    AUC of a trajectory's min step score against its last label (the outcome)."""
    out: dict[str, Any] = {}
    for name, labels in targets.items():
        flat_s = [s for row in scores for s in row]
        flat_y = [y >= 0.5 for row in labels for y in row]
        out[f"step_auc_{name}"] = auc_or_none(flat_s, flat_y)
        rows = [(min(r), lab[-1] >= 0.5) for r, lab in zip(scores, labels, strict=True) if r]
        out[f"outcome_auc_{name}"] = auc_or_none([m for m, _ in rows], [y for _, y in rows])
    return out


def train_prm(
    name: str,
    env: Any,
    policy: Any,
    trajectories: list[Any],
    held: list[bool],
    cfg: RewardModelConfig,
    problem_of: list[int] | None = None,
    strict_env: Any = None,
) -> dict[str, Any]:
    """Label ``trajectories`` (``held[i]``: trajectory ``i`` belongs to a held-out problem),
    train one PRM per label kind of ``labels`` on the others, save each and return a summary.

    Labels: ``hard``/``soft`` Monte-Carlo labels (Math-Shepherd; ``k`` rollouts per step) or
    ``check`` (process supervision from ``strict_env``'s step check, as PRM800K's human labels).
    The held-out trajectories always get MC labels and, with ``strict_env``, check labels: every
    PRM's held-out step AUC is reported against both, beside the policy's own log-prob
    (self-evaluation). The first label kind is saved as ``OUT/name``, the others as
    ``OUT/name_<kind>``. ``problem_of[i]`` (the problem of trajectory ``i``) puts the last
    ``valid`` share of the training problems in a validation set for early stopping.
    """
    from thinkgym.learning.mc_labels import MCRolloutLabeler, step_check_labels

    kinds = cfg.label_kinds()
    if "check" in kinds and strict_env is None:
        raise ValueError(
            "labels=check needs a task with an exact step check in an outcome-only setting "
            "(only=arithmetic with arith_outcome_only)"
        )
    t0 = time.perf_counter()
    problem_of = problem_of if problem_of is not None else list(range(len(trajectories)))
    kept = [(t, h, p) for t, h, p in zip(trajectories, held, problem_of, strict=True) if t.steps]
    if cfg.score_prm:  # scoring only: every trajectory is held out
        kept = [(t, True, p) for t, _, p in kept]
    elif kept and all(h for _, h, _ in kept):  # nothing left to train on: train on everything
        kept = [(t, False, p) for t, _, p in kept]
    train_probs = sorted({p for _, h, p in kept if not h})
    n_valid = split_holdout(len(train_probs), cfg.valid) if cfg.eval_every else 0
    valid_probs = set(train_probs[len(train_probs) - n_valid :])
    role = ["hold" if h else ("valid" if p in valid_probs else "train") for _, h, p in kept]
    need_mc = any(k in ("hard", "soft") for k in kinds)
    to_label = [i for i, r in enumerate(role) if r == "hold" or need_mc]
    labeler = MCRolloutLabeler(env, policy, cfg.k, max_steps=args_limit(env, cfg))
    mc = dict(zip(to_label, labeler.label([kept[i][0] for i in to_label]), strict=True))
    label_s = time.perf_counter() - t0
    stats = label_stats(list(mc.values()))
    _log(
        f"  {name}: {len(kept)} trajectories ({role.count('train')} train, {role.count('valid')} "
        f"validation, {role.count('hold')} held out); MC labels on {stats['trajectories']} "
        f"({stats['steps']} steps, k={cfg.k}, {labeler.policy_calls} policy calls, "
        f"{labeler.rollout_steps} rollout steps, {label_s:.0f}s); hard-positive share "
        f"{_fmt(stats['hard_positive_share'], '.1%')}, soft mean {_fmt(stats['soft_mean'])}"
    )

    def examples(kind: str, which: str) -> list[tuple[str, list[float]]]:
        rows = []
        for i, (t, _, _) in enumerate(kept):
            if role[i] != which:
                continue
            if kind == "check":
                rows.append((env.transcript(t), step_check_labels(strict_env, t)))
            else:
                rows.append(mc[i].example(kind))
        return rows

    hold_idx = [i for i, r in enumerate(role) if r == "hold"]
    targets: dict[str, list[list[float]]] = {}
    if hold_idx:
        targets["mc_hard"] = [[float(h) for h in mc[i].hard] for i in hold_idx]
        if strict_env is not None:
            targets["check"] = [step_check_labels(strict_env, kept[i][0]) for i in hold_idx]
    hold_texts = [env.transcript(kept[i][0]) for i in hold_idx]
    if hold_idx:  # the held-out set, so that any scorer can be measured on it later
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        with open(Path(cfg.out) / f"{name}_heldout.jsonl", "w") as fh:
            for n, i in enumerate(hold_idx):
                row = {"transcript": hold_texts[n], "problem": kept[i][0].problem}
                row.update({k: v[n] for k, v in targets.items()})
                fh.write(json.dumps(row) + "\n")
    summary: dict[str, Any] = {
        **stats,
        "kind": "prm",
        "k": cfg.k,
        "trajectories": len(kept),
        "train_trajectories": role.count("train"),
        "valid_trajectories": role.count("valid"),
        "heldout_trajectories": len(hold_idx),
        "heldout_steps": sum(len(kept[i][0].steps) for i in hold_idx),
        "label_policy_calls": labeler.policy_calls,
        "label_rollout_steps": labeler.rollout_steps,
        "label_seconds": label_s,
        "variants": {},
    }
    if hold_idx and "check" in targets:
        agree = [
            (a >= 0.5) == (b >= 0.5)
            for ra, rb in zip(targets["mc_hard"], targets["check"], strict=True)
            for a, b in zip(ra, rb, strict=True)
        ]
        summary["heldout_mc_vs_check_agreement"] = sum(agree) / max(1, len(agree))
    if hold_idx and hasattr(policy, "logprobs"):
        finals = [kept[i][0] for i in hold_idx]
        for how, scores in self_evaluation_scores(policy, env, finals).items():
            base = _prm_aucs(scores, targets)
            summary[f"self_evaluation_{how}"] = base
            _log(f"  self-evaluation (policy {how} token log-prob per step): {_aucs_text(base)}")
    for path in cfg.score_prm:  # saved PRMs, scored on the same held-out set
        from thinkgym.rewards import LearnedRewardModel

        aucs = _prm_aucs(LearnedRewardModel.from_pretrained(path).score_steps(hold_texts), targets)
        summary.setdefault("scored", {})[str(path)] = aucs
        _log(f"  {path}: held-out {_aucs_text(aucs)}")
    if cfg.score_prm:
        kinds = []
    for n, kind in enumerate(kinds):
        train = examples(kind, "train")
        if not train:
            _log(f"  {name}: SKIPPED, no step to train on (the policy had no accepted step)")
            summary["variants"][kind] = {"skipped": "no labeled step", "dir": None}
            continue
        t1 = time.perf_counter()
        model = _fit("prm", train, env, cfg, policy, valid=examples(kind, "valid") or None)
        train_s = time.perf_counter() - t1
        aucs = _prm_aucs(model.score_steps(hold_texts), targets) if hold_idx else {}
        out = Path(cfg.out) / (name if n == 0 else f"{name}_{kind}")
        model.save_pretrained(out)
        _log(
            f"  {name} [{kind} labels]: {len(train)} trajectories, {cfg.steps} steps "
            f"(kept step {model.best_step}, loss {_fmt(model.train_loss, '.4f')}, "
            f"{train_s:.0f}s); held-out {_aucs_text(aucs)} -> {out}"
        )
        summary["variants"][kind] = {
            **aucs,
            "train_loss": model.train_loss,
            "best_step": model.best_step,
            "history": model.history,
            "train_seconds": train_s,
            "dir": str(out),
        }
    if not kinds:
        return summary
    first = summary["variants"].get(kinds[0], {})
    summary["labels"] = kinds[0]
    summary["heldout_auc"] = first.get("step_auc_mc_hard")
    summary["dir"] = first.get("dir")
    return summary


def _aucs_text(aucs: dict[str, Any]) -> str:
    return ", ".join(f"{k} {_fmt(v)}" for k, v in aucs.items() if k.startswith(("step", "outc")))


def train_orm(
    name: str,
    env: Any,
    groups: list[list[Any]],
    n_hold: int,
    cfg: RewardModelConfig,
    policy: Any = None,
) -> dict[str, Any]:
    """Train an ORM on every sampled trajectory (label: correct final answer per
    ``check_answer``); the last ``n_hold`` problems' trajectories are held out."""

    def rows(gs: list[list[Any]]) -> list[tuple[str, float]]:
        return [(env.transcript(f), float(ok)) for g in gs for f, ok in g if f.steps]

    n_hold = min(n_hold, max(len(groups) - 1, 0))
    n_train = len(groups) - n_hold
    n_valid = split_holdout(n_train, cfg.valid) if cfg.eval_every else 0
    train = rows(groups[: n_train - n_valid])
    valid = rows(groups[n_train - n_valid : n_train])
    hold = rows(groups[n_train:])
    pos = sum(y for _, y in train + valid + hold)
    total = len(train) + len(valid) + len(hold)
    _log(
        f"  {name}: {total} sampled trajectories, {int(pos)} correct "
        f"({_fmt(pos / total if total else None, '.1%')})"
    )
    if not train:
        _log(f"  {name}: SKIPPED, no trajectory to train on (the policy had no accepted step)")
        return {
            "kind": "orm",
            "trajectories": total,
            "skipped": "no trajectory",
            "heldout_auc": None,
            "dir": None,
        }
    t1 = time.perf_counter()
    model = _fit("orm", train, env, cfg, policy, valid=valid or None)
    train_s = time.perf_counter() - t1
    auc = None
    if hold:
        auc = auc_or_none(model.score_transcripts([t for t, _ in hold]), [y > 0 for _, y in hold])
    out = Path(cfg.out) / name
    model.save_pretrained(out)
    _log(
        f"  {name}: trained {cfg.steps} steps on {len(train)} trajectories (kept step "
        f"{model.best_step}, loss "
        f"{_fmt(model.train_loss, '.4f')}, {train_s:.0f}s); held-out AUC {_fmt(auc)} on "
        f"{len(hold)} trajectories -> {out}"
    )
    return {
        "kind": "orm",
        "trajectories": total,
        "correct_trajectories": int(pos),
        "correct_share": pos / total if total else None,
        "train_trajectories": len(train),
        "valid_trajectories": len(valid),
        "heldout_trajectories": len(hold),
        "heldout_auc": auc,
        "train_loss": model.train_loss,
        "best_step": model.best_step,
        "history": model.history,
        "train_seconds": train_s,
        "dir": str(out),
    }


def _prm_rows(
    groups: list[list[Any]], n_hold: int, per: int
) -> tuple[list[Any], list[bool], list[int]]:
    """The first ``per`` sampled trajectories of each problem, whether each is held out (the
    last ``n_hold`` problems are) and the index of its problem."""
    first_held = len(groups) - n_hold
    rows = [(f[0], p >= first_held, p) for p, g in enumerate(groups) for f in g[: max(1, per)]]
    return [t for t, _, _ in rows], [h for _, h, _ in rows], [p for _, _, p in rows]


def args_limit(env: Any, cfg: RewardModelConfig) -> int:
    """Action limit of an episode (rollouts included)."""
    return int(cfg.max_steps) if cfg.max_steps else int(env.max_steps)


def _sampling_policy(spec: Any, cfg: RewardModelConfig) -> tuple[Any, str]:
    """A factory ``env -> policy`` for ``spec`` and a label."""
    from thinkgym.agents.registry import describe_policy, load_policy, policy_needs_env

    if isinstance(spec, str) and policy_needs_env(spec):
        label = describe_policy(spec)
        return (lambda env: load_policy(spec, env=env, seed=cfg.seed)), label
    policy = load_policy(spec, device=cfg.device, max_batch_rows=cfg.batch_rows)
    label = describe_policy(spec)
    model = getattr(policy, "model", None)
    if model is not None:
        n_params = sum(p.numel() for p in model.parameters())
        label = f"{label} ({n_params / 1e6:.2f}M parameters, {policy.device})"
    return (lambda env: policy), label


def train_reward_models(config: RewardModelConfig, *, policy: Any = None) -> Any:
    """Reward models (PRM, ORM) from Monte-Carlo rollout labels of a policy, as one run.

    Args:
        config: the settings (see :class:`RewardModelConfig`).
        policy: the sampling and labeling policy (an object or a policy spec); overrides
            ``config.policy``.

    Returns:
        A :class:`~thinkgym.learning.registry.TrainResult`: ``model`` maps each saved model's
        name to its directory, ``metrics`` is ``summary.json`` (held-out AUCs per model).
    """
    import torch

    from thinkgym.agents.base import unwrap_env
    from thinkgym.envs import make
    from thinkgym.learning.result import TrainResult

    cfg = config.validate()
    if cfg.quick:
        cfg = cfg.quickened()
    torch.manual_seed(cfg.seed)
    t_start = time.perf_counter()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    make_policy, label = _sampling_policy(policy if policy is not None else cfg.policy, cfg)
    _log(f"policy: {label}")
    sampler: Any = None
    summary: dict[str, Any] = {
        "policy": label,
        "config": dataclasses.asdict(cfg),
        "models": {},
    }

    if cfg.only in ("all", "game24"):
        _log(f"Game24 (train split): {cfg.game24_problems} puzzles, k={cfg.k}")
        env = unwrap_env(make("Game24", split="train"))
        sampler = make_policy(env)
        problems = game24_problems(cfg.game24_problems, cfg.seed)
        per = max(1, cfg.game24_samples)
        groups = sample(env, sampler, problems, per, args_limit(env, cfg), "sample game24")
        n_hold = split_holdout(len(problems), cfg.holdout)
        trajs, held, problem_of = _prm_rows(groups, n_hold, per)
        summary["models"]["prm_game24"] = train_prm(
            "prm_game24", env, sampler, trajs, held, cfg, problem_of
        )
        summary["models"]["prm_game24"]["problems"] = len(problems)

    if cfg.only in ("all", "arithmetic"):
        _log(
            f"Arithmetic (difficulty {cfg.arith_difficulty}): {cfg.arith_problems} problems, "
            f"k={cfg.k}, {cfg.orm_samples} ORM samples each"
        )
        env = unwrap_env(
            make(
                "Arithmetic",
                difficulty=cfg.arith_difficulty,
                verify_steps=not cfg.arith_outcome_only,
            )
        )
        sampler = make_policy(env)
        problems = arithmetic_problems(env, cfg.arith_problems, cfg.seed, cfg.figure_problems)
        groups = sample(
            env, sampler, problems, max(cfg.orm_samples, 1), args_limit(env, cfg), "sample arith"
        )
        n_hold = split_holdout(len(problems), cfg.holdout)
        strict = None
        if cfg.arith_outcome_only:  # the same task with step checks on: labels only
            strict = unwrap_env(make("Arithmetic", difficulty=cfg.arith_difficulty))
        trajs, held, problem_of = _prm_rows(groups, n_hold, cfg.prm_samples)
        prm = train_prm(
            "prm_arithmetic", env, sampler, trajs, held, cfg, problem_of, strict_env=strict
        )
        prm["problems"] = len(problems)
        prm["split"] = "train"  # the figures evaluate on the test split
        summary["models"]["prm_arithmetic"] = prm
        if not cfg.score_prm:
            orm = train_orm("orm_arithmetic", env, groups, n_hold, cfg, sampler)
            orm["problems"] = len(problems)
            summary["models"]["orm_arithmetic"] = orm

    stats = getattr(sampler, "stats", None)
    summary["policy_stats"] = stats.as_dict() if stats is not None else None
    summary["seconds"] = time.perf_counter() - t_start
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    _log(f"done in {summary['seconds']:.0f}s; summary: {out / 'summary.json'}")
    for name, m in summary["models"].items():
        _log(f"  {name:16s} held-out AUC {_fmt(m.get('heldout_auc'))}  -> {m.get('dir')}")
    return TrainResult(
        model={n: m.get("dir") for n, m in summary["models"].items() if m.get("dir")},
        out_dir=out,
        metrics=summary,
    )
