"""Walks over the tuple AST: printing, leaves, variables, function calls."""

from __future__ import annotations

from fractions import Fraction

from thinkgym.expr.limits import Node

__all__ = ["to_str", "leaves", "variables", "calls", "children"]

_PREC = {"add": 10, "sub": 10, "mul": 20, "div": 20, "neg": 25, "pow": 30}
_SYM = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^"}


def children(node: Node) -> tuple[Node, ...]:
    """The sub-expressions of a node (none for numbers, variables and constants)."""
    kind = node[0]
    if kind in ("num", "var", "const"):
        return ()
    if kind == "call":
        return (node[2],)
    return tuple(node[1:])


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
    if kind in ("var", "const"):
        return {"E": "e", "I": "i"}.get(node[1], node[1]) if kind == "const" else node[1]
    if kind == "call":
        return f"{node[1]}({to_str(node[2])})"
    if kind == "binom":
        return f"binom({to_str(node[1])}, {to_str(node[2])})"
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
        else:
            stack.extend(reversed(children(n)))
    return out


def variables(node: Node) -> frozenset[str]:
    """Return the variable names used in an AST."""
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n[0] == "var":
            out.add(n[1])
        else:
            stack.extend(children(n))
    return frozenset(out)


def calls(node: Node) -> int:
    """Number of function applications (``call`` and ``binom`` nodes) in an AST."""
    count = 0
    stack = [node]
    while stack:
        n = stack.pop()
        count += n[0] in ("call", "binom")
        stack.extend(children(n))
    return count
