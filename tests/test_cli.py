"""The ``thinkgym`` command: structure (every command module follows the contract), version, help."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from thinkgym.cli import COMMANDS, build_parser, main
from thinkgym.commands.train import TRAIN_COMMANDS


@pytest.mark.parametrize("path", sorted({*COMMANDS.values(), *TRAIN_COMMANDS.values()}))
def test_every_command_module_follows_the_contract(path: str) -> None:
    module = importlib.import_module(path)
    assert callable(module.add_arguments) and callable(module.run)
    doc = (module.__doc__ or "").strip()
    assert doc.splitlines()[0], f"{path} needs a docstring whose first line is the help text"
    assert "Example" in doc, f"{path}'s docstring needs an Example section (shown by --help)"


def test_every_command_is_wired() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(COMMANDS)
    train = sub.choices["train"]
    tsub = next(a for a in train._actions if isinstance(a, argparse._SubParsersAction))
    assert set(tsub.choices) == set(TRAIN_COMMANDS)


def test_version_and_python_dash_m() -> None:
    from thinkgym import __version__

    out = subprocess.run(
        [sys.executable, "-m", "thinkgym", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"thinkgym {__version__}"


def test_list_prints_the_envs(capsys) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "thinkgym/Game24-v0" in out and "thinkgym/Arithmetic-v0" in out


def test_short_env_names_are_case_insensitive(capsys) -> None:
    from thinkgym.envs import resolve_id

    for name in ("game24", "GAME24-v0", "thinkgym/game24-v0", "Game24"):
        assert resolve_id(name) == "thinkgym/Game24-v0"
    assert main(["play", "game24", "COUNTDOWN", "--agent", "oracle", "--quiet"]) == 0
    assert "solved 2 of 2 episodes" in capsys.readouterr().out


def test_a_plugin_env_can_be_listed_and_played(tmp_path) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "register_custom_env.py"
    plugin = tmp_path / "my_env.py"
    plugin.write_text(
        "import runpy\nimport thinkgym\n"
        f"ns = runpy.run_path({str(example)!r})\n"
        "thinkgym.register(ns['DoubleOrAddEnv'], override=True)\n"
    )
    run = [sys.executable, "-m", "thinkgym"]
    out = subprocess.run(
        [*run, "list", "--plugin", str(plugin)], capture_output=True, text=True, check=True
    )
    assert "thinkgym/DoubleOrAdd-v0" in out.stdout
    out = subprocess.run(
        [*run, "play", "doubleoradd", "--agent", "oracle", "--plugin", str(plugin)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "solved 1 of 1 episodes" in out.stdout


@pytest.mark.parametrize("name", sorted(TRAIN_COMMANDS))
def test_every_train_command_takes_a_log_dir(name) -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    train = sub.choices["train"]
    tsub = next(a for a in train._actions if isinstance(a, argparse._SubParsersAction))
    assert "--log-dir" in tsub.choices[name]._option_string_actions


def test_train_sft_log_dir_writes_json_and_tensorboard(tmp_path, capsys) -> None:
    pytest.importorskip("torch")
    import json

    logs = tmp_path / "logs"
    argv = ["train", "sft", "--env", "countdown", "--out", str(tmp_path / "run"), "--steps", "3"]
    argv += ["--batch-size", "4", "--traces-per-env", "6", "--eval-limit", "1", "--hidden", "32"]
    argv += ["--layers", "1", "--heads", "2", "--max-positions", "128", "--device", "cpu"]
    argv += ["--no-progress", "--log-dir", str(logs)]
    assert main(argv) == 0
    rows = [json.loads(x) for x in (logs / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3] and all("loss" in r and "lr" in r for r in rows)
    assert "pass@1/thinkgym/Countdown-v0" in rows[-1]
    summary = json.loads((logs / "metrics.json").read_text())
    assert summary["config"]["train_command"] == "sft" and len(summary["history"]["loss"]) == 3
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return
    assert list(logs.glob("events.out.tfevents.*"))


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "register_custom_env.py"


def _run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "thinkgym", *argv], capture_output=True, text=True, cwd=cwd
    )


def _without(hook: str, tmp_path: Path) -> Path:
    """The example task with one hook method removed, as a plugin file."""
    src = EXAMPLE.read_text()
    start = src.index(f"    def {hook}(")
    end = src.index("\n    def ", start + 1)
    if "@staticmethod" in src[start:end]:
        end = src.index("    @staticmethod", start)
    plugin = tmp_path / f"no_{hook}.py"
    plugin.write_text(src[:start] + src[end + 1 :])
    return plugin


def test_the_example_task_registers_at_import_and_works_with_bench_and_export(tmp_path) -> None:
    out = _run("list", "--plugin", str(EXAMPLE))
    assert out.returncode == 0 and "thinkgym/DoubleOrAdd-v0" in out.stdout, out.stderr
    argv = ["bench", "--plugin", str(EXAMPLE), "--envs", "DoubleOrAdd", "--policy", "random"]
    argv += ["--planners", "greedy,best_of_n", "--budgets", "8", "--problems", "3", "--quiet"]
    out = _run(*argv, "--no-plot", "--out", str(tmp_path / "bench"))
    assert out.returncode == 0, out.stderr
    assert "thinkgym/DoubleOrAdd-v0 | best_of_n | 8" in out.stdout
    out = _run(
        "export", "--plugin", str(EXAMPLE), "--env", "DoubleOrAdd", "--problems", "5",
        "--out", str(tmp_path / "sft.jsonl"), "--format", "jsonl",
    )  # fmt: skip
    assert out.returncode == 0 and "sft records" in out.stdout, out.stderr


@pytest.mark.parametrize(
    "hook, argv",
    [
        ("parse_problem", ["bench", "--envs", "DoubleOrAdd", "--policy", "random"]),
        ("solve", ["play", "DoubleOrAdd", "--agent", "oracle"]),
        ("solve", ["export", "--env", "DoubleOrAdd", "--out", "{tmp}/x"]),
    ],
)
def test_a_missing_hook_is_one_line_naming_it_before_any_work(hook, argv, tmp_path) -> None:
    plugin = _without(hook, tmp_path)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    out = _run(*argv, "--plugin", str(plugin))
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and f"does not define {hook}(" in lines[0], out.stderr
    assert "register_custom_env.py" in lines[0]


def test_a_hook_missing_deep_inside_a_command_is_named_too() -> None:
    from thinkgym.commands._common import missing_hook_line
    from thinkgym.envs.base import ReasoningEnv

    class Bare(ReasoningEnv):
        pass

    try:
        Bare().candidate_steps(None)  # type: ignore[arg-type]
    except NotImplementedError as exc:
        wrapped = RuntimeError("a planner failed")
        wrapped.__cause__ = exc
        line = missing_hook_line(wrapped)
    assert line is not None and "candidate_steps(state)" in line
    assert missing_hook_line(RuntimeError("unrelated")) is None


def test_a_plugin_that_registers_nothing_is_reported(tmp_path) -> None:
    plugin = tmp_path / "empty_plugin.py"
    plugin.write_text(
        "import thinkgym\n\n\nclass Forgot:\n    pass\n\n\n"
        "if __name__ == '__main__':\n    thinkgym.register(Forgot)\n"
    )
    out = _run("list", "--plugin", str(plugin))
    assert out.returncode == 0
    assert "registered nothing" in out.stderr and "empty_plugin.py" in out.stderr
    assert "registered nothing" not in _run("list", "--plugin", str(EXAMPLE)).stderr


def _parsers(parser: argparse.ArgumentParser, name: str = "thinkgym"):
    """Every (command name, parser) of the ``thinkgym`` command, sub-subcommands included."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, subparser in action.choices.items():
                yield from _parsers(subparser, f"{name} {sub}")


