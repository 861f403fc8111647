"""Tests for :func:`thinkgym.rewards.verify`: labeled suite, hostile inputs, threads, explain."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from thinkgym.rewards import VerifyResult, verify

SUITE = Path(__file__).resolve().parents[1] / "data" / "verify_suite.jsonl"
BOUND = 1.5  # seconds: the default timeout (1 s) plus slack for a loaded CI machine


def _rows() -> list[dict]:
    return [json.loads(line) for line in SUITE.read_text().splitlines() if line.strip()]


def test_suite_accuracy_and_no_false_positives() -> None:
    rows = _rows()
    assert len(rows) >= 300
    assert {r["category"] for r in rows} >= {
        "extraction", "thousands", "decimal_fraction", "percent", "scientific", "latex",
        "algebra", "equation", "tuple", "set", "interval", "choice", "plain_text", "prose",
        "complex", "repeating", "large_int",
    }  # fmt: skip
    wrong, false_pos = [], []
    for r in rows:
        got = verify(r["pred"], r["ref"])
        assert isinstance(got, bool)
        if got != r["equal"]:
            wrong.append(r)
            if r["clearly_unequal"]:
                false_pos.append(r)
    assert not false_pos, false_pos
    assert 1 - len(wrong) / len(rows) >= 0.95, wrong


@pytest.mark.parametrize(
    ("pred", "ref", "equal"),
    [
        ("sqrt(486)", "9\\sqrt{6}", True),
        ("(x+1)^2", "x^2+2x+1", True),
        ("1+i", "1-i", False),
        ("0.\\overline{3}", "1/3", True),
        ("0.(3)", "\\frac13", True),
        ("2^{64}", "18446744073709551616", True),
        ("[1,2]", "(1,2)", False),
        ("(B)", "B", True),
        ("x = 3", "3", True),
        ("0.33", "1/3", False),
    ],
)
def test_issue_examples(pred: str, ref: str, equal: bool) -> None:
    assert verify(pred, ref) is equal


SENTINEL = Path("/tmp/thinkgym_verify_pwned")
HOSTILE = [
    f"__import__('os').system('touch {SENTINEL}')",
    f"\\boxed{{__import__('os').system('touch {SENTINEL}')}}",
    "9**9**9**9",
    "9^{9^{9^{9}}}",
    "10^(10^10)",
    "2^{10^{10}}",
    "100000!",
    "(" * 10_000 + "1" + ")" * 10_000,
    "x" * 1_000_000,
    "1" * 1_000_000,
    "\x00" * 100 + "1\x002",
    "\\frac{" * 2000 + "1" + "}{2}" * 2000,
    "-" * 5000 + "1",
    "\\sqrt{" * 3000 + "2" + "}" * 3000,
    "2^2^2^2^2^2^2^2^2^2^2",
    "\\binom{100000}{50000}",
    "{" * 50 + "}" * 49,
    "\\boxed{" * 1000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_inputs_are_false_fast_and_inert(text: str) -> None:
    SENTINEL.unlink(missing_ok=True)
    for pred, ref in ((text, "1"), ("1", text), (text, text[:100] + "1")):
        start = time.monotonic()
        assert verify(pred, ref) is False
        assert time.monotonic() - start < BOUND
    assert not SENTINEL.exists()


def test_eight_threads() -> None:
    cases = [(h, "1", False) for h in HOSTILE[:8]] + [
        ("sqrt(486)", "9\\sqrt{6}", True),
        ("(x+1)^2", "x^2+2x+1", True),
        ("1+i", "1-i", False),
        ("\\frac{1}{2}", "0.5", True),
        ("\\log(x - x)", "x", False),  # no point evaluates: goes to the sympy worker
    ]
    errors: list[str] = []

    def worker(k: int) -> None:
        for j in range(len(cases)):
            pred, ref, want = cases[(j + k) % len(cases)]
            start = time.monotonic()
            got = verify(pred, ref)
            if got is not want:
                errors.append(f"{pred[:30]!r} vs {ref!r}: {got}")
            if time.monotonic() - start > 8 * BOUND:  # 8 threads share 2 cores and the GIL
                errors.append(f"{pred[:30]!r} too slow")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_explain_gives_reasons() -> None:
    res = verify("The answer is $\\frac{1}{2}$.", "0.5", explain=True)
    assert isinstance(res, VerifyResult)
    assert res.equal and bool(res) and "exact" in res.reason
    res = verify("1+i", "1-i", explain=True)
    assert not res.equal and "numeric" in res.reason
    res = verify("(x+1)^2", "x^2+2x+1", explain=True)
    assert res.equal and "sympy" in res.reason
    res = verify("9**9**9**9", "1", explain=True)
    assert not res.equal and "unparsable prediction" in res.reason and "exceeds" in res.reason
    res = verify("[1,2]", "(1,2)", explain=True)
    assert not res.equal and "shape" in res.reason


def test_non_strings_and_timeout_keyword() -> None:
    assert verify(None, "1") is False  # type: ignore[arg-type]
    assert verify("1", 1) is False  # type: ignore[arg-type]
    assert verify("(x+1)^2", "x^2+2x+1", timeout=5.0) is True
    res = verify("(x+1)^5", "(1+x)^5", timeout=0.0, explain=True)
    assert not res.equal and res.reason == "timeout"
