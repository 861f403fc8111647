"""Hostile problem lines and pinned problems: linear-time parsing and clear ValueErrors."""

from __future__ import annotations

import time

import gymnasium as gym
import pytest

import thinkgym  # noqa: F401 - registers the envs

LAX = 10.0  # seconds; the exponential problem-line regex took about a minute for 40 characters
HUGE = 10**5000 - 1  # a 5,000-digit integer (printing it fails by default: it must not be printed)


@pytest.mark.parametrize("env_id", ["thinkgym/Countdown-v0", "thinkgym/Game24-v0"])
@pytest.mark.parametrize(
    "line",
    [
        "Numbers: " + "1" * 40 + " x | Target: 5",
        "Numbers: " + "1" * 60 + "|",
        "Numbers: " + "1 " * 5000 + "| Target: x",
        "Numbers: " + "12 " * 3000 + "| Target: 24 24",
        "Numbers: " + "9" * 5000 + " 1 | Target: 3",
        "Numbers: 1 2 | Target: " + "9" * 5000,
    ],
)
def test_problem_lines_fail_fast_and_clearly(env_id: str, line: str) -> None:
    env = gym.make(env_id).unwrapped
    start = time.monotonic()
    with pytest.raises(ValueError, match="problem line|digits|numbers"):
        env.parse_problem(line)
    assert time.monotonic() - start < LAX


def test_good_problem_lines_still_parse() -> None:
    env = gym.make("thinkgym/Countdown-v0").unwrapped
    assert env.parse_problem("Numbers: 3 7 25 4 | Target: 103") == {
        "numbers": [3, 7, 25, 4],
        "target": 103,
    }
    assert env.parse_problem("Numbers:  -3   4 |Target: 1") == {"numbers": [-3, 4], "target": 1}
    g24 = gym.make("thinkgym/Game24-v0").unwrapped
    assert g24.parse_problem("Numbers: 4 9 10 13 | Target: 24")["numbers"] == [4, 9, 10, 13]


@pytest.mark.parametrize(
    ("env_id", "options", "match"),
    [
        ("thinkgym/Countdown-v0", {"numbers": [3], "target": 3}, r"1 numbers; pass 2 to 8"),
        ("thinkgym/Countdown-v0", {"numbers": list(range(1, 10)), "target": 3}, "pass 2 to 8"),
        (
            "thinkgym/Countdown-v0",
            {"numbers": [HUGE, 2], "target": 3},
            "of 5000 digits.*never be used",
        ),
        ("thinkgym/Countdown-v0", {"numbers": [10**12, 2], "target": 3}, "never be used"),
        (
            "thinkgym/Countdown-v0",
            {"numbers": [2.5, 3], "target": 1},
            r"\[0\]=2.5 is not an integer",
        ),
        ("thinkgym/Countdown-v0", {"numbers": [True, 3], "target": 1}, "not an integer"),
        ("thinkgym/Countdown-v0", {"numbers": "1 2 3", "target": 6}, "list of integers"),
        ("thinkgym/Countdown-v0", {"numbers": [1, 2, 3], "target": 2.5}, "2.5 is not an integer"),
        ("thinkgym/Countdown-v0", {"numbers": [3, 4], "target": HUGE}, "of 5000 digits.*reach"),
        ("thinkgym/Countdown-v0", {"numbers": [1, 2, 3], "target": 10**11}, "can reach"),
        ("thinkgym/Countdown-v0", {"numbers": [1, 2]}, '"target"'),
        ("thinkgym/Game24-v0", {"numbers": [1, 2, 3]}, "3 numbers; pass exactly 4"),
        ("thinkgym/Game24-v0", {"numbers": [1, 2, 3, 4, 5]}, "pass exactly 4"),
        ("thinkgym/Game24-v0", {"numbers": [HUGE, 1, 1, 1]}, "never be used"),
        ("thinkgym/Game24-v0", {"numbers": [1, 2, 3, 4], "target": 25}, "always 24, not 25"),
        ("thinkgym/Arithmetic-v0", {"problem": "9" * 250}, "exceeds 128 bits"),
        ("thinkgym/Arithmetic-v0", {"problem": "9" * 5000}, "characters long; the limit"),
        ("thinkgym/Arithmetic-v0", {"problem": "(" * 100 + "1" + ")" * 100}, "nested deeper"),
        ("thinkgym/Arithmetic-v0", {"problem": "factorial(10^7)"}, "unknown name"),
        ("thinkgym/Arithmetic-v0", {"problem": "2^3"}, r"powers \(\^\)"),
        ("thinkgym/Arithmetic-v0", {"problem": "1.5*2"}, "not an integer"),
        ("thinkgym/Arithmetic-v0", {"problem": 5}, "expression string"),
        ("thinkgym/Arithmetic-v0", {"problem": "2⁴"}, "unexpected character"),
        ("thinkgym/LinearEquation-v0", {"problem": "x = " + "9" * 190}, "exceeds 256 bits"),
        ("thinkgym/LinearEquation-v0", {"problem": "x" * 150 + " = 1"}, "could not read"),
        ("thinkgym/LinearEquation-v0", {"problem": "2x = 4 = 5"}, "exactly one '='"),
        ("thinkgym/LinearEquation-v0", {"problem": "x^2 = 4"}, "not linear"),
        ("thinkgym/LinearEquation-v0", {"problem": "(" * 70 + "x = 1"}, "could not read"),
        ("thinkgym/LinearEquation-v0", {"problem": "x = 1/0"}, "division by zero"),
        ("thinkgym/LinearEquation-v0", {"problem": "x - x = 1"}, "no unique solution"),
    ],
)
def test_absurd_pins_get_a_clear_value_error(env_id: str, options: dict, match: str) -> None:
    env = gym.make(env_id)
    start = time.monotonic()
    with pytest.raises(ValueError, match=match):
        env.reset(options=options)
    assert time.monotonic() - start < LAX


def test_sane_pins_still_work() -> None:
    env = gym.make("thinkgym/Countdown-v0")
    obs, _ = env.reset(options={"numbers": [3, 7, 25, 4], "target": 103})
    assert obs.startswith("Numbers: 3 7 25 4 | Target: 103")
    obs, _ = env.reset(options={"numbers": [-3, 4], "target": -12})
    assert "Target: -12" in obs
    obs, _ = gym.make("thinkgym/Game24-v0").reset(options={"numbers": [4, 9, 10, 13]})
    assert obs.startswith("Numbers: 4 9 10 13 | Target: 24")
    obs, _ = gym.make("thinkgym/Arithmetic-v0").reset(options={"problem": "(3 + 4) * 5 - 3"})
    assert obs.startswith("Evaluate: (3 + 4) * 5 - 3")
