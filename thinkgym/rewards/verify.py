"""``verify(pred, ref)``: is a model's final answer mathematically equal to the reference?

Pipeline (each stage bounded, nothing from the input is ever evaluated as code):

1. **Extraction** from free text: the last ``\\boxed{...}``/``\\fbox{...}``, else the text after
   ``The (final) answer is`` / ``Answer:``, else the whole text if it looks like math, else the
   last ``$...$`` segment, else the last number. Trailing unit words are dropped.
2. **Structure**: multiple-choice letters (when the reference is one), equations (``x = 3``),
   tuples, sets (``\\{...\\}`` and bare comma lists, unordered), intervals and unions,
   inequalities (``x > 2`` is the interval ``(2, oo)``), ``\\pm``, percentages.
3. **Scalars** are parsed by our own bounded parser (:func:`thinkgym.expr.parse_latex`) into
   a tuple AST, then compared by

   a. an exact path with :class:`fractions.Fraction` when both sides are rational;
   b. a numeric probe with mpmath at 50 digits (constants once; expressions at three fixed
      points); any difference is a disproof;
   c. sympy, built node by node from the AST: ``expand(a - b) == 0`` when the expansion is small
      (a proof), otherwise the numeric identity from (b) is accepted;
   d. only when no point can be evaluated, ``simplify(a - b) == 0`` in a persistent worker
      process that is killed on timeout (:mod:`thinkgym.rewards._verify_worker`).

Every stage checks a deadline (``timeout``, default 1 s); a timeout or any malformed input gives
``False``. No signals are used, so ``verify`` works in any thread or process.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any, Literal, overload

from thinkgym.expr import (
    MAX_CHARS,
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
from thinkgym.rewards._verify_worker import WORKER

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
_MATH_SEG = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
_LAST_NUM = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:\s*/\s*\d+)?|-?\.\d+")
_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}")
_KNOWN_WORDS = frozenset(L.FUNCS) | {"pi", "inf", "infty", "infinity", "and", "or", "sqrt", "frac"}
_TRAILING_WORD = re.compile(r"^(.*?)[\s~]+(?:\\text\s*\{[^{}]*\}|[A-Za-z]{2,}\.?)\s*[.!]?$", re.S)


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
    s = text.replace("\x00", "")
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


def _strip_units(s: str) -> str:
    for _ in range(4):
        m = _TRAILING_WORD.match(s)
        if m is None:
            break
        word = s[m.end(1) :].strip().strip(".!").strip()
        if word.lower() in _KNOWN_WORDS or not m.group(1).strip():
            break
        s = m.group(1)
    return s.strip()


def _looks_like_prose(s: str) -> bool:
    return any(w.group(0).lower() not in _KNOWN_WORDS for w in _WORD.finditer(s))


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


_Answer = _Scalar | _Eq | _Seq | _Set
_OPEN = {"(", "[", "{"}
_CLOSE = {")", "]", "}"}
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_PLAIN_NUM = re.compile(
    r"^\s*([+-]?(?:\d{1,3}(?:,\d{3})+|\d{1,300})(?:\.\d{1,300})?)(?:\s*/\s*(\d{1,300}))?\s*$"
)
_PERCENT = re.compile(r"\s*(?:\\?%|\\text\s*\{\s*%\s*\}|percent)\s*$")


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


@lru_cache(maxsize=8192)
def _parse_text(text: str) -> _Answer:
    """Parse one extracted answer string (cached; raises ``ParseError``)."""
    m = _PLAIN_NUM.match(text)
    if m:  # fast path: a plain integer, decimal or a/b needs no tokenizer
        value = Fraction(m.group(1).replace(",", ""))
        if m.group(2):
            den = Fraction(m.group(2))
            if den == 0:
                raise ParseError("division by zero")
            value /= den
        return _Scalar(("num", value))
    if len(text) > MAX_CHARS:
        raise ParseError(f"answer is {len(text)} characters long (limit {MAX_CHARS})")
    percent = False
    m = _PERCENT.search(text)
    if m:
        text, percent = text[: m.start()], True
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
        if len(parts) > 64:
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
        if len(parts) > 1:
            if len(parts) > 64:
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
        lhs, rhs = _parse_item(eq_parts[0]), _parse_item(eq_parts[-1])
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
    """Parse extracted text; prose falls back to its last (first, after "answer is") math
    segment or number. Math-looking text that fails to parse is rejected, not salvaged."""
    if how == "boxed" or not _looks_like_prose(text):
        text = _strip_units(text)
        return _parse_text(text), text
    pick = 0 if how == "phrase" else -1
    segs = [next(g for g in m.groups() if g is not None) for m in _MATH_SEG.finditer(text)]
    if segs:
        seg = segs[pick].strip()
        try:
            return _parse_text(seg), seg
        except ParseError:
            if "=" not in seg:
                raise
            seg = seg.rsplit("=", 1)[-1].strip()
            return _parse_text(seg), seg
    nums = _LAST_NUM.findall(text)
    if nums:
        return _parse_text(nums[pick]), nums[pick]
    raise ParseError("no answer found in the text")


# --------------------------------------------------------------------------------------------
# Equality
# --------------------------------------------------------------------------------------------


class _Timeout(Exception):
    pass


class _Cmp:
    """Comparison state: deadline and the reason for the verdict."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.reason = ""

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise _Timeout

    def left(self) -> float:
        return self.deadline - time.monotonic()


