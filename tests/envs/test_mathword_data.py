"""MathWord data files: references read as written, unusable rows refused with file, row and
column, an observation space that fits every loaded question, one-line errors for broken files."""

from __future__ import annotations

import gzip
import json
import warnings

import gymnasium as gym
import pytest

from thinkgym.envs.mathword import (
    MAX_QUESTION_CHARS,
    DataFileError,
    MathWordEnv,
    extract_answer,
    load_problems,
)
from thinkgym.rewards import verify


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


BARE = ["2\\sqrt{2}", "2^{10}", "[0, 1)", "x^2+1", "1, 2", "1e5", "12 - 5"]
BARE += ["\\left( 3, \\frac{\\pi}{2} \\right)"]


@pytest.mark.parametrize("answer", BARE)
def test_a_bare_answer_column_is_the_reference_as_written(tmp_path, answer):
    path = _jsonl(tmp_path / "math.jsonl", [{"question": "What is it?", "answer": answer}])
    (problem,) = load_problems(path)
    assert problem["answer"] == answer
    env = MathWordEnv(data_files=str(path), answer_checker=verify)
    env.reset(seed=0)
    assert env.step(f"Answer: {answer}")[1] == 1.0  # the true answer pays


@pytest.mark.parametrize(
    ("answer", "last_number"),
    [("2\\sqrt{2}", "2"), ("2^{10}", "10"), ("[0, 1)", "1"), ("x^2+1", "1"), ("12 - 5", "5")],
)
def test_the_last_number_of_a_bare_answer_does_not_pay(tmp_path, answer, last_number):
    path = _jsonl(tmp_path / "math.jsonl", [{"question": "What is it?", "answer": answer}])
    for checker in (None, verify):
        env = MathWordEnv(data_files=str(path), answer_checker=checker)
        env.reset(seed=0)
        assert env.step(f"Answer: {last_number}")[1] == 0.0


def test_rationale_columns_keep_their_rules():
    assert extract_answer("Natalia sold 48/2 = 24 clips.\n#### 72") == "72"
    assert extract_answer("so \\boxed{\\frac{3}{4}}.") == "\\frac{3}{4}"
    assert extract_answer("She has 42 apples left.") == "42"  # prose: its last number
    assert extract_answer("$18.50") == "18.50"


