"""The plain-text front end: ``(13 - 9) * (10 - 4)``, ``3x + 2``, ``sqrt(16)``.

A regex tokenizer (one linear ``findall``) and a Pratt parser that builds the tuple AST, with
length, token, depth, node and digit bounds checked before any recursion.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from thinkgym.expr.limits import (
    MAX_CHARS,
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_NODES,
    MAX_TOKENS,
    ExprError,
    Node,
)

__all__ = ["parse", "FUNCTIONS"]

FUNCTIONS = frozenset({"sqrt", "abs", "factorial"})
"""Function names :func:`parse` can allow (pass a subset as ``functions=``)."""

_TOKEN_RE = re.compile(
    r"(\d+(?:\.\d+)?|\.\d+)|([A-Za-z_][A-Za-z_0-9]*)|(\*\*|[-+*/^()×÷·−])|(\S)", re.ASCII
)
_OP_ALIASES = {"×": "*", "·": "*", "÷": "/", "−": "-", "**": "^"}
_BINARY = {"+": ("add", 10), "-": ("sub", 10), "*": ("mul", 20), "/": ("div", 20), "^": ("pow", 30)}


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
            if len(num) > MAX_DIGITS:
                raise ExprError(f"a number has {len(num)} digits; the limit is {MAX_DIGITS}")
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
        functions: allow-listed function names (a subset of :data:`FUNCTIONS`).
        implicit_mul: read ``2x`` and ``3(x + 1)`` as products.
        max_chars: longest accepted input (capped at :data:`~thinkgym.expr.MAX_CHARS`).
        max_depth: deepest accepted nesting (capped at :data:`~thinkgym.expr.MAX_DEPTH`).
        max_nodes: most accepted AST nodes (capped at :data:`~thinkgym.expr.MAX_NODES`).

    Returns:
        The AST (nested tuples; see :mod:`thinkgym.expr`).

    Raises:
        ExprError: with a message in words, for anything malformed or over a bound.
    """
    max_chars, max_depth = min(max_chars, MAX_CHARS), min(max_depth, MAX_DEPTH)
    max_nodes = min(max_nodes, MAX_NODES)
    tokens = _tokenize(text, max_chars)
    if len(tokens) > MAX_TOKENS:
        raise ExprError(f"expression has more than {MAX_TOKENS} tokens")
    funcs = frozenset(functions) & FUNCTIONS
    vars_ = None if variables is None else frozenset(variables)
    p = _Parser(tokens, vars_, funcs, implicit_mul, max_depth, max_nodes)
    tree = p.expr(0, 0)
    if p.i != len(tokens):
        raise ExprError(f"unexpected {tokens[p.i][1]!r} after a complete expression")
    return tree
