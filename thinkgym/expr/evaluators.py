"""The one set of evaluators for the tuple AST both front ends build.

* :func:`evaluate` computes a node exactly with :class:`fractions.Fraction` (ints on the fast
  path) and raises :class:`~thinkgym.expr.ExprError` when it cannot (an unknown variable, an
  irrational or complex value, division by zero, a value over :data:`~thinkgym.expr.MAX_BITS`);
* :func:`exact` is the same computation that answers ``None`` instead of raising for values that
  are simply not rational (``sqrt(2)``, ``pi``, ``x``);
* :func:`numeric` evaluates with mpmath at 50 digits (one context per thread);
* :func:`to_sympy` builds a sympy expression node by node; no string is ever sympified.

Each bound is checked before the operation it limits runs.
"""

from __future__ import annotations

import math
import threading
from fractions import Fraction
from functools import lru_cache
from typing import Any

from thinkgym.expr.limits import (
    MAX_BINOM_N,
    MAX_BITS,
    MAX_SYMBOLIC_EXP,
    ExprError,
    Node,
)

__all__ = [
    "apply",
    "evaluate",
    "exact",
    "numeric",
    "to_sympy",
    "term_estimate",
    "NumericError",
    "mp_context",
    "clear_caches",
]


class _NotRational(ExprError):
    """The value exists but is not a rational number (or depends on an unknown)."""


def _too_big(value: int, max_bits: int) -> bool:
    return value.bit_length() > max_bits


def _pow_bits(num: int, den: int, k: int) -> float:
    """Size in bits of ``(num/den) ** k``, estimated before computing it."""
    if abs(k).bit_length() > 40:
        return math.inf
    return abs(k) * math.log2(max(abs(num), abs(den)))


def _factorial_bits(n: int) -> float:
    return math.lgamma(n + 1) / math.log(2)


def _iroot(n: int, q: int) -> int | None:
    """The exact integer ``q``-th root of ``n >= 0``, or ``None``."""
    if n < 2:
        return n
    r = math.isqrt(n) if q == 2 else round(math.exp(math.log(n) / q))
    for c in (r - 1, r, r + 1):
        if c >= 0 and c**q == n:
            return c
    return None


def evaluate(
    node: Node, env: dict[str, Fraction] | None = None, *, max_bits: int = MAX_BITS
) -> Fraction:
    """Evaluate an AST exactly with fractions.

    Args:
        node: an AST from :func:`~thinkgym.expr.parse` or :func:`~thinkgym.expr.parse_latex`.
        env: values for variables.
        max_bits: largest numerator/denominator allowed in any value (at most
            :data:`~thinkgym.expr.MAX_BITS`).

    Raises:
        ExprError: on division by zero, an unknown variable, an irrational or complex result
            (``sqrt(2)``, ``pi``), a factorial of a non-natural number, or a value over the bound.
    """
    return Fraction(_eval(node, env, min(max_bits, MAX_BITS)))


@lru_cache(maxsize=8192)
def exact(node: Node) -> Fraction | None:
    """The exact rational value of ``node``, or ``None`` when it is not rational or has unknowns.

    Raises:
        ExprError: on division by zero, a factorial of a non-natural number or a value over
            :data:`~thinkgym.expr.MAX_BITS`.
    """
    try:
        return Fraction(_eval(node, None, MAX_BITS))
    except _NotRational:
        return None


def _eval(node: Node, env: dict[str, Fraction] | None, max_bits: int) -> int | Fraction:
    # Whole values travel as ints (an order of magnitude faster than Fraction), others as
    # Fractions; both are exact.
    kind = node[0]
    if kind == "num":
        v = node[1]
        return v.numerator if v.denominator == 1 else v
    if kind == "var":
        if env is None or node[1] not in env:
            raise _NotRational(f"variable {node[1]!r} has no value")
        return Fraction(env[node[1]])
    if kind == "neg":
        return -_eval(node[1], env, max_bits)
    if kind == "const":
        raise _NotRational(f"{node[1]} is not a rational number")
    if kind == "call":
        return _call(node[1], _eval(node[2], env, max_bits), max_bits)
    if kind == "binom":
        return _binom(_eval(node[1], env, max_bits), _eval(node[2], env, max_bits))
    return apply(kind, _eval(node[1], env, max_bits), _eval(node[2], env, max_bits), max_bits)


