"""Supervised fine-tuning (behaviour cloning) of an :class:`~thinkgym.agents.llm.LLMPolicy`.

Each trace expands into (prompt, step) pairs: the prompt is the transcript so far rendered by the
policy's template (plain: transcript + ``"\\n"``), the target is ``step + "\\n"``. The loss is the
cross-entropy on the target tokens only (labels are ``-100`` on the prompt and the padding).

* **Batches** are padded to the longest example of the batch (right padding). Prompts longer than
  ``max_prompt_tokens`` keep their *last* tokens (the same left truncation as
  :class:`~thinkgym.agents.llm.LLMPolicy` at inference).
* **Data order** is a function of ``(seed, step)`` only: epoch ``e`` is the permutation drawn from
  ``numpy.random.default_rng([seed, e])``. With the optimizer, scheduler and RNG state saved at
  each checkpoint, a resumed run continues with the same loss curve as an uninterrupted one.
* **Checkpoints** (``out_dir/checkpoints/step-NNNNNNN``): the model and tokenizer via
  ``save_pretrained`` (safetensors) and ``trainer_state.pt``, which holds only tensors and plain
  Python values and is read back with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from thinkgym.learning.traces import Trace, eval_problems

__all__ = ["SFTResult", "sft", "encode_pairs", "batch_indices", "latest_checkpoint"]

_CKPT_RE = re.compile(r"^step-(\d+)$")


@dataclass
class SFTResult:
    """What :func:`sft` did.

    Attributes:
        losses: training loss of every step from step 1 (resumed runs include the earlier ones).
        evals: one dict per evaluation: ``{"step": k, "<env id>": greedy pass@1, ...}``.
        step: the last step done.
        checkpoint: the last checkpoint directory written (``None`` without ``out_dir``).
        seconds: wall time of this call.
    """

    losses: list[float] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)
    step: int = 0
    checkpoint: Path | None = None
    seconds: float = 0.0


def encode_pairs(
    policy: Any, traces: Sequence[Trace], max_prompt_tokens: int = 256
) -> list[tuple[list[int], list[int]]]:
    """Token ids of every (prompt, target) pair of ``traces`` (prompt left-truncated)."""
    tok = policy.tokenizer
    template = policy.template
    prompts, targets = [], []
    for trace in traces:
        for transcript, step in trace.pairs():
            prompts.append(template.render(transcript, tok))
            targets.append(step.strip() + "\n")
    special = template.adds_special_tokens
    p_ids = tok(prompts, add_special_tokens=special)["input_ids"]
    t_ids = tok(targets, add_special_tokens=False)["input_ids"]
    return [(p[-max_prompt_tokens:], t) for p, t in zip(p_ids, t_ids, strict=True)]


def batch_indices(n_examples: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """Example indices of batch ``step`` (0-based): a pure function of ``(seed, step)``."""
    per_epoch = max(1, n_examples // batch_size)
    epoch, b = divmod(step, per_epoch)
    perm = np.random.default_rng([seed, epoch]).permutation(n_examples)
    return perm[b * batch_size : (b + 1) * batch_size]


def _collate(examples: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(p) + len(t) for p, t in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for r, (p, t) in enumerate(examples):
        seq = p + t
        ids[r, : len(seq)] = torch.tensor(seq)
        labels[r, len(p) : len(seq)] = torch.tensor(t)
        mask[r, : len(seq)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete checkpoint under ``out_dir/checkpoints`` (``None`` when none)."""
    root = Path(out_dir) / "checkpoints"
    if not root.is_dir():
        return None
    found = []
    for d in root.iterdir():
        m = _CKPT_RE.match(d.name)
        if m and (d / "trainer_state.pt").is_file():
            found.append((int(m.group(1)), d))
    return max(found)[1] if found else None


