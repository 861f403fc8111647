"""Stage 3 of :func:`thinkgym.rewards.verify`: are two answer structures equal?

Scalars are compared by

a. an exact path with :class:`fractions.Fraction` when both sides are rational;
b. a numeric probe with mpmath at 50 digits (constants once; expressions at up to 13 fixed real
   and complex points, until three evaluate); any difference is a disproof;
c. sympy, built node by node from the AST: ``expand(a - b) == 0`` when the expansion is small (a
   proof), otherwise the numeric identity from (b) is accepted.

Expressions that no sample point can evaluate (``log(x - x)``) are undecided: ``False``. No
subprocess and no ``simplify`` (which has no time bound) is ever used. Structures compare by
shape: tuples and intervals elementwise with their brackets, sets both ways, matrices only with
matrices of the same shape, equations as equations (``x = 3`` against ``3`` by its value).

Every stage checks a budget (:class:`Comparison`) of the calling thread's own CPU time, so other
threads' load never changes a verdict.
"""

from __future__ import annotations

import threading
import time
from fractions import Fraction
from typing import Any

from thinkgym.expr import (
    ExprError,
    Node,
    NumericError,
    calls,
    exact,
    mp_context,
    numeric,
    term_estimate,
    to_sympy,
    variables,
)
from thinkgym.rewards.parse import _Answer, _Eq, _Matrix, _Scalar, _Seq, _Set

__all__ = ["Comparison", "answers_equal"]


class _Timeout(TimeoutError):
    """The time budget of one comparison ran out."""


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


Comparison = _Cmp


def answers_equal(a: _Answer, b: _Answer, comparison: _Cmp) -> bool:
    """Whether two answer structures (from :func:`~thinkgym.rewards.parse.parse_answer`) are
    equal; ``comparison.reason`` says why.

    Raises:
        TimeoutError: the comparison's time budget ran out (a subclass: ``_Timeout``).
    """
    return _eq(a, b, comparison)
