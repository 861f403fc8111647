"""The one answer front end: where a text's final answer is, and whether it is one value.

Every place that reads a final answer from untrusted text uses these functions:
:func:`thinkgym.rewards.verify` (model output against a reference), the MathWord env (the
text after ``Answer:`` and the reference column of a data file) and the other tasks' answer
checks. Nothing here evaluates anything: these are bounded string scans, linear in the input
(no regex that can backtrack over the input), and every text is cut to :data:`ANSWER_TAIL`
characters before it is searched.

Where the answer is (:func:`extract`), in this order:

1. the last ``\\boxed{...}`` / ``\\fbox{...}`` (braces balanced);
2. GSM8K's ``#### 42`` (the first line after the last ``####``);
3. the text after the last ``Answer:`` / ``The (final) answer is``;
4. the last number of the text, only where the caller allows it (``last_number=True``: a
   GSM8K-style rationale column without a ``####`` line);
5. otherwise the whole text.

What is one value (:func:`hedge`): an answer that qualifies, negates or hedges its value is not
one (``not 34``, ``at least 34``, ``34 or more``, ``maybe 34``, ``34 (approximately)``,
``I don't know, 34``, ``x ≥ 34``), nor is program code (``print(70)``, :func:`code`). A plain
number literal is read exactly by :func:`number_value` (``1,200``, ``-3.5``, ``5/3``,
``\\frac{5}{3}``, ``$18.50``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "ANSWER_TAIL",
    "Extracted",
    "extract",
    "last_boxed",
    "marked_answer",
    "phrase_answer",
    "numbers",
    "hedge",
    "code",
    "number_value",
    "MAX_NUMBER_DIGITS",
]

ANSWER_TAIL = 20_000
"""Only the last this-many characters of a text are searched for its answer."""

MAX_NUMBER_DIGITS = 60
"""Most digits :func:`number_value` reads in one number (numerator and denominator each)."""


@dataclass(frozen=True)
class Extracted:
    """An answer found in a text.

    Attributes:
        text: the answer text (stripped; ``""`` when the text holds none).
        how: where it came from: ``"boxed"``, ``"marker"`` (``#### N``), ``"phrase"``
            (``Answer: ...``, ``the answer is ...``), ``"last_number"`` or ``"whole"``.
        cut: whether the text was longer than :data:`ANSWER_TAIL` and only its tail was read.
    """

    text: str
    how: str
    cut: bool = False


_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_PHRASE = re.compile(
    r"(?i)(?:final\s+answer|the\s+answer|answer)\s*(?:is\s*:?|:|=)\s*(?:\*\*)?\s*([^\n]*)"
)
_NUMBER = re.compile(  # not digits glued to a name (H2O, gpt4, x1, m2)
    r"(?<![A-Za-z_\d.])(?:-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:\s*/\s*\d+)?|-?\.\d+)",
    re.ASCII,
)


def _tail(text: str) -> tuple[str, bool]:
    """The last :data:`ANSWER_TAIL` characters, NUL bytes removed; whether the text was cut."""
    s = text[-2 * ANSWER_TAIL :].replace("\x00", "")
    cut = len(text) > 2 * ANSWER_TAIL or len(s) > ANSWER_TAIL
    return (s[-ANSWER_TAIL:] if len(s) > ANSWER_TAIL else s), cut


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` or ``\\fbox{...}`` (``\\boxed 5`` too).

    ``None`` when there is none or its braces never close.
    """
    starts = [m.end() for m in _BOXED.finditer(text)]
    if not starts:
        return None
    i = starts[-1]
    if i < len(text) and text[i] == "{":
        depth = 0
        for j in range(i, len(text)):
            ch = text[j]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    return text[i + 1 : j]
        return None
    m = re.match(r"[^\s$]+", text[i:])
    return m.group(0) if m else None


def marked_answer(text: str) -> str | None:
    """GSM8K's final answer: the first line after the last ``####`` (``None`` without one)."""
    if "####" not in text:
        return None
    tail = text.rsplit("####", 1)[1].strip()
    return tail.splitlines()[0].strip() if tail else ""


def phrase_answer(text: str) -> str | None:
    """The rest of the line after the last ``Answer:`` / ``The (final) answer is``."""
    found = None
    for found in _PHRASE.finditer(text):  # noqa: B007 - the last one
        pass
    if found is None or not found.group(1).strip():
        return None
    return found.group(1).strip().strip("*").strip().rstrip(".").strip()


def numbers(text: str) -> list[re.Match[str]]:
    """Every number of a text (``1,200``, ``-3.5``, ``5/3``), not digits glued to a name."""
    return list(_NUMBER.finditer(text))


def extract(text: str, *, marker: bool = True, last_number: bool = False) -> Extracted:
    """Find the final answer in a text (see the module docstring for the order).

    Args:
        text: any text (only its last :data:`ANSWER_TAIL` characters are read).
        marker: read GSM8K's ``#### N`` line.
        last_number: fall back to the last number of the text (for rationale columns).

    Returns:
        The :class:`Extracted` answer.
    """
    if not isinstance(text, str):
        return Extracted("", "whole")
    s, cut = _tail(text)
    boxed = last_boxed(s)
    if boxed is not None:
        return Extracted(boxed.strip(), "boxed", cut)
    if marker:
        marked = marked_answer(s)
        if marked is not None:
            return Extracted(marked, "marker", cut)
    phrase = phrase_answer(s)
    if phrase is not None:
        return Extracted(phrase, "phrase", cut)
    if last_number:
        found = numbers(s)
        if found:
            return Extracted(found[-1].group(0), "last_number", cut)
    return Extracted(s.strip(), "whole", cut)


# ---------------------------------------------------------------------------------------------
# One value, or a hedge
# ---------------------------------------------------------------------------------------------

_NEGATION = re.compile(
    r"(?i)\b(?:not|never|neither|nor|none|except|cannot|isn't|aren't|wasn't|doesn't|don't|"
    r"dont|can't|won't|isn’t|aren’t|wasn’t|doesn’t|don’t|can’t|won’t|unsure|unknown)\b"
)
_QUALIFIER = re.compile(
    r"(?i)\b(?:at\s+(?:least|most)|or\s+(?:more|less|fewer|greater|higher|lower|above|below|"
    r"over|under|so|thereabouts|something)|(?:more|less|fewer|greater|smaller|larger|higher|"
    r"lower|bigger)\s+than|up\s+to|no\s+(?:more|less|fewer)|between|maybe|perhaps|possibly|"
    r"probably|likely|unlikely|approximately|approx|approximate|roughly|about|around|nearly|"
    r"almost|circa|estimated|estimate|guess|guessing|somewhere|ish|either|plus\s+or\s+minus|"
    r"if|unless|assuming|any|whatever|wrong|incorrect|false|impossible)\b"
)
_UNSURE = re.compile(r"(?i)\b(?:not\s+sure|no\s+idea|i\s+don'?t\s+know)\b")
_HEDGE_SIGNS = re.compile(
    r"[<>≤≥≠≈~±∓?]|\\(?:le|ge|leq|geq|neq|ne|lt|gt|approx|sim|pm|mp)(?![A-Za-z])"
)


def hedge(text: str, *, signs: bool = True, negation: bool = True) -> str:
    """Why ``text`` is not one committed value (``""`` when nothing hedges it).

    Refused: negations (``not 34``, ``I don't know, 34``), qualifiers and verdicts
    (``at least 34``, ``34 or more``, ``less than 34``, ``maybe 34``, ``34 (approximately)``,
    ``about 34``, ``34 if x is even``, ``34 is wrong``) and,
    with ``signs=True``, comparison and approximation signs (``x ≥ 34``, ``~34``, ``34?``).
    :func:`thinkgym.rewards.verify` passes ``signs=False``: there ``x > 2`` is an interval and
    ``1 \\pm \\sqrt{2}`` two values, each compared as such.

    Args:
        text: the answer text (a bounded string; cut it first).
        signs: also refuse ``< > ≤ ≥ ≠ ≈ ~ ± ?`` and their LaTeX commands.
        negation: also refuse negations (``not``, ``never``, ``isn't``...). A caller that reads
            the text after a value passes ``False`` there: ``3, not 4`` commits to 3.
    """
    patterns = (_UNSURE, _NEGATION, _QUALIFIER) if negation else (_UNSURE, _QUALIFIER)
    for pattern in patterns:
        m = pattern.search(text)
        if m is not None:
            return f"the answer hedges its value ({m.group(0)!r}); give one value"
    if signs:
        m = _HEDGE_SIGNS.search(text)
        if m is not None:
            return f"the answer hedges its value ({m.group(0)!r}); give one value"
    return ""


_CODE = re.compile(
    r"__|```|\bimport\s+\w|\blambda\b[^:\n]{0,40}:|\bdef\s+\w+\s*\(|\bprint\s*\(|"
    r"(?<![\w.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\s*\(|\(\s*['\"]|['\"]\s*\)"
)
_CALL = re.compile(r"(?<![\\A-Za-z0-9_])([A-Za-z_][A-Za-z_0-9]+)\s*\(")
MATH_CALLS = frozenset(
    {
        "sqrt", "abs", "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan",
        "sinh", "cosh", "tanh", "log", "ln", "exp", "factorial", "asin", "acos", "atan", "gcd",
        "lcm", "max", "min", "det", "sgn", "sign", "mod", "deg", "Re", "Im", "arg", "floor",
        "ceil", "binom", "frac", "boxed", "text", "lg",
    }
)  # fmt: skip
"""Function names that are math, not program code, in an answer."""


def code(text: str) -> str:
    """Why ``text`` looks like program code (``""`` when it does not).

    Dunders, imports, ``print(``, method calls, quoted call arguments, code fences, and calls of
    names of three or more letters that are no math function (``exit(0)``, ``answer(70)``).
    """
    m = _CODE.search(text)
    if m is not None:
        return f"the answer looks like program code ({m.group(0).strip()!r}), not a value"
    for m in _CALL.finditer(text):
        name = m.group(1)
        if len(name) >= 3 and name not in MATH_CALLS:
            return f"the answer looks like program code (a call of {name!r}), not a value"
    return ""


# ---------------------------------------------------------------------------------------------
# Plain number literals
# ---------------------------------------------------------------------------------------------

_PLAIN = re.compile(
    r"([+-]?)\s*(?:\\?\$)?\s*(\d{1,3}(?:,\d{3})+|\d+)?(?:\.(\d+))?(?:\s*/\s*(\d+))?\s*(\\?%)?",
    re.ASCII,
)
_LATEX_FRAC = re.compile(
    r"([+-]?)\s*\\[dt]?frac\s*\{\s*([+-]?)\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}", re.ASCII
)


def number_value(text: str, *, percent: bool = False) -> Fraction | None:
    """The exact value of ``text`` when it is exactly one number literal, else ``None``.

    Read: integers (``1,200`` with thousands commas), decimals (``-3.5``, ``.5``), fractions
    ``a/b`` and ``\\frac{a}{b}`` (``\\dfrac``, ``\\tfrac``), an optional leading ``$`` and a
    trailing ``.``; with ``percent=True`` a trailing ``%`` divides by 100. Not read: anything with
    an operator between numbers (``9 - 6``, ``3^1``), words, or more than
    :data:`MAX_NUMBER_DIGITS` digits in a part.
    """
    if not isinstance(text, str) or len(text) > 4 * MAX_NUMBER_DIGITS:
        return None
    s = text.strip().rstrip(".").strip()
    if s.startswith("$") and s.endswith("$") and len(s) > 2 and s.count("$") == 2:
        s = s[1:-1].strip()
    m = _LATEX_FRAC.fullmatch(s)
    if m is not None:
        num, den = m.group(3), m.group(4)
        if len(num) > MAX_NUMBER_DIGITS or len(den) > MAX_NUMBER_DIGITS or int(den) == 0:
            return None
        value = Fraction(int(num), int(den))
        return -value if (m.group(1) == "-") != (m.group(2) == "-") else value
    m = _PLAIN.fullmatch(s)
    if m is None:
        return None
    sign, whole, frac, den, pct = m.groups()
    if whole is None and frac is None:
        return None
    if pct and not percent:
        return None
    whole = (whole or "0").replace(",", "")
    frac = frac or ""
    if len(whole) > MAX_NUMBER_DIGITS or len(frac) > MAX_NUMBER_DIGITS:
        return None
    value = Fraction(int(whole + frac), 10 ** len(frac))
    if den is not None:
        if frac or len(den) > MAX_NUMBER_DIGITS or int(den) == 0:
            return None
        value /= int(den)
    if pct:
        value /= 100
    return -value if sign == "-" else value
