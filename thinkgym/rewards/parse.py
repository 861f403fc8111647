"""Stage 2 of :func:`thinkgym.rewards.verify`: read an extracted answer into a structure.

Multiple-choice letters are handled by the caller; here: equations (``x = 3``; exactly one
``=`` with two non-empty sides), tuples, sets (``\\{...\\}`` and bare comma lists,
unordered), intervals and unions, inequalities (``x > 2`` is the interval ``(2, oo)``),
``\\pm``, percentages, matrices (``\\begin{pmatrix}``, ``[[1, 2]]``: equal only to a matrix of
the same shape). Scalars are parsed by the project's one bounded parser
(:func:`thinkgym.expr.parse_latex`, the limits of :mod:`thinkgym.expr.limits`) into a tuple AST.
Anything malformed or over a bound raises :class:`~thinkgym.expr.ParseError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from thinkgym.expr import MAX_CHARS, MAX_ITEMS, Node, ParseError
from thinkgym.expr import answers as A
from thinkgym.expr import latex as L
from thinkgym.rewards.extract import (
    _CODE,
    _PERCENT_TEXT,
    _foreign_call,
    _looks_like_prose,
    _prose_candidate,
    _strip_units,
    _unsupported_call,
)

__all__ = ["Answer", "parse_answer"]


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
    if how == "cut":
        raise ParseError(
            f"the text is longer than {A.ANSWER_TAIL} characters and holds no marked answer "
            "(\\boxed{...}, 'Answer:'); a cut piece of it is not an answer"
        )
    if _CODE.search(text) is not None:
        raise ParseError("the answer looks like program code, not math")
    if how != "whole" or len(text) <= 200:  # the answer itself, not a long worked solution
        first = A.numbers(text)
        head = text[: first[0].start()] if first else text
        # qualifiers anywhere ("34 or more"), negations before the value ("not 34"; "3, not 4"
        # commits to 3)
        reason = A.hedge(text, signs=False, negation=False) or A.hedge(head, signs=False)
        if reason:
            raise ParseError(reason)
    if len(text) > 2 and text[0] == text[-1] == "`" and "`" not in text[1:-1]:
        text = text[1:-1].strip()  # markdown inline code around a value: `42`
    call = _foreign_call(text, 3)  # names of 3+ letters even in math: exit(0) is not e*x*i*t*0
    if call is not None:
        raise ParseError(f"the answer looks like program code (a call of {call!r})")
    if how in ("boxed", "marker") or "\\begin" in text or not _looks_like_prose(text):
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


Answer = _Answer
"""An answer structure: a scalar, an equation, a tuple/interval, a set or a matrix."""


def parse_answer(text: str, how: str = "whole") -> tuple[_Answer, str]:
    """Read an extracted answer (``how`` from :func:`~thinkgym.rewards.extract.extract_answer`)
    into its structure; returns ``(structure, the text that was parsed)``.

    Raises:
        ExprError: the text is no bounded, well-formed answer (code, a hedge, a list in prose,
            garbage).
    """
    return _parse_loose(text, how)
