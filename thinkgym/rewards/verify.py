"""``verify(pred, ref)``: is a model's final answer mathematically equal to the reference?

Pipeline (each stage bounded, nothing from the input is ever evaluated as code):

1. **Extraction** from free text: the last ``\\boxed{...}``/``\\fbox{...}``, else the text after
   ``The (final) answer is`` / ``Answer:``, else the whole text if it looks like math, else the
   first (after "answer is") or last ``$...$`` segment or number of the prose. Trailing unit
   words are dropped. Program code (``print(1)``, ``__import__(...)``, method calls, quoted
   arguments) is never an answer, nor is a number that its sentence negates (``the answer is
   not 5``) or that stands in a list (``3 or 5``, ``2, 4 and 6``). Every scan is linear in the
   input (string scans where a regex would backtrack).
2. **Structure**: multiple-choice letters (when the reference is one), equations (``x = 3``;
   exactly one ``=`` with two non-empty sides), tuples, sets (``\\{...\\}`` and bare comma
   lists, unordered), intervals and unions, inequalities (``x > 2`` is the interval
   ``(2, oo)``), ``\\pm``, percentages, matrices (``\\begin{pmatrix}``, ``[[1, 2]]``: equal only
   to a matrix of the same shape).
3. **Scalars** are parsed by the project's one bounded parser (:func:`thinkgym.expr.parse_latex`,
   the limits of :mod:`thinkgym.expr.limits`) into a tuple AST, then compared by

   a. an exact path with :class:`fractions.Fraction` when both sides are rational;
   b. a numeric probe with mpmath at 50 digits (constants once; expressions at up to 13 fixed
      real and complex points, until three evaluate); any difference is a disproof;
   c. sympy, built node by node from the AST: ``expand(a - b) == 0`` when the expansion is small
      (a proof), otherwise the numeric identity from (b) is accepted.

   Expressions that no sample point can evaluate (``log(x - x)``) are undecided: ``False``.
   No subprocess and no ``simplify`` (which has no time bound) is ever used.

Every stage checks a budget (``timeout``, default 1 s) of the calling thread's own CPU time,
so other threads' load never changes a verdict; a timeout or any malformed input gives
``False``. No signals are used, so ``verify`` works in any thread or process.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any, Literal, overload

from thinkgym.expr import (
    MAX_CHARS,
    MAX_ITEMS,
    ExprError,
    Node,
    NumericError,
    ParseError,
    calls,
    exact,
    mp_context,
    numeric,
    term_estimate,
    to_sympy,
    variables,
)
from thinkgym.expr import clear_caches as clear_expr_caches
from thinkgym.expr import latex as L

__all__ = ["VerifyResult", "verify", "extract_answer", "clear_caches"]

_TAIL = 20_000
"""Only the last this-many characters of a prediction are searched for an answer."""


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


# --------------------------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------------------------

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_ANSWER = re.compile(
    r"(?i)(?:final\s+answer|the\s+answer|answer)\s*(?:is\s*:?|:|=)\s*(?:\*\*)?\s*([^\n]*)"
)
_LAST_NUM = re.compile(  # not digits glued to a name (H2O, gpt4, x1, m2)
    r"(?<![A-Za-z_\d.])(?:-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:\s*/\s*\d+)?|-?\.\d+)",
    re.ASCII,
)
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
# Program code around an answer: dunders, imports, method calls, quoted call arguments, and
# calls of names that are no math function (print(1), exit(0)).
_CODE = re.compile(
    r"__|```|\bimport\s+\w|\blambda\b[^:\n]{0,40}:|\bdef\s+\w+\s*\(|\bprint\s*\(|"
    r"(?<![\w.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\s*\(|\(\s*['\"]|['\"]\s*\)"
)
_CALL = re.compile(r"(?<![\\A-Za-z0-9_])([A-Za-z_][A-Za-z_0-9]+)\(")
_MATH_CALLS = frozenset(L.FUNCS) | {
    "asin", "acos", "atan", "gcd", "lcm", "max", "min", "det", "sgn", "sign", "mod", "deg",
    "Re", "Im", "arg", "floor", "ceil", "binom", "frac", "sqrt", "boxed", "text", "ln", "lg",
}  # fmt: skip
_NEGATION = re.compile(
    r"(?i)\b(?:not|never|neither|nor|except|cannot|isn't|aren't|wasn't|doesn't|can't|won't|"
    r"isn’t|aren’t|wasn’t|doesn’t|can’t|won’t)\b"
)
_LIST_AFTER = re.compile(r"\s*(?:,|;|\bor\b|\band\b|\bto\b)\s*(?:\$|\\\(|-?\.?\d)")
_LIST_BEFORE = re.compile(r"(?:\d|\$|\\\))\s*(?:,|;|\bor\b|\band\b)\s*$")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)|\n")


def _last_boxed(s: str) -> str | None:
    starts = [m.end() for m in _BOXED.finditer(s)]
    if not starts:
        return None
    i = starts[-1]
    if i < len(s) and s[i] == "{":
        depth = 0
        for j in range(i, len(s)):
            if s[j] == "{":
                depth += 1
            elif s[j] == "}":
                depth -= 1
                if depth == 0:
                    return s[i + 1 : j]
        return None
    m = re.match(r"[^\s$]+", s[i:])  # \boxed 5
    return m.group(0) if m else None


def extract_answer(text: str) -> tuple[str, str]:
    """Find the final answer in free text.

    Returns:
        ``(answer_text, how)`` where ``how`` is ``"boxed"``, ``"phrase"`` or ``"whole"``.
    """
    s = text[-2 * _TAIL :].replace("\x00", "")  # the cost never depends on the input's size
    if len(s) > _TAIL:
        s = s[-_TAIL:]
    boxed = _last_boxed(s)
    if boxed is not None:
        return boxed.strip(), "boxed"
    found = None
    for found in _ANSWER.finditer(s):  # noqa: B007 - we want the last one
        pass
    if found is not None and found.group(1).strip():
        ans = found.group(1).strip().strip("*").strip()
        return ans.rstrip(".").strip(), "phrase"
    return s.strip(), "whole"


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

    Refused (``ParseError``) when the words before it in its sentence negate it ("the answer is
    not 5") or when it is one of a list ("3 or 5", "2, 4 and 6").
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
    if _inside_call(sentence):  # "floor(2.5)": 2.5 is an argument, not the answer
        raise ParseError(f"{cand!r} is the argument of a function call, not an answer")
    if _LIST_AFTER.match(text, end) or _LIST_BEFORE.search(sentence):
        raise ParseError("the text lists several answers")
    return cand


# --------------------------------------------------------------------------------------------
# Answer structures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scalar:
    node: Node
    percent: bool = False


@dataclass(frozen=True)
class _Eq:
    lhs: Node
    rhs: Node


@dataclass(frozen=True)
class _Seq:
    """Tuple or interval: brackets matter, order matters."""

    open: str
    close: str
    items: tuple[Any, ...]


@dataclass(frozen=True)
class _Set:
    """Unordered collection: ``\\{...\\}``, a bare comma list, ``\\pm``, or a union of intervals."""

    items: tuple[Any, ...]
    kind: str = "set"  # "set" | "bare" | "union"


@dataclass(frozen=True)
class _Matrix:
    """A matrix (``\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}``): equal only to a matrix."""

    rows: tuple[tuple[Any, ...], ...]


_Answer = _Scalar | _Eq | _Seq | _Set | _Matrix
_OPEN = {"(", "[", "{"}
_CLOSE = {")", "]", "}"}
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$", re.ASCII)
_PLAIN_NUM = re.compile(
    r"^\s*([+-]?(?:\d{1,3}(?:,\d{3})+|\d{1,300})(?:\.\d{1,300})?)(?:\s*/\s*(\d{1,300}))?\s*$",
    re.ASCII,
)
_MATRIX_ENVS = frozenset({"matrix", "pmatrix", "bmatrix", "Bmatrix", "smallmatrix", "array"})
_BEGIN = re.compile(r"\s*\\begin\s*\{(\w+)\}")
_END = re.compile(r"\\end\s*\{(\w+)\}\s*$")
_COLSPEC = re.compile(r"\s*\{[^{}]*\}")


def _strip_percent(text: str) -> tuple[str, bool]:
    """``"12\\%"`` -> ``("12", True)`` (string scans; a ``\\s*...$`` regex search is quadratic)."""
    t = text.rstrip()
    for tail in ("\\%", "%", "percent"):
        if t.endswith(tail):
            return t[: -len(tail)].rstrip(), True
    m = _PERCENT_TEXT.search(t)
    if m is not None:
        return t[: m.start()].rstrip(), True
    return text, False


def _parse_matrix(text: str) -> _Matrix:
    """A whole-answer LaTeX matrix environment; anything else with ``\\begin`` is refused."""
    m, e = _BEGIN.match(text), _END.search(text)
    if m is None or e is None or m.group(1) != e.group(1):
        raise ParseError("a LaTeX environment that is not one whole matrix")
    env = m.group(1)
    if env not in _MATRIX_ENVS:
        hint = " (a determinant is not a matrix answer)" if env in ("vmatrix", "Vmatrix") else ""
        raise ParseError(f"unsupported environment {env!r}{hint}")
    body = text[m.end() : e.start()]
    if env == "array":
        spec = _COLSPEC.match(body)
        body = body[spec.end() :] if spec else body
    if "\\begin" in body:
        raise ParseError("nested environments")
    rows = [r for r in body.split("\\\\")]
    if rows and not rows[-1].strip():
        rows.pop()
    cells = [r.split("&") for r in rows]
    if not cells or len({len(r) for r in cells}) != 1:
        raise ParseError("a matrix with rows of different lengths")
    if len(cells) * len(cells[0]) > MAX_ITEMS * 4:
        raise ParseError(f"a matrix with more than {MAX_ITEMS * 4} entries")
    return _Matrix(tuple(tuple(_parse_text(c.strip()) for c in r) for r in cells))


def _is_open(tok: L.Token) -> bool:
    return tok[0] == "SETL" or (tok[0] == "OP" and tok[1] in _OPEN)


def _is_close(tok: L.Token) -> bool:
    return tok[0] == "SETR" or (tok[0] == "OP" and tok[1] in _CLOSE)


def _split_top(tokens: list[L.Token], pred: Any) -> list[list[L.Token]]:
    parts: list[list[L.Token]] = [[]]
    depth = 0
    for tok in tokens:
        if _is_open(tok):
            depth += 1
        elif _is_close(tok):
            depth -= 1
        if depth == 0 and pred(tok):
            parts.append([])
        else:
            parts[-1].append(tok)
    return parts


def _top_marks(tokens: list[L.Token]) -> set[str]:
    """Kinds of separators present at bracket depth 0 (so absent ones cost no split pass)."""
    marks: set[str] = set()
    depth = 0
    for tok in tokens:
        if _is_open(tok):
            depth += 1
        elif _is_close(tok):
            depth -= 1
        elif depth == 0:
            marks.add(tok[1] if tok[0] == "OP" else tok[0])
    return marks


def _wrapped(tokens: list[L.Token]) -> bool:
    """Whether the first token's matching bracket is the last token."""
    if len(tokens) < 2 or not _is_open(tokens[0]) or not _is_close(tokens[-1]):
        return False
    depth = 0
    for k, tok in enumerate(tokens):
        if _is_open(tok):
            depth += 1
        elif _is_close(tok):
            depth -= 1
            if depth == 0:
                return k == len(tokens) - 1
    return False