def test_every_help_shows_every_default() -> None:
    import re

    missing = []
    for name, parser in _parsers(build_parser()):
        formatter = parser._get_formatter()
        for action in parser._actions:
            if not action.option_strings or action.nargs == 0:  # positionals, flags
                continue
            text = formatter._expand_help(action) if action.help else ""
            if not re.search(r"\(default[: ]|default:|None:|\(required\)", text):
                missing.append(f"{name} {action.option_strings[0]}: {text!r}")
    assert not missing, "\n".join(missing)


def test_out_and_out_dir_are_one_option_everywhere() -> None:
    for name, parser in _parsers(build_parser()):
        options = parser._option_string_actions
        if "--out" in options or "--out-dir" in options:
            assert options["--out"] is options["--out-dir"], name
            assert options["--out"].option_strings[0] == "--out", name


def test_export_takes_env_kwargs_and_refuses_more_problems_than_a_file_holds(tmp_path) -> None:
    pytest.importorskip("datasets")
    import json

    data = tmp_path / "mine.jsonl"
    rows = [
        {"question": "Tom has 3 apples and buys 4 more. How many apples?", "answer": "#### 7"},
        {"question": "A box holds 6 pens. How many pens are in 2 boxes?", "answer": "#### 12"},
        {"question": "Sara had 10 cookies and ate 3. How many are left?", "answer": "#### 7"},
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    kwargs = json.dumps({"data_files": str(data)})
    base = ["export", "--env", "MathWord", "--env-kwargs", kwargs, "--format", "jsonl"]
    out = _run(*base, "--problems", "5", "--out", str(tmp_path / "x.jsonl"))
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "--problems 5: the data holds 3 distinct training problems" in out.stderr
    assert not (tmp_path / "x.jsonl").exists()
    out = _run(
        *base, "--problems", "3", "--granularity", "trajectory", "--out", str(tmp_path / "y.jsonl")
    )
    assert out.returncode == 0, out.stderr
    written = [json.loads(x) for x in (tmp_path / "y.jsonl").read_text().splitlines()]
    prompts = [r["prompt"] for r in written]
    assert len(prompts) == 3 and len(set(prompts)) == 3  # each question once


def test_validate_kwargs_follows_kwargs_to_the_base_class_only_when_passed_up() -> None:
    from thinkgym.commands._common import CommandError, validate_kwargs

    class Base:
        def __init__(self, *, size: int = 1) -> None:
            if size < 1:
                raise ValueError(f"size={size!r} must be >= 1")

    class PassesUp(Base):
        def __init__(self, colour: str = "red", **kwargs) -> None:
            super().__init__(**kwargs)

    class KeepsThem(Base):
        def __init__(self, colour: str = "red", **task_config) -> None:
            super().__init__()
            self.task_config = task_config

    validate_kwargs(PassesUp, {"colour": "blue", "size": 2}, "--x", build=lambda kw: PassesUp(**kw))
    with pytest.raises(CommandError, match=r"--x: 'sise' is not an argument of PassesUp \(did you"):
        validate_kwargs(PassesUp, {"sise": 2}, "--x")
    with pytest.raises(CommandError, match="--x: size=0 must be >= 1"):
        validate_kwargs(PassesUp, {"size": 0}, "--x", build=lambda kw: PassesUp(**kw))
    validate_kwargs(KeepsThem, {"anything": 1}, "--x")  # its own **task_config takes any key
    with pytest.raises(CommandError, match="'colour' is set by --colour"):
        validate_kwargs(PassesUp, {"colour": "x"}, "--x", reserved={"colour": "--colour"})
