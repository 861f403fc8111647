"""The trainer registry: one signature, TrainResult, register_trainer, and `thinkgym train` built
from the registry (a plugin's trainer appears in --help and runs)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap

import pytest

from thinkgym.learning import (
    TrainResult,
    get_trainer,
    list_trainers,
    register_trainer,
    train,
)
from thinkgym.learning import registry as reg

PLUGIN = textwrap.dedent(
    '''
    """A plugin trainer: counts to a number (a stand-in for any training loop)."""
    from dataclasses import dataclass
    from pathlib import Path

    from thinkgym.learning import TrainResult, register_trainer


    @dataclass
    class CountConfig:
        """Settings of the counting trainer."""

        to: int = 3
        """how far to count"""
        out_dir: str = "runs/count"
        """where the count is written"""

        def validate(self):
            if self.to < 1:
                raise ValueError(f"to={self.to!r} must be >= 1")


    def count(config, *, policy=None):
        """Count to a number, one row per step."""
        config.validate()
        Path(config.out_dir).mkdir(parents=True, exist_ok=True)
        (Path(config.out_dir) / "count.txt").write_text(str(config.to))
        return TrainResult(
            out_dir=Path(config.out_dir),
            history=[{"step": k} for k in range(1, config.to + 1)],
            metrics={"counted": config.to, "policy": policy},
        )


    register_trainer("count-test", CountConfig, count)
    '''
)


@dataclasses.dataclass
class _Cfg:
    n: int = 1
    """a number"""


def _fn(config, *, policy=None):
    """Return the number."""
    return TrainResult(metrics={"n": config.n, "policy": policy})


@pytest.fixture()
def registered():
    register_trainer("echo-test", _Cfg, _fn)
    yield "echo-test"
    reg._TRAINERS.pop("echo-test", None)


def test_every_builtin_trainer_has_a_config_and_one_signature() -> None:
    assert list_trainers()[:6] == ["sft", "sb3", "expert-iteration", "grpo", "ppo", "rm"]
    for name in list_trainers()[:6]:
        trainer = get_trainer(name)
        cls = trainer.config_cls
        assert dataclasses.is_dataclass(cls) and callable(cls().validate), name
        params = __import__("inspect").signature(trainer.fn).parameters
        assert list(params)[0] == "config" and params["policy"].kind.name == "KEYWORD_ONLY", name


def test_register_refuses_duplicates_and_bad_configs(registered) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_trainer(registered, _Cfg, _fn)
    with pytest.raises(ValueError, match="already registered"):
        register_trainer("grpo", _Cfg, _fn)

    class NotData:
        pass

    with pytest.raises(TypeError, match="must be a dataclass"):
        register_trainer("x-test", NotData, _fn)

    @dataclasses.dataclass
    class Needs:
        x: int

    with pytest.raises(TypeError, match="needs a default for every field"):
        register_trainer("x-test", Needs, _fn)
    with pytest.raises(ValueError, match="letters, digits"):
        register_trainer("a b", _Cfg, _fn)
    assert "x-test" not in list_trainers()


def test_train_dispatches_checks_the_config_and_names_unknowns(registered) -> None:
    assert train(registered, _Cfg(n=4), policy="oracle").metrics == {"n": 4, "policy": "oracle"}
    assert train(registered, n=2).metrics["n"] == 2
    with pytest.raises(TypeError, match="_Cfg has no field 'm'; fields: n"):
        train(registered, m=2)
    with pytest.raises(TypeError, match="has no field 'iteration'.*did you mean 'iterations'"):
        train("grpo", iteration=2)
    with pytest.raises(TypeError, match="takes a _Cfg, got GRPOConfig"):
        from thinkgym.learning import GRPOConfig

        train(registered, GRPOConfig())
    with pytest.raises(KeyError, match="unknown trainer 'gpro'.*did you mean 'grpo'"):
        train("gpro")
    assert get_trainer(registered).summary == "Return the number"


def test_a_plugin_trainer_appears_in_help_and_runs(tmp_path) -> None:
    plugin = tmp_path / "count_plugin.py"
    plugin.write_text(PLUGIN)
    run = [sys.executable, "-m", "thinkgym", "train", "--plugin", str(plugin)]
    helped = subprocess.run([*run, "--help"], capture_output=True, text=True)
    assert helped.returncode == 0, helped.stderr
    assert "count-test" in helped.stdout and "Count to a number" in helped.stdout
    own = subprocess.run([*run, "count-test", "--help"], capture_output=True, text=True)
    assert "how far to count (default: 3)" in " ".join(own.stdout.split()), own.stdout
    out = tmp_path / "c"
    done = subprocess.run(
        [*run, "count-test", "--to", "5", "--out-dir", str(out), "--policy", "random"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[0]) == {"counted": 5, "policy": "random"}
    assert (out / "count.txt").read_text() == "5"
    bad = subprocess.run([*run, "count-test", "--to", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--to 0 must be >= 1" in bad.stderr


# ---------------------------------------------------------------------------- real trainers
def _tiny_dir(tmp_path):
    pytest.importorskip("torch")
    from thinkgym.agents.llm import LLMPolicy
    from thinkgym.models import build_char_tokenizer, build_tiny_model

    tok = build_char_tokenizer()
    model = build_tiny_model(tok, hidden_size=32, layers=1, heads=2, max_positions=128)
    LLMPolicy(model, tok, device="cpu").save_pretrained(tmp_path / "start")
    return tmp_path / "start"


def test_sft_from_a_pretrained_policy_defaults_to_a_fine_tuning_rate(tmp_path) -> None:
    from thinkgym.learning import SFTRunConfig
    from thinkgym.learning.sft import FINETUNE_LR, SCRATCH_LR

    assert FINETUNE_LR < SCRATCH_LR
    small = dict(
        envs=["Countdown"],
        steps=2,
        batch_size=4,
        traces_per_env=4,
        eval_limit=1,
        hidden=32,
        layers=1,
        heads=2,
        max_positions=128,
        device="cpu",
        progress=False,
    )
    scratch = train("sft", SFTRunConfig(out=str(tmp_path / "a"), **small))
    tuned = train("sft", SFTRunConfig(out=str(tmp_path / "b"), **small), policy=_tiny_dir(tmp_path))
    assert scratch.metrics["lr"] == SCRATCH_LR and tuned.metrics["lr"] == FINETUNE_LR
    record = json.loads((tmp_path / "b" / "training_args.json").read_text())
    assert record["lr"] == FINETUNE_LR
    assert isinstance(tuned, TrainResult) and (tuned.policy_dir / "config.json").is_file()
    assert [r["step"] for r in tuned.history] == [1, 2] and "loss" in tuned.history[-1]
    explicit = train("sft", SFTRunConfig(out=str(tmp_path / "c"), lr=3e-4, init="default", **small))
    assert explicit.metrics["lr"] == 3e-4


def test_grpo_through_the_registry_takes_a_policy_spec(tmp_path) -> None:
    pytest.importorskip("torch")
    from learning_toy import register_toy

    from thinkgym.learning import GRPOConfig

    cfg = GRPOConfig(
        env=register_toy(),
        env_kwargs={"rule": "high"},
        out_dir=str(tmp_path / "g"),
        iterations=1,
        problems_per_iter=2,
        group_size=2,
        max_new_tokens=6,
        eval_limit=2,
        kl_coef=0.0,
        device="cpu",
    )
    result = train("grpo", cfg, policy=str(_tiny_dir(tmp_path)))
    assert [r["iteration"] for r in result.history] == [0, 1]
    assert set(result.metrics) >= {"pass@1", "pass@1_start", "iterations"}
    assert (result.policy_dir / "config.json").is_file() and result.policy is not None
    with pytest.raises(TypeError, match="trains a policy with a torch model"):
        train("grpo", cfg, policy="random")


def test_train_rm_command_runs_the_reward_model_trainer(tmp_path, capsys) -> None:
    pytest.importorskip("torch")
    from thinkgym.cli import main

    out = tmp_path / "rm"
    argv = ["train", "rm", "--policy", "random", "--quick", "--only", "arithmetic"]
    argv += ["--arith-difficulty", "1", "--out", str(out)]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["models"]) == {"prm_arithmetic", "orm_arithmetic"}
    assert "orm_arithmetic" in capsys.readouterr().out
    assert main(["train", "rm", "--labels", "hard,oracle", "--out", str(out)]) == 2
    assert (
        "--labels 'hard,oracle': use a comma list of hard, soft, check" in capsys.readouterr().err
    )


def test_list_fields_are_repeated_options() -> None:
    from thinkgym.cli import build_parser
    from thinkgym.commands.train import _config
    from thinkgym.learning import RewardModelConfig

    args = build_parser().parse_args(["train", "rm", "--score-prm", "a", "--score-prm", "b"])
    assert args.score_prm == ["a", "b"]
    args = build_parser().parse_args(["train", "rm", "--quick"])
    assert _config(args, RewardModelConfig).score_prm == []