def _is_op(tok: L.Token, val: str) -> bool:
    return tok[0] == "OP" and tok[1] == val


def _parse_text(text: str) -> _Answer:
    """Parse one extracted answer string (raises ``ExprError``)."""
    if len(text) > MAX_CHARS:
        raise ParseError(f"answer is {len(text)} characters long (limit {MAX_CHARS})")
    return _parse_text_cached(text)


@lru_cache(maxsize=8192)
def _parse_text_cached(text: str) -> _Answer:
    if "\\begin" in text:
        return _parse_matrix(text)
    m = _PLAIN_NUM.match(text)
    if m:  # fast path: a plain integer, decimal or a/b needs no tokenizer
        value = Fraction(m.group(1).replace(",", ""))
        if m.group(2):
            den = Fraction(m.group(2))
            if den == 0:
                raise ParseError("division by zero")
            value /= den
        return _Scalar(("num", value))
    text, percent = _strip_percent(text)
    s = L.normalize(text)
    s = s.strip().rstrip(".").strip()
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    tokens = L.tokenize(s)
    L.check_depth(tokens)
    ans = _parse_answer(tokens)
    if percent:
        if not isinstance(ans, _Scalar):
            raise ParseError("percent sign on a non-number")
        ans = _Scalar(ans.node, True)
    return ans