def _points(names: frozenset[str]) -> list[dict[str, Any]]:
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
        if not names:
            c.reason = "numeric: equal to 50 digits"
            return True
        if term_estimate(a) + term_estimate(b) <= 400 and calls(a) + calls(b) <= 12:
            import sympy

            c.tick()
            if sympy.expand(to_sympy(a) - to_sympy(b)) == 0:
                c.reason = "sympy: expand(a - b) == 0"
                return True
        c.reason = f"numeric: identical at {valid} points"
        return True
    if not names:
        c.reason = "undecided: a constant that cannot be evaluated (pole, domain or overflow)"
        return False
    # No point could be evaluated: ask sympy, in the worker process (it may not terminate).
    diff: Node = ("sub", a, b)
    verdict = WORKER.is_zero(diff, c.left())
    if verdict is None:
        c.reason = "undecided: sympy.simplify timed out or failed"
        return False
    c.reason = f"sympy: simplify(a - b) {'==' if verdict else '!='} 0"
    return verdict


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


def _eq(a: _Answer, b: _Answer, c: _Cmp) -> bool:
    c.tick()
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
    assert isinstance(s, _Set)
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
_CHOICE_PRED = re.compile(r"^\s*\(?\s*([A-Ja-j])\s*(?:\)|\.|:|$|\s)")
_CHOICE_LAST = re.compile(r"\(([A-J])\)|\b(?:option|choice)\s+([A-J])\b", re.I)


def _choice(text: str) -> str | None:
    s = L.normalize(text).replace("{", "").replace("}", "").strip()
    m = _CHOICE_REF.match(s)
    return m.group(1) if m else None


def _verify_choice(pred: str, ref_letter: str) -> VerifyResult:
    text, how = extract_answer(pred)
    letter = None
    if how != "whole" or len(text) <= 8:
        m = _CHOICE_PRED.match(L.normalize(text).replace("{", "").replace("}", ""))
        letter = m.group(1).upper() if m else None
    if letter is None:
        found = _CHOICE_LAST.findall(text[-2000:])
        letter = (found[-1][0] or found[-1][1]).upper() if found else None
    if letter is None:
        return VerifyResult(False, "no choice letter in the prediction", text, ref_letter)
    same = letter == ref_letter
    return VerifyResult(
        same, f"choice {letter} {'==' if same else '!='} {ref_letter}", letter, ref_letter
    )


def _verify(pred: str, ref: str, timeout: float) -> VerifyResult:
    c = _Cmp(time.monotonic() + timeout)
    if not isinstance(pred, str) or not isinstance(ref, str):
        return VerifyResult(False, "inputs must be strings")
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
    except (ParseError, RecursionError, ValueError, TypeError, ArithmeticError) as exc:
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

    Safe on untrusted text: nothing is evaluated as code, size and nesting are bounded, every
    stage checks a deadline, garbage gives ``False`` and no exception escapes. Thread-safe.

    Args:
        pred: the model output (free text; the answer is extracted, see the module docstring).
        ref: the reference answer (plain, LaTeX or ``\\boxed{}``).
        timeout: time bound in seconds (the rare sympy fallback runs in a worker process that is
            killed when the bound is reached).
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
    except (ParseError, RecursionError, ValueError, TypeError, ArithmeticError) as exc:
        result = VerifyResult(False, f"error: {exc}")
    return result if explain else result.equal


def clear_caches() -> None:
    """Forget cached parses (used by benchmarks to time cold calls)."""
    _parse_text.cache_clear()
    clear_expr_caches()
