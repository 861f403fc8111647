"""ArithmeticEnv: reference traces, seeding, pinned problems, rejected steps, state copies."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest

import thinkgym.envs  # noqa: F401  (registers the built-in envs)
from thinkgym.envs.arithmetic import ArithmeticEnv, count_ops, format_expr, read_expr


def run_trace(env: ArithmeticEnv, steps: list[str]) -> tuple[float, dict]:
    reward, info = 0.0, {}
    for step in steps:
        _, reward, terminated, _, info = env.step(step)
        assert info["valid"], (step, info["error"], env.transcript())
    assert terminated
    return reward, info


@pytest.mark.parametrize("difficulty", [0, 1, 2, 3, 4])
def test_reference_solver_solves_seeded_problems(difficulty: int) -> None:
    env = ArithmeticEnv(difficulty=difficulty)
    for seed in range(100 if difficulty == 1 else 30):
        obs, _ = env.reset(seed=seed)
        assert env.observation_space.contains(obs)
        trace = env.solve(env.get_state().problem)
        assert trace[-1] == f"Answer: {env.reference_answer(env.get_state().problem)}"
        for step in trace[:-1]:
            assert step.startswith("= ")
        reward, info = run_trace(env, trace)
        assert reward == 1.0 and info["correct"] is True
        assert env.observation_space.contains(env.transcript())


def test_trace_of_the_example() -> None:
    env = ArithmeticEnv()
    obs, _ = env.reset(options={"problem": "(3 + 4) * 5 - 3"})
    assert obs == "Evaluate: (3 + 4) * 5 - 3"
    trace = env.solve(env.get_state().problem)
    assert trace == ["= 7 * 5 - 3", "= 35 - 3", "= 32", "Answer: 32"]
    reward, _ = run_trace(env, trace)
    assert reward == 1.0


def test_negative_values_print_in_parentheses_and_parse_back() -> None:
    env = ArithmeticEnv()
    env.reset(options={"problem": "(2 - 6) * 3 - -4"})
    assert env.transcript() == "Evaluate: (2 - 6) * 3 - (-4)"
    assert env.solve(env.get_state().problem) == [
        "= (-4) * 3 - (-4)",
        "= (-12) - (-4)",
        "= -8",
        "Answer: -8",
    ]


def test_operation_steps_are_substituted() -> None:
    env = ArithmeticEnv()
    env.reset(options={"problem": "(3 + 4) * 5 - 3"})
    _, _, _, _, info = env.step("3+4=7")
    assert info["valid"]
    assert env.get_state().data == "7 * 5 - 3"
    assert env.get_state().steps == ("3 + 4 = 7",)
    run_trace(env, ["7 * 5 = 35", "= 32", "Answer: 32"])


def test_seeds_reproduce_and_differ() -> None:
    a, b = ArithmeticEnv(), ArithmeticEnv()
    assert [a.reset(seed=s)[0] for s in range(10)] == [b.reset(seed=s)[0] for s in range(10)]
    assert len({a.reset(seed=s)[0] for s in range(20)}) > 15


@pytest.mark.parametrize(
    ("step", "words"),
    [
        ("4 * 5 = 20", "cannot be evaluated now"),  # ignores the parentheses
        ("3 + 4 = 8", "3 + 4 = 8 is wrong: 3 + 4 = 7"),
        ("= 7 * 5 - 4", "same value"),
        ("= (3 + 4) * 5 - 3", "evaluate at least one operation"),
        ("3 + 4", "exactly one '='"),
        ("= 7 * 5 - x", "could not read"),
        ("= 3.5 * 2 * 5 - 3", "not an integer"),
        ("= 7 ^ 1 * 5 - 3", "powers"),
        ("3 + 4 + 5 = 12", "one operation between two numbers"),
        ("3 + 4 = 7 = 7", "exactly one '='"),
    ],
)
def test_wrong_steps_are_rejected_with_words(step: str, words: str) -> None:
    env = ArithmeticEnv(invalid_penalty=-0.5)
    env.reset(options={"problem": "(3 + 4) * 5 - 3"})
    before = env.get_state()
    obs, reward, terminated, _, info = env.step(step)
    assert not info["valid"] and reward == -0.5 and not terminated
    assert words in info["error"]
    assert "32" not in info["error"]  # never reveals the final answer
    after = env.get_state()
    assert (after.steps, after.data) == (before.steps, before.data)
    assert obs == "Evaluate: (3 + 4) * 5 - 3"


def test_precedence_decides_what_can_be_evaluated() -> None:
    env = ArithmeticEnv()
    env.reset(options={"problem": "5 - 4 - 3 + 2 * 6"})
    assert not env.step("4 - 3 = 1")[4]["valid"]
    assert not env.step("3 + 2 = 5")[4]["valid"]
    assert env.step("2 * 6 = 12")[4]["valid"]
    assert env.step("5 - 4 = 1")[4]["valid"]
    assert env.get_state().data == "1 - 3 + 12"


def test_division_must_be_exact() -> None:
    env = ArithmeticEnv()
    env.reset(options={"problem": "(8 + 4) / 3"})
    assert "does not divide evenly" in env.step("= 9 / 2")[4]["error"]
    run_trace(env, ["8 + 4 = 12", "12 / 3 = 4", "Answer: 4"])


def test_wrong_and_malformed_answers() -> None:
    env = ArithmeticEnv()
    env.reset(options={"problem": "(3 + 4) * 5 - 3"})
    _, reward, terminated, _, info = env.step("Answer: 31")
    assert terminated and reward == 0.0 and info["correct"] is False
    env.reset(options={"problem": "(3 + 4) * 5 - 3"})
    _, reward, _, _, info = env.step("Answer: thirty-two")
    assert reward == 0.0 and info["correct"] is False and info["error"]
    env.reset(options={"problem": "(3 + 4) * 5 - 3"})
    assert env.step("Answer: (3 + 4) * 5 - 3 = 32")[1] == 1.0


def test_last_operation_error_does_not_reveal_the_answer() -> None:
    env = ArithmeticEnv()
    env.reset(options={"problem": "(3 + 4) * 5 - 3"})
    env.step("= 35 - 3")
    error = env.step("35 - 3 = 31")[4]["error"]
    assert error == "35 - 3 = 31 is wrong"
    assert "32" not in env.step("= 31")[4]["error"]


def test_fully_evaluated_expression_needs_an_answer() -> None:
    env = ArithmeticEnv()
    env.reset(options={"problem": "2 + 3"})
    env.step("= 5")
    assert "Answer" in env.step("= 5")[4]["error"]


@pytest.mark.parametrize(
    "bad",
    ["", "3 +", "x + 1", "7 / 2", "1 / 0", "2 ^ 3", 17, {"numbers": [1]}, "1 + " * 100 + "1"],
)
def test_bad_pinned_problems_raise_clear_errors(bad: object) -> None:
    env = ArithmeticEnv()
    with pytest.raises(ValueError, match="options"):
        env.reset(options={"problem": bad})


def test_pinned_problem_accepts_prefix_and_dict() -> None:
    env = ArithmeticEnv()
    assert env.reset(options={"problem": "Evaluate: 2*(3+4)"})[0] == "Evaluate: 2 * (3 + 4)"
    problem = env.get_state().problem
    assert env.reset(options={"problem": problem})[0] == "Evaluate: 2 * (3 + 4)"


def test_get_state_set_state_round_trip() -> None:
    env = ArithmeticEnv()
    env.reset(seed=3)
    trace = env.solve(env.get_state().problem)
    env.step(trace[0])
    saved = env.get_state()
    assert pickle.loads(pickle.dumps(saved)) == saved
    obs = env.transcript()
    for step in trace[1:]:
        env.step(step)
    env.set_state(saved)
    assert env.transcript() == obs
    reward, _ = run_trace(env, trace[1:])
    assert reward == 1.0
    other = ArithmeticEnv()
    other.reset(seed=99)
    other.set_state(saved)
    assert other.transcript() == obs


def test_difficulty_changes_problems() -> None:
    def mean_ops(difficulty: int) -> float:
        env = ArithmeticEnv(difficulty=difficulty)
        sizes = []
        for seed in range(40):
            env.reset(seed=seed)
            sizes.append(count_ops(read_expr(env.get_state().data)))
        return float(np.mean(sizes))

    assert mean_ops(0) == 1.0
    assert mean_ops(0) < mean_ops(1) < mean_ops(2) < mean_ops(4)
    assert ArithmeticEnv(difficulty=0).digits == 1
    env = ArithmeticEnv(difficulty=2)
    assert env.depth == 3 and env.operators == "+-*"
    assert "/" in ArithmeticEnv(difficulty=3).operators


def test_values_stay_within_max_value() -> None:
    env = ArithmeticEnv(difficulty=2, max_value=200)
    for seed in range(30):
        env.reset(seed=seed)
        for step in env.solve(env.get_state().problem)[:-1]:
            for number in read_expr_numbers(step[2:]):
                assert abs(number) <= 200


def read_expr_numbers(text: str) -> list[int]:
    from thinkgym.expr import leaves

    return [int(v) for v in leaves(read_expr(text))]


@pytest.mark.parametrize(
    "kwargs",
    [{"depth": 0}, {"depth": 9}, {"digits": 0}, {"operators": "+%"}, {"operators": ""}],
)
def test_bad_knobs_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ArithmeticEnv(**kwargs)


def test_knobs_from_constructor() -> None:
    env = ArithmeticEnv(depth=1, digits=1, operators="*")
    for seed in range(10):
        obs, _ = env.reset(seed=seed)
        assert " * " in obs and count_ops(read_expr(env.get_state().data)) == 1


def test_format_round_trips() -> None:
    env = ArithmeticEnv(difficulty=4)
    for seed in range(30):
        env.reset(seed=seed)
        text = env.get_state().data
        assert format_expr(read_expr(text)) == text
    for text in ["2 + (3 + 4)", "2 - (3 - 4)", "(-3) * (-(2 + 1))", "-5", "8 / (4 / 2)"]:
        assert format_expr(read_expr(text)) == text


def test_random_steps_never_raise_and_are_sometimes_valid() -> None:
    env = ArithmeticEnv(difficulty=2)
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
    assert valid > 50


def test_registered_id() -> None:
    env = gym.make("thinkgym/Arithmetic-v0", difficulty=0)
    obs, _ = env.reset(seed=0)
    assert obs.startswith("Evaluate: ")
    assert env.unwrapped.outcome_needs_reference is True


def test_verify_steps_false_carries_wrong_arithmetic_to_a_wrong_answer() -> None:
    env = ArithmeticEnv(verify_steps=False)
    env.reset(options={"problem": "(3 + 4) * 5 - 3"})
    for step in ["3 + 4 = 8", "= 40 - 3"]:  # wrong, then a rewrite consistent with it
        _, _, terminated, _, info = env.step(step)
        assert info["valid"], info["error"]
        assert not terminated
    assert env.get_state().data == "40 - 3"
    _, reward, terminated, _, info = env.step("40 - 3 = 37")
    assert info["valid"] and env.get_state().data == "37"
    _, reward, terminated, _, info = env.step("Answer: 37")
    assert terminated and reward == 0.0 and info["correct"] is False  # 32 is the reference


def test_verify_steps_false_still_checks_the_form_of_steps() -> None:
    env = ArithmeticEnv(verify_steps=False)
    env.reset(options={"problem": "(3 + 4) * 5 - 3"})
    for bad in ["= 7 * 5 - 3 + 1 - 1", "4 * 5 = 20", "= 7 / 0 * 5", "hello", "3 + 4 = 7 + 1"]:
        _, _, _, _, info = env.step(bad)
        assert not info["valid"], bad
    assert env.get_state().data == "(3 + 4) * 5 - 3"
    # The default env rejects the same wrong step that verify_steps=False accepts.
    strict = ArithmeticEnv()
    strict.reset(options={"problem": "(3 + 4) * 5 - 3"})
    assert not strict.step("= 8 * 5 - 3")[4]["valid"]
    assert env.step("= 8 * 5 - 3")[4]["valid"]
    # The reference solver still solves every problem in this mode.
    for seed in range(20):
        env.reset(seed=seed)
        reward, info = run_trace(env, env.solve(env.get_state().problem))
        assert reward == 1.0 and info["correct"] is True


@pytest.mark.parametrize("bad", ["no", 0, None])
def test_verify_steps_must_be_a_bool(bad: object) -> None:
    with pytest.raises(ValueError, match="verify_steps"):
        ArithmeticEnv(verify_steps=bad)


def test_verify_steps_false_never_leaves_an_expression_without_a_value() -> None:
    env = ArithmeticEnv(verify_steps=False)
    env.reset(options={"problem": "8 / (5 - 3) + 1"})
    _, _, _, _, info = env.step("5 - 3 = 3")  # would leave 8 / 3 + 1
    assert not info["valid"] and "does not divide evenly" in info["error"]
    _, _, _, _, info = env.step("5 - 3 = 0")  # would leave 8 / 0 + 1
    assert not info["valid"] and "zero" in info["error"]
    assert env.get_state().data == "8 / (5 - 3) + 1"
    assert env.step("5 - 3 = 4")[4]["valid"]  # wrong but evaluable: 8 / 4 + 1
    assert env.step("= 9")[4]["valid"]  # a rewrite with the wrong value is accepted too
    assert env.get_state().data == "9"