def _parse_answer(tokens: list[L.Token]) -> _Answer:
    marks = _top_marks(tokens)
    if "IN" in marks:
        parts = _split_top(tokens, lambda t: t[0] == "IN")
        if len(parts) == 2:
            tokens = parts[1]
            marks = _top_marks(tokens)
    if "CUP" in marks:
        parts = _split_top(tokens, lambda t: t[0] == "CUP")
        items = tuple(_parse_item(p) for p in parts)
        return _Set(items, "union")
    if "," in marks:
        parts = _split_top(tokens, lambda t: _is_op(t, ","))
        if len(parts) > MAX_ITEMS:
            raise ParseError("too many items")
        return _Set(tuple(_parse_item(p) for p in parts), "bare")
    return _parse_item(tokens)


def _parse_item(tokens: list[L.Token]) -> _Answer:
    if not tokens:
        raise ParseError("empty item")
    if len(tokens) == 1 and tokens[0][0] == "EMPTY":
        return _Set(())
    if _wrapped(tokens):
        inner = tokens[1:-1]
        first, last = tokens[0], tokens[-1]
        if first[0] == "SETL":
            if not inner:
                return _Set(())
            parts = _split_top(inner, lambda t: _is_op(t, ","))
            return _Set(tuple(_parse_item(p) for p in parts))
        parts = _split_top(inner, lambda t: _is_op(t, ","))
        if first[1] == "[" and len(parts) == 1 and _wrapped(inner) and inner[0][1] == "[":
            return _Seq("[", "]", (_parse_item(inner),))  # [[3]]: a matrix, not a number
        if len(parts) > 1:
            if len(parts) > MAX_ITEMS:
                raise ParseError("too many items")
            items = tuple(_parse_item(p) for p in parts)
            if first[1] == "{":
                return _Set(items)
            return _Seq(first[1], last[1], items)
    marks = _top_marks(tokens)
    if marks & {"<", ">", "<=", ">="}:
        return _inequality(tokens)
    if "=" in marks:
        eq_parts = _split_top(tokens, lambda t: _is_op(t, "="))
        if len(eq_parts) != 2:
            raise ParseError("a chained equation (more than one '=') is not one answer")
        if not eq_parts[0] or not eq_parts[1]:
            raise ParseError("an equation with an empty side")
        lhs, rhs = _parse_item(eq_parts[0]), _parse_item(eq_parts[1])
        if isinstance(lhs, _Scalar) and isinstance(rhs, _Scalar):
            return _Eq(lhs.node, rhs.node)
        if isinstance(lhs, _Seq | _Set) and all(
            isinstance(x, _Scalar) and x.node[0] == "var" for x in lhs.items
        ):
            return rhs  # (x, y) = (1, 2)
        raise ParseError("unsupported equation")
    pm_parts = _split_top(tokens, lambda t: t[0] == "PM") if "PM" in marks else []
    if len(pm_parts) == 2:
        a = L.parse_tokens(pm_parts[0]) if pm_parts[0] else ("num", Fraction(0))
        b = L.parse_tokens(pm_parts[1])
        return _Set((_Scalar(("add", a, b)), _Scalar(("sub", a, b))), "pm")
    return _Scalar(L.parse_tokens(tokens))


