"""``thinkgym play``: a person at the terminal (input piped), the shipped policy, scripted agents."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

import thinkgym
from thinkgym.agents import OracleAgent

_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def play(*argv: str, stdin: str = "") -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "thinkgym", "play", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=_ENV,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def _oracle_steps(env_id: str, seed: int) -> list[str]:
    env = thinkgym.make(env_id)
    agent = OracleAgent(env)
    obs, info = env.reset(seed=seed)
    steps, done = [], False
    while not done:
        step = agent.act(obs, info)
        steps.append(step)
        obs, _, terminated, truncated, info = env.step(step)
        done = terminated or truncated
    assert info["correct"]
    return steps


def test_a_person_solves_with_a_rejected_step_and_an_undo() -> None:
    steps = _oracle_steps("thinkgym/Arithmetic-v0", 4)
    session = [steps[0], "this is not a step", "undo", "show", *steps[1:]]
    proc = play("arithmetic", "--seed", "4", stdin="\n".join(session) + "\n")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "rejected:" in out  # the reason follows
    assert re.search(r"rejected: .+\(reward -\d", out)
    assert "undone; now:" in out
    assert "== solved! return=" in out and "solved 1 of 1 episodes" in out


def test_undo_after_a_wrong_answer_goes_back_and_end_of_input_stops() -> None:
    proc = play("Game24", "--seed", "0", stdin="Answer: 1 + 1\nundo\n")
    assert proc.returncode == 0
    assert "wrong answer" in proc.stdout and "undone" in proc.stdout
    assert "stopped" in proc.stdout  # end of input ends the session cleanly


def test_hint_shows_the_policy_candidates_with_log_probs() -> None:
    pytest.importorskip("torch")
    proc = play("Game24", "--seed", "0", "--hint-samples", "4", stdin="hint\nquit\n")
    assert proc.returncode == 0, proc.stderr
    assert "top candidates" in proc.stdout
    rows = re.findall(r"^\s+(-?\d+\.\d+)\s+\d+x\s+\S", proc.stdout, flags=re.M)
    assert rows and all(float(r) <= 0 for r in rows)
    assert [float(r) for r in rows] == sorted((float(r) for r in rows), reverse=True)


def test_the_shipped_policy_plays() -> None:
    pytest.importorskip("torch")
    proc = play("Game24", "--agent", "policy", "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^policy> .+log-prob -?\d", proc.stdout, flags=re.M)
    assert re.search(r"solved \d of 1 episodes", proc.stdout.splitlines()[-1])


def test_scripted_agents_play_every_env() -> None:
    proc = play("Game24", "countdown", "--agent", "oracle", "--quiet", "--episodes", "2")
    assert proc.returncode == 0 and "solved 4 of 4 episodes" in proc.stdout
    proc = play("Arithmetic", "--agent", "random", "--quiet")
    assert proc.returncode == 0 and re.search(r"solved [01] of 1 episodes", proc.stdout)


def test_a_person_must_name_the_env() -> None:
    proc = play(stdin="")
    assert proc.returncode == 2 and "name the env" in proc.stderr


def test_a_wrong_answer_says_wrong_and_the_next_piped_line_starts_the_next_episode() -> None:
    steps = _oracle_steps("thinkgym/Arithmetic-v0", 1)
    session = ["Answer: 123456789", *steps]
    proc = play("arithmetic", "--seed", "0", "--episodes", "2", stdin="\n".join(session) + "\n")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "  wrong" in out and "rejected" not in out.split("== wrong answer")[0]
    # the line after the lost episode was played in episode 2, not swallowed by a prompt
    assert "== solved!" in out and out.rstrip().endswith("solved 1 of 2 episodes")


def test_quit_before_any_episode_says_so() -> None:
    proc = play("Game24", stdin="quit\n")
    assert proc.returncode == 0
    assert "quit before any episode ended" in proc.stdout


def test_piped_control_bytes_are_escaped_not_written_raw() -> None:
    hostile = "\x1b[2J\x1b]0;title\x07 1 + 1 = 2\u202e"
    proc = play("Game24", stdin=hostile + "\nquit\n")
    assert proc.returncode == 0
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and "\u202e" not in proc.stdout
    assert "\\x1b[2J" in proc.stdout


def test_escape_keeps_text_and_layout() -> None:
    from thinkgym.commands.play import escape

    assert escape("7 × 3 = 21\n\tZoë €") == "7 × 3 = 21\n\tZoë €"
    assert escape("a\x1b[31mb\x00") == "a\\x1b[31mb\\x00"
