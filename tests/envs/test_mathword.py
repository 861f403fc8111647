"""MathWord: the shipped set, data files, answer extraction, step checks, errors, search."""

from __future__ import annotations

import json
import warnings

import gymnasium as gym
import pytest

import thinkgym  # noqa: F401  (registers the envs)
from thinkgym.agents.base import Proposal
from thinkgym.data.mathword_gen import FAMILIES, generate_split
from thinkgym.envs.base import ReasoningEnv
from thinkgym.envs.mathword import (
    DEFAULT_DATA_DIR,
    DataFileError,
    MathWordEnv,
    answers_equal,
    check_arithmetic_claims,
    extract_answer,
    load_problems,
    reference_steps,
    shipped_problems,
)

GSM8K_ROW = {
    "question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
    "clips in May. How many clips did Natalia sell altogether in April and May?",
    "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
    "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72",
}


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# ---------------------------------------------------------------------- shipped set
def test_shipped_set_sizes_families_and_steps():
    train, test = shipped_problems("train"), shipped_problems("test")
    assert len(train) + len(test) >= 500 and len(test) >= 100
    assert not {p["question"] for p in train} & {p["question"] for p in test}
    rows = [json.loads(line) for line in (DEFAULT_DATA_DIR / "train.jsonl").open()]
    assert {r["family"] for r in rows} == set(FAMILIES)
    assert {r["n_steps"] for r in rows} == {2, 3, 4, 5, 6}
    size = sum(f.stat().st_size for f in DEFAULT_DATA_DIR.glob("*.jsonl"))
    assert size < 1_000_000


def test_generator_is_deterministic_and_matches_shipped_file():
    rows = [json.loads(line) for line in (DEFAULT_DATA_DIR / "test.jsonl").open()]
    assert generate_split("test", 15) == rows[:15]


@pytest.mark.parametrize("split", ["train", "test"])
def test_reference_solutions_are_accepted_and_score_one(split):
    env = gym.make("thinkgym/MathWord-v0", split=split).unwrapped
    for i in range(len(env.problems)):
        env.reset(options={"index": i})
        for step in env.solve(env.get_state().problem):
            _, reward, terminated, _, info = env.step(step)
            assert info["valid"], (step, info["error"])
        assert terminated and reward == 1.0 and info["correct"]


def test_default_make_is_offline_and_seeded():
    env = gym.make("thinkgym/MathWord-v0")
    obs1, _ = env.reset(seed=3)
    obs2, _ = env.reset(seed=3)
    assert obs1 == obs2 and obs1.startswith("Problem: ")
    assert isinstance(env.unwrapped, ReasoningEnv)
    assert env.unwrapped.outcome_needs_reference
    env.close()


# ---------------------------------------------------------------------- answers
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GSM8K_ROW["answer"], "72"),
        ("#### 1,200", "1200"),
        ("#### $18.50", "18.50"),
        ("so the answer is $\\boxed{\\frac{3}{4}}$.", "\\frac{3}{4}"),
        ("\\boxed{\\{1, 2\\}} and \\boxed{(x+{1})}", "(x+{1})"),
        ("She has 42 apples left.", "42"),
        ("42", "42"),
        (42, "42"),
        (2.5, "5/2"),
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize("text", ["", "no number here", "#### ", None, float("nan")])
def test_extract_answer_rejects(text):
    with pytest.raises(ValueError):
        extract_answer(text)


def test_answers_equal():
    assert answers_equal("72", "72")
    assert answers_equal("$1,200.", "1200")
    assert answers_equal("0.75", "\\frac{3}{4}")
    assert answers_equal("\\dfrac{6}{8}", "3/4")
    assert answers_equal("72 clips", "72")
    assert not answers_equal("71", "72")
    assert not answers_equal("7 or 72", "72")
    assert not answers_equal("garbage ((((", "72")
    assert answers_equal("Monday", "monday")
    assert not answers_equal("9" * 5000, "9")


# ---------------------------------------------------------------------- steps
@pytest.mark.parametrize(
    "step",
    [
        "Natalia sold 48/2 = <<48/2=24>>24 clips in May.",
        "Cost: $12 * 5 = $60.",
        "Total = 5 + 3 = 8 apples",
        "10 / 3 = 3.33 hours",
        "2 x 3 = 6",
        "(4 + 6) * 2 = 20",
        "20% of 50 = 10",
        "x = 5",
        "So the total is 1,200 + 300 = 1,500.",
        "Now think about what is left.",
    ],
)
def test_true_or_unclaimed_steps_pass(step):
    assert check_arithmetic_claims(step) == ""