_NEG_OO: Node = ("neg", ("const", "oo"))
_POS_OO: Node = ("const", "oo")


def _inequality(tokens: list[L.Token]) -> _Seq:
    """``x > 2`` -> ``(2, oo)``; ``1 <= x < 3`` -> ``[1, 3)``; the variable must stand alone."""
    ops: list[str] = []
    parts: list[list[L.Token]] = [[]]
    for tok in tokens:
        if tok[0] in ("<", ">", "<=", ">="):
            ops.append(tok[0])
            parts.append([])
        else:
            parts[-1].append(tok)
    nodes = [L.parse_tokens(p) for p in parts]
    var_idx = [k for k, n in enumerate(nodes) if n[0] == "var"]
    if len(nodes) == 2 and var_idx:
        k = var_idx[0]
        op = ops[0] if k == 0 else {"<": ">", ">": "<", "<=": ">=", ">=": "<="}[ops[0]]
        bound = nodes[1 - k]
        if op in (">", ">="):
            return _Seq("(" if op == ">" else "[", ")", (_Scalar(bound), _Scalar(_POS_OO)))
        return _Seq("(", ")" if op == "<" else "]", (_Scalar(_NEG_OO), _Scalar(bound)))
    if len(nodes) == 3 and nodes[1][0] == "var":
        if all(o in ("<", "<=") for o in ops):
            lo, hi = nodes[0], nodes[2]
            return _Seq(
                "(" if ops[0] == "<" else "[",
                ")" if ops[1] == "<" else "]",
                (_Scalar(lo), _Scalar(hi)),
            )
        if all(o in (">", ">=") for o in ops):
            lo, hi = nodes[2], nodes[0]
            return _Seq(
                "(" if ops[1] == ">" else "[",
                ")" if ops[0] == ">" else "]",
                (_Scalar(lo), _Scalar(hi)),
            )
    raise ParseError("unsupported inequality")