class _Schedule:
    """Linear warmup, then cosine decay to 10% at ``steps`` (``steps`` may be set later)."""

    def __init__(self, steps: int, warmup: int) -> None:
        self.steps = steps
        self.warmup = warmup

    def __call__(self, k: int) -> float:
        if k < self.warmup:
            return (k + 1) / self.warmup
        progress = (k - self.warmup) / max(1, self.steps - self.warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _schedule(steps: int, warmup: int) -> _Schedule:
    return _Schedule(steps, warmup)


def _load_weights(model: Any, ckpt: Path) -> None:
    from safetensors.torch import load_file

    files = sorted(ckpt.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no .safetensors weights in checkpoint {ckpt}")
    state: dict[str, Any] = {}
    for f in files:
        state.update(load_file(str(f)))
    missing, unexpected = model.load_state_dict(state, strict=False)
    tied = {"lm_head.weight"} if getattr(model.config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise ValueError(
            f"checkpoint {ckpt} does not fit the model: missing {sorted(set(missing) - tied)}, "
            f"unexpected {sorted(unexpected)}; resume with the model it was trained from"
        )
    if tied:
        model.tie_weights()


def sft(
    policy: Any,
    traces: Sequence[Trace],
    *,
    steps: int | None = None,
    epochs: float | None = None,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.01,
    warmup: int | None = None,
    grad_clip: float = 1.0,
    max_prompt_tokens: int = 256,
    eval_envs: Sequence[str] = (),
    eval_limit: int = 50,
    eval_every: int = 0,
    out_dir: str | Path | None = None,
    save_every: int = 0,
    keep_checkpoints: int = 2,
    resume: bool = True,
    seed: int = 0,
    progress: bool = True,
    stop_at: int | None = None,
    bf16: bool | None = None,
    log: Callable[[str], None] | None = None,
    time_budget: float | None = None,
) -> SFTResult:
    """Behaviour cloning: fine-tune ``policy.model`` on the steps of ``traces``.

    Args:
        policy: an :class:`~thinkgym.agents.llm.LLMPolicy` (its model is trained in place).
        traces: training traces (see :mod:`thinkgym.learning.traces`).
        steps: optimizer steps; or give ``epochs`` (passes over the pairs) instead.
        epochs: see ``steps``.
        batch_size: (prompt, step) pairs per batch.
        lr: peak learning rate of AdamW (linear warmup, cosine decay to 10%).
        weight_decay: AdamW weight decay.
        warmup: warmup steps (default: 5% of ``steps``, at most 200).
        grad_clip: gradient-norm clip (``0``: none).
        max_prompt_tokens: longer prompts keep their last tokens.
        eval_envs: tasks on which greedy pass@1 is measured on held-out problems
            (:func:`~thinkgym.learning.traces.eval_problems`).
        eval_limit: held-out problems per task in those evaluations.
        eval_every: evaluate every this many steps (and at the end); ``0``: only at the end
            (when ``eval_envs`` is given).
        out_dir: where checkpoints go (``out_dir/checkpoints/step-N``); ``None``: none.
        save_every: checkpoint every this many steps (and at the end); ``0``: only at the end.
        keep_checkpoints: how many recent checkpoints to keep.
        resume: continue from the newest checkpoint in ``out_dir`` when there is one.
        seed: data order (and nothing else: the model is initialised by its builder).
        progress: show a tqdm progress bar.
        stop_at: stop after this step although the schedule runs to ``steps`` (an
            interruption, for time-sliced jobs and resume tests).
        bf16: bfloat16 autocast; default on CUDA devices that support it.
        log: called with one line per evaluation and checkpoint (default: tqdm.write).
        time_budget: seconds the training loop may take. After a short probe (30 steps) the
            step count is lowered, once, to what fits the budget at the
            measured speed, and the cosine schedule is stretched to it; the resulting count is
            reported in ``SFTResult.step`` and saved with the checkpoints, so a rerun with
            ``steps=`` that count and no budget repeats the run. ``steps`` stays the upper
            bound.

    Returns:
        An :class:`SFTResult`.

    Raises:
        ValueError: bad arguments (no traces, neither or both of ``steps``/``epochs``, ...).
    """
    import torch
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    if not traces:
        raise ValueError("traces is empty; make some with thinkgym.learning.traces.make_traces")
    if (steps is None) == (epochs is None):
        raise ValueError(f"give exactly one of steps={steps!r} and epochs={epochs!r}")
    if batch_size < 1 or lr <= 0:
        raise ValueError(f"batch_size={batch_size} must be >= 1 and lr={lr} > 0")
    examples = encode_pairs(policy, traces, max_prompt_tokens)
    if steps is None:
        steps = max(1, math.ceil(float(epochs) * len(examples) / batch_size))
    warmup = min(200, max(1, steps // 20)) if warmup is None else max(1, int(warmup))
    model = policy.model
    device = next(model.parameters()).device
    if bf16 is None:
        bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    pad_id = policy.tokenizer.pad_token_id
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=lr,
        betas=(0.9, 0.95),
    )
    schedule = _schedule(steps, warmup)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    result = SFTResult()
    write = log or tqdm.write
    config = {"seed": seed, "steps": steps, "batch_size": batch_size, "lr": lr}
    start = 0
    if out_dir is not None and resume:
        ckpt = latest_checkpoint(out_dir)
        if ckpt is not None:
            start = _restore(ckpt, model, opt, sched, result, config, write)
    out_path = Path(out_dir) if out_dir is not None else None

    def evaluate(step: int) -> None:
        from thinkgym.learning.evaluation import pass_at, run_episodes

        model.eval()
        row: dict[str, float] = {"step": step}
        for env_id in eval_envs:
            res = run_episodes(policy, env_id, eval_problems(env_id, eval_limit))
            row[env_id] = pass_at(res)
        model.train()
        result.evals.append(row)
        write(f"[sft] step {step} eval pass@1: " + json.dumps(row))

    end = steps if stop_at is None else min(steps, stop_at)
    bar = tqdm(total=steps, initial=start, disable=not progress, desc="sft", dynamic_ncols=True)
    model.train()
    # Speed probe for time_budget: steps start+5 .. start+30 (the first ones warm caches up).
    probe_from, probe_end = start + 5, start + 30
    loop_start = probe_t0 = time.perf_counter()
    step = start
    while step < end:
        if step == probe_from:
            probe_t0 = time.perf_counter()
        if step == probe_end and time_budget is not None:
            per_step = (time.perf_counter() - probe_t0) / (probe_end - probe_from)
            fits = step + int((time_budget - (time.perf_counter() - loop_start)) / per_step)
            if fits < steps:
                steps = max(step + 1, fits)
                end = steps if stop_at is None else min(steps, stop_at)
                schedule.steps = steps
                config["steps"] = steps
                bar.total = steps
                write(
                    f"[sft] time budget {time_budget:.0f} s: {per_step * 1e3:.1f} ms/step, "
                    f"training {steps} steps"
                )
        idx = batch_indices(len(examples), batch_size, seed, step)
        batch = {k: v.to(device) for k, v in _collate([examples[i] for i in idx], pad_id).items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bool(bf16)):
            loss = model(**batch).loss
        loss.backward()
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        result.losses.append(float(loss.detach()))
        done = step + 1
        bar.update(1)
        bar.set_postfix(loss=f"{result.losses[-1]:.4f}", lr=f"{sched.get_last_lr()[0]:.2e}")
        last = done == end
        if eval_envs and ((eval_every and done % eval_every == 0) or done == steps):
            evaluate(done)
        if out_path is not None and ((save_every and done % save_every == 0) or last):
            result.checkpoint = _save(out_path, done, policy, opt, sched, result, config)
            _prune(out_path, keep_checkpoints)
        step = done
    bar.close()
    model.eval()
    result.step = end
    result.seconds = time.perf_counter() - t0
    return result


def _save(
    out: Path, step: int, policy: Any, opt: Any, sched: Any, result: SFTResult, config: dict
) -> Path:
    import torch

    ckpt = out / "checkpoints" / f"step-{step:07d}"
    tmp = ckpt.with_name(ckpt.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    policy.model.save_pretrained(str(tmp), safe_serialization=True)
    policy.tokenizer.save_pretrained(str(tmp))
    rng: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    state = {
        "step": step,
        "optimizer": opt.state_dict(),
        "scheduler": {k: v for k, v in sched.state_dict().items() if k != "lr_lambdas"},
        "rng": rng,
        "losses": list(result.losses),
        "evals": [dict(e) for e in result.evals],
        "config": dict(config),
    }
    torch.save(state, tmp / "trainer_state.pt")
    if ckpt.exists():
        shutil.rmtree(ckpt)
    tmp.rename(ckpt)
    return ckpt


def _restore(
    ckpt: Path,
    model: Any,
    opt: Any,
    sched: Any,
    result: SFTResult,
    config: dict,
    write: Callable[[str], None],
) -> int:
    import torch

    state = torch.load(ckpt / "trainer_state.pt", map_location="cpu", weights_only=True)
    saved = state.get("config", {})
    differ = {k: (saved.get(k), v) for k, v in config.items() if saved.get(k) != v}
    if differ:
        write(
            f"[sft] warning: resuming {ckpt} with other settings {differ} (saved, now); the "
            "loss curve will differ from an uninterrupted run"
        )
    _load_weights(model, ckpt)
    opt.load_state_dict(state["optimizer"])
    sched_state = dict(state["scheduler"])
    sched_state["lr_lambdas"] = [None] * len(opt.param_groups)
    sched.load_state_dict(sched_state)
    torch.set_rng_state(state["rng"]["torch"])
    if "cuda" in state["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    result.losses = list(state["losses"])
    result.evals = list(state["evals"])
    write(f"[sft] resumed from {ckpt} at step {state['step']}")
    return int(state["step"])


def _prune(out: Path, keep: int) -> None:
    root = out / "checkpoints"
    found = sorted((int(m.group(1)), d) for d in root.iterdir() if (m := _CKPT_RE.match(d.name)))
    for _, d in found[: max(0, len(found) - max(1, keep))]:
        shutil.rmtree(d, ignore_errors=True)
