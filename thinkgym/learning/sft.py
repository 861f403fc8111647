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
  Python values and is read back with ``torch.load(weights_only=True)``. Resume checks every
  file (:mod:`thinkgym.checkpoints`) and falls back to the newest intact checkpoint.
  A corrupt ``trainer_state.pt`` (however it is damaged), or one whose ``step`` lies beyond the
  run's end, is set aside with one line. Resuming with other settings (``lr``, ``batch_size``,
  ``seed``, ``steps``) is refused, naming them, unless ``override``.
* **A non-finite loss** stops training with :class:`~thinkgym.learning.errors.NonFiniteLossError`
  before the optimizer step: nothing new is saved, the last good checkpoint stays as it was.
* **Settings** live in one :class:`SFTConfig` (the command line, the recipes and :func:`sft`
  share its defaults and its :meth:`SFTConfig.validate`);
  :class:`~thinkgym.learning.sft_run.SFTRunConfig` adds what a whole run needs (tasks, data,
  starting policy, run directory) and :func:`~thinkgym.learning.sft_run.train_sft` runs it
  (``thinkgym train sft``, ``thinkgym.learning.train("sft", ...)``).
* **Learning rate**: ``lr=None`` means :data:`SCRATCH_LR` for a model built here and
  :data:`FINETUNE_LR` when ``train_sft`` starts from a pretrained policy (a from-scratch rate
  wrecks a trained policy within a few steps).