def apply(
    kind: str, a: int | Fraction, b: int | Fraction, max_bits: int = MAX_BITS
) -> int | Fraction:
    """One binary operation on exact numbers, as every evaluator in thinkgym computes it.

    Whole values travel as ``int`` (an order of magnitude faster than ``Fraction``), others as
    ``Fraction``; the result is normalised the same way. The envs' step checks call this too.

    Args:
        kind: ``"add"``, ``"sub"``, ``"mul"``, ``"div"`` or ``"pow"``.
        a: left operand.
        b: right operand.
        max_bits: largest numerator/denominator of the result (a power is refused before it is
            computed).

    Raises:
        ExprError: division by zero, a result over ``max_bits``, an unknown ``kind``, or a
            power whose value is irrational (``2^(1/2)``).
    """
    if kind == "add":
        r = a + b
    elif kind == "sub":
        r = a - b
    elif kind == "mul":
        r = a * b
    elif kind == "div":
        if b == 0:
            raise ExprError(f"division by zero: {_show(a)} / 0")
        if type(a) is int and type(b) is int and a % b == 0:
            r = a // b
        else:
            r = Fraction(a) / b
    elif kind == "pow":
        r = _pow(a, b, max_bits)
    else:
        raise ExprError(f"unknown operation {kind!r}")
    if type(r) is int:
        if _too_big(r, max_bits):
            raise ExprError(f"a value exceeds {max_bits} bits")
        return r
    if r.denominator == 1:
        r = r.numerator
        if _too_big(r, max_bits):
            raise ExprError(f"a value exceeds {max_bits} bits")
        return r
    if _too_big(r.numerator, max_bits) or _too_big(r.denominator, max_bits):
        raise ExprError(f"a value exceeds {max_bits} bits")
    return r


def _show(v: int | Fraction) -> str:
    return str(v) if max(v.numerator.bit_length(), v.denominator.bit_length()) < 200 else "..."


def _call(name: str, arg: int | Fraction, max_bits: int) -> int | Fraction:
    if name == "abs":
        return abs(arg)
    if name == "sqrt":
        if arg < 0:
            raise _NotRational("square root of a negative number")
        num, den = _iroot(arg.numerator, 2), _iroot(arg.denominator, 2)
        if num is None or den is None:
            raise _NotRational(f"sqrt({arg}) is not rational")
        return Fraction(num, den)
    if name == "factorial":
        if type(arg) is not int and arg.denominator != 1:
            raise ExprError(f"factorial of {arg} is not defined here (only of natural numbers)")
        n = int(arg)
        if n < 0:
            raise ExprError(f"factorial of the negative number {n} is not defined")
        if n.bit_length() > 32 or _factorial_bits(n) > max_bits:
            raise ExprError(f"{n}! exceeds {max_bits} bits")
        return math.factorial(n)
    raise _NotRational(f"{name}({arg}) is not computed exactly")


def _binom(n: int | Fraction, k: int | Fraction) -> int:
    if Fraction(n).denominator != 1 or Fraction(k).denominator != 1:
        raise ExprError(f"binomial coefficient of non-integers ({n}, {k})")
    n, k = int(n), int(k)
    if not 0 <= n <= MAX_BINOM_N:
        raise ExprError(f"binomial coefficient with n={n} outside 0..{MAX_BINOM_N}")
    return math.comb(n, k) if 0 <= k <= n else 0


def _pow(a: int | Fraction, b: int | Fraction, max_bits: int) -> int | Fraction:
    if type(b) is not int:
        if b.denominator != 1:
            return _root_pow(Fraction(a), b, max_bits)
        b = b.numerator
    if a == 0 and b < 0:
        raise ExprError("division by zero")
    if abs(a) not in (0, 1) and _pow_bits(a.numerator, a.denominator, b) > max_bits:
        raise ExprError(f"power {a}^{b} exceeds {max_bits} bits")
    return Fraction(a) ** b if b < 0 else a**b


def _root_pow(a: Fraction, b: Fraction, max_bits: int) -> Fraction:
    p, q = b.numerator, b.denominator
    if abs(p) > MAX_SYMBOLIC_EXP or q > MAX_SYMBOLIC_EXP:
        raise ExprError(f"fractional exponent {b} is too large (limit {MAX_SYMBOLIC_EXP})")
    if a < 0:
        raise _NotRational(f"{a}^({b}) is not a real rational number")
    rn, rd = _iroot(a.numerator, q), _iroot(a.denominator, q)
    if rn is None or rd is None:
        raise _NotRational(f"{a}^({b}) is not rational")
    return _pow(Fraction(rn, rd), p, max_bits)