def _parse_loose(text: str, how: str) -> tuple[_Answer, str]:
    """Parse extracted text; prose falls back to its first (after "answer is") or last math
    segment or number. Math-looking text that fails to parse is rejected, not salvaged; program
    code, and prose that negates its answer or lists several, are not answers."""
    if _CODE.search(text) is not None:
        raise ParseError("the answer looks like program code, not math")
    if len(text) > 2 and text[0] == text[-1] == "`" and "`" not in text[1:-1]:
        text = text[1:-1].strip()  # markdown inline code around a value: `42`
    call = _foreign_call(text, 3)  # names of 3+ letters even in math: exit(0) is not e*x*i*t*0
    if call is not None:
        raise ParseError(f"the answer looks like program code (a call of {call!r})")
    if how == "boxed" or "\\begin" in text or not _looks_like_prose(text):
        call = _unsupported_call(text)
        if call is not None:
            raise ParseError(f"unsupported function {call!r}")
        text = _strip_units(text)
        return _parse_text(text), text
    call = _foreign_call(text, 2)
    if call is not None:
        raise ParseError(f"the answer looks like program code (a call of {call!r})")
    cand = _prose_candidate(text, 0 if how == "phrase" else -1)
    try:
        return _parse_text(cand), cand
    except ParseError:
        if cand.count("=") != 1:
            raise
        cand = cand.rsplit("=", 1)[-1].strip()
        return _parse_text(cand), cand


# --------------------------------------------------------------------------------------------
# Equality
# --------------------------------------------------------------------------------------------


class _Timeout(Exception):
    pass


# What a malformed or absurd input can raise anywhere below (ExprError is a ValueError).
_EXPECTED = (ValueError, TypeError, ArithmeticError, LookupError, RecursionError)


_WALL_FACTOR = 20
"""The wall-clock cap of one call, in units of its ``timeout`` (CPU seconds)."""