"""

from __future__ import annotations

import dataclasses
import difflib
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

from thinkgym.learning.errors import NonFiniteLossError
from thinkgym.learning.traces import Trace, eval_problems

__all__ = [
    "FINETUNE_LR",
    "NonFiniteLossError",
    "SCRATCH_LR",
    "SFTConfig",
    "SFTResult",
    "batch_indices",
    "checkpoints",
    "encode_pairs",
    "latest_checkpoint",
    "sft",
]

_CKPT_RE = re.compile(r"^step-(\d+)$")

_EXPORT_DTYPES = ("float32", "float16", "bfloat16")


SCRATCH_LR = 1e-3
"""Peak learning rate when ``lr`` is ``None`` and the model was built here (from scratch)."""
FINETUNE_LR = 1e-4
"""Peak learning rate when ``lr`` is ``None`` and ``train_sft`` starts from a pretrained
policy (1e-3 wrecked the shipped policy in 4 steps)."""

RESUMABLE_SETTINGS = ("steps",)
"""Recorded settings that may change when a run resumes (the run's length; a checkpoint beyond
the new end is refused)."""


@dataclass
class SFTConfig:
    """Settings of a behaviour-cloning run: :func:`sft`, ``thinkgym train sft`` and the recipes.

    The training fields are read by :func:`sft`; the model, data and export fields by the
    ``thinkgym train sft`` command (a recipe holds a whole ``SFTConfig``). Every field is a
    command-line option of the same name (``batch_size`` -> ``--batch-size``).
    """

    # --- optimisation
    steps: int | None = 1000
    """optimizer steps (or give epochs instead, to count passes over the data)"""
    epochs: float | None = None
    """passes over the (prompt, step) pairs, instead of ``steps``"""
    batch_size: int = 64
    """(prompt, step) pairs per batch"""
    lr: float | None = None
    """peak learning rate of AdamW (linear warmup, then cosine decay to 10%); None: 1e-3 for a
    model built from scratch, 1e-4 when fine-tuning a pretrained policy"""
    weight_decay: float = 0.01
    """AdamW weight decay (matrices only)"""
    warmup: int | None = None
    """warmup steps (default: 5% of the steps, at most 200)"""
    grad_clip: float = 1.0
    """gradient-norm clip (0: none)"""
    max_prompt_tokens: int | None = None
    """longer prompts keep their last tokens (default: the model's context minus 64)"""
    seed: int = 0
    """data order and the initial weights of a model built here"""
    bf16: bool | None = None
    """bfloat16 autocast (default: on CUDA devices that support it)"""
    # --- evaluation, checkpoints, time
    eval_limit: int = 50
    """held-out problems per task in each evaluation"""
    eval_every: int = 0
    """evaluate every this many steps, and at the end (0: only at the end)"""
    save_every: int = 500
    """checkpoint every this many steps, and at the end (0: only at the end)"""
    keep_checkpoints: int = 2
    """how many recent checkpoints to keep"""
    resume: bool = True
    """continue from the newest intact checkpoint of the run directory"""
    override: bool = False
    """resume even when the settings differ from the checkpoint's (refused otherwise)"""
    stop_at: int | None = None
    """stop after this step while the schedule runs to ``steps`` (time-sliced jobs)"""
    time_budget: float | None = None
    """seconds for the training loop: after a 30-step probe the step count is lowered, once, to
    what fits (recorded with the checkpoints, so ``steps=`` that count repeats the run)"""
    progress: bool = True
    """show a progress bar"""
    # --- model built by the command (ignored with an initial model)
    hidden: int = 256
    """model width of a model built from scratch"""
    layers: int = 4
    """decoder layers of a model built from scratch"""
    heads: int = 4
    """attention heads (must divide ``hidden``)"""
    intermediate: int | None = None
    """MLP width (default: 4 x hidden)"""
    max_positions: int = 384
    """context length in tokens (= characters for the char tokenizer)"""
    # --- data made by the command (without a recipe or a traces file)
    traces_per_env: int = 2000
    """problems per task"""
    solutions_per_problem: int = 4
    """solver solutions sampled per problem"""
    data_scale: float = 1.0
    """multiply a recipe's data sizes (0.01 for a smoke run)"""
    # --- export
    export_dtype: str = "float32"
    """dtype of the exported policy (float32, float16, bfloat16)"""

    def validate(self) -> SFTConfig:
        """Check every field; returns ``self``.

        Raises:
            ValueError: the first bad field, with its value and the fix.
        """

        def bad(name: str, problem: str, fix: str) -> ValueError:
            value = getattr(self, name)
            return ValueError(f"{type(self).__name__}.{name}={value!r} {problem}; {fix}")

        def finite(name: str) -> float:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise bad(name, "is not a number", "give a number")
            if not math.isfinite(value):
                raise bad(name, "is not finite", "give a finite number")
            return float(value)

        def integer(name: str, low: int, optional: bool = False) -> None:
            value = getattr(self, name)
            if value is None and optional:
                return
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad(name, "is not an integer", f"give an integer >= {low}")
            if value < low:
                raise bad(name, f"is below {low}", f"give an integer >= {low}")

        if (self.steps is None) == (self.epochs is None):
            raise ValueError(
                f"SFTConfig: give exactly one of steps={self.steps!r} and epochs={self.epochs!r}; "
                "set the other to None"
            )
        integer("steps", 1, optional=True)
        if self.epochs is not None and finite("epochs") <= 0:
            raise bad("epochs", "is not positive", "give a number > 0")
        integer("batch_size", 1)
        if self.lr is not None and finite("lr") <= 0:
            raise bad("lr", "is not positive", "give a learning rate > 0, e.g. 1e-3")
        if finite("weight_decay") < 0:
            raise bad("weight_decay", "is negative", "give a value >= 0")
        integer("warmup", 1, optional=True)
        if finite("grad_clip") < 0:
            raise bad("grad_clip", "is negative", "give a norm > 0, or 0 for no clipping")
        integer("max_prompt_tokens", 1, optional=True)
        integer("seed", 0)
        integer("eval_limit", 1)
        integer("eval_every", 0)
        integer("save_every", 0)
        integer("keep_checkpoints", 1)
        integer("stop_at", 1, optional=True)
        if self.time_budget is not None and finite("time_budget") <= 0:
            raise bad("time_budget", "is not positive", "give seconds > 0")
        integer("hidden", 1)
        integer("layers", 1)
        integer("heads", 1)
        if self.hidden % self.heads:
            raise bad("heads", f"does not divide hidden={self.hidden}", "pick a divisor of hidden")
        integer("intermediate", 1, optional=True)
        integer("max_positions", 32)
        integer("traces_per_env", 1)
        integer("solutions_per_problem", 1)
        if finite("data_scale") <= 0:
            raise bad("data_scale", "is not positive", "give a factor > 0, e.g. 0.01")
        if self.export_dtype not in _EXPORT_DTYPES:
            raise bad("export_dtype", "is not a dtype", f"use one of {', '.join(_EXPORT_DTYPES)}")
        return self

    def replace(self, **changes: Any) -> SFTConfig:
        """A copy with ``changes``; an unknown name is a ``TypeError`` with a "did you mean".

        Setting ``epochs`` without ``steps`` clears ``steps`` (the two are alternatives).
        """
        names = [f.name for f in dataclasses.fields(self)]
        for key in changes:
            if key not in names:
                hint = difflib.get_close_matches(key, names, n=1)
                did = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise TypeError(f"SFTConfig has no setting {key!r}{did}; known: {', '.join(names)}")
        if changes.get("epochs") is not None and "steps" not in changes:
            changes["steps"] = None
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Plain values (for the run's JSON record)."""
        return dataclasses.asdict(self)


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


def checkpoints(out_dir: str | Path) -> list[Path]:
    """The checkpoint directories under ``out_dir/checkpoints``, newest first (unchecked)."""
    root = Path(out_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = []
    for d in root.iterdir():
        m = _CKPT_RE.match(d.name)
        if m and d.is_dir():
            found.append((int(m.group(1)), d))
    return [d for _, d in sorted(found, reverse=True)]


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete checkpoint under ``out_dir/checkpoints`` (``None`` when none).

    Complete means it has its ``trainer_state.pt``; :func:`sft` checks the files themselves when
    it resumes and falls back to an older checkpoint when they are damaged.
    """
    for d in checkpoints(out_dir):
        if (d / "trainer_state.pt").is_file():
            return d
    return None


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


_STATE_KEYS = ("step", "optimizer", "scheduler", "rng", "losses", "evals", "config")


def _default_prompt_tokens(model: Any) -> int:
    n = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    return max(16, int(n) - 64) if isinstance(n, int) else 256


def sft(
    policy: Any,
    traces: Sequence[Trace],
    config: SFTConfig | None = None,
    *,
    eval_envs: Sequence[str] = (),
    out_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
    **overrides: Any,
) -> SFTResult:
    """Behaviour cloning: fine-tune ``policy.model`` on the steps of ``traces``.

    Args:
        policy: an :class:`~thinkgym.agents.llm.LLMPolicy` (its model is trained in place).
        traces: training traces (see :mod:`thinkgym.learning.traces`).
        config: the settings (default :class:`SFTConfig()`); see its fields.
        eval_envs: tasks on which greedy pass@1 is measured on held-out problems
            (:func:`~thinkgym.learning.traces.eval_problems`), every ``eval_every`` steps and at
            the end.
        out_dir: where checkpoints go (``out_dir/checkpoints/step-N``); ``None``: none.
        log: called with one line per evaluation and checkpoint (default: tqdm.write).
        on_step: called after every step with the step number and its metrics
            (``{"loss": ..., "lr": ...}``; an evaluation adds its pass@1 values), e.g. a
            :class:`~thinkgym.learning.logging.MetricLogger`'s ``log``.
        **overrides: fields of :class:`SFTConfig` that replace ``config``'s
            (``sft(policy, traces, steps=400, lr=3e-3)``).

    Returns:
        An :class:`SFTResult`.

    Raises:
        ValueError: bad settings (:meth:`SFTConfig.validate`) or no traces.
        TypeError: an override that is not a field of :class:`SFTConfig`.
        NonFiniteLossError: the loss became NaN or infinite (nothing new was saved).
        thinkgym.checkpoints.CheckpointError: ``out_dir`` has checkpoints and none is usable.
    """
    import torch
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    cfg = (config or SFTConfig()).replace(**overrides).validate()
    if not traces:
        raise ValueError("traces is empty; make some with thinkgym.learning.traces.make_traces")
    model = policy.model
    max_prompt_tokens = cfg.max_prompt_tokens or _default_prompt_tokens(model)
    examples = encode_pairs(policy, traces, max_prompt_tokens)
    batch_size, seed = cfg.batch_size, cfg.seed
    steps = cfg.steps
    if steps is None:
        steps = max(1, math.ceil(float(cfg.epochs) * len(examples) / batch_size))
    warmup = min(200, max(1, steps // 20)) if cfg.warmup is None else cfg.warmup
    lr = SCRATCH_LR if cfg.lr is None else float(cfg.lr)
    device = next(model.parameters()).device
    bf16 = cfg.bf16
    if bf16 is None:
        bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    pad_id = policy.tokenizer.pad_token_id
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=lr,
        betas=(0.9, 0.95),
    )
    schedule = _schedule(steps, warmup)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    result = SFTResult()
    write = log or tqdm.write
    record = {"seed": seed, "steps": steps, "batch_size": batch_size, "lr": lr}
    start = 0
    if out_dir is not None and cfg.resume:
        start = _resume(
            Path(out_dir),
            model,
            opt,
            sched,
            result,
            record,
            write,
            override=cfg.override,
            end=None if cfg.time_budget is not None else steps,
        )
        if record["steps"] != steps:  # a time-budgeted run continues with the steps it fitted
            steps = schedule.steps = int(record["steps"])
    out_path = Path(out_dir) if out_dir is not None else None
    time_budget = cfg.time_budget

    def evaluate(step: int) -> dict[str, float]:
        from thinkgym.learning.evaluation import pass_at, run_episodes

        model.eval()
        write(f"[sft] step {step}: evaluating on {cfg.eval_limit} held-out problems per task")
        row: dict[str, float] = {"step": step}
        for env_id in eval_envs:
            res = run_episodes(policy, env_id, eval_problems(env_id, cfg.eval_limit))
            row[env_id] = pass_at(res)
        model.train()
        result.evals.append(row)
        write(f"[sft] step {step} eval pass@1: " + json.dumps(row))
        return row

    end = steps if cfg.stop_at is None else min(steps, cfg.stop_at)
    # smoothing=0: the time estimate uses the mean speed of the whole run (evaluations included),
    # not the last few steps, so it does not swing after each evaluation
    bar = tqdm(
        total=steps,
        initial=start,
        disable=not cfg.progress,
        desc="sft",
        dynamic_ncols=True,
        smoothing=0,
    )
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
                end = steps if cfg.stop_at is None else min(steps, cfg.stop_at)
                schedule.steps = steps
                record["steps"] = steps
                bar.total = steps
                write(
                    f"[sft] time budget {time_budget:.0f} s: {per_step * 1e3:.1f} ms/step, "
                    f"training {steps} steps"
                )
        idx = batch_indices(len(examples), batch_size, seed, step)
        batch = {k: v.to(device) for k, v in _collate([examples[i] for i in idx], pad_id).items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bool(bf16)):
            loss = model(**batch).loss
        value = float(loss.detach())
        if not math.isfinite(value):
            bar.close()
            model.eval()
            good = latest_checkpoint(out_path) if out_path is not None else None
            kept = f"the last good checkpoint {good} is kept" if good else "nothing was saved"
            raise NonFiniteLossError(
                f"the training loss is {value} at step {step + 1} (lr={lr:g}): training "
                f"stopped, {kept}; lower the learning rate or check the data"
            )
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        result.losses.append(value)
        done = step + 1
        bar.update(1)
        lr_now = sched.get_last_lr()[0]
        bar.set_postfix(loss=f"{value:.4f}", lr=f"{lr_now:.2e}")
        metrics = {"loss": value, "lr": lr_now}
        last = done == end
        if eval_envs and ((cfg.eval_every and done % cfg.eval_every == 0) or done == steps):
            row = evaluate(done)
            metrics.update({f"pass@1/{k}": v for k, v in row.items() if k != "step"})
        if on_step is not None:
            on_step(done, metrics)
        if out_path is not None and ((cfg.save_every and done % cfg.save_every == 0) or last):
            result.checkpoint = _save(out_path, done, policy, opt, sched, result, record)
            _prune(out_path, cfg.keep_checkpoints)
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


def _resume(
    out: Path,
    model: Any,
    opt: Any,
    sched: Any,
    result: SFTResult,
    config: dict,
    write: Callable[[str], None],
    *,
    override: bool = False,
    end: int | None = None,
) -> int:
    """Restore the newest intact checkpoint of ``out``; the step to continue from (0: none).

    ``end=None`` (a time-budgeted run) continues with the step count the run fitted.

    Damaged checkpoints are set aside (``NAME.damaged``) with one line each; a checkpoint made
    with other settings is refused (:class:`~thinkgym.checkpoints.SettingsChangedError`) unless
    ``override``.
    """
    from thinkgym.checkpoints import restore_newest

    found = restore_newest(
        checkpoints(out),
        lambda c: _restore(c, model, opt, sched, result, config, write, override, end),
        write=write,
        tag="sft",
    )
    return 0 if found is None else found[1]


def _restore(
    ckpt: Path,
    model: Any,
    opt: Any,
    sched: Any,
    result: SFTResult,
    config: dict,
    write: Callable[[str], None],
    override: bool = False,
    end: int | None = None,
) -> int:
    """Check every file of ``ckpt``, then load it (nothing is changed when a check fails)."""
    import torch

    from thinkgym.checkpoints import (
        CheckpointError,
        check_resume_settings,
        load_trainer_state,
        load_weights,
    )

    path = ckpt / "trainer_state.pt"
    m = _CKPT_RE.match(ckpt.name)
    state = load_trainer_state(
        path,
        required=_STATE_KEYS,
        end=end,
        expect_step=int(m.group(1)) if m else None,
    )
    try:
        saved = dict(state["config"])
        rng = state["rng"]["torch"]
        if not isinstance(rng, torch.Tensor) or rng.dtype != torch.uint8:
            raise ValueError("bad RNG state")
        sched_state = dict(state["scheduler"])
        losses, evals = list(state["losses"]), [dict(e) for e in state["evals"]]
        if len(losses) != state["step"]:
            raise ValueError(f"{len(losses)} losses for step {state['step']}")
        optim = state["optimizer"]
        if len(optim.get("param_groups", ())) != len(opt.param_groups):
            raise CheckpointError(f"{path}: the optimizer state belongs to another model")
    except (KeyError, TypeError, IndexError, ValueError, AttributeError) as exc:
        raise CheckpointError(
            f"{path}: corrupt trainer state ({type(exc).__name__}: {exc})"
        ) from None
    differ = check_resume_settings(
        saved, config, source=str(ckpt), ignore=RESUMABLE_SETTINGS, override=override
    )
    if differ:
        write(f"[sft] override: resuming {ckpt} with other settings {differ} (saved, now)")
    load_weights(model, ckpt)  # checks keys and shapes before copying anything
    try:
        opt.load_state_dict(optim)
        sched_state["lr_lambdas"] = [None] * len(opt.param_groups)
        sched.load_state_dict(sched_state)
        torch.set_rng_state(rng)
    except (ValueError, KeyError, TypeError, IndexError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: unusable optimizer or scheduler state ({exc})") from None
    if "cuda" in state["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    if end is None and isinstance(saved.get("steps"), int):
        config["steps"] = int(saved["steps"])
    result.losses = losses
    result.evals = evals
    write(f"[sft] resumed from {ckpt} at step {state['step']}")
    return int(state["step"])


def _prune(out: Path, keep: int) -> None:
    for d in checkpoints(out)[max(1, keep) :]:
        shutil.rmtree(d, ignore_errors=True)
