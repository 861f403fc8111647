"""``verify(pred, ref)``: is a model's final answer mathematically equal to the reference?

Pipeline (each stage bounded, nothing from the input is ever evaluated as code), one module per
stage:

1. **Extraction** (:mod:`thinkgym.rewards.extract`, on the one answer front end
   :mod:`thinkgym.expr.answers`): the last ``\\boxed{...}``/``\\fbox{...}``, GSM8K's ``#### N``,
   the text after ``The (final) answer is`` / ``Answer:``, else the whole text if it looks like
   math, else the first (after "answer is") or last ``$...$`` segment or number of the prose.
   Trailing unit words are dropped. Program code (``print(1)``, ``__import__(...)``), answers
   that negate or hedge their value (``not 5``, ``at least 5``, ``5 or more``, ``maybe 5``,
   ``5 (approximately)``, ``I don't know, 5``) and lists (``3 or 5``, ``3 apples and 4
   oranges``) are never answers. A text longer than 20,000 characters without a marked answer
   is not read.
2. **Structure** (:mod:`thinkgym.rewards.parse`): multiple-choice letters (when the reference is
   one), equations, tuples, sets, intervals and unions, inequalities, ``\\pm``, percentages,
   matrices (equal only to a matrix of the same shape).
3. **Equality** (:mod:`thinkgym.rewards.compare`): exact rationals, a 50-digit numeric probe at
   fixed points, and a bounded sympy expansion.

Every stage checks a budget (``timeout``, default 1 s) of the calling thread's own CPU time,
so other threads' load never changes a verdict; a timeout or any malformed input gives
``False``. No signals are used, so ``verify`` works in any thread or process.

``from thinkgym.rewards import verify`` gives the function; this module also re-exports the
stages' names it has always had (``extract_answer``, ``_parse_loose``, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, overload

from thinkgym.expr import ExprError
from thinkgym.expr import clear_caches as clear_expr_caches
from thinkgym.expr import latex as L
from thinkgym.rewards.compare import (  # noqa: F401 - re-exported
    _EXPECTED,
    _Cmp,
    _eq,
    _scalar_eq,
    _set_eq,
    _Timeout,
)
from thinkgym.rewards.extract import (  # noqa: F401 - re-exported
    _CALL,
    _CODE,
    _LAST_NUM,
    _NEGATION,
    _SENTENCE_END,
    _TAIL,
    _foreign_call,
    _inside_call,
    _last_boxed,
    _looks_like_prose,
    _math_segments,
    _prose_candidate,
    _split_last_word,
    _strip_units,
    extract_answer,
)
from thinkgym.rewards.parse import (  # noqa: F401 - re-exported
    _Eq,
    _Matrix,
    _parse_loose,
    _parse_matrix,
    _parse_text,
    _parse_text_cached,
    _Scalar,
    _Seq,
    _Set,
    _strip_percent,
)

__all__ = ["VerifyResult", "verify", "extract_answer", "clear_caches"]


@dataclass(frozen=True)
class VerifyResult:
    """What ``verify(..., explain=True)`` returns.

    Attributes:
        equal: the verdict (same as ``verify(...)`` without ``explain``).
        reason: a short sentence saying why, e.g. ``"exact: both are 1/2"``,
            ``"numeric: differ at x=..."``, ``"unparsable prediction: ..."``, ``"timeout"``.
        pred: the answer text extracted from the prediction ("" when none).
        ref: the answer text extracted from the reference.
    """

    equal: bool
    reason: str
    pred: str = ""
    ref: str = ""

    def __bool__(self) -> bool:
        return self.equal


_CHOICE_REF = re.compile(r"^\(?\s*([A-J])\s*\)?\.?$")
# Matched on left-stripped text; whitespace runs are bounded ("\s*\(?\s*" backtracks
# quadratically over a long run of spaces).
_CHOICE_PRED = re.compile(r"\(?\s{0,8}([A-Ja-j])\s{0,8}(?:\)|\.|:|$|\s)")
_CHOICE_LIST = re.compile(
    r"\(?\s{0,8}[A-Ja-j]\s{0,8}\)?\s{0,8}(?:,|/|&|\bor\b|\band\b)\s{0,8}\(?\s{0,8}[A-Ja-j]"
    r"\s{0,8}\)?(?![A-Za-z])"
)
_CHOICE_LAST = re.compile(r"\(([A-J])\)|\b(?:option|choice)\s+([A-J])\b", re.I)


def _choice(text: str) -> str | None:
    s = L.normalize(text).replace("{", "").replace("}", "").strip()
    m = _CHOICE_REF.match(s)
    return m.group(1) if m else None


def _verify_choice(pred: str, ref_letter: str) -> VerifyResult:
    text, how = extract_answer(pred)
    letter = None
    if how != "whole" or len(text) <= 8:
        norm = L.normalize(text).replace("{", "").replace("}", "").lstrip()
        m = _CHOICE_PRED.match(norm)
        letter = m.group(1).upper() if m else None
        if letter is not None and _CHOICE_LIST.match(norm):
            return VerifyResult(False, "several choices in the answer", text, ref_letter)
    if letter is None:
        tail = text[-2000:]
        found = list(_CHOICE_LAST.finditer(tail))
        if found:
            last = found[-1]
            letter = (last.group(1) or last.group(2)).upper()
            if how == "phrase" and len({(f.group(1) or f.group(2)).upper() for f in found}) > 1:
                return VerifyResult(False, "several choices in the answer", text, ref_letter)
            before = tail[: last.start()]
            cut = max((m.end() for m in _SENTENCE_END.finditer(before[-400:])), default=0)
            if _NEGATION.search(before[-400:][cut:]):
                return VerifyResult(False, "the text negates its choice", text, ref_letter)
    if letter is None:
        return VerifyResult(False, "no choice letter in the prediction", text, ref_letter)
    same = letter == ref_letter
    return VerifyResult(
        same, f"choice {letter} {'==' if same else '!='} {ref_letter}", letter, ref_letter
    )


def _verify(pred: str, ref: str, timeout: float) -> VerifyResult:
    if not isinstance(pred, str) or not isinstance(ref, str):
        return VerifyResult(False, "inputs must be strings")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        return VerifyResult(False, f"timeout={timeout!r} must be a number of seconds >= 0")
    c = _Cmp(min(float(timeout), 1e6))
    ref_text, ref_how = extract_answer(ref)
    letter = _choice(ref_text)
    if letter is not None:
        return _verify_choice(pred, letter)
    pred_text, pred_how = extract_answer(pred)
    try:
        ref_ans, ref_text = _parse_loose(ref_text, ref_how)
    except (ExprError, RecursionError) as exc:
        return VerifyResult(False, f"unparsable reference: {exc}", pred_text, ref_text)
    try:
        pred_ans, pred_text = _parse_loose(pred_text, pred_how)
    except (ExprError, RecursionError) as exc:
        return VerifyResult(False, f"unparsable prediction: {exc}", pred_text[:200], ref_text)
    if pred_ans == ref_ans:
        return VerifyResult(True, "identical answers", pred_text, ref_text)
    try:
        equal = _eq(pred_ans, ref_ans, c)
    except _Timeout:
        return VerifyResult(False, "timeout", pred_text, ref_text)
    except _EXPECTED as exc:
        return VerifyResult(False, f"error while comparing: {exc}", pred_text, ref_text)
    return VerifyResult(equal, c.reason, pred_text, ref_text)


@overload
def verify(pred: str, ref: str, *, timeout: float = ..., explain: Literal[False] = ...) -> bool: ...
@overload
def verify(
    pred: str, ref: str, *, timeout: float = ..., explain: Literal[True]
) -> VerifyResult: ...
def verify(
    pred: str, ref: str, *, timeout: float = 1.0, explain: bool = False
) -> bool | VerifyResult:
    """Decide whether a model's final answer equals the reference answer.

    Safe on untrusted text: nothing is evaluated as code, size and nesting are bounded before
    any work, every stage checks a deadline, garbage gives ``False`` and no exception escapes.
    Program code (``print(1)``), prose that negates its answer (``the answer is not 5``) or lists
    several (``3 or 5``), chained equations (``x = 5 = 3``) and matrices against scalars are
    never equal to anything. Thread-safe; no subprocess, no signal.

    Args:
        pred: the model output (free text; the answer is extracted, see the module docstring).
        ref: the reference answer (plain, LaTeX or ``\\boxed{}``).
        timeout: time bound in seconds of this call's own CPU time, checked between stages
            (each stage is bounded in size, so none runs long); other threads' load does not
            count, so it never changes a verdict. Wall time is capped at 20 times the bound.
        explain: return a :class:`VerifyResult` (``.equal``, ``.reason``) instead of a bool.

    Returns:
        ``True`` iff the answers are mathematically equal; a :class:`VerifyResult` if ``explain``.

    Examples:
        >>> verify("so the answer is $\\boxed{\\frac{1}{2}}$", "0.5")
        True
        >>> verify("1+i", "1-i")
        False
    """
    try:
        result = _verify(pred, ref, timeout)
    except _EXPECTED as exc:
        result = VerifyResult(False, f"error: {type(exc).__name__}: {exc}")
    return result if explain else result.equal


def clear_caches() -> None:
    """Forget cached parses (used by benchmarks to time cold calls)."""
    _parse_text_cached.cache_clear()
    clear_expr_caches()
