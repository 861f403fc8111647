"""``thinkgym train sft``: behaviour cloning of a (tiny or given) causal LM on solver traces.

Examples::

    thinkgym train sft --env Arithmetic --env LinearEquation --out runs/a --steps 2000
    thinkgym train sft --recipe default --out runs/policy --export thinkgym/data/policy
    thinkgym train sft --recipe default --out /tmp/smoke --steps 50 --data-scale 0.01 \\
        --eval-limit 5 --device cpu
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "run"]

# fields a recipe fills in when the command line leaves them out
_RECIPE_FIELDS = (
    "steps",
    "batch_size",
    "lr",
    "hidden",
    "layers",
    "heads",
    "intermediate",
    "max_positions",
    "eval_every",
    "eval_limit",
    "save_every",
    "export_dtype",
)
_FALLBACK = {
    "steps": 1000,
    "batch_size": 64,
    "lr": 1e-3,
    "hidden": 256,
    "layers": 4,
    "heads": 4,
    "intermediate": None,
    "max_positions": 384,
    "eval_every": 0,
    "eval_limit": 50,
    "save_every": 500,
    "export_dtype": "float32",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train sft`` options to ``parser``."""
    p = parser
    p.add_argument("--env", action="append", default=None, help="task id; repeat for several")
    p.add_argument("--recipe", default=None, help="named defaults, e.g. 'default'")
    p.add_argument("--out", required=True, help="run directory (checkpoints, final model)")
    p.add_argument("--export", default=None, help="also save the final policy here")
    p.add_argument("--export-dtype", default=None, choices=["float32", "float16", "bfloat16"])
    p.add_argument("--init", default=None, help="start from this pretrained model directory")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--traces-per-env", type=int, default=2000, help="problems per --env task")
    p.add_argument("--solutions-per-problem", type=int, default=4)
    p.add_argument("--data-scale", type=float, default=1.0, help="scale a recipe's data sizes")
    p.add_argument("--hidden", type=int, default=None)
    p.add_argument("--layers", type=int, default=None)
    p.add_argument("--heads", type=int, default=None)
    p.add_argument("--intermediate", type=int, default=None)
    p.add_argument("--max-positions", type=int, default=None)
    p.add_argument("--eval-every", type=int, default=None)
    p.add_argument("--eval-limit", type=int, default=None)
    p.add_argument("--save-every", type=int, default=None)
    p.add_argument(
        "--traces-file",
        default=None,
        help="JSONL(.gz) of traces: loaded when it exists, else built and written there",
    )
    p.add_argument(
        "--time-budget",
        type=float,
        default=None,
        help="seconds for the training loop: lowers --steps to what fits at the measured speed",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--no-progress", action="store_true")


def _settings(args: argparse.Namespace) -> tuple[dict[str, Any], list[str], dict | None]:
    from thinkgym.learning.recipes import get_recipe

    recipe = get_recipe(args.recipe) if args.recipe else None
    values: dict[str, Any] = {}
    for name in _RECIPE_FIELDS:
        given = getattr(args, name, None)
        if given is not None:
            values[name] = given
        elif recipe is not None:
            values[name] = getattr(recipe, name)
        else:
            values[name] = _FALLBACK[name]
    envs = list(args.env or (recipe.envs if recipe else []))
    if not envs:
        raise ValueError("give at least one --env (e.g. --env Arithmetic) or --recipe default")
    data = dict(recipe.data) if recipe is not None and not args.env else None
    return values, envs, data


def run(args: argparse.Namespace) -> int:
    """Run ``thinkgym train sft`` from parsed arguments; returns the exit status."""
    import torch

    from thinkgym.agents.llm import LLMPolicy, resolve_device
    from thinkgym.envs import resolve_id
    from thinkgym.learning.recipes import build_traces
    from thinkgym.learning.sft import sft
    from thinkgym.learning.traces import load_traces, make_traces, save_traces
    from thinkgym.models import build_char_tokenizer, build_tiny_model

    values, envs, data = _settings(args)
    envs = [resolve_id(e) for e in envs]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(args.device)
    torch.manual_seed(args.seed)
    traces_file = Path(args.traces_file) if args.traces_file else None
    if traces_file is not None and traces_file.exists():
        traces = load_traces(traces_file)
        print(f"[data] {len(traces)} traces from {traces_file}")
    elif data is not None:
        traces = build_traces(data, seed=args.seed, scale=args.data_scale)
    else:
        traces = []
        for env_id in envs:
            made = make_traces(
                env_id,
                args.traces_per_env,
                seed=2_000_000 + args.seed * 1_000_000,
                solutions_per_problem=args.solutions_per_problem,
            )
            print(f"[data] {env_id}: {len(made)} traces")
            traces.extend(made)
    if traces_file is not None and not traces_file.exists():
        save_traces(traces, traces_file)
        print(f"[data] wrote {len(traces)} traces to {traces_file}")
    if args.init:
        policy = LLMPolicy.from_pretrained(args.init, device=device)
    else:
        tok = build_char_tokenizer()
        model = build_tiny_model(
            tok,
            seed=args.seed,
            hidden_size=values["hidden"],
            layers=values["layers"],
            heads=values["heads"],
            intermediate_size=values["intermediate"],
            max_positions=values["max_positions"],
        )
        policy = LLMPolicy(model, tok, device=device)
    n_params = sum(p.numel() for p in policy.model.parameters())
    print(f"[model] {n_params / 1e6:.2f} M parameters on {device}; {len(traces)} traces")
    record = {
        "command": "thinkgym train sft",
        "recipe": args.recipe,
        "envs": envs,
        "seed": args.seed,
        "data_scale": args.data_scale,
        **values,
    }
    (out / "training_args.json").write_text(json.dumps(record, indent=2) + "\n")
    result = sft(
        policy,
        traces,
        steps=values["steps"],
        batch_size=values["batch_size"],
        lr=values["lr"],
        max_prompt_tokens=max(16, values["max_positions"] - 64),
        eval_envs=envs,
        eval_limit=values["eval_limit"],
        eval_every=values["eval_every"],
        out_dir=out,
        save_every=values["save_every"],
        resume=args.resume,
        seed=args.seed,
        progress=not args.no_progress,
        time_budget=args.time_budget,
    )
    record["steps"] = result.step
    final = out / "final"
    policy.save_pretrained(final)
    (final / "training_args.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / "result.json").write_text(
        json.dumps({"losses": result.losses, "evals": result.evals, "step": result.step}, indent=1)
        + "\n"
    )
    if args.export:
        export = Path(args.export)
        policy.save_pretrained(export, dtype=values["export_dtype"])
        (export / "training_args.json").write_text(json.dumps(record, indent=2) + "\n")
        print(f"[export] {export} ({values['export_dtype']})")
    if result.evals:
        print("[eval] " + json.dumps(result.evals[-1]))
    print(f"[done] step {result.step}, {result.seconds:.0f} s, final model in {final}")
    return 0
