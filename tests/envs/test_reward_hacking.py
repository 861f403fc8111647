"""Reward hacking: hostile final answers pay nothing, whatever path scores them.

Every reward is an optimisation target: an RL trainer finds any answer it pays wrongly. For each
task a list of hostile answers (wrong values dressed up as right ones: hedges, false equations,
unsolved formulas, powers the steps refuse, code, lists, numbers that are not given) is played
against a fixed problem through every path that can pay:

* ``env.step`` (the reward the env pays, with its default reward);
* the reward objects: :class:`OutcomeVerifier` (its default and ``use_verify=True``) and
  :class:`StepVerifier` with an outcome value;
* :func:`thinkgym.learning.trl.reward_function` (the TRL reward, from the ``problem`` column);
* the reference-free check planners use (:meth:`ReasoningEnv.apply`): never ``correct=True``.

A control answer (the right one) pays 1 on the same paths, so a suite that passes cannot be
passing because nothing pays at all. ``verify`` has its own list of hostile pairs.
"""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import thinkgym  # noqa: F401 - registers the envs
from thinkgym.envs.base import EnvState
from thinkgym.rewards import OutcomeVerifier, StepVerifier, verify

GAME24 = {"numbers": [1, 2, 3, 3], "target": 24}
GAME24_RIGHT = "(1 + 3) * (2 * 3) = 24"
GAME24_HOSTILE = [
    "2^3 * 3 * 1 = 24",  # a power: no step makes one
    "2**3 * 3 * 1 = 24",
    "2^3 * 3 * 1",
    "(3 - 1)^3 * 3 = 24",
    "24",
    "24 = 24",
    "4 * 6 = 24",
    "(1 + 3) * (2 * 3) = 25",
    "(1 + 3) * (2 * 3) = 24 = 24",
    "(1 + 3) * (2 * 3) * 1 = 24",
    "(3 + 3) * 2 * 2 = 24",
    "-(-(1 + 3) * (2 * 3)) = 24",
    "(1 + 3)(2 * 3) = 24",
    "sqrt(576) = 24",
    "__import__('os').system('true') = 24",
    "1 + 2 + 3 + 3 = 24",
    "(1 + 3) * (2 * 3) = 24 apples",
    "the answer is 24",
    "\\boxed{24}",
    "(1 + 3) * (2 * 3) or 25 = 24",
    "3 * 3 * 2 + 1 + 5 = 24",
    "1 / 0 + 24 = 24",
    "(1 + 3) * (2 * 3) = 24; 1 + 1",
    "9**9**9 = 24",
    "(" * 30 + "1 + 3" + ")" * 30 + " * 2 * 3 = 24",
    "2 ^ 3 * 3 = 24",
    "(1 + 3) * (2 * 3) = 24.0001",
    "maybe (1 + 3) * (2 * 3) = 24",
]

COUNTDOWN = {"numbers": [2, 4, 1, 1], "target": 16}
COUNTDOWN_RIGHT = "4 * 2 * (1 + 1) = 16"
COUNTDOWN_HOSTILE = [
    "2^4 * 1 * 1 = 16",  # a power: no step makes one
    "2**4 * 1 * 1 = 16",
    "2^4 * 1 * 1",
    "4^2 * 1 * 1 = 16",
    "(1 + 1)^4 = 16",
    "16",
    "16 = 16",
    "8 * 2 = 16",
    "4 * 2 * (1 + 1) = 17",
    "4 * 2 * (1 + 1) = 16 = 16",
    "4 * 2 * (1 + 1) * 1 = 16",
    "4 * 4 * 1 = 16",
    "-(-4 * 2 * (1 + 1)) = 16",
    "4 * 2(1 + 1) = 16",
    "sqrt(256) = 16",
    "print(16)",
    "4 + 2 + 1 + 1 = 16",
    "4 * 2 * (1 + 1) = 16 cakes",
    "the answer is 16",
    "\\boxed{16}",
    "4 * 2 * (1 + 1) or 17 = 16",
    "4 * 2 * 2 = 16",
    "1 / 0 + 16 = 16",
    "9**9**9 = 16",
    "4 * 2 * (1 + 1) = 16.5",
    "at least 4 * 2 * (1 + 1) = 16",
]

