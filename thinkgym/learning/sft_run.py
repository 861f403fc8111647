"""A whole behaviour-cloning run (``thinkgym train sft``): :class:`SFTRunConfig` and :func:`train_sft`.

:func:`train_sft` makes (or loads) solver traces, builds a tiny model or loads a starting policy,
trains it with :func:`thinkgym.learning.sft.sft` and saves the result; the command is a thin
caller.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinkgym.learning.result import TrainResult
from thinkgym.learning.sft import FINETUNE_LR, SCRATCH_LR, SFTConfig, sft

__all__ = ["SFTRunConfig", "train_sft"]


@dataclass
class SFTRunConfig(SFTConfig):
    """A whole ``thinkgym train sft`` run: the tasks, data, starting policy and run directory,
    plus every :class:`SFTConfig` setting.

    Start from a recipe's settings with :meth:`from_recipe`.
    """

    envs: list[str] = field(default_factory=list)
    """tasks to train on and evaluate (env ids or short names; default: the recipe's)"""
    recipe: str | None = None
    """a named data table and task list (thinkgym/learning/recipes.py); its settings come with
    :meth:`from_recipe`"""
    out: str = "runs/sft"
    """run directory (checkpoints, final/, result.json, training_args.json)"""
    init: str | None = None
    """starting policy: a model directory, 'default' (the shipped one), a registered name or
    FILE.py:FACTORY (None: a new model built from the model settings)"""
    traces_file: str | None = None
    """JSONL(.gz) of traces: loaded when it exists, else built and written there"""
    export: str | None = None
    """also save the final policy here (in export_dtype)"""
    device: str = "auto"
    """auto, cpu, cuda, cuda:N"""

    @classmethod
    def from_recipe(cls, name: str, **changes: Any) -> SFTRunConfig:
        """The settings of recipe ``name`` with ``changes`` (its tasks and data come along)."""
        from thinkgym.learning.recipes import get_recipe

        recipe = get_recipe(name)
        base = cls(**dataclasses.asdict(recipe.config), recipe=name)
        return base.replace(**changes)

    def validate(self) -> SFTRunConfig:
        """:meth:`SFTConfig.validate` plus the run's fields; returns ``self``.

        Raises:
            ValueError: no task (and no recipe), an unknown recipe or env.
        """
        super().validate()
        if self.recipe is not None:
            from thinkgym.learning.recipes import get_recipe

            get_recipe(self.recipe)
        if not self.envs and self.recipe is None:
            raise ValueError(
                "SFTRunConfig: give at least one env (envs=['Arithmetic'], --env Arithmetic) or "
                "a recipe (--recipe default)"
            )
        from thinkgym.envs import resolve_id

        self.envs = [resolve_id(e) for e in self.envs]
        return self


def train_sft(config: SFTRunConfig, *, policy: Any = None) -> Any:
    """Behaviour cloning of a (tiny or given) causal LM on solver traces, as one run.

    Makes (or loads) the traces, builds the model or loads the starting policy, trains with
    :func:`sft` (checkpoints in ``out/checkpoints``; rerun to resume), saves ``out/final`` (and
    ``export``), and writes ``training_args.json`` and ``result.json``.

    Args:
        config: the run's settings.
        policy: the starting policy (an object or a spec for
            :func:`thinkgym.agents.registry.load_policy`); overrides ``config.init``. A
            pretrained start makes ``lr=None`` mean :data:`FINETUNE_LR`.

    Returns:
        A :class:`~thinkgym.learning.registry.TrainResult` (``history``: one row per step with
        its loss; ``metrics``: the last evaluation and the final loss).
    """
    import torch

    from thinkgym.agents.registry import describe_policy, load_trainable
    from thinkgym.learning.logging import log_metrics
    from thinkgym.learning.recipes import build_traces, get_recipe
    from thinkgym.learning.traces import load_traces, make_traces, save_traces
    from thinkgym.models import build_char_tokenizer, build_tiny_model

    cfg = config.validate()
    recipe = get_recipe(cfg.recipe) if cfg.recipe else None
    envs = list(cfg.envs or (recipe.envs if recipe else []))
    data = dict(recipe.data) if recipe is not None and not cfg.envs else None
    start = policy if policy is not None else cfg.init
    if isinstance(start, str) and start not in ("default",):
        from thinkgym.agents.registry import check_policy_spec

        check_policy_spec(start)  # before the traces are made, not after
    traces_file = Path(cfg.traces_file) if cfg.traces_file else None
    if traces_file is not None and traces_file.exists() and not traces_file.is_file():
        raise ValueError(f"traces_file {traces_file} is a directory; give a .jsonl(.gz) file")
    if cfg.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(cfg.device)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    if traces_file is not None and traces_file.exists():
        traces = load_traces(traces_file)
        print(f"[data] {len(traces)} traces from {traces_file}")
    elif data is not None:
        traces = build_traces(data, seed=cfg.seed, scale=cfg.data_scale)
    else:
        traces = []
        for env_id in envs:
            made = make_traces(
                env_id,
                cfg.traces_per_env,
                seed=2_000_000 + cfg.seed * 1_000_000,
                solutions_per_problem=cfg.solutions_per_problem,
            )
            print(f"[data] {env_id}: {len(made)} traces")
            traces.extend(made)
    if traces_file is not None and not traces_file.exists():
        save_traces(traces, traces_file)
        print(f"[data] wrote {len(traces)} traces to {traces_file}")
    if start is not None:
        model_policy = load_trainable(start, "sft", device=device)
        lr = FINETUNE_LR if cfg.lr is None else cfg.lr
    else:
        tok = build_char_tokenizer()
        model = build_tiny_model(
            tok,
            seed=cfg.seed,
            hidden_size=cfg.hidden,
            layers=cfg.layers,
            heads=cfg.heads,
            intermediate_size=cfg.intermediate,
            max_positions=cfg.max_positions,
        )
        from thinkgym.agents.llm import LLMPolicy

        model_policy = LLMPolicy(model, tok, device=device)
        lr = SCRATCH_LR if cfg.lr is None else cfg.lr
    cfg = cfg.replace(lr=lr)
    n_params = sum(p.numel() for p in model_policy.model.parameters())
    print(f"[model] {n_params / 1e6:.2f} M parameters on {device}; {len(traces)} traces")
    record = {
        "command": "thinkgym train sft",
        **cfg.as_dict(),
        "envs": envs,
        "init": None if start is None else describe_policy(start),
    }
    (out / "training_args.json").write_text(json.dumps(record, indent=2) + "\n")
    # `thinkgym train ... --log-dir`: the metrics of every step
    base = SFTConfig(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(SFTConfig)})
    result = sft(model_policy, traces, base, eval_envs=envs, out_dir=out, on_step=log_metrics)
    record["steps"] = result.step
    final = out / "final"
    model_policy.save_pretrained(final)
    (final / "training_args.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / "result.json").write_text(
        json.dumps({"losses": result.losses, "evals": result.evals, "step": result.step}, indent=1)
        + "\n"
    )
    if cfg.export:
        export = Path(cfg.export)
        model_policy.save_pretrained(export, dtype=cfg.export_dtype)
        (export / "training_args.json").write_text(json.dumps(record, indent=2) + "\n")
        print(f"[export] {export} ({cfg.export_dtype})")
    if result.evals:
        print("[eval] " + json.dumps(result.evals[-1]))
    print(f"[done] step {result.step}, {result.seconds:.0f} s, final model in {final}")
    metrics: dict[str, Any] = {"step": result.step, "lr": lr, "seconds": result.seconds}
    if result.losses:
        metrics["loss"] = result.losses[-1]
    if result.evals:
        metrics.update({k: v for k, v in result.evals[-1].items() if k != "step"})
    history = [{"step": k + 1, "loss": v} for k, v in enumerate(result.losses)]
    for row in result.evals:
        if 1 <= int(row["step"]) <= len(history):
            history[int(row["step"]) - 1].update({k: v for k, v in row.items() if k != "step"})
    return TrainResult(
        policy=model_policy,
        out_dir=out,
        policy_dir=final,
        history=history,
        metrics=metrics,
    )
