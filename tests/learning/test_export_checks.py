"""Exported data is what it says: traces of another task are refused, steps are lists."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("datasets")

from thinkgym.cli import main  # noqa: E402
from thinkgym.learning.export import prm_records, sft_records  # noqa: E402
from thinkgym.learning.traces import Trace, check_trace, make_traces, save_traces  # noqa: E402


def test_traces_of_another_env_are_refused_by_the_records():
    import gymnasium as gym

    import thinkgym  # noqa: F401

    arith = make_traces("Arithmetic", 3)
    game24 = gym.make("thinkgym/Game24-v0").unwrapped
    with pytest.raises(ValueError, match="Arithmetic-v0 cannot be exported as thinkgym/Game24-v0"):
        prm_records(arith, game24)
    with pytest.raises(ValueError, match="cannot be exported as thinkgym/Game24-v0"):
        sft_records(arith, game24)
    assert len(prm_records(make_traces("Game24", 2), game24)) == 2
    # a source that names no registered env must hold problems the env can read
    check_trace(Trace("game24-extra", "Numbers: 1 2 3 20 | Target: 24", ()), game24)
    with pytest.raises(ValueError, match="is not a thinkgym/Game24-v0 problem"):
        check_trace(Trace("my-data", "Evaluate: 1 + 1", ("Answer: 2",)), game24)


def test_export_command_refuses_traces_of_another_env(tmp_path, capsys):
    path = tmp_path / "arith_traces.jsonl"
    save_traces(make_traces("Arithmetic", 5), path)
    out = tmp_path / "out"
    argv = ["export", "--env", "Game24", "--traces", str(path), "--kind", "prm", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "cannot be exported as thinkgym/Game24-v0" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())


def test_export_command_refuses_a_steps_string(tmp_path, capsys):
    path = tmp_path / "traces.jsonl"
    row = {"env_id": "thinkgym/Arithmetic-v0", "head": "Evaluate: 1 + 1", "steps": "Answer: 2"}
    path.write_text(json.dumps(row) + "\n")
    argv = ["export", "--env", "Arithmetic", "--traces", str(path), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    assert "'steps' must be a list of step strings" in capsys.readouterr().err