class _Cmp:
    """Comparison state: the time budget and the reason for the verdict.

    The budget counts this thread's own CPU time (``time.thread_time``), so other threads'
    work, hostile or not, never turns a verdict into a timeout; a wall-clock cap of
    ``_WALL_FACTOR`` times the budget still bounds a call on a saturated machine.
    """

    def __init__(self, timeout: float) -> None:
        self.cpu_deadline = time.thread_time() + timeout
        self.wall_deadline = time.monotonic() + _WALL_FACTOR * timeout
        self.reason = ""

    def tick(self) -> None:
        if time.thread_time() > self.cpu_deadline or time.monotonic() > self.wall_deadline:
            raise _Timeout


class _PointCache(threading.local):
    def __init__(self) -> None:
        self.points: dict[frozenset[str], list[dict[str, Any]]] = {}


_POINT_CACHE = _PointCache()


def _points(names: frozenset[str]) -> list[dict[str, Any]]:
    """:func:`_make_points`, cached per thread (mpmath numbers belong to a thread's context)."""
    cache = _POINT_CACHE.points
    pts = cache.get(names)
    if pts is None:
        pts = _make_points(names)
        if len(cache) < 256:
            cache[names] = pts
    return pts


def _make_points(names: frozenset[str]) -> list[dict[str, Any]]:
    """Sample points, tried in order until enough evaluate: five real points of magnitude
    1.3-2.2 (signs mixed, so ``sqrt(x^2)`` and ``x`` differ early), four of magnitude 0.25-0.6
    (for ``exp(x^100)``), four complex ones (for functions undefined on much of the real line).
    Irrational coordinates keep accidental equalities and poles away."""
    mp = mp_context()
    ordered = sorted(names)
    out = []
    for p, sign in enumerate((1, 1, -1, 1, -1)):
        out.append(
            {
                n: sign * (mp.mpf(1) + mp.sqrt(mp.mpf(2 + 3 * j + 7 * p)) / 5)
                for j, n in enumerate(ordered)
            }
        )
    for p, sign in enumerate((1, -1, 1, -1)):
        out.append(
            {
                n: sign * (mp.mpf(1) / 8 + mp.sqrt(mp.mpf(3 + 5 * j + 11 * p)) / 9)
                for j, n in enumerate(ordered)
            }
        )
    for p, (sr, si) in enumerate(((1, 1), (-1, 1), (1, -1), (-1, -1))):
        out.append(
            {
                n: mp.mpc(
                    sr * (mp.mpf(1) / 4 + mp.sqrt(mp.mpf(2 + 3 * j + 5 * p)) / 6),
                    si * (mp.mpf(1) / 3 + mp.sqrt(mp.mpf(5 + 7 * j + 3 * p)) / 7),
                )
                for j, n in enumerate(ordered)
            }
        )
    return out


def _close(a: Any, b: Any) -> bool:
    mp = mp_context()
    if a == b:
        return True
    if mp.isnan(a) or mp.isnan(b) or mp.isinf(a) or mp.isinf(b):
        return False
    d = abs(a - b)
    return bool(d <= mp.mpf("1e-30") or d <= mp.mpf("1e-25") * max(abs(a), abs(b)))


def _fmt(v: Any) -> str:
    return mp_context().nstr(v, 8)


