"""``thinkgym train sft``: behaviour cloning of a (tiny or given) causal LM on solver traces.

Every training setting is a field of :class:`thinkgym.learning.sft.SFTConfig`; a ``--recipe``
supplies a whole config (and its data table), and options given on the command line override it.

Examples::

    thinkgym train sft --env Arithmetic --env LinearEquation --out runs/a --steps 2000
    thinkgym train sft --recipe default --out runs/policy --export thinkgym/data/policy
    thinkgym train sft --recipe default --out /tmp/smoke --steps 50 --data-scale 0.01 \\
        --eval-limit 5 --device cpu --log-dir /tmp/smoke/logs
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from thinkgym.commands._common import (
    CommandError,
    add_config_arguments,
    config_from_args,
    device_arg,
    env_name,
    existing_dir,
    resolve_device_arg,
    writable_dir,
)

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train sft`` options to ``parser``."""
    from thinkgym.learning.recipes import RECIPES
    from thinkgym.learning.sft import SFTConfig

    parser.add_argument(
        "--env",
        action="append",
        type=env_name,
        default=None,
        help="task to train on (short names are case-insensitive); repeat for several",
    )
    parser.add_argument(
        "--recipe",
        default=None,
        choices=sorted(RECIPES),
        help="named settings and data (see thinkgym/learning/recipes.py)",
    )
    parser.add_argument(
        "--out", required=True, type=writable_dir, help="run directory (checkpoints, final model)"
    )
    parser.add_argument(
        "--export", type=writable_dir, default=None, help="also save the policy here"
    )
    parser.add_argument(
        "--init",
        type=existing_dir,
        default=None,
        help="start from this model directory (saved with save_pretrained) instead of a new model",
    )
    parser.add_argument(
        "--traces-file",
        default=None,
        help="JSONL(.gz) of traces: loaded when it exists, else built and written there",
    )
    parser.add_argument("--device", type=device_arg, default="auto", help="auto, cpu, cuda, cuda:N")
    group = parser.add_argument_group("settings (SFTConfig; a --recipe changes the defaults)")
    add_config_arguments(group, SFTConfig)


def run(args: argparse.Namespace) -> int:
    """Run ``thinkgym train sft`` from parsed arguments; returns the exit status."""
    from thinkgym.learning.recipes import build_traces, get_recipe
    from thinkgym.learning.sft import SFTConfig

    recipe = get_recipe(args.recipe) if args.recipe else None
    cfg = config_from_args(args, recipe.config if recipe else SFTConfig())
    envs = list(args.env or (recipe.envs if recipe else []))
    if not envs:
        raise ValueError("give at least one --env (e.g. --env Arithmetic) or --recipe default")
    data = dict(recipe.data) if recipe is not None and not args.env else None
    if args.init:
        from thinkgym.checkpoints import check_model_dir

        check_model_dir(args.init, "policy")  # before the traces are made, not after
    traces_file = Path(args.traces_file) if args.traces_file else None
    if traces_file is not None and traces_file.exists() and not traces_file.is_file():
        raise ValueError(f"--traces-file {traces_file} is a directory; give a .jsonl(.gz) file")
    if traces_file is not None and not traces_file.exists():
        try:
            writable_dir(str(traces_file.parent))
        except argparse.ArgumentTypeError as exc:
            raise CommandError(f"--traces-file {traces_file}: {exc}") from None

    device = resolve_device_arg(args.device)

    import torch

    from thinkgym.agents.llm import LLMPolicy
    from thinkgym.learning.logging import log_metrics
    from thinkgym.learning.sft import sft
    from thinkgym.learning.traces import load_traces, make_traces, save_traces
    from thinkgym.models import build_char_tokenizer, build_tiny_model

    out: Path = args.out
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
    if args.init:
        policy = LLMPolicy.from_pretrained(args.init, device=device)
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
        policy = LLMPolicy(model, tok, device=device)
    n_params = sum(p.numel() for p in policy.model.parameters())
    print(f"[model] {n_params / 1e6:.2f} M parameters on {device}; {len(traces)} traces")
    record = {
        "command": "thinkgym train sft",
        "recipe": args.recipe,
        "envs": envs,
        "init": str(args.init) if args.init else None,
        **cfg.as_dict(),
    }
    (out / "training_args.json").write_text(json.dumps(record, indent=2) + "\n")
    # --log-dir (added by `thinkgym train`): the metrics of every step
    result = sft(policy, traces, cfg, eval_envs=envs, out_dir=out, on_step=log_metrics)
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
        policy.save_pretrained(export, dtype=cfg.export_dtype)
        (export / "training_args.json").write_text(json.dumps(record, indent=2) + "\n")
        print(f"[export] {export} ({cfg.export_dtype})")
    if result.evals:
        print("[eval] " + json.dumps(result.evals[-1]))
    print(f"[done] step {result.step}, {result.seconds:.0f} s, final model in {final}")
    return 0
