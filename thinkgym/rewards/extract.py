"""Stage 1 of :func:`thinkgym.rewards.verify`: find the answer in free text.

The final answer is found by the one answer front end (:mod:`thinkgym.expr.answers`): the last
``\\boxed{...}``, GSM8K's ``#### N``, the text after ``The (final) answer is`` / ``Answer:``,
else the whole text. Here that text is cleaned for the parser: trailing unit words are dropped,
and prose falls back to its first (after "answer is") or last ``$...$`` segment or number.
Program code (``print(1)``, ``__import__(...)``, method calls, quoted arguments) is never an
answer, nor is a number that its sentence negates or hedges (``the answer is not 5``,
``at least 5``, ``5 or more``, ``maybe 5``) or that stands in a list (``3 or 5``,
``2, 4 and 6``, ``3 apples and 4 oranges``). Every scan is linear in the input (string scans
where a regex would backtrack).
"""

from __future__ import annotations

import re

from thinkgym.expr import ParseError
from thinkgym.expr import answers as A
from thinkgym.expr import latex as L

__all__ = ["extract_answer"]

_TAIL = A.ANSWER_TAIL
"""Only the last this-many characters of a prediction are searched for an answer."""

_LAST_NUM = A._NUMBER
_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}")
_PARSED_CALLS = frozenset(L.FUNCS) | {"asin", "acos", "atan"}
"""Function names the parser evaluates; it would read any other name (``floor``, ``gcd``,
``max``, ``Re``) as a product of letters (``f*l*oo*r``), so such calls are refused."""
_KNOWN_WORDS = _PARSED_CALLS | {
    "pi",
    "inf",
    "infty",
    "infinity",
    "and",
    "or",
    "sqrt",
    "frac",
    "percent",
}
_TEXT_TAIL = re.compile(r"\\text\s*\{[^{}]*\}$")
_PERCENT_TEXT = re.compile(r"\\text\s*\{\s*%\s*\}$")
_CODE = A._CODE
_CALL = re.compile(r"(?<![\\A-Za-z0-9_])([A-Za-z_][A-Za-z_0-9]+)\(")
_MATH_CALLS = frozenset(L.FUNCS) | {
    "asin", "acos", "atan", "gcd", "lcm", "max", "min", "det", "sgn", "sign", "mod", "deg",
    "Re", "Im", "arg", "floor", "ceil", "binom", "frac", "sqrt", "boxed", "text", "ln", "lg",
}  # fmt: skip
_NEGATION = A._NEGATION
# another quantity earlier in the sentence, joined by "and"/"or"/"plus": "3 apples and 4 oranges"
_QUANTITY_BEFORE = re.compile(r"\d[^\d.!?\n]{0,60}\b(?:and|or|plus)\b[^\d]{0,60}$")
_LIST_AFTER = re.compile(r"\s*(?:,|;|\bor\b|\band\b|\bto\b)\s*(?:\$|\\\(|-?\.?\d)")
_LIST_BEFORE = re.compile(r"(?:\d|\$|\\\))\s*(?:,|;|\bor\b|\band\b)\s*$")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)|\n")


def _last_boxed(s: str) -> str | None:
    return A.last_boxed(s)


def extract_answer(text: str) -> tuple[str, str]:
    """Find the final answer in free text with the one answer front end
    (:func:`thinkgym.expr.answers.extract`).

    Returns:
        ``(answer_text, how)`` where ``how`` is ``"boxed"``, ``"marker"`` (``#### N``),
        ``"phrase"`` or ``"whole"``. A whole text longer than
        :data:`~thinkgym.expr.answers.ANSWER_TAIL` characters gives ``("", "cut")``: only its
        tail could be read, and a cut piece of an answer is not the answer.
    """
    found = A.extract(text)
    if found.cut and found.how == "whole":
        return "", "cut"
    return found.text, found.how


def _split_last_word(s: str) -> tuple[str, str] | None:
    """``"5 apples."`` -> ``("5", "apples")``: the text before a final word or ``\\text{...}``.

    Written with string scans rather than one backtracking regex, so it is linear in ``len(s)``.
    """
    t = s.rstrip()
    if t[-1:] in (".", "!"):
        t = t[:-1].rstrip()
    m = _TEXT_TAIL.search(t)
    if m is not None:
        word, t = t[m.start() :], t[: m.start()]
    else:
        if t[-1:] == ".":
            t = t[:-1]
        end = k = len(t)
        while k > 0 and t[k - 1].isascii() and t[k - 1].isalpha():
            k -= 1
        if end - k < 2:
            return None
        word, t = t[k:end], t[:k]
    k = len(t)
    while k > 0 and (t[k - 1].isspace() or t[k - 1] == "~"):
        k -= 1
    if k == len(t):
        return None
    return t[:k], word