def _scalar_eq(a: Node, b: Node, c: _Cmp) -> bool:
    c.tick()
    ea, eb = exact(a), exact(b)
    if ea is not None and eb is not None:
        c.reason = f"exact: {ea} {'==' if ea == eb else '!='} {eb}"
        return ea == eb
    names = variables(a) | variables(b)
    need = 1 if not names else 3
    valid = 0
    for pt in _points(names):
        c.tick()
        try:
            va, vb = numeric(a, pt), numeric(b, pt)
        except NumericError:
            continue
        if mp_context().isnan(va) or mp_context().isnan(vb):
            continue
        if not _close(va, vb):
            where = ", ".join(f"{k}={_fmt(v)}" for k, v in pt.items())
            c.reason = f"numeric: {_fmt(va)} != {_fmt(vb)}" + (f" at {where}" if where else "")
            return False
        valid += 1
        if valid >= need:
            break
    if valid >= need:
        if not names and (ea is None) != (eb is None) and not _same_as_rational(a, b, ea, eb, c):
            return False
        if not names and va == vb:
            c.reason = "numeric: equal to 50 digits"
            return True
        # A proof or a disproof when it is cheap (bounded size, so expand cannot run away):
        # a - b expands to 0, or to a nonzero number (x + 10^-40 agrees with x to 40 digits).
        # The numeric identity at several points stands otherwise.
        if term_estimate(a) + term_estimate(b) <= 400 and calls(a) + calls(b) <= 12:
            c.tick()
            diff = _expand_difference(a, b)
            if diff is not None and diff == 0:
                c.reason = "sympy: expand(a - b) == 0"
                return True
            if diff is not None and diff.is_Number:
                c.reason = f"sympy: a - b expands to the nonzero number {_short(diff)}"
                return False
        c.reason = (
            f"numeric: identical at {valid} points" if names else "numeric: equal to 50 digits"
        )
        return True
    if not names:
        c.reason = "undecided: a constant that cannot be evaluated (pole, domain or overflow)"
        return False
    c.reason = (
        f"undecided: the expressions could be evaluated at only {valid} of "
        f"{len(_points(names))} sample points (real and complex)"
    )
    return False


def _same_as_rational(a: Node, b: Node, ea: Fraction | None, eb: Fraction | None, c: _Cmp) -> bool:
    """Whether the constant side (``sin(pi/6)``) still equals the rational side at a precision
    beyond the rational's own digits, so a long decimal approximation of an irrational value
    (``1.414213562373095048801688724209698078569671875376`` for ``sqrt(2)``) is not equal."""
    r, other = (ea, b) if ea is not None else (eb, a)
    if r is None:
        return True
    digits = int((r.numerator.bit_length() + r.denominator.bit_length()) * 0.30103) + 2
    dps = 40 + digits  # at most about 6,100: MAX_BITS bounds both parts of r
    mp = mp_context()
    c.tick()
    with mp.workdps(dps):
        try:
            v = numeric(other, {})
        except NumericError:
            return True  # the 50-digit verdict stands
        rv = mp.mpf(r.numerator) / r.denominator
        if abs(v - rv) > mp.mpf(10) ** (-(dps - 20)) * max(1, abs(rv)):
            c.reason = f"numeric: differ at {dps} digits (the rational only approximates it)"
            return False
    return True


def _expand_difference(a: Node, b: Node) -> Any:
    """``sympy.expand(a - b)``, or ``None`` when it cannot be built."""
    import sympy

    try:
        return sympy.expand(to_sympy(a) - to_sympy(b))
    except (ExprError, ValueError, TypeError, ArithmeticError, RecursionError):
        return None


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _proportional(a: Node, b: Node, c: _Cmp) -> bool:
    """Whether ``a = 0`` and ``b = 0`` are the same equation: ``a == r * b`` for a constant r."""
    mp = mp_context()
    names = variables(a) | variables(b)
    ratio = None
    valid = 0
    for pt in _points(names):
        c.tick()
        try:
            va, vb = numeric(a, pt), numeric(b, pt)
        except NumericError:
            continue
        if mp.isnan(va) or mp.isnan(vb) or mp.isinf(va) or mp.isinf(vb):
            continue
        if vb == 0 or va == 0:
            if not _close(va, vb):
                c.reason = "numeric: the equations differ"
                return False
            continue
        r = va / vb
        if ratio is None:
            ratio = r
        elif not _close(r, ratio):
            c.reason = "numeric: the equations are not proportional"
            return False
        valid += 1
    if valid >= 3 or (valid >= 1 and not names):
        c.reason = f"numeric: proportional equations at {valid} points"
        return True
    c.reason = "undecided: the equations could not be evaluated"
    return False


def _as_value(x: _Answer) -> Node | None:
    """The value an answer stands for when compared with a plain number (``x = 3`` -> 3)."""
    if isinstance(x, _Scalar):
        return x.node
    if isinstance(x, _Eq):
        if x.lhs[0] == "var":
            return x.rhs
        if x.rhs[0] == "var":
            return x.lhs
    return None


