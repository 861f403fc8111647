"""The LaTeX (and loose plain-text) front end: ``\\frac{1}{2}``, ``2\\sqrt{3}``, ``x^2 + 1``.

Text is normalised at the string level (linear-time regexes only), split into tokens, then
parsed by recursive descent into the same tuple AST as :func:`thinkgym.expr.parse`, never
through ``eval``/``sympify``. Everything is bounded before it recurses or computes: input
length, token count, bracket depth, node count, literal digits and exponents, and the size of
powers, factorials and binomials (estimated from their operands before anything is built).

Extra node kinds on top of the plain ones::

    ("const", "pi" | "E" | "I" | "oo")   constants (``I`` is the imaginary unit)
    ("call", name, a)                     name in :data:`FUNCS` (sin, log, exp, factorial, ...)
    ("binom", n, k)                       binomial coefficient
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

from thinkgym.expr.evaluators import _pow_bits, exact
from thinkgym.expr.limits import (
    MAX_BINOM_N,
    MAX_BITS,
    MAX_CHARS,
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_LITERAL_EXP,
    MAX_NODES,
    MAX_SYMBOLIC_EXP,
    MAX_TOKENS,
    Node,
    ParseError,
)

__all__ = [
    "FUNCS",
    "Token",
    "normalize",
    "tokenize",
    "check_depth",
    "parse_tokens",
    "parse_latex",
]

FUNCS = frozenset(
    {
        "sqrt", "abs", "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan",
        "sinh", "cosh", "tanh", "log", "ln", "exp", "factorial",
    }
)  # fmt: skip
"""Function names the LaTeX front end knows (``\\sin``, ``log``, ``factorial`` ...)."""
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


# --------------------------------------------------------------------------------------------
# LaTeX / unicode normalisation (string level, linear-time regexes only)
# --------------------------------------------------------------------------------------------

_UNICODE = str.maketrans(
    {
        "−": "-", "–": "-", "×": "*", "·": "*", "⋅": "*", "÷": "/", "∗": "*",
        "π": r"\pi ", "∞": r"\infty ", "√": r"\sqrt", "±": r"\pm ", "∪": r"\cup ",
        "°": "", "≤": r"\le ", "≥": r"\ge ", "∈": r"\in ",
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


_SUPERSCRIPT = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻]+")
_SUBSCRIPT = re.compile("[₀₁₂₃₄₅₆₇₈₉]+")
_SUPER_MAP = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻₀₁₂₃₄₅₆₇₈₉", "0123456789+-0123456789")


def _script(prefix: str) -> Any:
    def repl(m: re.Match[str]) -> str:
        return prefix + "{" + m.group(0).translate(_SUPER_MAP) + "}"

    return repl


def normalize(text: str) -> str:
    """Map LaTeX and unicode spellings to the token language (still a string)."""
    s = _SUPERSCRIPT.sub(_script("^"), text)  # 2⁴ -> 2^{4}, x¹⁰ -> x^{10}
    s = _SUBSCRIPT.sub(_script("_"), s)
    s = s.translate(_UNICODE)
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
    r"(?:[eE](?P<exp>[+-]?\d{1,4})(?![a-zA-Z]))?",
    re.ASCII,
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

_DIGITS = frozenset("0123456789")  # ASCII only: str.isdigit() also accepts '①' and '⁴'
Token = tuple[str, Any]  # (kind, value); kinds: NUM, ID, OP (value is the symbol), or CMD names


def _number(m: re.Match[str]) -> Fraction:
    ip, fp = m.group("int") or "0", m.group("frac") or ""
    rep = m.group("rep") or m.group("rep2")
    if len(ip) + len(fp) + len(rep or "") > MAX_DIGITS:
        raise ParseError(f"a number literal has more than {MAX_DIGITS} digits")
    value = Fraction(int(ip + fp), 10 ** len(fp))
    if rep:
        value += Fraction(int(rep), (10 ** len(rep) - 1) * 10 ** len(fp))
    if m.group("exp"):
        e = int(m.group("exp"))
        if abs(e) > MAX_LITERAL_EXP:
            raise ParseError(f"exponent of a number literal is over {MAX_LITERAL_EXP}")
        value *= Fraction(10) ** e
        if max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_BITS:
            raise ParseError(f"a number literal exceeds {MAX_BITS} bits")
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
        if c in _DIGITS or (c == "." and i + 1 < n and s[i + 1] in _DIGITS):
            m = _NUM.match(s, i)
            if m is None or m.end() <= i:
                raise ParseError(f"cannot read a number at {s[i : i + 10]!r}")
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
        if self.depth > MAX_DEPTH * 3:  # three grammar levels per bracket
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
                if self.t[self.i][0] == "NUM" and self.t[self.i - 1][0] == "NUM":
                    # "5 6" or "1 000" is no product (nor a number): refuse, do not guess
                    raise ParseError(
                        "two numbers side by side with no operator between them ('5 6', "
                        "'1 000'); write one, or write the number without spaces"
                    )
                if self.t[self.i - 1][0] == "NUM" and self._integer_frac():
                    # 2\frac{1}{2}: a mixed number (5/2) to a person, a product (1) to a parser
                    raise ParseError(
                        "a number followed by a fraction of numbers (2\\frac{1}{2}) is "
                        "ambiguous (mixed number or product); write 5/2 or 2 \\cdot \\frac{1}{2}"
                    )
                right = self.power()
                left = self.node("mul", left, right)
            else:
                return left

    def _integer_frac(self) -> bool:
        """Whether the next tokens are ``\\frac{NUM}{NUM}``."""
        shape = ("FRAC", "{", "NUM", "}", "{", "NUM", "}")
        toks = self.t[self.i : self.i + len(shape)]
        return len(toks) == len(shape) and all(
            t[0] == want if want in ("FRAC", "NUM") else (t[0] == "OP" and t[1] == want)
            for t, want in zip(toks, shape, strict=True)
        )

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
        node = self.make_factorial(arg) if fname == "factorial" else self.node("call", fname, arg)
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
                    if abs(b) not in (0, 1) and _pow_bits(b.numerator, b.denominator, k) > MAX_BITS:
                        raise ParseError(f"power {b}^{k} exceeds {MAX_BITS} bits")
                elif k > MAX_SYMBOLIC_EXP:
                    raise ParseError("exponent too large")
            elif abs(e.numerator) > MAX_SYMBOLIC_EXP or e.denominator > MAX_SYMBOLIC_EXP:
                raise ParseError("fractional exponent too large")
        return self.node("pow", base, exp)

    def make_factorial(self, arg: Node) -> Node:
        """``n!`` and ``factorial(n)``: only of a natural number whose factorial fits the bound."""
        v = exact(arg)
        if v is None or v.denominator != 1 or v < 0:
            raise ParseError("factorial of something other than a small natural number")
        n = int(v)
        if n.bit_length() > 32 or math.lgamma(n + 1) / math.log(2) > MAX_BITS:
            raise ParseError(f"factorial of {n} exceeds {MAX_BITS} bits")
        return self.node("call", "factorial", arg)

    def make_binom(self, n_: Node, k_: Node) -> Node:
        nv, kv = exact(n_), exact(k_)
        if nv is None or kv is None or nv.denominator != 1 or kv.denominator != 1:
            raise ParseError("binomial of non-integers")
        if nv < 0 or nv > MAX_BINOM_N:
            raise ParseError(f"binomial with n={nv} outside 0..{MAX_BINOM_N}")
        return self.node("binom", n_, k_)


def parse_tokens(tokens: list[Token]) -> Node:
    """Parse one scalar expression from tokens (bracket depth must already be checked)."""
    return _Parser(tokens).parse_all()


def parse_latex(text: str, *, max_chars: int = MAX_CHARS) -> Node:
    """Parse one LaTeX or loose plain-text math expression into the tuple AST.

    Args:
        text: e.g. ``"\\frac{1}{2} + \\sqrt{3}"``, ``"2x^2 - 1"``, ``"3!"``.
        max_chars: longest accepted input (capped at :data:`~thinkgym.expr.MAX_CHARS`).

    Raises:
        ParseError: malformed text, an unsupported command or anything over a bound.
    """
    if not isinstance(text, str):
        raise ParseError(f"expected a string, got {type(text).__name__}")
    max_chars = min(max_chars, MAX_CHARS)
    if len(text) > max_chars:
        raise ParseError(f"expression is {len(text)} characters long; the limit is {max_chars}")
    tokens = tokenize(normalize(text))
    check_depth(tokens)
    try:
        return parse_tokens(tokens)
    except RecursionError:
        raise ParseError("expression nested too deeply") from None