ARITHMETIC = {"expression": "(3 + 4) * 5 - 3"}
ARITHMETIC_RIGHT = "32"
ARITHMETIC_HOSTILE = [
    "31 = 32",  # only the text after the last '=' used to be read
    "1 = 32",
    "32 = 31",
    "(3 + 4) * 5 = 32",
    "(3 + 4) * 5 - 3 = 31",
    "35 - 3 = 33",
    "0 * 32 = 32",
    "31",
    "33",
    "-32",
    "320",
    "not 32",
    "at least 32",
    "32 or more",
    "maybe 32",
    "32?",
    "about 32",
    "32 (approximately)",
    "I don't know, 32",
    "less than 33",
    "x ≥ 32",
    "print(32)",
    "32 or 31",
    "31, 32",
    "31 and 32",
    "__import__('os')",
    "9**9**9**9",
    "1/0 = 32",
    "x = 32",
]

LINEAR = {"equation": "5x - 7 = 2x + 11"}
LINEAR_RIGHT = "x = 6"
LINEAR_HOSTILE = [
    "x = (11 + 7)/(5 - 2)",  # the unsolved formula
    "x = 6^1",
    "x = 12 - 6",
    "x = 2 * 3",
    "x = 6 + 0",
    "x = sqrt(36)",
    "(11 + 7)/(5 - 2)",
    "12 - 6",
    "x = 5",
    "x = -6",
    "x = 6 or x = 7",
    "x = 6 = 7",
    "x ≥ 6",
    "x = maybe 6",
    "not 6",
    "at least 6",
    "6 or more",
    "x = 6?",
    "y = 6",
    "2x = 12",
    "x = x",
    "x = 6x",
    "print(6)",
    "5x - 7 = 2x + 11",
    "x = 6, x = 7",
    "x = 6 and 7",
    "about 6",
    "x = 6.0000001",
]

MATHWORD = {"question": "Tom has 20 apples and buys 14 more. How many apples does he have?"}
MATHWORD_REF = "34"
MATHWORD_RIGHT = "34"
MATHWORD_HOSTILE = [
    "not 34",
    "less than 34",
    "at least 34",
    "34 or more",
    "x ≥ 34",
    "maybe 34",
    "34 (approximately)",
    "I don't know, 34",
    "print(34)",
    "34 or 35",
    "33 or 34",
    "34, 35",
    "about 34",
    "roughly 34",
    "around 34",
    "approximately 34",
    "probably 34",
    "perhaps 34",
    "34?",
    "~34",
    "34+",
    "more than 33",
    "at most 34",
    "up to 34",
    "between 33 and 35",
    "34 or so",
    "no more than 34",
    "it is not 34",
    "x = 34 or x = 35",
    "exit(34)",
    "\\boxed{34 or more}",
    "The answer is at least 34",
    "≥ 34",
    "34 > 33",
    "3 apples and 34 oranges",
    "34 = 35",
    "34 is wrong",
    "34 is incorrect",
    "34 if x is even",
    "any number, e.g. 34",
]

VERIFY_HOSTILE = [
    ("not 34", "34"),
    ("less than 34", "34"),
    ("at least 34", "34"),
    ("34 or more", "34"),
    ("x ≥ 34", "34"),
    ("maybe 34", "34"),
    ("34 (approximately)", "34"),
    ("I don't know, 34", "34"),
    ("print(70)", "70"),
    ("3 apples and 4 oranges", "4"),
    ("The answer is at least 34.", "34"),
    ("The answer is 34 or more.", "34"),
    ("The answer is maybe 34", "34"),
    ("\\boxed{34 or more}", "34"),
    ("about 34", "34"),
    ("roughly 34", "34"),
    ("approximately 34", "34"),
    ("34 or so", "34"),
    ("more than 33", "34"),
    ("up to 34", "34"),
    ("no more than 34", "34"),
    ("perhaps it is 34", "34"),
    ("It has 3 cats and 4 dogs.", "4"),
    ("3 or 4", "4"),
    ("x = 34 or x = 35", "34"),
    ("exit(34)", "34"),
    ("I am not sure, 34", "34"),
    ("34 is wrong", "34"),
    ("The answer is 34 if x is even.", "34"),
    ("\\begin{pmatrix}" + " \\\\ ".join(" & ".join(["1"] * 100) for _ in range(100)), "1"),
    ("\\begin{pmatrix}" + "\\\\".join("&".join(["1"] * 100) for _ in range(100)), "1"),
]


