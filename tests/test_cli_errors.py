"""Every subcommand's error paths, run as the user runs them: a subprocess per bad command line.

Each must exit non-zero with a one-line message on stderr that explains the problem (and, where
there are choices, suggests one), and never print a traceback. The invocations are chosen to fail
before any model is built or data is made, so the module stays fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from thinkgym.cli import COMMANDS
from thinkgym.commands.train import TRAIN_COMMANDS

_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
_ENV.pop("THINKGYM_DEBUG", None)


def thinkgym(
    *argv: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "thinkgym", *argv],
        capture_output=True,
        text=True,
        env=_ENV,
        cwd=cwd,
        timeout=timeout,
    )


def assert_clean_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """Non-zero exit, no traceback, and one ``error:`` line (the last one) holding ``needles``."""
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "Traceback" not in out, out
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error:" in ln]
    assert len(errors) == 1 and errors[0] == lines[-1], proc.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


# one bad command line per row: (argv, words the error line must contain); ``{tmp}`` is a fresh
# temporary directory, ``{file}`` a file in it.
CASES = [
    ([], ["required", "COMMAND"]),
    (["frobnicate"], ["invalid choice", "train"]),
    (["list", "--plugin", "{tmp}/missing_plugin.py"], ["missing_plugin.py", "no such file"]),
    (["list", "--plugin", "no_such_module_xyz"], ["no_such_module_xyz"]),
    (["play", "Gmae24"], ["Gmae24", "did you mean 'Game24'"]),
    (["play", "Game24", "--episodes", "0"], ["--episodes", "0 must be >= 1"]),
    (["play", "Game24", "--agent", "robot"], ["robot"]),
    (["play", "Game24", "--agent", "policy", "--policy", "{tmp}/typo"], ["typo"]),
    (["play", "Game24", "--temperature", "nan"], ["--temperature", "nan"]),
    (["play", "Game24", "--temperature", "-1"], ["--temperature", "-1 must be >= 0"]),
    (["bench", "--envs", "Gmae24"], ["Gmae24", "Game24"]),
    (["bench", "--envs", "Game24", "--planners", "bem"], ["bem", "beam"]),
    (["bench", "--budgets", "0"], ["--budgets", "0"]),
    (["bench", "--problems", "-3"], ["--problems", "-3"]),
    (["bench", "--temperature", "inf"], ["--temperature", "inf"]),
    (["bench", "--envs", "Game24", "--policy", "{tmp}/typo"], ["typo"]),
    (["bench", "--out", "{file}/sub"], ["--out", "is a file"]),
    (["train", "sft", "--out", "{tmp}/run"], ["--env"]),
    (["train", "sft", "--env", "Arithmetc", "--out", "{tmp}/run"], ["did you mean 'Arithmetic'"]),
    (["train", "sft", "--env", "Arithmetic", "--out", "{tmp}/r", "--lr", "nan"], ["--lr", "nan"]),
    (["train", "sft", "--env", "Arithmetic", "--out", "{tmp}/r", "--lr", "-1"], ["--lr", "> 0"]),
    (
        ["train", "sft", "--env", "Arithmetic", "--out", "{tmp}/r", "--batch-size", "0"],
        ["--batch-size"],
    ),
    (
        ["train", "sft", "--env", "Arithmetic", "--out", "{tmp}/r", "--heads", "3"],
        ["--heads", "divide"],
    ),
    (["train", "sft", "--env", "Arithmetic", "--out", "{tmp}/r", "--device", "tpu"], ["tpu"]),
    (["train", "sft", "--env", "Arithmetic", "--out", "{tmp}/r", "--init", "{tmp}/typo"], ["typo"]),
    (
        ["train", "sft", "--env", "Arithmetic", "--out", "{tmp}/r", "--init", "{tmp}"],
        ["config.json"],
    ),
    (["train", "sft", "--env", "Arithmetic", "--out", "{file}/r"], ["--out", "is a file"]),
    (["train", "sft", "--recipe", "nope", "--out", "{tmp}/r"], ["--recipe", "nope"]),
    (
        [
            "train",
            "sft",
            "--env",
            "Arithmetic",
            "--out",
            "{tmp}/r",
            "--traces-file",
            "{file}/t.jsonl",
        ],
        ["--traces-file"],
    ),
    (
        ["train", "sft", "--env", "Arithmetic", "--out", "{tmp}/r", "--log-dir", "{file}/l"],
        ["--log-dir"],
    ),
    (["export", "--env", "Gmae24", "--out", "{tmp}/x"], ["Gmae24", "Game24"]),
    (["export", "--env", "Arithmetic", "--kind", "ppo", "--out", "{tmp}/x"], ["ppo"]),
    (
        ["export", "--env", "Arithmetic", "--format", "parquet", "--out", "{tmp}/x.jsonl"],
        ["x.jsonl", "--format is parquet", "--format jsonl"],
    ),
    (["export", "--env", "Arithmetic", "--out", ""], ["--out", "empty"]),
    (["bench", "--out", ""], ["--out", "empty"]),
    (["bench", "--seeds", "0,,1"], ["--seeds", "0,,1", "empty item"]),
    (["bench", "--envs", "Game24,,Arithmetic"], ["--envs", "empty item"]),
    (
        ["export", "--env", "Arithmetic", "--env-kwargs", '{"difficulty": 99}', "--out", "{tmp}/x"],
        ["--env-kwargs", "difficulty=99", "0 to 4"],
    ),
    (
        ["export", "--env", "Arithmetic", "--env-kwargs", '{"dificulty": 2}', "--out", "{tmp}/x"],
        ["--env-kwargs", "'dificulty'", "did you mean 'difficulty'"],
    ),
    (
        [
            "export",
            "--env",
            "MathWord",
            "--env-kwargs",
            '{"data_files": "{file}"}',
            "--out",
            "{tmp}/x",
        ],
        ["--env-kwargs", "a_file.txt"],
    ),
]


# the other train commands (each present only once its module is in TRAIN_COMMANDS)
RL_CASES = [
    (["train", "sb3", "--env", "Gmae24", "--out", "{tmp}/r"], ["did you mean 'Game24'"]),
    (["train", "sb3", "--env", "Game24", "--out", "{tmp}/r", "--ent-coef", "nan"], ["--ent-coef"]),
    (["train", "sb3", "--env", "Game24", "--out", "{tmp}/r", "--lr", "0"], ["--lr"]),
    (["train", "sb3", "--env", "Game24", "--out", "{tmp}/r", "--n-envs", "0"], ["--n-envs"]),
    (["train", "sb3", "--env", "Game24", "--out", "{file}/r"], ["--out", "is a file"]),
]
for _algo in ("grpo", "ppo", "expert-iteration"):
    RL_CASES += [
        (["train", _algo, "--env", "Gmae24"], ["did you mean 'Game24'"]),
        (["train", _algo, "--env", "Arithmetic", "--lr", "nan"], ["--lr", "nan"]),
        (["train", _algo, "--env", "Arithmetic", "--lr", "0"], ["--lr"]),
        (["train", _algo, "--env", "Arithmetic", "--policy", "{tmp}/typo"], ["typo"]),
        (["train", _algo, "--env", "Arithmetic", "--out-dir", "{file}/r"], ["--out-dir"]),
        (["train", _algo, "--env", "Arithmetic", "--env-kwargs", "{bad"], ["--env-kwargs"]),
        (["train", _algo, "--env", "Arithmetic", "--device", "tpu"], ["tpu"]),
    ]
RL_CASES += [
    (["train", "expert-iteration", "--env", "Arithmetic", "--planner", "bem"], ["bem", "beam"]),
    (["train", "expert-iteration", "--env", "Arithmetic", "--rounds", "0"], ["--rounds"]),
    (["train", "grpo", "--env", "Arithmetic", "--eval-limit", "0"], ["--eval-limit 0", ">= 1"]),
    (["train", "ppo", "--env", "Arithmetic", "--vf-epochs", "0"], ["--vf-epochs 0", ">= 1"]),
    (["train", "sb3", "--env", "Game24", "--gamma", "2"], ["--gamma", "(0, 1]"]),
    (
        ["train", "grpo", "--env", "Arithmetic", "--env-kwargs", '{"reward": "x"}'],
        ["--env-kwargs", "'reward'", "--reward"],
    ),
    (
        ["train", "ppo", "--env", "Arithmetic", "--env-kwargs", '{"max_steps": -1}'],
        ["--env-kwargs", "max_steps=-1"],
    ),
    (
        ["train", "expert-iteration", "--env", "Arithmetic", "--planner-kwargs", '{"bogus": 1}'],
        ["--planner-kwargs", "'bogus'", "BestOfN"],
    ),
    (
        ["train", "expert-iteration", "--env", "Arithmetic", "--planner", "beam"]
        + ["--planner-kwargs", '{"beam_size": 0}'],
        ["--planner-kwargs", "beam_size=0"],
    ),
    (
        ["train", "expert-iteration", "--env", "Arithmetic", "--planner-kwargs", '{"budget": -1}'],
        ["--planner-kwargs", "policy_calls=-1"],
    ),
    (
        ["train", "expert-iteration", "--env", "Arithmetic", "--planner", "beam"],
        ["'n'", "--planner-kwargs '{}'"],
    ),
]
CASES += [
    pytest.param(
        argv,
        needles,
        marks=pytest.mark.skipif(argv[1] not in TRAIN_COMMANDS, reason=f"no train {argv[1]}"),
    )
    for argv, needles in RL_CASES
]


def _id(case) -> str:
    argv = case.values[0] if hasattr(case, "values") else case[0]
    return " ".join(argv) or "(none)"


def _fill(argv: list[str], tmp: Path) -> list[str]:
    file = tmp / "a_file.txt"
    file.write_text("not a directory\n")
    return [a.replace("{tmp}", str(tmp)).replace("{file}", str(file)) for a in argv]


@pytest.mark.parametrize("argv, needles", CASES, ids=[_id(c) for c in CASES])
def test_bad_arguments_end_in_one_line_without_traceback(argv, needles, tmp_path) -> None:
    assert_clean_error(thinkgym(*_fill(argv, tmp_path)), *needles)


def test_a_usage_error_is_one_line_with_a_hint_not_the_usage_block() -> None:
    proc = thinkgym("bench", "--budgets", "0")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "thinkgym bench: error: argument --budgets: 0 must be >= 1 (see `thinkgym bench --help`)"
    ]


@pytest.mark.parametrize("argv", [["--env", "Arithmetic", "--kwargs-typo"], ["--nope"]])
def test_every_usage_error_names_the_help(argv) -> None:
    proc = thinkgym("export", *argv)
    assert_clean_error(proc, "see `thinkgym export --help`")
    assert "usage:" not in proc.stderr


def test_work_heavy_commands_refuse_bad_kwargs_within_seconds(tmp_path) -> None:
    import time

    t0 = time.perf_counter()
    proc = thinkgym(
        "train",
        "expert-iteration",
        "--env",
        "Arithmetic",
        "--planner-kwargs",
        '{"bogus": 1}',
        "--out",
        str(tmp_path / "r"),
    )
    assert_clean_error(proc, "'bogus'")
    assert time.perf_counter() - t0 < 20  # no policy was loaded, no problem searched
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "--envs", "Game24"],
        ["export", "--env", "Game24"],
        ["train", "grpo", "--env", "Arithmetic"],
        ["train", "sft", "--env", "Arithmetic"],
    ],
    ids=" ".join,
)
def test_an_unwritable_out_is_refused_before_any_work(argv) -> None:
    # /proc refuses new files even to root, whatever its permission bits say
    assert_clean_error(thinkgym(*argv, "--out", "/proc/thinkgym-out"), "--out", "not writable")


def test_arithmetic_refuses_a_difficulty_beyond_the_hardest() -> None:
    import thinkgym as tg

    tg.make("Arithmetic", difficulty=4)
    with pytest.raises(ValueError, match="difficulty=99 must be 0 to 4"):
        tg.make("Arithmetic", difficulty=99)


def _all_commands() -> list[list[str]]:
    return [[c] for c in COMMANDS if c != "train"] + [["train", t] for t in TRAIN_COMMANDS]


@pytest.mark.parametrize("cmd", _all_commands(), ids=" ".join)
def test_every_command_refuses_a_missing_plugin(cmd, tmp_path) -> None:
    proc = thinkgym(*cmd, "--plugin", str(tmp_path / "nope.py"))
    # a required option may be reported first; either way: one clean line
    assert_clean_error(proc)


@pytest.mark.parametrize("cmd", [*_all_commands(), []], ids=lambda c: " ".join(c) or "thinkgym")
def test_every_command_has_help_with_an_example(cmd) -> None:
    proc = thinkgym(*cmd, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "example" in proc.stdout.lower(), proc.stdout


def test_device_cuda_without_cuda_is_refused(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = thinkgym(
        "train", "sft", "--env", "Arithmetic", "--out", str(tmp_path / "r"), "--device", "cuda"
    )
    assert_clean_error(proc, "CUDA is not available", "--device cpu")


def test_a_non_finite_loss_stops_the_command_and_saves_nothing(tmp_path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "run"
    argv = ["train", "sft", "--env", "Countdown", "--out", str(out), "--lr", "1e30"]
    argv += ["--steps", "40", "--batch-size", "4", "--traces-per-env", "8", "--eval-limit", "1"]
    argv += ["--hidden", "32", "--layers", "1", "--heads", "2", "--max-positions", "128"]
    argv += ["--grad-clip", "0", "--warmup", "1", "--device", "cpu", "--no-progress"]
    proc = thinkgym(*argv)
    assert_clean_error(proc, "training loss is", "nothing was saved", "lower the learning rate")
    assert not (out / "final").exists() and not (out / "checkpoints").exists()


@pytest.mark.parametrize(
    "code, needles",
    [
        ("x = (\n", ["SyntaxError", "bad_plugin.py"]),
        ("raise RuntimeError('boom')\n", ["boom", ":1"]),
        ("raise SystemExit(0)\n", ["sys.exit(0)", "__main__"]),
        ("import sys\nsys.exit('usage: ...')\n", ["sys.exit('usage: ...')"]),
    ],
)
def test_a_broken_plugin_is_one_line_naming_where(tmp_path, code, needles) -> None:
    plugin = tmp_path / "bad_plugin.py"
    plugin.write_text(code)
    assert_clean_error(thinkgym("list", "--plugin", str(plugin)), "--plugin", *needles)