@pytest.mark.parametrize(
    "step",
    [
        "48 / 2 = 25",
        "Cost: $12 * 5 = $61.",
        "Total = 5 + 3 = 9 apples",
        "10 / 3 = 3.4",
        "2 x 3 = 7",
    ],
)
def test_false_claims_are_rejected(step):
    assert "false" in check_arithmetic_claims(step)


def test_env_rejects_false_arithmetic_unless_turned_off():
    env = MathWordEnv()
    env.reset(seed=0)
    before = env.get_state()
    obs, reward, term, trunc, info = env.step("Half of them: 48 / 2 = 25")
    assert not info["valid"] and "48 / 2 = 25" in info["error"] and reward == env.invalid_penalty
    assert env.get_state().steps == before.steps
    off = MathWordEnv(check_arithmetic=False)
    off.reset(seed=0)
    assert off.step("Half of them: 48 / 2 = 25")[4]["valid"]


def test_wrong_answer_and_custom_checker():
    env = MathWordEnv()
    env.reset(options={"problem": {"question": "What is 2 + 2?", "answer": "#### 4"}})
    _, reward, term, _, info = env.step("Answer: 5")
    assert term and reward == 0.0 and not info["correct"]
    env = MathWordEnv(answer_checker=lambda pred, ref: pred.strip() == "four" and ref == "4")
    env.reset(options={"problem": {"question": "What is 2 + 2?", "answer": 4}})
    assert env.step("Answer: four")[1] == 1.0


def test_process_reward_from_any_prm():
    class LengthPRM:
        def __init__(self):
            self.calls = []

        def process(self, state, step, *args, **kwargs):
            self.calls.append(step)
            return len(step) / 100

        def outcome(self, state):
            return 2.0 if state.correct else -1.0

    prm = LengthPRM()
    env = gym.make("thinkgym/MathWord-v0", reward=prm)
    env.reset(seed=1)
    steps = env.unwrapped.solve(env.unwrapped.get_state().problem)
    rewards = [env.step(s)[1] for s in steps]
    assert rewards[:-1] == [len(s) / 100 for s in steps[:-1]]
    assert rewards[-1] == 2.0 and prm.calls == steps[:-1]


def test_state_round_trip_and_apply():
    env = MathWordEnv()
    env.reset(seed=5)
    first = env.solve(env.get_state().problem)[0]
    s0 = env.get_state()
    env.step(first)
    s1 = env.get_state()
    env.set_state(s0)
    assert env.get_state() is s0 and env.transcript() == env.format_problem(s0.problem)
    nxt, ok, err = env.apply(s0, first)
    assert ok and not err and nxt.steps == s1.steps
    assert env.state_from_transcript(env.transcript(s1)).steps == s1.steps
    # a planner's answer check sees no reference
    done, ok, _ = env.apply(s1, f"Answer: {s1.problem['answer']}")
    assert ok and done.done and done.correct is None


def test_split_and_reset_options():
    env = MathWordEnv(split="test")
    env.reset(options={"index": 0})
    assert env.get_state().problem == shipped_problems("test")[0]
    with pytest.raises(ValueError, match="from 0 to"):
        env.reset(options={"index": 10_000})
    with pytest.raises(ValueError, match="Did you mean 'test'"):
        MathWordEnv(split="tset")
    q = shipped_problems("test")[3]["question"]
    env.reset(options={"problem": q})
    assert env.get_state().problem["question"] == q


def test_reset_refuses_unknown_option_keys():
    env = MathWordEnv()
    with pytest.raises(ValueError, match=r"unknown key 'indx'.*\['index', 'problem'\].*'index'"):
        env.reset(options={"indx": 3})


def test_pinned_question_must_fit_the_observation_space():
    env = MathWordEnv()
    limit = env.max_question_chars()
    with pytest.raises(ValueError, match=f"has 100000 characters; at most {limit} fit"):
        env.reset(options={"problem": {"question": "x" * 100_000, "answer": "3"}})
    with pytest.raises(ValueError, match="outside the observation charset"):
        env.reset(options={"problem": {"question": "Wie viel \u20ac?", "answer": "3"}})
    # the longest accepted question still fits after max_steps full-length steps
    obs, _ = env.reset(options={"problem": {"question": "y" * limit, "answer": "1"}})
    assert env.observation_space.contains(obs)
    for _ in range(env.max_steps - 1):
        obs, *_ = env.step("Work: " + "z" * (env.max_step_chars - 6))
    obs, *_ = env.step("Answer: " + "1" * (env.max_step_chars - 8))
    assert env.observation_space.contains(obs)