@pytest.mark.parametrize(
    "answer",
    [
        "#### 7\x00",
        "1" * 100_000,
        "#### \u0663",
        "1/0",
        "nan",
        "#### nan",
        "inf",
        "#### inf",
        "1e999",
        "10^10^10",
        "100000!",
        "seventy",
        "#### seventy",
        "70 or 71",
    ],
)
def test_references_nothing_can_match_are_refused_with_file_row_and_column(tmp_path, answer):
    rows = [
        {"question": "What is 1 + 1?", "answer": "#### 2"},
        {"question": "Q?", "answer": answer},
    ]
    path = _jsonl(tmp_path / "refs.jsonl", rows)
    with pytest.raises(DataFileError) as exc:
        load_problems(path)
    assert "refs.jsonl: row 2, column 'answer'" in str(exc.value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        problems = load_problems(path, on_bad_rows="skip")
    assert [p["answer"] for p in problems] == ["2"]
    assert any("skipped 1 bad row(s) of 2" in str(w.message) for w in caught)


@pytest.mark.parametrize("answer", ["70 or 71", "seventy", "1e999"])
def test_pinned_references_follow_the_same_rules(answer):
    env = MathWordEnv()
    with pytest.raises(ValueError, match=r"options\['problem'\]\['answer'\]"):
        env.reset(options={"problem": {"question": "Q?", "answer": answer}})


@pytest.mark.parametrize(
    ("question", "why"),
    [
        ("x" * 10_009, f"at most {MAX_QUESTION_CHARS} fit"),
        ("How many apples does Zoë have?", "outside the observation charset"),
        ("How much is 5 \u20ac?", "outside the observation charset"),
        ("How many \U0001f34e?", "outside the observation charset"),
    ],
)
def test_questions_that_cannot_be_observed_are_refused(tmp_path, question, why):
    path = _jsonl(
        tmp_path / "q.jsonl",
        [{"question": "Fine?", "answer": "1"}, {"question": question, "answer": "2"}],
    )
    with pytest.raises(DataFileError) as exc:
        load_problems(path)
    assert "q.jsonl: row 2, column 'question'" in str(exc.value) and why in str(exc.value)
    with pytest.warns(UserWarning, match="skipped 1 bad row"):
        env = MathWordEnv(data_files=str(path), on_bad_rows="skip")
    assert len(env.problems) == 1


def test_the_observation_space_fits_the_longest_question_after_max_steps(tmp_path):
    long_q = ("How many apples are there " * 60).strip() + "?"
    assert 1500 < len(long_q) <= MAX_QUESTION_CHARS
    path = _jsonl(tmp_path / "long.jsonl", [{"question": long_q, "answer": "#### 3"}])
    env = MathWordEnv(data_files=str(path))
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    for _ in range(env.max_steps - 1):
        obs, *_ = env.step("Work: " + "z" * (env.max_step_chars - 6))
        assert env.observation_space.contains(obs)
    obs, *_ = env.step("Answer: " + "1" * (env.max_step_chars - 8))
    assert env.observation_space.contains(obs)
    from gymnasium.utils.env_checker import check_env

    check_env(env, skip_render_check=True)


def test_an_async_vector_env_runs_a_long_question_to_the_step_limit(tmp_path):
    long_q = ("How many apples are there " * 60).strip() + "?"
    path = _jsonl(tmp_path / "long.jsonl", [{"question": long_q, "answer": "#### 3"}])
    envs = gym.vector.AsyncVectorEnv(
        [lambda: gym.make("thinkgym/MathWord-v0", data_files=str(path))] * 2
    )
    try:
        envs.reset(seed=0)
        for _ in range(12):
            envs.step(["Work: " + "z" * 390] * 2)
    finally:
        envs.close()


def test_duplicate_questions_with_conflicting_answers_name_both_rows(tmp_path):
    rows = [
        {"question": "What is 2 + 2?", "answer": "#### 4"},
        {"question": "What is 3 + 3?", "answer": "#### 6"},
        {"question": "What is  2 + 2?", "answer": "#### 5"},
        {"question": "What is 3 + 3?", "answer": "#### 6"},  # a repeat that agrees is fine
    ]
    path = _jsonl(tmp_path / "dup.jsonl", rows)
    with pytest.raises(DataFileError) as exc:
        load_problems(path)
    msg = str(exc.value)
    assert "dup.jsonl: row 3 repeats the question of" in msg and "dup.jsonl: row 1" in msg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        problems = load_problems(path, on_bad_rows="skip")
    assert [p["question"] for p in problems] == ["What is 3 + 3?", "What is 3 + 3?"]


def _one_line_naming(exc, path) -> None:
    msg = str(exc.value)
    assert str(path) in msg and "\n" not in msg, msg
    assert exc.value.__cause__ is None or isinstance(exc.value.__cause__, DataFileError)


def test_a_file_that_is_not_utf8_is_one_line_naming_it(tmp_path):
    for suffix in (".jsonl", ".json", ".csv"):
        path = tmp_path / f"latin1{suffix}"
        if suffix == ".csv":
            path.write_bytes(
                "question,answer\nWie viel kostet das Äpfelchen?,3\n".encode("latin-1")
            )
        else:
            path.write_bytes(
                json.dumps(
                    {"question": "Wie viel kostet das Äpfelchen?", "answer": "3"},
                    ensure_ascii=False,
                ).encode("latin-1")
            )
        with pytest.raises(DataFileError, match="not UTF-8") as exc:
            load_problems(path)
        _one_line_naming(exc, path)


def test_huge_json_numbers_and_deep_nesting_are_one_line_naming_the_file(tmp_path):
    big = tmp_path / "big.jsonl"
    big.write_text('{"question": "Q?", "answer": ' + "9" * 5000 + "}\n")
    with pytest.raises(DataFileError) as exc:
        load_problems(big)
    _one_line_naming(exc, big)
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"question": "Q?", "answer": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(DataFileError) as exc:
        load_problems(deep)
    _one_line_naming(exc, deep)
    ok = tmp_path / "int.jsonl"
    ok.write_text('{"question": "Q?", "answer": ' + "9" * 200 + "}\n")
    with pytest.raises(DataFileError, match="row 1, column 'answer'.*(only approximately|digits)"):
        load_problems(ok)


def test_broken_trace_files_are_one_line_naming_the_file(tmp_path):
    from thinkgym.learning.traces import Trace, load_traces, save_traces

    path = tmp_path / "t.jsonl.gz"
    save_traces(
        [Trace("thinkgym/Arithmetic-v0", "Evaluate: 1 + 1", ("= 2", "Answer: 2"))] * 50, path
    )
    data = path.read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt") as exc:
        load_traces(cut)
    assert str(cut) in str(exc.value) and "\n" not in str(exc.value)
    text = tmp_path / "s.jsonl"
    text.write_text(
        json.dumps({"env_id": "Arithmetic", "head": "Evaluate: 1 + 1", "steps": "Answer: 2"})
    )
    with pytest.raises(ValueError, match="'steps' must be a list of step strings"):
        load_traces(text)
    latin = tmp_path / "l.jsonl"
    latin.write_bytes(b'{"env_id": "x", "head": "\xe4", "steps": []}\n')
    with pytest.raises(ValueError, match="not UTF-8"):
        load_traces(latin)
    assert len(load_traces(path)) == 50 and gzip.open(path).read()