def _matrix_rows(x: _Answer) -> tuple[tuple[Any, ...], ...] | None:
    """The rows of a matrix answer: a ``_Matrix``, or a bracketed list of equal-length rows."""
    if isinstance(x, _Matrix):
        return x.rows
    if isinstance(x, _Seq) and x.items and all(isinstance(r, _Seq) for r in x.items):
        return tuple(r.items for r in x.items)
    return None


def _matrix_eq(a: _Answer, b: _Answer, c: _Cmp) -> bool:
    ra, rb = _matrix_rows(a), _matrix_rows(b)
    if ra is None or rb is None:
        c.reason = "a matrix against something that is not a matrix"
        return False
    if len(ra) != len(rb) or any(len(x) != len(y) for x, y in zip(ra, rb, strict=True)):
        c.reason = "matrices of different shapes"
        return False
    for row_a, row_b in zip(ra, rb, strict=True):
        for x, y in zip(row_a, row_b, strict=True):
            if not _eq(x, y, c):
                return False
    c.reason = "equal matrices"
    return True


def _eq(a: _Answer, b: _Answer, c: _Cmp) -> bool:
    c.tick()
    if isinstance(a, _Matrix) or isinstance(b, _Matrix):
        return _matrix_eq(a, b, c)
    if isinstance(a, _Scalar) and isinstance(b, _Scalar) and a.percent != b.percent:
        p, q = (a, b) if a.percent else (b, a)
        if _scalar_eq(p.node, q.node, c):
            return True
        return _scalar_eq(("div", p.node, ("num", Fraction(100))), q.node, c)
    if isinstance(a, _Eq) and isinstance(b, _Eq):
        if a.lhs[0] == "var" and b.lhs[0] == "var":
            if a.lhs != b.lhs:
                c.reason = f"different variables {a.lhs[1]} and {b.lhs[1]}"
                return False
            return _scalar_eq(a.rhs, b.rhs, c)
        return _proportional(("sub", a.lhs, a.rhs), ("sub", b.lhs, b.rhs), c)
    if isinstance(a, _Set) or isinstance(b, _Set):
        return _set_eq(a, b, c)
    if isinstance(a, _Seq) or isinstance(b, _Seq):
        if not (isinstance(a, _Seq) and isinstance(b, _Seq)):
            c.reason = "a tuple/interval against a single value"
            return False
        if (a.open, a.close) != (b.open, b.close) or len(a.items) != len(b.items):
            c.reason = f"different shapes {a.open}..{a.close}/{len(a.items)} and {b.open}..{b.close}/{len(b.items)}"
            return False
        for x, y in zip(a.items, b.items, strict=True):
            if not _eq(x, y, c):
                return False
        c.reason = "elementwise equal"
        return True
    va, vb = _as_value(a), _as_value(b)
    if va is None or vb is None:
        c.reason = "an equation against a value it does not define"
        return False
    return _scalar_eq(va, vb, c)


def _set_eq(a: _Answer, b: _Answer, c: _Cmp) -> bool:
    if isinstance(a, _Set) and isinstance(b, _Set):
        if (a.kind == "union") != (b.kind == "union"):
            c.reason = "a union against a non-union"
            return False
        for xs, ys in ((a.items, b.items), (b.items, a.items)):
            for x in xs:
                if not any(_eq(x, y, c) for y in ys):
                    c.reason = "an element has no equal in the other set"
                    return False
        c.reason = "equal as sets"
        return True
    s, other = (a, b) if isinstance(a, _Set) else (b, a)
    if not isinstance(s, _Set):
        c.reason = "no set to compare"
        return False
    if s.kind == "bare" and isinstance(other, _Seq) and (other.open, other.close) == ("(", ")"):
        return _eq(_Seq("(", ")", s.items), other, c)
    if len(s.items) == 1 and s.kind != "union":
        return _eq(s.items[0], other, c)
    c.reason = "a set of several elements against a single answer"
    return False


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

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
