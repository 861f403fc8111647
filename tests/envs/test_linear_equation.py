"""LinearEquationEnv: reference traces, seeding, pinned problems, rejected steps, exact checks."""

from __future__ import annotations

import pickle
from fractions import Fraction

import gymnasium as gym
import numpy as np
import pytest
import sympy

import thinkgym.envs  # noqa: F401  (registers the built-in envs)
from thinkgym.envs.linear_equation import LinearEquationEnv, linear_coefficients, read_side
from thinkgym.expr import ExprError, to_sympy

PROBLEM = "2(x - 3) + 1 = x + 4"


def run_trace(env: LinearEquationEnv, steps: list[str]) -> tuple[float, dict]:
    reward, info, terminated = 0.0, {}, False
    for step in steps:
        _, reward, terminated, _, info = env.step(step)
        assert info["valid"], (step, info["error"], env.transcript())
    assert terminated
    return reward, info


@pytest.mark.parametrize("difficulty", [0, 1, 2, 3, 5])
def test_reference_solver_solves_seeded_problems(difficulty: int) -> None:
    env = LinearEquationEnv(difficulty=difficulty)
    for seed in range(100 if difficulty == 1 else 30):
        obs, _ = env.reset(seed=seed)
        assert env.observation_space.contains(obs)
        trace = env.solve(env.get_state().problem)
        assert trace[-1] == f"Answer: {env.reference_answer(env.get_state().problem)}"
        reward, info = run_trace(env, trace)
        assert reward == 1.0 and info["correct"] is True
        assert env.observation_space.contains(env.transcript())


def test_trace_of_the_example() -> None:
    env = LinearEquationEnv()
    obs, _ = env.reset(options={"problem": PROBLEM})
    assert obs == f"Solve for x: {PROBLEM}"
    assert env.solve(env.get_state().problem) == [
        "2x - 6 + 1 = x + 4",
        "2x - 5 = x + 4",
        "2x - x = 4 + 5",
        "x = 9",
        "Answer: x = 9",
    ]
    env.reset(options={"problem": "3x + 2 = 11"})
    assert env.solve(env.get_state().problem) == ["3x = 11 - 2", "3x = 9", "x = 3", "Answer: x = 3"]
    env.reset(options={"problem": "3x + 7 = 2"})
    assert env.solve(env.get_state().problem)[-2:] == ["x = -5/3", "Answer: x = -5/3"]


@pytest.mark.parametrize("answer", ["x = 3", "3", "x=3", "3 = x", "6/2", "x = 3.0"])
def test_answer_forms_accepted(answer: str) -> None:
    env = LinearEquationEnv()
    env.reset(options={"problem": "3x + 2 = 11"})
    _, reward, terminated, _, info = env.step(f"Answer: {answer}")
    assert terminated and reward == 1.0 and info["correct"] is True


@pytest.mark.parametrize("answer", ["x = 4", "y = 3", "x = x", "three", "x = 3 = 3", "2x = 6"])
def test_wrong_or_malformed_answers_score_zero(answer: str) -> None:
    env = LinearEquationEnv()
    env.reset(options={"problem": "3x + 2 = 11"})
    _, reward, terminated, _, info = env.step(f"Answer: {answer}")
    assert terminated and reward == 0.0 and info["correct"] is False and info["error"]


def test_fraction_answer() -> None:
    env = LinearEquationEnv()
    env.reset(options={"problem": "3x + 7 = 2"})
    assert env.reference_answer(env.get_state().problem) == "x = -5/3"
    assert env.step("Answer: x = -5/3")[1] == 1.0


def test_seeds_reproduce_and_differ() -> None:
    a, b = LinearEquationEnv(), LinearEquationEnv()
    assert [a.reset(seed=s)[0] for s in range(10)] == [b.reset(seed=s)[0] for s in range(10)]
    assert len({a.reset(seed=s)[0] for s in range(20)}) > 15


@pytest.mark.parametrize(
    ("step", "words"),
    [
        ("2x - 6 + 1 = x + 5", "not equivalent"),
        ("2x - 5 = x - 4", "not equivalent"),
        (PROBLEM, "repeats an earlier equation"),
        ("2(x-3)+1 = x+4", "repeats an earlier equation"),
        ("x^2 = 81", "not linear"),
        ("x(x + 1) = x^2 + 10", "not linear"),
        ("1/x = 9", "denominator"),
        ("x = x + 1", "x cancels out"),
        ("2x - 5", "exactly one '='"),
        ("2x - 5 = x + 4 = 9", "exactly one '='"),
        ("2y = 18", "unknown name 'y'"),
        ("2x + = 18", "could not read the left side"),
        ("= 9", "left side"),
        ("sqrt(x) = 3", "could not read"),
    ],
)
def test_wrong_steps_are_rejected_with_words(step: str, words: str) -> None:
    env = LinearEquationEnv(invalid_penalty=-0.5)
    obs0, _ = env.reset(options={"problem": PROBLEM})
    before = env.get_state()
    obs, reward, terminated, _, info = env.step(step)
    assert not info["valid"] and reward == -0.5 and not terminated
    assert words in info["error"], info["error"]
    assert "9" not in info["error"].replace(step, "") or "81" in step  # no answer leak
    after = env.get_state()
    assert (after.steps, after.data) == (before.steps, before.data)
    assert obs == obs0