# --------------------------------------------------------------------------------------------
# Numeric (mpmath)
# --------------------------------------------------------------------------------------------


class NumericError(ExprError):
    """A point where an expression cannot be evaluated (pole, domain, overflow)."""


class _Ctx(threading.local):
    def __init__(self) -> None:
        from mpmath.ctx_mp import MPContext

        self.mp = MPContext()
        self.mp.dps = 50


_CTX = _Ctx()


def mp_context() -> Any:
    """This thread's mpmath context (50 significant digits)."""
    return _CTX.mp


_MP_FUNCS = {
    "sqrt": "sqrt", "abs": "fabs", "sin": "sin", "cos": "cos", "tan": "tan", "cot": "cot",
    "sec": "sec", "csc": "csc", "arcsin": "asin", "arccos": "acos", "arctan": "atan",
    "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "log": "log", "exp": "exp",
}  # fmt: skip
_BIG = 10**5  # largest |argument| of exp, |exponent| of a power, or factorial argument numerically


def numeric(node: Node, point: dict[str, Any]) -> Any:
    """Evaluate ``node`` with mpmath (50 digits, a per-thread context) at ``point``.

    Raises:
        NumericError: at a pole, outside the domain or for absurdly large magnitudes.
    """
    mp = _CTX.mp
    try:
        return _num(node, point, mp)
    except (ZeroDivisionError, ValueError, OverflowError, TypeError, KeyError) as exc:
        if isinstance(exc, NumericError):
            raise
        raise NumericError(str(exc)) from exc


def _num(node: Node, pt: dict[str, Any], mp: Any) -> Any:
    kind = node[0]
    if kind == "num":
        v = node[1]
        return mp.mpf(v.numerator) / v.denominator
    if kind == "var":
        return pt[node[1]]
    if kind == "const":
        return {"pi": mp.pi, "E": mp.e, "I": mp.mpc(0, 1), "oo": mp.inf}[node[1]]
    if kind == "neg":
        return -_num(node[1], pt, mp)
    if kind == "call":
        a = _num(node[2], pt, mp)
        name = node[1]
        if name == "abs":
            return abs(a)
        if name in ("factorial", "exp") and abs(a) > _BIG:
            raise NumericError(f"{name} argument too large")
        if name == "factorial":
            return mp.factorial(a)
        if name == "log" and a == 0:
            raise NumericError("log(0)")
        if name in ("sin", "cos", "tan", "cot", "sec", "csc") and abs(a) > 10**50:
            raise NumericError(f"{name} argument too large to reduce")
        return getattr(mp, _MP_FUNCS[name])(a)
    if kind == "binom":
        n_, k_ = _num(node[1], pt, mp), _num(node[2], pt, mp)
        if abs(n_) > _BIG or abs(k_) > _BIG:
            raise NumericError("binomial arguments too large")
        return mp.binomial(n_, k_)
    a, b = _num(node[1], pt, mp), _num(node[2], pt, mp)
    if kind == "add":
        return a + b
    if kind == "sub":
        return a - b
    if kind == "mul":
        return a * b
    if kind == "div":
        if b == 0:
            raise NumericError("division by zero")
        return a / b
    if kind == "pow":
        if abs(b) > _BIG and abs(a) != 1:
            raise NumericError("exponent too large")
        if a == 0 and mp.re(b) <= 0:
            raise NumericError("0 to a non-positive power")
        return mp.power(a, b)
    raise NumericError(f"unknown node {kind!r}")


# --------------------------------------------------------------------------------------------
# sympy, node by node
# --------------------------------------------------------------------------------------------


def to_sympy(node: Node, symbols: dict[str, Any] | None = None, *, max_bits: int = MAX_BITS) -> Any:
    """Build a sympy expression from an AST, node by node (no string is ever sympified).

    Args:
        node: an AST from either front end.
        symbols: sympy symbols to use for variables (created on demand and added otherwise).
        max_bits: bound on powers, factorials and binomials of numbers, as in :func:`evaluate`.

    Raises:
        ExprError: a power, factorial or binomial over the bounds, or division by zero.
    """
    if symbols is None and max_bits == MAX_BITS:
        return _to_sympy_cached(node)
    return _SympyBuilder(symbols, max_bits).build(node)


@lru_cache(maxsize=4096)
def _to_sympy_cached(node: Node) -> Any:
    return _SympyBuilder(None, MAX_BITS).build(node)


