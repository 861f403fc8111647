"""Reward-model training: binary cross-entropy on labeled positions of a `LearnedRewardModel`.

The model class (scoring, saving, loading) lives in the rewards layer
(:class:`thinkgym.rewards.learned.LearnedRewardModel`); training it is learning, so it lives here.
Labels may be soft (Math-Shepherd's share of successful rollouts, from
:mod:`thinkgym.learning.mc_labels`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from thinkgym.rewards.learned import LearnedRewardModel, _check_kind

__all__ = ["train_reward_model"]


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
            raise FloatingPointError(
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