def _env(env_id: str, **kwargs):
    return gym.make(f"thinkgym/{env_id}-v0", **kwargs).unwrapped


def _pose(env, problem: dict) -> None:
    key = "problem"
    env.reset(seed=0, options={key: problem})


def _problem(name: str) -> tuple[str, dict, str, list[str]]:
    return {
        "Game24": ("Game24", GAME24, GAME24_RIGHT, GAME24_HOSTILE),
        "Countdown": ("Countdown", COUNTDOWN, COUNTDOWN_RIGHT, COUNTDOWN_HOSTILE),
        "Arithmetic": ("Arithmetic", ARITHMETIC, ARITHMETIC_RIGHT, ARITHMETIC_HOSTILE),
        "LinearEquation": ("LinearEquation", LINEAR, LINEAR_RIGHT, LINEAR_HOSTILE),
        "MathWord": (
            "MathWord",
            {**MATHWORD, "answer": MATHWORD_REF},
            MATHWORD_RIGHT,
            MATHWORD_HOSTILE,
        ),
    }[name]


TASKS = ["Game24", "Countdown", "Arithmetic", "LinearEquation", "MathWord"]
CASES = [(t, a) for t in TASKS for a in _problem(t)[3]]


def test_every_suite_has_at_least_25_hostile_answers() -> None:
    counts = {t: len(set(_problem(t)[3])) for t in TASKS}
    counts["verify"] = len(VERIFY_HOSTILE)
    assert all(n >= 25 for n in counts.values()), counts


def _outcomes(env, state: EnvState) -> list[float]:
    """What each reward object pays for a finished state."""
    rewards = [
        OutcomeVerifier().bind(env),
        OutcomeVerifier(use_verify=True).bind(env),
        StepVerifier(outcome_value=1.0).bind(env),
    ]
    return [float(r.outcome(state)) for r in rewards]


@pytest.mark.parametrize("task", TASKS)
def test_the_right_answer_pays_on_every_path(task: str) -> None:
    """The control: the paths below can pay, so a hostile answer paying 0 means something."""
    name, problem, right, _ = _problem(task)
    env = _env(name)
    _pose(env, problem)
    *_, info = env.step(f"Answer: {right}")
    assert info["correct"] is True
    state = env.get_state()
    paid = _outcomes(env, state)
    assert paid[0] == 1.0 and paid[1] == 1.0
    from thinkgym.learning.trl import reward_function

    fn = reward_function(name, outcome_only=True)
    assert fn(["p"], [f"Answer: {right}"], problem=[json.dumps(problem)]) == [1.0]


@pytest.mark.parametrize(
    ("task", "answer"), CASES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(CASES)]
)
def test_hostile_answer_pays_nothing(task: str, answer: str) -> None:
    name, problem, _, _ = _problem(task)
    env = _env(name)
    _pose(env, problem)
    start = env.get_state()
    step = f"Answer: {answer}"
    # 1. the env's own reward
    _, reward, _, _, info = env.step(step)
    assert reward <= 0.0, (answer, reward)
    assert not info.get("correct")
    # 2. the reward objects on the finished state
    if env.get_state().done:
        assert all(r <= 0.0 for r in _outcomes(env, env.get_state())), answer
    # 3. the reference-free check planners use
    after, _, _ = env.apply(start, step)
    assert after.correct is not True, answer
    # 4. the TRL reward, from the problem column
    from thinkgym.learning.trl import reward_function

    fn = reward_function(name, outcome_only=True)
    assert fn(["p"], [step], problem=[json.dumps(problem)]) == [0.0]
    total = reward_function(name)(["p"], [step], problem=[json.dumps(problem)])
    assert total[0] <= 0.0