def test_equivalent_steps_in_any_order_are_accepted() -> None:
    env = LinearEquationEnv()
    env.reset(options={"problem": PROBLEM})
    for step in ["2x - 5 = x + 4", "x - 5 = 4", "x - 9 = 0", "9 = x", "x = 9"]:
        assert env.step(step)[4]["valid"], step
    assert env.step("x - 5 = 4")[4]["error"].endswith("write a new, simpler equivalent one")
    assert env.step("Answer: x = 9")[1] == 1.0


def test_pinned_problem_accepts_prefix_and_dict() -> None:
    env = LinearEquationEnv()
    assert env.reset(options={"problem": "Solve for x:  3x+2 = 11"})[0] == "Solve for x: 3x+2 = 11"
    problem = env.get_state().problem
    assert env.reset(options={"problem": problem})[0] == "Solve for x: 3x+2 = 11"


@pytest.mark.parametrize(
    "bad",
    ["3x + 2", "x = x", "2x = 2x + 1", "x^2 = 4", "1/x = 2", "y = 3", "", 5, {"eq": "x = 1"}],
)
def test_bad_pinned_problems_raise_clear_errors(bad: object) -> None:
    env = LinearEquationEnv()
    with pytest.raises(ValueError, match="options"):
        env.reset(options={"problem": bad})


def test_get_state_set_state_round_trip() -> None:
    env = LinearEquationEnv(difficulty=2)
    env.reset(seed=4)
    trace = env.solve(env.get_state().problem)
    env.step(trace[0])
    saved = env.get_state()
    assert pickle.loads(pickle.dumps(saved)) == saved
    obs = env.transcript()
    run_trace(env, trace[1:])
    env.set_state(saved)
    assert env.transcript() == obs
    assert not env.step(trace[0])[4]["valid"]  # still remembers the equations seen
    reward, _ = run_trace(env, trace[1:])
    assert reward == 1.0


def test_difficulty_changes_problems() -> None:
    def problems(difficulty: int) -> list[str]:
        env = LinearEquationEnv(difficulty=difficulty)
        return [env.reset(seed=s)[1]["problem"] for s in range(60)]

    easy, mid, hard = problems(0), problems(2), problems(4)
    assert not any("(" in p for p in easy)
    assert all(p.split("=")[1].strip().lstrip("-").isdigit() for p in easy)  # x on the left only
    assert any("(" in p for p in mid)
    env = LinearEquationEnv(difficulty=4)
    answers = []
    for seed in range(60):
        env.reset(seed=seed)
        answers.append(env.reference_answer(env.get_state().problem))
    assert any("/" in a for a in answers)
    env = LinearEquationEnv(difficulty=1)
    for seed in range(60):
        env.reset(seed=seed)
        assert "/" not in env.reference_answer(env.get_state().problem)
    assert easy != mid != hard


def test_knobs_from_constructor() -> None:
    env = LinearEquationEnv(difficulty=0, parentheses=True, both_sides=True, max_coef=3)
    texts = [env.reset(seed=s)[1]["problem"] for s in range(40)]
    assert any("(" in t for t in texts)
    with pytest.raises(ValueError, match="max_coef"):
        LinearEquationEnv(max_coef=1)


def test_linear_coefficients_agree_with_sympy() -> None:
    x = sympy.Symbol("x")
    texts = [
        "2(x - 3) + 1",
        "x/2 - (3 - x)/4",
        "-3x + 7",
        "(x + 1)^2 - x^2",
        "4 - -x",
        "2^3x",
        "(2/3)x - 1/6",
    ]
    env = LinearEquationEnv(difficulty=3)
    for seed in range(40):
        env.reset(seed=seed)
        lhs, rhs = env.get_state().data.equation.split("=")
        texts += [lhs, rhs]
    for text in texts:
        tree = read_side(text)
        a, b = linear_coefficients(tree)
        poly = sympy.Poly(to_sympy(tree, {"x": x}), x)
        assert poly.degree() <= 1
        assert sympy.Rational(a.numerator, a.denominator) == poly.coeff_monomial(x), text
        assert sympy.Rational(b.numerator, b.denominator) == poly.coeff_monomial(1), text
    with pytest.raises(ExprError, match="not linear"):
        linear_coefficients(read_side("x(x + 1)"))
    assert linear_coefficients(read_side("(x + 1)^2 - x^2")) == (Fraction(2), Fraction(1))


def test_random_steps_never_raise_and_are_sometimes_valid() -> None:
    env = LinearEquationEnv(difficulty=2)
    rng = np.random.default_rng(0)
    valid = 0
    for seed in range(30):
        env.reset(seed=seed)
        for _ in range(8):
            step = env.random_step(env.get_state(), rng)
            assert env.action_space.contains(step)
            _, _, terminated, _, info = env.step(step)
            valid += info["valid"]
            if terminated:
                break
    assert valid > 30


def test_registered_id() -> None:
    env = gym.make("thinkgym/LinearEquation-v0", difficulty=0)
    obs, _ = env.reset(seed=0)
    assert obs.startswith("Solve for x: ")
    assert env.unwrapped.outcome_needs_reference is True
