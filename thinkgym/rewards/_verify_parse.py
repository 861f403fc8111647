"""Bounded LaTeX / plain-text math parser used by :func:`thinkgym.rewards.verify`.

Text is turned into tokens, then into the small tuple AST of :mod:`thinkgym.expr` (extended with
a few node kinds), never through ``eval``/``sympify``. Everything is bounded before it recurses:
input length, token count, bracket depth, node count and the size of powers and factorials.

Extra node kinds on top of :mod:`thinkgym.expr`::

    ("const", "pi" | "E" | "I" | "oo")   constants (``I`` is the imaginary unit)
    ("call", name, a)                     name in :data:`FUNCS` (sin, log, exp, factorial, ...)
    ("binom", n, k)                       binomial coefficient

Three evaluators share the AST: :func:`exact` (``Fraction`` or ``None``), :func:`numeric`
(mpmath, thread-local context) and :func:`to_sympy` (node by node).
"""

from __future__ import annotations

import math
import re
import threading
from fractions import Fraction
from functools import lru_cache
from typing import Any

from thinkgym.expr import ExprError, Node

MAX_TEXT = 2000
"""Longest answer text that is parsed at all."""
MAX_TOKENS = 600
MAX_DEPTH = 40
"""Deepest bracket / parser nesting accepted (checked before recursing)."""
MAX_NODES = 500
MAX_BITS = 10_000
"""Largest exact integer (in bits) any power, factorial or literal may produce."""
MAX_SYMBOLIC_EXP = 256
"""Largest integer exponent on a non-rational base (``x^256``)."""

FUNCS = frozenset(
    {
        "sqrt", "abs", "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan",
        "sinh", "cosh", "tanh", "log", "ln", "exp", "factorial",
    }
)  # fmt: skip
_GREEK = (
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi "
    "rho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Phi Psi Omega"
).split()
_WORDS = sorted(
    [*FUNCS, "pi", "oo", "infinity", "inf", "asin", "acos", "atan"],
    key=len,
    reverse=True,
)
_FUNC_ALIASES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "ln": "log"}


class ParseError(ExprError):
    """Answer text that is not a well-formed, bounded math answer."""


# --------------------------------------------------------------------------------------------
# LaTeX / unicode normalisation (string level, linear-time regexes only)
# --------------------------------------------------------------------------------------------

_UNICODE = str.maketrans(
    {
        "−": "-", "–": "-", "×": "*", "·": "*", "⋅": "*", "÷": "/", "∗": "*",
        "π": r"\pi ", "∞": r"\infty ", "√": r"\sqrt", "±": r"\pm ", "∪": r"\cup ",
        "°": "", "²": "^2", "³": "^3", "≤": r"\le ", "≥": r"\ge ", "∈": r"\in ",
    }
)  # fmt: skip
_TEXT_CMD = re.compile(
    r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mbox|operatorname|mathbb)\s*\{([^{}]*)\}"
    r"(\s*\^\s*(?:\{\s*\d\s*\}|\d))?"
)
_UNIT_WORD = re.compile(r"^\s*[A-Za-z][A-Za-z\s.]*$")
_REMOVE = re.compile(
    r"\\left\.|\\right\.|\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg)(?![a-zA-Z])"
    r"|\\displaystyle|\\limits|\\!|\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|\\\$|\\%"
)
_SPACES = re.compile(r"\\[,;: ]|\\quad|\\qquad|~")
_THIN_THOUSANDS = re.compile(r"(\d)(?:\\[,!]|\{,\}|\\ )(?=\d{3}(?!\d))")
_FRAC_SHORT = re.compile(r"\\frac\s*(\d)\s*(\d)")
_FRAC_SHORT1 = re.compile(r"\\frac\s*(\d)(?=\s*\{)")
_SQRT_SHORT = re.compile(r"\\sqrt\s*(\d)")
_CMD_ALIASES = {
    "dfrac": "\\frac", "tfrac": "\\frac", "cfrac": "\\frac", "cdot": "*", "times": "*", "ast": "*",
    "div": "/", "infty": " oo ", "pi": " pi ", "lbrace": "\\{", "rbrace": "\\}", "lvert": "|",
    "rvert": "|", "vert": "|", "mid": "|", "leq": "\\le", "geq": "\\ge", "dbinom": "\\binom",
    "tbinom": "\\binom", "ne": "\\neq", "lt": "<", "gt": ">", "land": ",", "wedge": ",", "varnothing": "\\emptyset",
}  # fmt: skip
_CMD = re.compile(r"\\([A-Za-z]+)")
_AND_OR = re.compile(r"\b(?:and|or)\b")


