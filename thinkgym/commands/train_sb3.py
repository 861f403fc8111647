"""``thinkgym train sb3``: stable-baselines3 (PPO, A2C, MaskablePPO) on a wrapped thinkgym env.

``--wrapper candidates``: the action picks one of the task's candidate steps and a small network
shared across candidates ranks them (:class:`thinkgym.learning.sb3.CandidateScorerPolicy`).
``--wrapper tokens``: the action is one token and the policy is a causal LM
(:class:`thinkgym.learning.sb3.LLMActorCriticPolicy`, default: the shipped policy); the trained LM
is saved with ``save_pretrained`` in ``OUT/final`` and loads as an ``LLMPolicy``.

Logs go through SB3's logger (stdout, CSV, and TensorBoard when installed) in ``OUT``; a
``CheckpointCallback`` saves ``OUT/checkpoints``; an evaluation callback plays held-out problems
(the env's ``split="test"``; training envs draw ``split="train"``, so they never meet; Game24's
test split is the 100 Tree-of-Thoughts puzzles).

Every option is a field of :class:`thinkgym.learning.sb3_run.SB3Config`; ``--policy`` (alias
``--model``) names the LM of ``--wrapper tokens``.

Examples::

    thinkgym train sb3 --algo MaskablePPO --env Game24 --wrapper candidates --out runs/g24 \\
        --timesteps 200000
    thinkgym train sb3 --algo PPO --env Arithmetic --difficulty 1 --wrapper tokens \\
        --out runs/arith_tok --timesteps 4096 --lr 1e-5 --n-envs 4 --n-steps 256
"""

from __future__ import annotations

import argparse
import dataclasses

__all__ = ["add_arguments", "run"]

_REQUIRED = ("--env",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train sb3`` options (one per field of ``SB3Config``) to ``parser``."""
    from thinkgym.commands._common import add_config_arguments, choice
    from thinkgym.learning.sb3_run import ALGOS, VECS, WRAPPERS, SB3Config

    add_config_arguments(parser, SB3Config)
    actions = parser._option_string_actions
    for option, choices in (("--algo", ALGOS), ("--wrapper", WRAPPERS), ("--vec", VECS)):
        actions[option].type = choice(*choices)
        actions[option].metavar = "{" + ",".join(choices) + "}"
    for option in _REQUIRED:
        actions[option].required = True
    policy = actions["--policy"]  # the LM of --wrapper tokens; --model is its old name
    policy.option_strings.append("--model")
    actions["--model"] = policy


def run(args: argparse.Namespace) -> int:
    """Run ``thinkgym train sb3``; returns the exit status."""
    from thinkgym.commands._common import error_line
    from thinkgym.learning.sb3_run import SB3Config, train_sb3

    given = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(SB3Config)
        if hasattr(args, f.name) and getattr(args, f.name) is not None
    }
    for key in ("out", "policy"):
        if key in given:
            given[key] = str(given[key])
    cfg = SB3Config(**given)
    try:
        cfg.validate()
    except ValueError as exc:  # name the options, keep the error's kind
        text = error_line(exc)
        for f in dataclasses.fields(SB3Config):
            text = text.replace(f"{f.name}=", f"--{f.name.replace('_', '-')} ")
        raise ValueError(text) from None
    train_sb3(cfg)
    return 0
