"""``thinkgym train sb3`` evaluates on held-out problems: the eval env draws ``split="test"``."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("sb3_contrib")


def test_eval_env_draws_the_test_split_and_training_envs_the_train_split(
    tmp_path, monkeypatch
) -> None:
    from thinkgym.commands import train_sb3
    from thinkgym.learning import sb3_run

    made: list[str] = []
    original = sb3_run.make_env

    def recording(*args: Any, **kwargs: Any) -> Any:
        env = original(*args, **kwargs)
        made.append(env.unwrapped.split)
        return env

    monkeypatch.setattr(sb3_run, "make_env", recording)
    parser = argparse.ArgumentParser()
    train_sb3.add_arguments(parser)
    argv = "--algo MaskablePPO --env Game24 --timesteps 32 --n-envs 2 --n-steps 16"
    argv += f" --save-freq 64 --eval-freq 32 --eval-episodes 1 --out {tmp_path}"
    assert train_sb3.run(parser.parse_args(argv.split())) == 0
    # one fail-fast check env, two training envs, one eval env
    assert sorted(made) == ["test", "train", "train", "train"], made