class _SympyBuilder:
    def __init__(self, symbols: dict[str, Any] | None, max_bits: int) -> None:
        import sympy

        self.sp = sympy
        self.symbols = {} if symbols is None else symbols
        self.max_bits = min(max_bits, MAX_BITS)

    def build(self, n: Node) -> Any:
        sp = self.sp
        kind = n[0]
        if kind == "num":
            return sp.Rational(n[1].numerator, n[1].denominator)
        if kind == "var":
            if n[1] not in self.symbols:
                self.symbols[n[1]] = sp.Symbol(n[1])
            return self.symbols[n[1]]
        if kind == "const":
            return {"pi": sp.pi, "E": sp.E, "I": sp.I, "oo": sp.oo}[n[1]]
        if kind == "neg":
            return -self.build(n[1])
        if kind == "call":
            return self.call(n[1], n[2])
        if kind == "binom":
            k_, n_ = self.build(n[2]), self.build(n[1])
            if n_.is_Number and (not n_.is_Integer or not 0 <= int(n_) <= MAX_BINOM_N):
                raise ExprError(f"binomial coefficient with n={n_} is out of bounds")
            return sp.binomial(n_, k_)
        a, b = self.build(n[1]), self.build(n[2])
        if kind == "add":
            return a + b
        if kind == "sub":
            return a - b
        if kind == "mul":
            return a * b
        if kind == "div":
            if b == 0:
                raise ExprError("division by zero")
            return a / b
        if kind == "pow":
            self.check_pow(a, b)
            return sp.Pow(a, b)
        raise ExprError(f"unknown node {kind!r}")

    def call(self, name: str, arg_node: Node) -> Any:
        sp = self.sp
        a = self.build(arg_node)
        if name == "factorial" and a.is_Number:
            if not a.is_Integer or a < 0:
                raise ExprError(f"factorial of {a} is not defined here (only of natural numbers)")
            if int(a).bit_length() > 32 or _factorial_bits(int(a)) > self.max_bits:
                raise ExprError(f"{a}! exceeds {self.max_bits} bits")
        fn = {
            "sqrt": sp.sqrt, "abs": sp.Abs, "sin": sp.sin, "cos": sp.cos, "tan": sp.tan,
            "cot": sp.cot, "sec": sp.sec, "csc": sp.csc, "arcsin": sp.asin, "arccos": sp.acos,
            "arctan": sp.atan, "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "log": sp.log,
            "exp": sp.exp, "factorial": sp.factorial,
        }.get(name)  # fmt: skip
        if fn is None:
            raise ExprError(f"unknown function {name!r}")
        return fn(a)

    def check_pow(self, a: Any, b: Any) -> None:
        if not b.is_Number:
            if b.free_symbols == set() and not b.is_number:
                raise ExprError("non-numeric exponent")
            return
        if b.is_Rational and not b.is_Integer:
            p, q = int(b.p), int(b.q)
            if abs(p) > MAX_SYMBOLIC_EXP or q > MAX_SYMBOLIC_EXP:
                raise ExprError(f"fractional exponent {b} is too large")
            return
        if not b.is_Integer:
            return  # a float exponent: sympy evaluates it numerically
        k = abs(int(b))
        if a.is_Rational:
            if abs(a) in (0, 1):
                return
            if _pow_bits(int(a.p), int(a.q), k) > self.max_bits:
                raise ExprError(f"power with exponent {b} is too large")
        elif k > MAX_SYMBOLIC_EXP:
            raise ExprError(f"power with exponent {b} is too large (limit {MAX_SYMBOLIC_EXP})")


def term_estimate(node: Node) -> int:
    """Upper estimate of the number of terms ``sympy.expand`` would produce (to bound its cost)."""
    kind = node[0]
    if kind in ("num", "var", "const"):
        return 1
    if kind == "neg":
        return term_estimate(node[1])
    if kind in ("add", "sub"):
        return term_estimate(node[1]) + term_estimate(node[2])
    if kind == "mul":
        return term_estimate(node[1]) * term_estimate(node[2])
    if kind == "pow":
        try:
            e = exact(node[2])
        except ExprError:
            return 10**9
        t = term_estimate(node[1])
        if e is not None and e.denominator == 1 and e > 0 and t > 1:
            k = int(e)
            return math.comb(k + t - 1, t - 1) if k < 10_000 and t < 10_000 else 10**9
        return t
    if kind == "div":
        return term_estimate(node[1]) * max(1, term_estimate(node[2]))
    return 1


def clear_caches() -> None:
    """Forget cached exact values and sympy trees (benchmarks use it to time cold calls)."""
    exact.cache_clear()
    _to_sympy_cached.cache_clear()
