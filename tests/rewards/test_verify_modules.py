"""verify() is built from three stage modules; every old import keeps working."""

from __future__ import annotations

import importlib

from thinkgym.rewards import verify


def test_from_thinkgym_rewards_import_verify_is_the_function():
    assert callable(verify) and verify("\\frac{1}{2}", "0.5") is True


def test_the_verify_module_keeps_its_names():
    mod = importlib.import_module("thinkgym.rewards.verify")
    for name in ("verify", "VerifyResult", "extract_answer", "clear_caches", "_parse_loose",
                 "_math_segments", "_strip_units", "_strip_percent", "_CODE", "_CALL"):  # fmt: skip
        assert hasattr(mod, name), name


def test_the_stages_work_on_their_own():
    from thinkgym.rewards.compare import Comparison, answers_equal
    from thinkgym.rewards.extract import extract_answer
    from thinkgym.rewards.parse import parse_answer

    text, how = extract_answer("so the answer is $\\boxed{\\frac{1}{2}}$")
    assert (text, how) == ("\\frac{1}{2}", "boxed")
    a, _ = parse_answer(text, how)
    b, _ = parse_answer("0.5")
    c = Comparison(1.0)
    assert answers_equal(a, b, c) and "exact" in c.reason
    assert extract_answer("#### 72") == ("72", "marker")


def test_a_text_cut_to_its_tail_is_not_read():
    res = verify("1 & " * 20_000 + "1", "1", explain=True)
    assert not res.equal and "longer than" in res.reason
