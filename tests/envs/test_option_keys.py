"""``reset(options=...)`` refuses keys the task does not read, instead of drawing a random problem."""

from __future__ import annotations

from typing import Any

import pytest

from thinkgym.envs.arithmetic import ArithmeticEnv
from thinkgym.envs.countdown import CountdownEnv
from thinkgym.envs.game24 import Game24Env
from thinkgym.envs.linear_equation import LinearEquationEnv


def test_typo_in_game24_options_is_refused_with_a_hint() -> None:
    env = Game24Env()
    with pytest.raises(ValueError, match=r"'number'.*did you mean 'numbers'"):
        env.reset(options={"number": [4, 9, 10, 13]})


@pytest.mark.parametrize("cls", [ArithmeticEnv, LinearEquationEnv, CountdownEnv, Game24Env])
def test_unknown_key_is_refused_naming_the_accepted_keys(cls: type) -> None:
    env = cls()
    with pytest.raises(ValueError, match=r"unknown key 'bogus'.*accepts \[.*'problem'"):
        env.reset(options={"bogus": 1})


def test_legitimate_keys_still_pin_problems() -> None:
    env = Game24Env()
    assert env.reset(options={"numbers": [4, 9, 10, 13], "target": 24})[0].startswith(
        "Numbers: 4 9 10 13"
    )
    assert env.reset(options={"problem": {"numbers": [1, 2, 3, 4], "target": 24}})[0]
    cd = CountdownEnv()
    assert "Target: 10" in cd.reset(options={"numbers": [1, 2, 3, 4], "target": 10})[0]
    assert ArithmeticEnv().reset(options={"problem": "2 + 3"})[0] == "Evaluate: 2 + 3"


def test_task_overriding_problem_from_options_without_declaring_keys_is_not_checked() -> None:
    class Custom(Game24Env):
        def problem_from_options(self, options: dict[str, Any]) -> dict[str, Any] | None:
            if "quad" in options:
                return {"numbers": list(options["quad"]), "target": 24}
            return super().problem_from_options(options)

    assert Custom.option_keys is None
    assert Custom().reset(options={"quad": [4, 9, 10, 13]})[0].startswith("Numbers: 4 9 10 13")
