"""``thinkgym train sft``: behaviour cloning of a (tiny or given) causal LM on solver traces.

Every training setting is a field of :class:`thinkgym.learning.sft.SFTConfig`; a ``--recipe``
supplies a whole config (and its data table), and options given on the command line override it.
``--policy DIR`` (alias ``--init``) fine-tunes a trained policy instead of a new model; its
learning rate then defaults to 1e-4.

Examples::

    thinkgym train sft --env Arithmetic --env LinearEquation --out runs/a --steps 2000
    thinkgym train sft --recipe default --out runs/policy --export thinkgym/data/policy
    thinkgym train sft --env Game24 --policy default --out runs/g24-ft --steps 200
    thinkgym train sft --recipe default --out /tmp/smoke --steps 50 --data-scale 0.01 \\
        --eval-limit 5 --device cpu --log-dir /tmp/smoke/logs
"""

from __future__ import annotations

import argparse
from pathlib import Path

from thinkgym.commands._common import (
    CommandError,
    add_config_arguments,
    config_from_args,
    device_arg,
    env_name,
    resolve_device_arg,
    writable_dir,
)

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train sft`` options to ``parser``."""
    from thinkgym.commands._common import policy_spec
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
        "--out",
        required=True,
        type=writable_dir,
        help="run directory (checkpoints, final model)",
    )
    parser.add_argument(
        "--export", type=writable_dir, default=None, help="also save the policy here"
    )
    parser.add_argument(
        "--policy",
        "--init",
        dest="init",
        type=policy_spec,
        default=None,
        help="start from this policy: a model directory (saved with save_pretrained), 'default' "
        "(the shipped one), a registered name or FILE.py:FACTORY; the learning rate then "
        "defaults to 1e-4 (fine-tuning) instead of 1e-3 (default: a new model)",
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
    from thinkgym.learning.sft_run import SFTRunConfig, train_sft

    base = SFTRunConfig.from_recipe(args.recipe) if args.recipe else SFTRunConfig()
    run_fields = {
        "envs": list(args.env or []),
        "out": str(args.out),
        "init": None if args.init is None else str(args.init),
        "traces_file": args.traces_file,
        "export": None if args.export is None else str(args.export),
        "device": args.device,
    }
    settings = argparse.Namespace(**{k: v for k, v in vars(args).items() if k not in run_fields})
    cfg = config_from_args(settings, base.replace(**run_fields))
    if not cfg.envs and cfg.recipe is None:
        raise ValueError("give at least one --env (e.g. --env Arithmetic) or --recipe default")
    traces_file = Path(cfg.traces_file) if cfg.traces_file else None
    if traces_file is not None and traces_file.exists() and not traces_file.is_file():
        raise ValueError(f"--traces-file {traces_file} is a directory; give a .jsonl(.gz) file")
    if traces_file is not None and not traces_file.exists():
        try:
            writable_dir(str(traces_file.parent))
        except argparse.ArgumentTypeError as exc:
            raise CommandError(f"--traces-file {traces_file}: {exc}") from None
    resolve_device_arg(args.device)
    train_sft(cfg)
    return 0