def _text_repl(m: re.Match[str]) -> str:
    content = m.group(1).strip()
    if content in ("and", "or", ","):
        return ","
    if content.lower() in FUNCS or content in ("lcm", "gcd"):
        return " " + content + " "
    if _UNIT_WORD.match(content) and len(content.replace(" ", "")) > 1:
        return " "  # a unit or a word (with its power, cm^2): drop it
    return " " + _LONG_WORD.sub(_drop_word, content) + " " + (m.group(2) or "")


_LONG_WORD = re.compile(r"[A-Za-z]{2,}")


def _drop_word(m: re.Match[str]) -> str:
    w = m.group(0)
    return w if w.lower() in FUNCS or w in ("pi", "or", "and") else " "


def _cmd_repl(m: re.Match[str]) -> str:
    name = m.group(1)
    if name in _CMD_ALIASES:
        return _CMD_ALIASES[name]
    if name != "sqrt" and name in FUNCS:
        return " " + name + " "
    return m.group(0)


def normalize(text: str) -> str:
    """Map LaTeX and unicode spellings to the token language (still a string)."""
    s = text.translate(_UNICODE)
    s = s.replace("$", " ").replace("\\(", " ").replace("\\)", " ").replace("\\[", " ")
    s = s.replace("\\]", " ")
    for _ in range(3):  # \text{} may be nested in one another a few times
        s2 = _TEXT_CMD.sub(_text_repl, s)
        if s2 == s:
            break
        s = s2
    s = _THIN_THOUSANDS.sub(r"\1", s)
    s = _REMOVE.sub(" ", s)
    s = _SPACES.sub(" ", s)
    s = _CMD.sub(_cmd_repl, s)
    s = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_SHORT1.sub(r"\\frac{\1}", s)
    s = _SQRT_SHORT.sub(r"\\sqrt{\1}", s)
    s = _AND_OR.sub(",", s)
    return s.strip()


# --------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------

# number: digits with optional decimals, repeating part (\overline{..} or (..)) and exponent.
_NUM = re.compile(
    r"(?P<int>\d+)?(?:\.(?P<frac>\d*)(?:\\overline\s*\{(?P<rep>\d+)\}|\((?P<rep2>\d+)\))?)?"
    r"(?:[eE](?P<exp>[+-]?\d{1,4})(?![a-zA-Z]))?"
)
_PUNCT = {
    "**": "^", "+": "+", "-": "-", "*": "*", "/": "/", "^": "^", "(": "(", ")": ")", "[": "[",
    "]": "]", "{": "{", "}": "}", ",": ",", "=": "=", "!": "!", "|": "|", "_": "_", "<": "<",
    ">": ">", ";": ",", "'": "'",
}  # fmt: skip
_TOKEN_CMDS = {
    "frac": "FRAC", "sqrt": "SQRT", "binom": "BINOM", "{": "SETL", "}": "SETR", "pm": "PM",
    "mp": "PM", "cup": "CUP", "in": "IN", "le": "<=", "ge": ">=", "neq": "!=", "emptyset": "EMPTY",
}  # fmt: skip
_CMD_TOKEN = re.compile(r"\\([A-Za-z]+|[{}])")

Token = tuple[str, Any]  # (kind, value); kinds: NUM, ID, OP (value is the symbol), or CMD names


def _number(m: re.Match[str]) -> Fraction:
    ip, fp = m.group("int") or "0", m.group("frac") or ""
    rep = m.group("rep") or m.group("rep2")
    if len(ip) + len(fp) + len(rep or "") > 1200:
        raise ParseError("number literal too long")
    value = Fraction(int(ip + fp), 10 ** len(fp))
    if rep:
        value += Fraction(int(rep), (10 ** len(rep) - 1) * 10 ** len(fp))
    if m.group("exp"):
        e = int(m.group("exp"))
        if abs(e) * 3.33 > MAX_BITS:
            raise ParseError("exponent of a number literal is too large")
        value *= Fraction(10) ** e
    return value