def _strip_units(s: str) -> str:
    for _ in range(4):
        split = _split_last_word(s)
        if split is None:
            break
        head, word = split
        if word.strip(".!").lower() in _KNOWN_WORDS or not head.strip():
            break
        if head.rstrip()[-1] in "+-*/^=(,{[<>&|\\":  # "x + xy": the word is an operand
            break
        s = head
    return s.strip()


def _foreign_call(s: str, min_len: int) -> str | None:
    """The first ``name(`` whose name (``min_len`` letters or more) is no math function."""
    for m in _CALL.finditer(s):
        name = m.group(1)
        if len(name) >= min_len and name not in _MATH_CALLS:
            return name
    return None


def _unsupported_call(s: str) -> str | None:
    """The first ``name(`` of a math function the parser cannot evaluate (``floor(``, ``gcd(``)."""
    for m in _CALL.finditer(s):
        if m.group(1) in _MATH_CALLS and m.group(1) not in _PARSED_CALLS:
            return m.group(1)
    return None


def _inside_call(before: str) -> bool:
    """Whether the end of ``before`` lies inside the brackets of a call (``floor(2.5`` -> True).

    A backward scan over the (bounded) sentence: the innermost unclosed ``(`` directly after a
    name means the text that follows is a function's argument, not an answer.
    """
    depth = 0
    for k in range(len(before) - 1, -1, -1):
        ch = before[k]
        if ch == ")":
            depth += 1
        elif ch == "(":
            if depth == 0:
                return k > 0 and (before[k - 1].isalpha() or before[k - 1] == "_")
            depth -= 1
    return False


def _looks_like_prose(s: str) -> bool:
    return any(w.group(0).lower() not in _KNOWN_WORDS for w in _WORD.finditer(s))


_DELIMS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))


def _math_segments(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, inner)`` of each ``$..$``, ``$$..$$``, ``\\(..\\)``, ``\\[..\\]`` segment.

    A left-to-right scan with ``str.find`` whose positions only move forward (an opener without a
    closer means no later opener of its kind closes either), so it is linear in ``len(text)``;
    a lazy regex over unclosed delimiters is quadratic.
    """
    out: list[tuple[int, int, str]] = []
    nxt = {op: -1 for op, _ in _DELIMS}
    dead: set[str] = set()
    i, n = 0, len(text)
    while i < n:
        best: tuple[int, str, str] | None = None
        for op, cl in _DELIMS:
            if op in dead:
                continue
            if nxt[op] < i:
                nxt[op] = text.find(op, i)
                if nxt[op] < 0:
                    dead.add(op)
                    continue
            j = nxt[op]
            if best is None or j < best[0]:
                best = (j, op, cl)
        if best is None:
            break
        j, op, cl = best
        k = text.find(cl, j + len(op) + 1)  # at least one character inside
        if k < 0:
            dead.add(op)
            i = j + len(op)
            continue
        out.append((j, k + len(cl), text[j + len(op) : k]))
        i = k + len(cl)
    return out


def _prose_candidate(text: str, pick: int) -> str:
    """The answer inside prose: the first (after "answer is") or last math segment or number.

    Refused (``ParseError``) when its sentence negates or hedges it ("the answer is not 5",
    "at least 5", "5 or more", "maybe 5") or when it is one of a list ("3 or 5", "2, 4 and 6",
    "3 apples and 4 oranges").
    """
    cands = [(a, b, inner.strip()) for a, b, inner in _math_segments(text)]
    if not cands:
        cands = [(m.start(), m.end(), m.group(0)) for m in _LAST_NUM.finditer(text)]
    if not cands:
        raise ParseError("no answer found in the text")
    start, end, cand = cands[pick]
    before = text[:start]
    cut = max((m.end() for m in _SENTENCE_END.finditer(before[-400:])), default=0)
    sentence = before[-400:][cut:]
    if _NEGATION.search(sentence):
        raise ParseError(f"the text negates its answer ({sentence.strip()[-60:]!r})")
    after = text[end : end + 400]
    stop = _SENTENCE_END.search(after)
    after = after[: stop.start()] if stop is not None else after
    reason = A.hedge(sentence, signs=False) or A.hedge(after, signs=False, negation=False)
    if reason:
        raise ParseError(reason)
    if _inside_call(sentence):  # "floor(2.5)": 2.5 is an argument, not the answer
        raise ParseError(f"{cand!r} is the argument of a function call, not an answer")
    if (
        _LIST_AFTER.match(text, end)
        or _LIST_BEFORE.search(sentence)
        or _QUANTITY_BEFORE.search(sentence)
    ):
        raise ParseError("the text lists several answers")
    return cand
