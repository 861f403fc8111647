"""One bounded math package for every piece of untrusted text thinkgym reads.

Model output is untrusted, so nothing here calls ``eval``, ``exec`` or ``sympify`` on text. Two
front ends build the same tiny immutable AST of tuples:

* :func:`parse` (:mod:`thinkgym.expr.plain`): plain-text arithmetic and algebra, as the envs
  write it (``(13 - 9) * (10 - 4)``, ``3x + 2``);
* :func:`parse_latex` (:mod:`thinkgym.expr.latex`): LaTeX and loose plain text, as models write
  final answers (``\\frac{1}{2}``, ``2\\sqrt{3}``, ``x^2``, ``5!``), used by
  :func:`thinkgym.rewards.verify`.

One answer front end (:mod:`thinkgym.expr.answers`) finds a final answer in free text
(``\\boxed{}``, ``#### N``, ``Answer:``, the last number where a task allows it) and says whether
it is one value (no hedge, no list, no code); :func:`thinkgym.rewards.verify` and the envs use it.

One set of evaluators (:mod:`thinkgym.expr.evaluators`) works on both: :func:`evaluate` /
:func:`exact` (exact, with :class:`fractions.Fraction`), :func:`numeric` (mpmath) and
:func:`to_sympy` (node by node), all built on one binary operation, :func:`apply`, which the
envs' step checks use too. One set of limits (:mod:`thinkgym.expr.limits`) bounds input
length, tokens, nesting, nodes, digits, and the size of powers, factorials and binomials; each is
checked before the work it limits runs, so every call finishes quickly whatever the input.

This package is the lowest layer: it imports nothing else from thinkgym.

AST nodes::

    ("num", Fraction)              a number literal
    ("var", "x")                   a variable
    ("const", "pi"|"E"|"I"|"oo")   a constant (LaTeX front end)
    ("neg", a)                     unary minus
    ("add"|"sub"|"mul"|"div"|"pow", a, b)
    ("call", name, a)              an allow-listed function (sqrt, abs, factorial, sin, ...)
    ("binom", n, k)                a binomial coefficient (LaTeX front end)
"""

from __future__ import annotations

from thinkgym.expr.evaluators import (
    NumericError,
    apply,
    clear_caches,
    evaluate,
    exact,
    mp_context,
    numeric,
    term_estimate,
    to_sympy,
)
from thinkgym.expr.latex import FUNCS, normalize, parse_latex
from thinkgym.expr.limits import (
    MAX_BINOM_N,
    MAX_BITS,
    MAX_CHARS,
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_ITEMS,
    MAX_LITERAL_EXP,
    MAX_NODES,
    MAX_SYMBOLIC_EXP,
    MAX_TOKENS,
    ExprError,
    Node,
    ParseError,
)
from thinkgym.expr.plain import FUNCTIONS, parse
from thinkgym.expr.tree import calls, leaves, to_str, variables

__all__ = [
    "ExprError",
    "ParseError",
    "NumericError",
    "Node",
    "parse",
    "parse_latex",
    "normalize",
    "apply",
    "evaluate",
    "exact",
    "numeric",
    "mp_context",
    "clear_caches",
    "to_sympy",
    "term_estimate",
    "to_str",
    "leaves",
    "variables",
    "calls",
    "FUNCTIONS",
    "FUNCS",
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