@pytest.mark.parametrize("task", ["Game24", "Countdown", "Arithmetic", "LinearEquation"])
def test_hostile_answers_pay_nothing_with_a_composed_reward(task: str) -> None:
    """A reward built by the registry (outcome + step check, summed) pays no hostile answer."""
    from thinkgym.rewards import make_reward

    name, problem, _, hostile = _problem(task)
    env = _env(name, reward=make_reward("outcome", use_verify=True))
    for answer in hostile:
        _pose(env, problem)
        _, reward, *_ = env.step(f"Answer: {answer}")
        assert reward <= 0.0, answer


@pytest.mark.parametrize(("pred", "ref"), VERIFY_HOSTILE, ids=range(len(VERIFY_HOSTILE)))
def test_verify_pays_no_hostile_answer(pred: str, ref: str) -> None:
    assert verify(pred, ref) is False


@pytest.mark.parametrize("answer", MATHWORD_HOSTILE)
def test_mathword_with_verify_as_checker_pays_no_hostile_answer(answer: str) -> None:
    env = _env("MathWord", answer_checker=verify)
    _pose(env, {**MATHWORD, "answer": MATHWORD_REF})
    _, reward, *_ = env.step(f"Answer: {answer}")
    assert reward <= 0.0
    env = _env("MathWord", answer_checker=verify)
    _pose(env, {**MATHWORD, "answer": MATHWORD_REF})
    assert env.step(f"Answer: {MATHWORD_RIGHT}")[1] == 1.0


TEMPLATES = [
    "not {v}", "less than {v}", "at least {v}", "{v} or more", "x ≥ {v}", "maybe {v}",
    "{v} (approximately)", "I don't know, {v}", "print({v})", "about {v}", "{v} or so",
    "no more than {v}", "{v} or {w}", "{w} or {v}", "{w}, {v}", "{v}?", "~{v}", "{v} is wrong",
    "{w} apples and {v} pears", "{v} if x > 0", "at most {v}", "perhaps {v}", "{v}+",
]  # fmt: skip


@pytest.mark.parametrize("template", TEMPLATES)
def test_hedge_templates_pay_nothing_for_any_value(template: str) -> None:
    """The same hostile forms around many references, through both MathWord checkers."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from thinkgym.envs.mathword import answers_equal

    @settings(max_examples=40, deadline=None, derandomize=True)
    @given(st.integers(0, 10**6), st.integers(1, 99))
    def check(v: int, d: int) -> None:
        text = template.format(v=v, w=v + d)
        assert answers_equal(str(v), str(v))  # the control pays
        assert not answers_equal(text, str(v)), text
        if "~" not in template:  # in LaTeX, which verify reads, "~" is a space
            assert not verify(text, str(v)), text

    check()


def _game24_variants(line: str) -> list[str]:
    expr_text, _, target = line.removeprefix("Answer: ").rpartition(" = ")
    return [
        f"{expr_text} = {int(target) + 1}",  # a wrong target
        f"{expr_text} * 1 = {target}",  # a number not given
        f"({expr_text}) ^ 1 = {target}",  # a power
        f"({expr_text}) ** 1 = {target}",
        f"-(-({expr_text})) = {target}",  # a minus sign no step makes
        f"maybe {expr_text} = {target}",
        f"{target}",
        f"{target} = {target}",
    ]


@pytest.mark.parametrize("seed", range(20))
def test_variants_of_solved_game24_puzzles_pay_nothing(seed: int) -> None:
    env = _env("Game24", split="all")
    env.reset(seed=seed)
    start = env.get_state()
    right = env.solve(start.problem)[-1]
    assert env.apply(start, right)[0].correct is True  # the control
    for answer in _game24_variants(right):
        after, _, _ = env.apply(start, f"Answer: {answer}")
        assert after.correct is not True, answer
        env.set_state(start)
        assert env.step(f"Answer: {answer}")[1] <= 0.0, answer
