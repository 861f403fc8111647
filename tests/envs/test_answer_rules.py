"""What counts as one answer per task, and pins that cannot be solved or posed."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import thinkgym  # noqa: F401 - registers the envs
from thinkgym.envs.base import EnvState
from thinkgym.envs.countdown import CountdownEnv
from thinkgym.envs.game24 import Game24Env
from thinkgym.envs.mathword import MathWordEnv, check_arithmetic_claims


def _unpinnable_state(env, problem):
    """A state of a problem ``reset`` refuses (built by hand, as an old transcript would be)."""
    return EnvState(problem=problem, data=env.initial_data(problem))


@pytest.mark.parametrize("cls", [Game24Env, CountdownEnv])
@pytest.mark.parametrize("answer", ["((5^(1+1))-1) = 24", "((5**(1+1))-1) = 24"])
def test_powers_are_refused_by_the_env_and_by_the_reference_free_check(cls, answer):
    env = cls()
    state = _unpinnable_state(env, {"numbers": [1, 1, 1, 5], "target": 24})
    assert env.check_answer(state, answer)[0] is False
    assert "powers" in env.check_answer(state, answer)[1]
    assert env.check_answer_without_reference(state, answer) is False
    after, accepted, _ = env.apply(state, f"Answer: {answer}")
    assert accepted and after.correct is False


@pytest.mark.parametrize("env_id", ["thinkgym/Game24-v0", "thinkgym/Countdown-v0"])
def test_a_pin_without_a_solution_is_refused(env_id):
    env = gym.make(env_id).unwrapped
    with pytest.raises(ValueError, match=r"no combination of \[1, 1, 1, 5\].*makes 24"):
        env.reset(options={"numbers": [1, 1, 1, 5], "target": 24})
    with pytest.raises(ValueError, match="has no solution"):
        env.reset(options={"problem": {"numbers": [1, 1, 1, 5], "target": 24}})
    env.reset(options={"numbers": [4, 9, 10, 13], "target": 24})  # a solvable pin still works


def test_game24_answer_with_negative_numbers_folds_literals():
    env = CountdownEnv()
    env.reset(options={"numbers": [-3, 9], "target": 6})
    assert env.step("Answer: -3 + 9 = 6")[1] == 1.0


def test_countdown_problem_option_is_checked_like_numbers():
    env = CountdownEnv()
    with pytest.raises(ValueError, match=r"options\['problem'\] needs a \"target\""):
        env.reset(options={"problem": {"numbers": [1, 2]}})
    with pytest.raises(ValueError, match=r"options\['problem'\] must be a dict"):
        env.reset(options={"problem": [1, 2]})
    with pytest.raises(ValueError, match="needs 'numbers'"):
        env.reset(options={"problem": {"target": 3}})
    obs, _ = env.reset(options={"problem": {"numbers": [1, 2], "target": 3}})
    assert obs == "Numbers: 1 2 | Target: 3"
    game = Game24Env()
    game.reset(options={"problem": {"numbers": [4, 9, 10, 13]}})  # the target defaults to 24
    with pytest.raises(ValueError, match="always 24"):
        game.reset(options={"problem": {"numbers": [4, 9, 10, 13], "target": 25}})


def test_trl_reward_function_checks_the_problem_column():
    from thinkgym.learning.trl import reward_function

    fn = reward_function("Game24", outcome_only=True)
    bad = json.dumps({"numbers": [24], "target": 24})
    with pytest.raises(ValueError, match=r"'problem' column.*has 1 numbers; pass exactly 4"):
        fn(["p"], ["Answer: 24"], problem=[bad])
    good = json.dumps({"numbers": [4, 9, 10, 13], "target": 24})
    assert fn(["p"], ["Answer: (13 - 9) * (10 - 4) = 24"], problem=[good]) == [1.0]
    word = reward_function("MathWord", outcome_only=True)
    with pytest.raises(ValueError, match="not one value"):
        word(["p"], ["Answer: 70"], problem=[json.dumps({"question": "q?", "answer": "70 or 71"})])


@pytest.mark.parametrize(
    ("answer", "paid"),
    [("31 = 32", 0.0), ("1 = 32", 0.0), ("(3 + 4) * 5 - 3 = 32", 1.0), ("32", 1.0)],
)
def test_arithmetic_reads_every_side_of_an_equation(answer, paid):
    env = gym.make("thinkgym/Arithmetic-v0").unwrapped
    env.reset(options={"problem": "(3 + 4) * 5 - 3"})
    assert env.step(f"Answer: {answer}")[1] == paid


@pytest.mark.parametrize(
    ("problem", "answer", "paid"),
    [
        ("5x - 7 = 2x + 11", "x = (11 + 7)/(5 - 2)", 0.0),
        ("3x + 2 = 11", "x = 3^1", 0.0),
        ("3x + 2 = 11", "x = 9 - 6", 0.0),
        ("3x + 2 = 11", "x = 3", 1.0),
        ("3x + 7 = 2", "x = -5/3", 1.0),
    ],
)
def test_linear_equation_answer_is_x_equals_a_number(problem, answer, paid):
    from thinkgym.rewards import OutcomeVerifier

    env = gym.make("thinkgym/LinearEquation-v0").unwrapped
    env.reset(options={"problem": problem})
    *_, info = env.step(f"Answer: {answer}")
    assert float(info["correct"]) == paid
    if not paid:
        assert "not a number" in info["error"]
    assert OutcomeVerifier(use_verify=True).bind(env).outcome(env.get_state()) == paid


@pytest.mark.parametrize(
    ("step", "holds"),
    [
        ("250 // 8 = 32", False),
        ("250 // 8 = 31", True),
        ("17 % 5 = 3", False),
        ("17 % 5 = 2", True),
        ("2^10 = 1000", False),
        ("2 ** 10 = 1024", True),
        ("20% = 0.2", True),
    ],
)
def test_mathword_claims_with_floor_division_remainder_and_powers_are_evaluated(step, holds):
    assert (check_arithmetic_claims(step) == "") is holds
    env = MathWordEnv()
    env.reset(seed=0)
    *_, info = env.step(f"Work: {step}")
    assert info["valid"] is holds
    if holds:
        assert info["claim_checked"] is True


def test_mathword_says_when_a_claim_was_not_checked():
    env = MathWordEnv()
    env.reset(seed=0)
    *_, info = env.step("Work: 2^100000 = 3")
    assert info["valid"] and info["claim_checked"] is False
    *_, info = env.step("Work: 3 + 4 = 7")
    assert info["claim_checked"] is True
    off = MathWordEnv(check_arithmetic=False)
    off.reset(seed=0)
    *_, info = off.step("Work: 3 + 4 = 8")
    assert info["valid"] and info["claim_checked"] is False
    *_, info = off.step("Work: now add them up")
    assert info["claim_checked"] is True  # no claim: nothing went unchecked


@pytest.mark.parametrize(
    "answer",
    ["not 34", "less than 34", "at least 34", "34 or more", "x ≥ 34", "maybe 34",
     "34 (approximately)", "I don't know, 34"],
)  # fmt: skip
def test_mathword_hedged_answers_pay_nothing_with_either_checker(answer):
    from thinkgym.rewards import verify

    for checker in (None, verify):
        env = MathWordEnv(answer_checker=checker)
        env.reset(options={"problem": {"question": "How many?", "answer": "34"}})
        *_, info = env.step(f"Answer: {answer}")
        assert info["correct"] is False and "hedges" in info["error"]


def test_mathword_code_answer_pays_nothing_through_trl():
    from thinkgym.learning.trl import reward_function

    fn = reward_function("MathWord", outcome_only=True)
    problem = json.dumps({"question": "How many?", "answer": "70"})
    assert fn(["p"], ["Answer: print(70)"], problem=[problem]) == [0.0]
    assert fn(["p"], ["Answer: 70"], problem=[problem]) == [1.0]


def test_a_step_verifier_scores_an_unchecked_claim_as_unknown():
    from thinkgym.rewards import StepVerifier

    env = MathWordEnv(reward=StepVerifier(good=1.0, bad=-1.0, unknown=0.0))
    env.reset(seed=0)
    assert env.step("Work: 3 + 4 = 7")[1] == 1.0
    assert env.step("Work: 2^100000 = 3")[1] == 0.0  # accepted, but nothing checked it
    prm = StepVerifier().bind(env)
    assert prm.score_steps(env.get_state(), ["Work: 250 // 8 = 31", "Work: 2^99999 = 1"]) == [
        1.0,
        0.0,
    ]
