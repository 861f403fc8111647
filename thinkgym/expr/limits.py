"""The one set of bounds every parser and evaluator in :mod:`thinkgym.expr` enforces.

Every bound is checked *before* the work it limits runs (a power's size is estimated from the
sizes of its operands before it is computed, a factorial's from ``lgamma``), so no input can make
a parse or an evaluation slow, whatever the caller passes. Callers may pass stricter values (the
envs do); they cannot switch a bound off.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ExprError",
    "ParseError",
    "Node",
    "MAX_CHARS",
    "MAX_TOKENS",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_DIGITS",
    "MAX_BITS",
    "MAX_SYMBOLIC_EXP",
    "MAX_LITERAL_EXP",
    "MAX_BINOM_N",
    "MAX_ITEMS",
]

Node = tuple[Any, ...]
"""An AST node: a tuple whose first item names its kind (see :mod:`thinkgym.expr`)."""

MAX_CHARS = 2000
"""Longest text either front end parses."""
MAX_TOKENS = 1200
"""Most tokens either front end reads."""
MAX_DEPTH = 60
"""Deepest bracket / operator nesting accepted (checked before recursing)."""
MAX_NODES = 600
"""Most AST nodes one parse builds."""
MAX_DIGITS = 1200
"""Most digits in one number literal (about 4,000 bits)."""
MAX_BITS = 10_000
"""Largest numerator or denominator, in bits, that any literal, power, factorial, binomial or
intermediate exact value may have."""
MAX_SYMBOLIC_EXP = 256
"""Largest exponent (numerator or denominator) on a base that is not a plain number (``x^256``)."""
MAX_LITERAL_EXP = 3000
"""Largest decimal exponent of a literal in scientific notation (``1e3000``)."""
MAX_BINOM_N = 3000
"""Largest ``n`` of a binomial coefficient ``binom(n, k)``."""
MAX_ITEMS = 64
"""Most items in one tuple, set, list or matrix row (used by :func:`thinkgym.rewards.verify`)."""


class ExprError(ValueError):
    """Text that is not a well-formed, bounded expression, or a value that cannot be computed."""


class ParseError(ExprError):
    """Text that is not a well-formed, bounded math answer (raised by the LaTeX front end)."""
