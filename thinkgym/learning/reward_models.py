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

    Returns:
        The trained model in eval mode, with ``kind`` set.
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

    encoded = model._encode([t for t, _ in data], steps=(kind == "prm"))
    rows: list[tuple[list[int], list[int], list[float]]] = []
    dropped = 0
    for (ids, pos), (_, labels) in zip(encoded, data, strict=True):
        if kind == "prm" and len(labels) != len(pos):
            raise ValueError(
                f"a PRM example has {len(labels)} labels but {len(pos)} step lines: "
                f"{ids and model.tokenizer.decode(ids)[:120]!r}; give one label per step line"
            )
        keep = [(p, y) for p, y in zip(pos, labels, strict=True) if y is not None and p >= 0]
        dropped += len(pos) - len(keep)
        if keep:
            rows.append((ids, [p for p, _ in keep], [y for _, y in keep]))
    if not rows:
        raise ValueError("no labeled position left to train on (all labels are None or cut off)")

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = model.model
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    bar = tqdm(range(steps), desc=f"train {kind}", disable=not progress, leave=False)
    ema = None
    for _ in bar:
        idx = rng.integers(len(rows), size=batch_size)
        batch = [rows[i] for i in idx]
        logits, offsets = model._logits([ids for ids, _, _ in batch])
        b_idx = [b for b, (_, pos, _) in enumerate(batch) for _ in pos]
        t_idx = [offsets[b] + p for b, (_, pos, _) in enumerate(batch) for p in pos]
        target = torch.tensor([y for _, _, ys in batch for y in ys], dtype=logits.dtype)
        picked = logits[torch.tensor(b_idx), torch.tensor(t_idx)]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(picked, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        value = loss.item()
        ema = value if ema is None else 0.9 * ema + 0.1 * value
        bar.set_postfix(loss=f"{ema:.4f}")
    bar.close()
    net.eval()
    model.train_loss = ema
    return model