def tokenize(s: str) -> list[Token]:
    """Split normalised text into tokens; raises :class:`ParseError` on anything unknown."""
    out: list[Token] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c.isspace():
            i += 1
            continue
        if c.isdigit() or (c == "." and i + 1 < n and s[i + 1].isdigit()):
            m = _NUM.match(s, i)
            assert m is not None and m.end() > i
            out.append(("NUM", _number(m)))
            i = m.end()
        elif c.isascii() and c.isalpha():
            j = i
            while j < n and s[j].isascii() and s[j].isalpha():
                j += 1
            _split_word(s[i:j], out)
            i = j
        elif c == "\\":
            m = _CMD_TOKEN.match(s, i)
            if m is not None and m.group(1) in _GREEK:
                out.append(("ID", m.group(1)))
                i = m.end()
                continue
            if m is None or m.group(1) not in _TOKEN_CMDS:
                cmd = m.group(0) if m else s[i : i + 2]
                raise ParseError(f"unsupported command {cmd!r}")
            out.append((_TOKEN_CMDS[m.group(1)], None))
            i = m.end()
        elif s.startswith("**", i):
            out.append(("OP", "^"))
            i += 2
        elif s.startswith("<=", i) or s.startswith(">=", i):
            out.append((s[i : i + 2], None))
            i += 2
        elif c in _PUNCT:
            op = _PUNCT[c]
            if op in ("<", ">"):
                out.append((op, None))
            elif op != "'":
                out.append(("OP", op))
            i += 1
        else:
            raise ParseError(f"unexpected character {c!r}")
        if len(out) > MAX_TOKENS:
            raise ParseError(f"more than {MAX_TOKENS} tokens")
    return out


def _split_word(word: str, out: list[Token]) -> None:
    """Split a run of letters into known names and single-letter variables (``xy`` -> x, y)."""
    k = 0
    while k < len(word):
        for name in _WORDS:
            if word.startswith(name, k):
                out.append(("ID", name))
                k += len(name)
                break
        else:
            out.append(("ID", word[k]))
            k += 1


# --------------------------------------------------------------------------------------------
# Parser (recursive descent, depth-checked)
# --------------------------------------------------------------------------------------------

_OPENERS = {"(": ")", "[": "]", "{": "}"}
_ATOM_START_OPS = frozenset({"(", "{", "["})