def test_pinned_answer_must_be_scorable():
    env = MathWordEnv()
    with pytest.raises(ValueError, match=r"'\\\\frac\{1\}\{0\}' has no value \(division by zero"):
        env.reset(options={"problem": {"question": "q?", "answer": r"\frac{1}{0}"}})
    with pytest.raises(ValueError, match="no final answer found in 'no number here'"):
        env.reset(options={"problem": {"question": "q?", "answer": "no number here"}})
    env.reset(options={"problem": {"question": "q?", "answer": r"\frac{1}{2}"}})
    assert env.get_state().problem["answer"] == r"\frac{1}{2}"
    assert env.step("Answer: 0.5")[1] > 0
    with pytest.raises(ValueError, match="which no answer can match"):
        env.reset(options={"problem": {"question": "q?", "answer": "#### " + "a" * 500}})


def test_no_final_answer_error_names_the_value():
    with pytest.raises(ValueError) as info:
        extract_answer("x" * 100)
    assert "'" + "x" * 80 + "'..." in str(info.value)


def test_held_out_split_hooks():
    train, test = MathWordEnv(), MathWordEnv(split="test")
    fixed = train.fixed_test_set()
    assert fixed == test.fixed_test_set() == shipped_problems("test")
    assert train.problem_split(fixed[0]) == "test"
    assert test.problem_split(train.problems[0]) == "train"
    everything = MathWordEnv(split="all")
    assert len(everything.problems) == len(train.problems) + len(test.problems)


def test_eval_problems_are_the_test_split():
    splits = pytest.importorskip("thinkgym.envs.splits")
    rows = splits.eval_problems("MathWord", 5)
    assert [r["options"]["problem"] for r in rows] == shipped_problems("test")[:5]
    env = MathWordEnv()  # a train env replays a pinned test problem
    env.reset(**rows[0])
    assert env.get_state().problem == shipped_problems("test")[0]
    head = env.format_problem(shipped_problems("test")[1])
    assert splits.is_held_out(head)
    assert not splits.is_held_out(env.format_problem(shipped_problems("train")[0]))


# ---------------------------------------------------------------------- data files
def test_gsm8k_style_jsonl(tmp_path):
    path = _write_jsonl(tmp_path / "gsm.jsonl", [GSM8K_ROW])
    env = gym.make("thinkgym/MathWord-v0", data_files=str(path)).unwrapped
    env.reset(seed=0)
    problem = env.get_state().problem
    assert problem["answer"] == "72" and problem["source"] == "gsm.jsonl:1"
    assert env.solve(problem) == [
        "Natalia sold 48/2 = 24 clips in May.",
        "Natalia sold 48+24 = 72 clips altogether in April and May.",
        "Answer: 72",
    ]
    for step in env.solve(problem):
        _, reward, _, _, info = env.step(step)
        assert info["valid"]
    assert reward == 1.0


def test_column_mapping_and_split_dict(tmp_path):
    rows = [{"problem": "What is 6 * 7?", "solution": "6 * 7 = 42, so \\boxed{42}."}]
    train = _write_jsonl(tmp_path / "train.jsonl", rows)
    test = _write_jsonl(
        tmp_path / "test.jsonl",
        [{"problem": "What is 1/2 + 1/4?", "solution": "\\boxed{\\frac{3}{4}}"}],
    )
    env = MathWordEnv(
        data_files={"train": str(train), "test": str(test)},
        split="test",
        question_field="problem",
        answer_field="solution",
    )
    env.reset(seed=0)
    assert env.step("Answer: 0.75")[1] == 1.0
    with pytest.raises(ValueError, match=r"splits: train\)"):
        MathWordEnv(data_files={"train": str(train)}, split="validation")


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet"])
def test_other_formats_via_datasets(tmp_path, fmt):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list(
        [{"q": "What is 3 + 4?", "a": "3 + 4 = 7\n#### 7"}, {"q": "What is 10 - 4?", "a": "#### 6"}]
    )
    path = tmp_path / f"p.{fmt}"
    getattr(ds, f"to_{fmt}")(str(path))
    env = MathWordEnv(data_files=str(path), question_field="q", answer_field="a")
    assert [p["answer"] for p in env.problems] == ["7", "6"]
    assert env.problems[0]["solution"] == ["3 + 4 = 7"]


def test_missing_column_names_file_and_column(tmp_path):
    path = _write_jsonl(tmp_path / "p.jsonl", [{"questoin": "x?", "answer": "1"}])
    with pytest.raises(DataFileError) as exc:
        load_problems(path)
    msg = str(exc.value)
    assert "p.jsonl" in msg and "'question'" in msg and "Did you mean 'questoin'" in msg
    assert "question_field" in msg


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DataFileError, match="empty.jsonl: the file is empty"):
        load_problems(empty)
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        load_problems(tmp_path / "nope.jsonl")
    with pytest.raises(DataFileError, match="unsupported file type '.txt'"):
        bad = tmp_path / "p.txt"
        bad.write_text("x")
        load_problems(bad)


