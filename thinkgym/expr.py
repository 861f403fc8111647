"""A small, bounded parser for plain-text arithmetic and algebra.

Model output is untrusted, so nothing here calls ``eval``, ``exec`` or ``sympify`` on text.
:func:`parse` turns a string into a tiny immutable AST made of tuples; :func:`evaluate` computes
it exactly with :class:`fractions.Fraction`; :func:`to_sympy` builds a sympy tree from it node by
node. Input length, node count, nesting depth and the size of powers are all bounded, so every call
finishes quickly whatever the input.

AST nodes::

    ("num", Fraction)          a number literal
    ("var", "x")               a variable
    ("neg", a)                 unary minus
    ("add"|"sub"|"mul"|"div"|"pow", a, b)
    ("call", "sqrt", a)        an allow-listed function
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

__all__ = [
    "ExprError",
    "Node",
    "parse",
    "evaluate",
    "to_sympy",
    "to_str",
    "leaves",
    "variables",
    "MAX_CHARS",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_BITS",
]

Node = tuple[Any, ...]

MAX_CHARS = 2000
"""Longest input :func:`parse` accepts."""
MAX_DEPTH = 60
"""Deepest nesting (parentheses, unary minus, powers) :func:`parse` accepts."""
MAX_NODES = 600
"""Most AST nodes :func:`parse` builds."""
MAX_BITS = 4096
"""Largest numerator/denominator (in bits) that :func:`evaluate` will compute."""

FUNCTIONS = frozenset({"sqrt", "abs"})

_TOKEN_RE = re.compile(r"(\d+(?:\.\d+)?|\.\d+)|([A-Za-z_][A-Za-z_0-9]*)|(\*\*|[-+*/^()×÷·−])|(\S)")
_OP_ALIASES = {"×": "*", "·": "*", "÷": "/", "−": "-", "**": "^"}
_BINARY = {"+": ("add", 10), "-": ("sub", 10), "*": ("mul", 20), "/": ("div", 20), "^": ("pow", 30)}


class ExprError(ValueError):
    """Raised when text is not a well-formed, bounded expression, or cannot be evaluated."""


def _tokenize(text: str, max_chars: int) -> list[tuple[str, str]]:
    if not isinstance(text, str):
        raise ExprError(f"expected a string, got {type(text).__name__}")
    if len(text) > max_chars:
        raise ExprError(f"expression is {len(text)} characters long; the limit is {max_chars}")
    tokens: list[tuple[str, str]] = []
    append = tokens.append
    # findall runs in C; group 4 catches any character that starts no token.
    for num, name, op, bad in _TOKEN_RE.findall(text):
        if num:
            append(("num", num))
        elif name:
            append(("name", name))
        elif op:
            append(("op", _OP_ALIASES.get(op, op)))
        else:
            raise ExprError(f"unexpected character {bad!r} at position {text.find(bad)}")
    if not tokens:
        raise ExprError("empty expression")
    return tokens


_NUM_CACHE: dict[str, Fraction] = {}


def _fraction(text: str) -> Fraction:
    # Fraction(str) is slow; literals repeat a lot, and Fractions are immutable, so share them.
    value = _NUM_CACHE.get(text)
    if value is None:
        value = Fraction(int(text)) if text.isdigit() else Fraction(text)
        if len(_NUM_CACHE) < 8192:
            _NUM_CACHE[text] = value
    return value


class _Parser:
    def __init__(
        self,
        tokens: list[tuple[str, str]],
        variables: frozenset[str] | None,
        functions: frozenset[str],
        implicit_mul: bool,
        max_depth: int,
        max_nodes: int,
    ) -> None:
        self.tokens = tokens
        self.i = 0
        self.variables = variables
        self.functions = functions
        self.implicit_mul = implicit_mul
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.nodes = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def node(self, *parts: Any) -> Node:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise ExprError(f"expression has more than {self.max_nodes} parts")
        return tuple(parts)

    def expr(self, min_bp: int, depth: int) -> Node:
        if depth > self.max_depth:
            raise ExprError(f"expression is nested deeper than {self.max_depth} levels")
        left = self.prefix(depth)
        while True:
            tok = self.peek()
            if tok is None:
                break
            kind, value = tok
            if kind == "op" and value in _BINARY:
                name, bp = _BINARY[value]
                if bp < min_bp:
                    break
                self.take()
                # '^' is right-associative; the others are left-associative.
                right = self.expr(bp if name == "pow" else bp + 1, depth + 1)
                left = self.node(name, left, right)
            elif self.implicit_mul and (kind in ("num", "name") or value == "("):
                if 20 < min_bp:
                    break
                right = self.expr(21, depth + 1)
                left = self.node("mul", left, right)
            else:
                break
        return left

    def prefix(self, depth: int) -> Node:
        tok = self.peek()
        if tok is None:
            raise ExprError("expression ends too early")
        kind, value = self.take()
        if kind == "num":
            return self.node("num", _fraction(value))
        if kind == "name":
            if value in self.functions:
                nxt = self.peek()
                if nxt is None or nxt[1] != "(":
                    raise ExprError(f"function {value!r} needs parentheses, e.g. {value}(2)")
                self.take()
                arg = self.expr(0, depth + 1)
                self.expect(")")
                return self.node("call", value, arg)
            if self.variables is not None and value not in self.variables:
                allowed = ", ".join(sorted(self.variables)) or "none"
                raise ExprError(f"unknown name {value!r} (allowed variables: {allowed})")
            return self.node("var", value)
        if value == "(":
            inner = self.expr(0, depth + 1)
            self.expect(")")
            return inner
        if value == "-":
            return self.node("neg", self.expr(25, depth + 1))
        if value == "+":
            return self.expr(25, depth + 1)
        raise ExprError(f"unexpected {value!r}")

    def expect(self, value: str) -> None:
        tok = self.peek()
        if tok is None or tok[1] != value:
            got = "the end" if tok is None else repr(tok[1])
            raise ExprError(f"expected {value!r} but found {got}")
        self.take()


def parse(
    text: str,
    *,
    variables: frozenset[str] | set[str] | None = frozenset(),
    functions: frozenset[str] | set[str] = frozenset(),
    implicit_mul: bool = False,
    max_chars: int = MAX_CHARS,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> Node:
    """Parse plain-text arithmetic into an AST, within fixed bounds.

    Args:
        text: the expression, e.g. ``"(13 - 9) * (10 - 4)"`` or ``"3x + 2 = 11"``'s sides.
        variables: names allowed as variables; ``None`` allows any identifier. The default (empty)
            allows none, which suits pure arithmetic.
        functions: allow-listed function names (a subset of ``{"sqrt", "abs"}``).
        implicit_mul: read ``2x`` and ``3(x + 1)`` as products.
        max_chars: longest accepted input.
        max_depth: deepest accepted nesting.
        max_nodes: most accepted AST nodes.

    Returns:
        The AST (nested tuples; see the module docstring).

    Raises:
        ExprError: with a message in words, for anything malformed or over a bound.
    """
    tokens = _tokenize(text, max_chars)
    if len(tokens) > 4 * max_nodes:
        raise ExprError(f"expression has more than {4 * max_nodes} tokens")
    funcs = frozenset(functions) & FUNCTIONS
    vars_ = None if variables is None else frozenset(variables)
    p = _Parser(tokens, vars_, funcs, implicit_mul, max_depth, max_nodes)
    tree = p.expr(0, 0)
    if p.i != len(tokens):
        raise ExprError(f"unexpected {tokens[p.i][1]!r} after a complete expression")
    return tree


def _check_size(value: Fraction, max_bits: int) -> Fraction:
    if value.numerator.bit_length() > max_bits or value.denominator.bit_length() > max_bits:
        raise ExprError(f"a value exceeds {max_bits} bits")
    return value


def evaluate(
    node: Node, env: dict[str, Fraction] | None = None, *, max_bits: int = MAX_BITS
) -> Fraction:
    """Evaluate an AST exactly with fractions.

    Args:
        node: an AST from :func:`parse`.
        env: values for variables.
        max_bits: largest numerator/denominator allowed in any intermediate value.

    Raises:
        ExprError: on division by zero, an unknown variable, an irrational result (``sqrt(2)``) or
            a value over the size bound.
    """
    return Fraction(_eval(node, env, max_bits))


def _eval(node: Node, env: dict[str, Fraction] | None, max_bits: int) -> int | Fraction:
    # Whole values travel as ints (an order of magnitude faster than Fraction), others as
    # Fractions; both are exact.
    kind = node[0]
    if kind == "num":
        v = node[1]
        return v.numerator if v.denominator == 1 else v
    if kind == "var":
        if env is None or node[1] not in env:
            raise ExprError(f"variable {node[1]!r} has no value")
        return Fraction(env[node[1]])
    if kind == "neg":
        return -_eval(node[1], env, max_bits)
    if kind == "call":
        arg = _eval(node[2], env, max_bits)
        if node[1] == "abs":
            return abs(arg)
        if arg < 0:
            raise ExprError("square root of a negative number")
        num, den = _isqrt_exact(arg.numerator), _isqrt_exact(arg.denominator)
        if num is None or den is None:
            raise ExprError(f"sqrt({arg}) is not rational")
        return Fraction(num, den)
    a = _eval(node[1], env, max_bits)
    b = _eval(node[2], env, max_bits)
    if kind == "add":
        r = a + b
    elif kind == "sub":
        r = a - b
    elif kind == "mul":
        r = a * b
    elif kind == "div":
        if b == 0:
            raise ExprError("division by zero")
        if type(a) is int and type(b) is int and a % b == 0:
            return a // b
        r = Fraction(a) / b
    elif kind == "pow":
        if type(b) is not int:
            if b.denominator != 1:
                raise ExprError(f"exponent {b} is not an integer")
            b = b.numerator
        if a == 0 and b < 0:
            raise ExprError("division by zero")
        bits = max(a.numerator.bit_length(), a.denominator.bit_length())
        if bits * abs(b) > max_bits and abs(a) != 1:
            raise ExprError(f"power {a}^{b} exceeds {max_bits} bits")
        r = Fraction(a) ** b if b < 0 else a**b
    else:
        raise ExprError(f"unknown node {kind!r}")
    if type(r) is int:
        if r.bit_length() > max_bits:
            raise ExprError(f"a value exceeds {max_bits} bits")
        return r
    if r.denominator == 1:
        r = r.numerator
        if r.bit_length() > max_bits:
            raise ExprError(f"a value exceeds {max_bits} bits")
        return r
    return _check_size(r, max_bits)


def _isqrt_exact(n: int) -> int | None:
    import math

    r = math.isqrt(n)
    return r if r * r == n else None


def to_sympy(node: Node, symbols: dict[str, Any] | None = None, *, max_bits: int = MAX_BITS) -> Any:
    """Build a sympy expression from an AST, node by node (no string is ever sympified).

    Args:
        node: an AST from :func:`parse`.
        symbols: sympy symbols to use for variables (created on demand otherwise).
        max_bits: bound on integer powers of numbers, as in :func:`evaluate`.
    """
    import sympy

    cache = {} if symbols is None else symbols

    def build(n: Node) -> Any:
        kind = n[0]
        if kind == "num":
            return sympy.Rational(n[1].numerator, n[1].denominator)
        if kind == "var":
            if n[1] not in cache:
                cache[n[1]] = sympy.Symbol(n[1])
            return cache[n[1]]
        if kind == "neg":
            return -build(n[1])
        if kind == "call":
            arg = build(n[2])
            return sympy.sqrt(arg) if n[1] == "sqrt" else sympy.Abs(arg)
        a, b = build(n[1]), build(n[2])
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
            if b.is_Integer and abs(int(b)) > 64 and not (a.is_Number and abs(a) == 1):
                if not a.is_Number or abs(int(b)) * max(1, int(abs(a)).bit_length()) > max_bits:
                    raise ExprError(f"power with exponent {b} is too large")
            elif not b.is_Number and b.free_symbols == set():
                raise ExprError("non-numeric exponent")
            return sympy.Pow(a, b)
        raise ExprError(f"unknown node {kind!r}")

    return build(node)


_PREC = {"add": 10, "sub": 10, "mul": 20, "div": 20, "neg": 25, "pow": 30}
_SYM = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^"}


def _fmt_num(value: Fraction) -> str:
    return (
        str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    )


def to_str(node: Node) -> str:
    """Print an AST back as plain text with the fewest parentheses that keep its meaning."""
    kind = node[0]
    if kind == "num":
        text = _fmt_num(node[1])
        return f"({text})" if "/" in text else text
    if kind == "var":
        return node[1]
    if kind == "call":
        return f"{node[1]}({to_str(node[2])})"
    if kind == "neg":
        inner = to_str(node[1])
        return f"-({inner})" if node[1][0] in ("add", "sub", "neg") else f"-{inner}"
    prec = _PREC[kind]
    left, right = to_str(node[1]), to_str(node[2])
    lp = _PREC.get(node[1][0], 100)
    rp = _PREC.get(node[2][0], 100)
    if lp < prec or (kind == "pow" and lp <= prec):
        left = f"({left})"
    if rp < prec or (rp == prec and kind in ("sub", "div")) or (kind != "pow" and rp == 25):
        right = f"({right})"
    return f"{left} {_SYM[kind]} {right}"


def leaves(node: Node) -> list[Fraction]:
    """Return the number literals of an AST, left to right."""
    out: list[Fraction] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n[0] == "num":
            out.append(n[1])
        elif n[0] in ("neg",):
            stack.append(n[1])
        elif n[0] == "call":
            stack.append(n[2])
        elif n[0] != "var":
            stack.append(n[2])
            stack.append(n[1])
    return out


def variables(node: Node) -> set[str]:
    """Return the variable names used in an AST."""
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n[0] == "var":
            out.add(n[1])
        elif n[0] in ("neg",):
            stack.append(n[1])
        elif n[0] == "call":
            stack.append(n[2])
        elif n[0] != "num":
            stack.extend(n[1:])
    return out