def check_depth(tokens: list[Token]) -> None:
    """Reject token lists whose bracket nesting exceeds :data:`MAX_DEPTH` (no recursion)."""
    depth = 0
    for kind, val in tokens:
        if kind == "SETL" or (kind == "OP" and val in ("(", "[", "{")):
            depth += 1
            if depth > MAX_DEPTH:
                raise ParseError(f"nesting deeper than {MAX_DEPTH}")
        elif kind == "SETR" or (kind == "OP" and val in (")", "]", "}")):
            depth -= 1


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.t = tokens
        self.i = 0
        self.nodes = 0
        self.depth = 0

    # helpers -------------------------------------------------------------------------------
    def peek(self, k: int = 0) -> Token | None:
        j = self.i + k
        return self.t[j] if j < len(self.t) else None

    def is_op(self, val: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok is not None and tok[0] == "OP" and tok[1] == val

    def expect_op(self, val: str) -> None:
        if not self.is_op(val):
            raise ParseError(f"expected {val!r}")
        self.i += 1

    def node(self, *parts: Any) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ParseError(f"more than {MAX_NODES} nodes")
        return tuple(parts)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH * 3:
            raise ParseError("expression nested too deeply")

    # grammar -------------------------------------------------------------------------------
    def parse_all(self) -> Node:
        if not self.t:
            raise ParseError("empty expression")
        node = self.expr()
        if self.i != len(self.t):
            raise ParseError(f"unexpected {self.t[self.i]!r}")
        return node

    def expr(self) -> Node:
        self.enter()
        left = self.term()
        while self.is_op("+") or self.is_op("-"):
            op = self.t[self.i][1]
            self.i += 1
            right = self.term()
            left = self.node("add" if op == "+" else "sub", left, right)
        self.depth -= 1
        return left

    def starts_atom(self) -> bool:
        tok = self.peek()
        if tok is None:
            return False
        kind, val = tok
        if kind in ("NUM", "ID", "FRAC", "SQRT", "BINOM"):
            return True
        return kind == "OP" and val in _ATOM_START_OPS

    def term(self) -> Node:
        left = self.unary()
        while True:
            if self.is_op("*") or self.is_op("/"):
                op = self.t[self.i][1]
                self.i += 1
                right = self.unary()
                if op == "/":
                    left = self.node("div", left, right)
                else:
                    left = self.node("mul", left, right)
            elif self.starts_atom():
                right = self.power()
                left = self.node("mul", left, right)
            else:
                return left

    def unary(self) -> Node:
        self.enter()
        if self.is_op("-"):
            self.i += 1
            node = self.node("neg", self.unary())
        elif self.is_op("+"):
            self.i += 1
            node = self.unary()
        else:
            node = self.power()
        self.depth -= 1
        return node

    def power(self) -> Node:
        base = self.postfix()
        if self.is_op("^"):
            self.i += 1
            self.enter()
            if self.is_op("-") or self.is_op("+"):
                exp = self.unary()
            else:
                exp = self.power()  # right-associative: 2^3^2 = 2^(3^2)
            self.depth -= 1
            base = self.make_pow(base, exp)
        return base

    def postfix(self) -> Node:
        node = self.atom()
        while self.is_op("!"):
            self.i += 1
            node = self.make_factorial(node)
        return node

    def group(self) -> Node:
        """A LaTeX argument: ``{...}`` or a single token."""
        if self.is_op("{"):
            self.i += 1
            inner = self.expr()
            self.expect_op("}")
            return inner
        return self.atom()

    def atom(self) -> Node:
        self.enter()
        tok = self.peek()
        if tok is None:
            raise ParseError("expression ends too early")
        kind, val = tok
        self.i += 1
        if kind == "NUM":
            node = self.node("num", val)
        elif kind == "ID":
            node = self.ident(val)
        elif kind == "FRAC":
            num = self.group()
            den = self.group()
            node = self.node("div", num, den)
        elif kind == "SQRT":
            index = None
            if self.is_op("["):
                self.i += 1
                index = self.expr()
                self.expect_op("]")
            arg = self.group()
            if index is None:
                node = self.node("call", "sqrt", arg)
            else:
                node = self.make_pow(arg, self.node("div", self.node("num", Fraction(1)), index))
        elif kind == "BINOM":
            n_, k_ = self.group(), self.group()
            node = self.make_binom(n_, k_)
        elif kind == "OP" and val in _OPENERS:
            inner = self.expr()
            self.expect_op(_OPENERS[val])
            node = inner
        elif kind == "OP" and val == "|":
            inner = self.expr()
            self.expect_op("|")
            node = self.node("call", "abs", inner)
        else:
            raise ParseError(f"unexpected {val if kind == 'OP' else kind!r}")
        self.depth -= 1
        return node

    def ident(self, name: str) -> Node:
        if name in ("pi",):
            return self.node("const", "pi")
        if name in ("oo", "inf", "infinity"):
            return self.node("const", "oo")
        if name == "e":
            return self.node("const", "E")
        if name == "i":
            return self.node("const", "I")
        fname = _FUNC_ALIASES.get(name, name)
        if fname in FUNCS:
            return self.func(fname)
        # a variable, maybe subscripted: x_1, x_{12}
        if self.is_op("_"):
            self.i += 1
            sub = self.peek()
            if sub is not None and sub[0] in ("NUM", "ID"):
                self.i += 1
                suffix = str(sub[1])
            elif self.is_op("{"):
                self.i += 1
                parts = []
                while self.peek() is not None and self.peek()[0] in ("NUM", "ID"):  # type: ignore[index]
                    parts.append(str(self.t[self.i][1]))
                    self.i += 1
                self.expect_op("}")
                suffix = "".join(parts)
            else:
                raise ParseError("bad subscript")
            name = f"{name}_{suffix}"
        return self.node("var", name)

    def func(self, fname: str) -> Node:
        base: Node | None = None
        if fname == "log" and self.is_op("_"):
            self.i += 1
            base = self.group()
        power: Node | None = None
        if self.is_op("^") and fname not in ("sqrt", "factorial"):
            self.i += 1
            power = self.group()
        if self.is_op("(") or self.is_op("{"):
            arg = self.atom()
        else:
            arg = self.power()
        node = self.node("call", fname, arg)
        if base is not None:
            node = self.node("div", node, self.node("call", "log", base))
        if power is not None:
            node = self.make_pow(node, power)
        return node

    # bounded constructors ----------------------------------------------------------------------
    def make_pow(self, base: Node, exp: Node) -> Node:
        e = exact(exp)
        if e is not None:
            b = exact(base)
            if e.denominator == 1:
                k = abs(e.numerator)
                if b is not None:
                    if b == 0 and e < 0:
                        raise ParseError("division by zero")
                    if abs(b) not in (0, 1):
                        bits = max(b.numerator.bit_length(), b.denominator.bit_length())
                        if k * max(1, bits - 1) > MAX_BITS:
                            raise ParseError("power too large")
                elif k > MAX_SYMBOLIC_EXP:
                    raise ParseError("exponent too large")
            elif abs(e.numerator) > MAX_SYMBOLIC_EXP or e.denominator > MAX_SYMBOLIC_EXP:
                raise ParseError("fractional exponent too large")
        return self.node("pow", base, exp)

    def make_factorial(self, arg: Node) -> Node:
        v = exact(arg)
        if v is None or v.denominator != 1 or v < 0:
            raise ParseError("factorial of something other than a small natural number")
        if math.lgamma(int(v) + 1) / math.log(2) > MAX_BITS:
            raise ParseError("factorial too large")
        return self.node("call", "factorial", arg)

    def make_binom(self, n_: Node, k_: Node) -> Node:
        nv, kv = exact(n_), exact(k_)
        if nv is None or kv is None or nv.denominator != 1 or kv.denominator != 1:
            raise ParseError("binomial of non-integers")
        if nv < 0 or nv > 3000:
            raise ParseError("binomial too large")
        return self.node("binom", n_, k_)


def parse_tokens(tokens: list[Token]) -> Node:
    """Parse one scalar expression from tokens (bracket depth must already be checked)."""
    return _Parser(tokens).parse_all()


# --------------------------------------------------------------------------------------------
# Evaluators
# --------------------------------------------------------------------------------------------


def _isqrt_exact(n: int) -> int | None:
    r = math.isqrt(n)
    return r if r * r == n else None


def _check(v: Fraction) -> Fraction:
    if v.numerator.bit_length() > 4 * MAX_BITS or v.denominator.bit_length() > 4 * MAX_BITS:
        raise ParseError("value too large")
    return v


@lru_cache(maxsize=8192)
def exact(node: Node) -> Fraction | None:
    """The exact rational value of ``node``, or ``None`` if it is not (obviously) rational.

    Raises:
        ParseError: on division by zero or values over the size bound.
    """
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind in ("var", "const"):
        return None
    if kind == "neg":
        a = exact(node[1])
        return None if a is None else -a
    if kind == "call":
        a = exact(node[2])
        if a is None:
            return None
        name = node[1]
        if name == "abs":
            return abs(a)
        if name == "factorial":
            return Fraction(math.factorial(int(a)))
        if name == "sqrt" and a >= 0:
            num, den = _isqrt_exact(a.numerator), _isqrt_exact(a.denominator)
            return None if num is None or den is None else Fraction(num, den)
        return None
    if kind == "binom":
        n_, k_ = exact(node[1]), exact(node[2])
        assert n_ is not None and k_ is not None
        return Fraction(math.comb(int(n_), int(k_))) if 0 <= k_ <= n_ else Fraction(0)
    a, b = exact(node[1]), exact(node[2])
    if a is None or b is None:
        return None
    if kind == "add":
        return _check(a + b)
    if kind == "sub":
        return _check(a - b)
    if kind == "mul":
        return _check(a * b)
    if kind == "div":
        if b == 0:
            raise ParseError("division by zero")
        return _check(a / b)
    if kind == "pow":
        if b.denominator == 1:
            if a == 0 and b < 0:
                raise ParseError("division by zero")
            return _check(a ** int(b))
        if a < 0:
            return None
        # rational exponent p/q: exact only when a is a perfect q-th power
        q = b.denominator
        rn, rd = _iroot(a.numerator, q), _iroot(a.denominator, q)
        if rn is None or rd is None:
            return None
        return _check(Fraction(rn, rd) ** b.numerator)
    raise ParseError(f"unknown node {kind!r}")


def _iroot(n: int, q: int) -> int | None:
    if n.bit_length() > 4 * MAX_BITS:
        return None
    if n < 2:
        return n
    r = round(n ** (1.0 / q)) if n.bit_length() < 1000 else None
    if r is None:
        return None
    for c in (r - 1, r, r + 1):
        if c >= 0 and c**q == n:
            return c
    return None


class _Ctx(threading.local):
    def __init__(self) -> None:
        from mpmath.ctx_mp import MPContext

        self.mp = MPContext()
        self.mp.dps = 50


_CTX = _Ctx()
_MP_FUNCS = {
    "sqrt": "sqrt", "abs": "fabs", "sin": "sin", "cos": "cos", "tan": "tan", "cot": "cot",
    "sec": "sec", "csc": "csc", "arcsin": "asin", "arccos": "acos", "arctan": "atan",
    "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "log": "log", "exp": "exp",
}  # fmt: skip


class NumericError(Exception):
    """A point where an expression cannot be evaluated (pole, domain, overflow)."""


def numeric(node: Node, point: dict[str, Any]) -> Any:
    """Evaluate ``node`` with mpmath (50 digits, a per-thread context) at ``point``.

    Raises:
        NumericError: at a pole, outside the domain or for absurdly large magnitudes.
    """
    mp = _CTX.mp
    try:
        return _num(node, point, mp)
    except (ZeroDivisionError, ValueError, OverflowError, TypeError) as exc:
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
        if name == "factorial":
            return mp.factorial(a)
        if name == "abs":
            return abs(a)
        if name == "exp" and abs(a) > 1e5:
            raise NumericError("exp argument too large")
        if name == "log" and a == 0:
            raise NumericError("log(0)")
        return getattr(mp, _MP_FUNCS[name])(a)
    if kind == "binom":
        return mp.binomial(_num(node[1], pt, mp), _num(node[2], pt, mp))
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
        if abs(b) > 1e5 and abs(a) != 1:
            raise NumericError("exponent too large")
        if a == 0 and mp.re(b) <= 0:
            raise NumericError("0 to a non-positive power")
        return mp.power(a, b)
    raise NumericError(f"unknown node {kind!r}")


def variables(node: Node) -> frozenset[str]:
    """Variable names used in ``node``."""
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n[0] == "var":
            out.add(n[1])
        elif n[0] in ("num", "const"):
            continue
        else:
            stack.extend(c for c in n[1:] if isinstance(c, tuple))
    return frozenset(out)


@lru_cache(maxsize=4096)
def to_sympy(node: Node) -> Any:
    """Build a sympy expression node by node (never from a string)."""
    import sympy

    kind = node[0]
    if kind == "num":
        return sympy.Rational(node[1].numerator, node[1].denominator)
    if kind == "var":
        return sympy.Symbol(node[1])
    if kind == "const":
        return {"pi": sympy.pi, "E": sympy.E, "I": sympy.I, "oo": sympy.oo}[node[1]]
    if kind == "neg":
        return -to_sympy(node[1])
    if kind == "call":
        a = to_sympy(node[2])
        name = node[1]
        fn = {
            "sqrt": sympy.sqrt, "abs": sympy.Abs, "sin": sympy.sin, "cos": sympy.cos,
            "tan": sympy.tan, "cot": sympy.cot, "sec": sympy.sec, "csc": sympy.csc,
            "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan, "sinh": sympy.sinh,
            "cosh": sympy.cosh, "tanh": sympy.tanh, "log": sympy.log, "exp": sympy.exp,
            "factorial": sympy.factorial,
        }[name]  # fmt: skip
        return fn(a)
    if kind == "binom":
        return sympy.binomial(to_sympy(node[1]), to_sympy(node[2]))
    a, b = to_sympy(node[1]), to_sympy(node[2])
    if kind == "add":
        return a + b
    if kind == "sub":
        return a - b
    if kind == "mul":
        return a * b
    if kind == "div":
        return a / b
    if kind == "pow":
        return sympy.Pow(a, b)
    raise ParseError(f"unknown node {kind!r}")


@lru_cache(maxsize=4096)
def calls(node: Node) -> int:
    """Number of function applications in ``node`` (deep nests make sympy slow)."""
    if node[0] in ("num", "var", "const"):
        return 0
    return (node[0] in ("call", "binom")) + sum(calls(c) for c in node[1:] if isinstance(c, tuple))


def term_estimate(node: Node) -> int:
    """Upper estimate of the number of terms ``expand`` would produce (to bound its cost)."""
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
        e = exact(node[2])
        t = term_estimate(node[1])
        if e is not None and e.denominator == 1 and e > 0 and t > 1:
            k = int(e)
            return math.comb(k + t - 1, t - 1) if k < 10_000 else 10**9
        return t
    if kind == "div":
        return term_estimate(node[1]) * max(1, term_estimate(node[2]))
    return 1