def test_malformed_row_names_the_row(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(GSM8K_ROW) + "\n" + '{"question": "x", "answer": \n')
    with pytest.raises(DataFileError, match=r"broken.jsonl: row 2 \(line 2\) is not valid JSON"):
        load_problems(path)


def test_bad_rows_raise_with_row_and_column_or_skip_with_count(tmp_path):
    rows = [
        GSM8K_ROW,
        {"question": "", "answer": "#### 3"},
        {"question": "How many?", "answer": "none of them"},
        {"question": "How many?", "answer": None},
    ]
    path = _write_jsonl(tmp_path / "rows.jsonl", rows)
    with pytest.raises(DataFileError) as exc:
        load_problems(path)
    msg = str(exc.value)
    assert "3 bad row(s)" in msg
    assert "rows.jsonl: row 2, column 'question'" in msg
    assert "rows.jsonl: row 3, column 'answer': unparsable answer 'none of them'" in msg
    assert "rows.jsonl: row 4, column 'answer'" in msg
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = MathWordEnv(data_files=str(path), on_bad_rows="skip")
    assert len(env.problems) == 1
    assert any("skipped 3 bad row(s) of 4" in str(w.message) for w in caught)


def test_reference_steps_splits_long_prose():
    text = ("This is a sentence. " * 40).strip() + "\nSo \\boxed{5}."
    steps = reference_steps(text, max_chars=100)
    assert all(len(s) <= 100 for s in steps) and steps[-1] == "So \\boxed{5}."


# ---------------------------------------------------------------------- search
class _MixedPolicy:
    """Proposes the reference step and a step with wrong arithmetic (scripted, no model)."""

    def __init__(self, env):
        from thinkgym.agents.base import OracleAgent

        self.oracle = OracleAgent(env)

    def propose(self, observations, n=1, **kwargs):
        good = self.oracle.propose(observations, 1)
        out = []
        for [g] in good:
            good_step = Proposal(g.text, logprob=-1.0, tokens=len(g.text) + 1)
            if n == 1:  # one sample per call (best-of-N): follow the reference
                out.append([good_step])
                continue
            out.append(
                [Proposal("Guess: 2 + 2 = 5", logprob=-0.1, tokens=16)] + [good_step] * (n - 1)
            )
        return out


@pytest.mark.parametrize("planner", ["best_of_n", "beam", "mcts"])
def test_planners_run_on_mathword(planner):
    from thinkgym.search import make_planner, score_result

    env = MathWordEnv(split="test")
    kwargs = {"budget": 60}
    result = make_planner(planner, policy=_MixedPolicy(env), **kwargs).plan(env, seed=2)
    assert result.answer is not None
    score_result(env, result)
    assert result.correct is True


def test_seeds_visit_every_row_once():
    env = MathWordEnv(split="test")
    seen = set()
    for s in range(len(env.problems)):
        env.reset(seed=s)
        seen.add(env.get_state().problem["source"])
    assert len(seen) == len(env.problems)
    env.reset(seed=len(env.problems) + 3)
    first = env.get_state().problem
    env.reset(seed=3)
    assert env.get_state().problem == first


HOSTILE = [
    "__import__('os').system('echo pwned')",
    "exec('print(1)')",
    "9^9^9^9",
    "10^{10^{10}}",
    "factorial(10**7)",
    "\\frac{1}{0}",
    "(" * 5000 + "1" + ")" * 5000,
    "1" * 100_000,
    "\\sqrt{" * 300 + "2" + "}" * 300,
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_answers_never_reach_eval_and_get_a_verdict(text, monkeypatch):
    """Model answers go through the bounded parser only: eval/exec/sympify are never called, and
    every hostile text gets a plain verdict (no exception escapes, nothing huge is computed)."""
    import builtins

    import sympy

    def refuse(*args, **kwargs):
        raise AssertionError("untrusted text reached eval/exec/sympify")

    from thinkgym.envs import mathword

    env = gym.make("thinkgym/MathWord-v0").unwrapped  # built first: imports run exec
    env.reset(seed=0)
    mathword.answers_equal("1/2", "0.5")  # any lazy import happens here, unpatched
    for mod, name in ((builtins, "eval"), (builtins, "exec"), (sympy, "sympify")):
        monkeypatch.setattr(mod, name, refuse)
    assert mathword.answers_equal(text, "42") is False
    assert mathword._numeric_value(text) is None
    ok, _ = env.check_answer(env.get_state(), text[: env.max_step_chars])
    assert ok is False
