"""LinearEquation: solve a linear equation in x, one equivalent equation per step."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np

from thinkgym.envs.base import ANSWER_PREFIX, EnvState, ReasoningEnv, StepCheck
from thinkgym.expr import ExprError, Node, evaluate, parse, to_str
from thinkgym.expr.answers import number_value

__all__ = ["LinearEquationEnv", "EquationData", "linear_coefficients", "read_side"]

PROBLEM_PREFIX = "Solve for x:"
VARIABLES = frozenset({"x"})
#: Highest degree expanded while reading a side (anything above is rejected as not linear).
_MAX_DEGREE = 8
_MAX_BITS = 256
_MAX_PROBLEM_CHARS = 200

Poly = tuple[Fraction, ...]
Term = tuple[bool, Fraction]  # (is an x term, coefficient)


class EquationData(NamedTuple):
    """Working state of an episode: the current equation and its parsed linear form.

    Attributes:
        equation: the current equation as written (``"2x - 5 = x + 4"``).
        p: coefficient of x in ``left - right`` (never 0).
        q: constant of ``left - right``; the equation says ``p x + q = 0``.
        seen: canonical keys of every equation so far (to reject steps that go in circles).
    """

    equation: str
    p: Fraction
    q: Fraction
    seen: tuple[str, ...]


# ---------------------------------------------------------------------- reading
def read_side(text: str) -> Node:
    """Parse one side of an equation (``x`` is the only variable; ``2x`` means ``2 * x``)."""
    return parse(text, variables=VARIABLES, implicit_mul=True)


def _trim(c: list[Fraction]) -> Poly:
    while len(c) > 1 and c[-1] == 0:
        c.pop()
    return tuple(c)


def _poly(node: Node) -> Poly:
    """Exact polynomial coefficients (constant first) of an AST, with Fractions.

    Raises:
        ExprError: x in a denominator, a non-integer or negative power of x, a degree over
            ``_MAX_DEGREE``, or a coefficient too large.
    """
    kind = node[0]
    if kind == "num":
        return _check((node[1],))
    if kind == "var":
        return (Fraction(0), Fraction(1))
    if kind == "neg":
        return tuple(-c for c in _poly(node[1]))
    if kind == "call":
        raise ExprError(f"{node[1]}() is not part of a linear equation")
    a, b = _poly(node[1]), _poly(node[2])
    if kind in ("add", "sub"):
        n = max(len(a), len(b))
        a = a + (Fraction(0),) * (n - len(a))
        b = b + (Fraction(0),) * (n - len(b))
        sign = 1 if kind == "add" else -1
        out = [x + sign * y for x, y in zip(a, b, strict=True)]
        return _check(_trim(out))
    if kind == "mul":
        if len(a) + len(b) - 2 > _MAX_DEGREE:
            raise ExprError(f"the expression has degree over {_MAX_DEGREE}; it is not linear")
        return _mul(a, b)
    if kind == "div":
        if len(b) > 1:
            raise ExprError("x appears in a denominator; a linear equation divides by numbers only")
        if b[0] == 0:
            raise ExprError("division by zero")
        return _check(tuple(x / b[0] for x in a))
    if kind == "pow":
        if len(b) == 1 and len(a) == 1:
            return _check((evaluate(("pow", ("num", a[0]), ("num", b[0]))),))
        if len(b) > 1 or b[0].denominator != 1 or b[0] < 0:
            raise ExprError("a power of x needs a non-negative integer exponent")
        e = int(b[0])
        if e * (len(a) - 1) > _MAX_DEGREE:
            raise ExprError(f"the expression has degree over {_MAX_DEGREE}; it is not linear")
        out: Poly = (Fraction(1),)
        for _ in range(e):
            out = _mul(out, a)
        return out
    raise ExprError(f"unknown node {kind!r}")


def _mul(a: Poly, b: Poly) -> Poly:
    out = [Fraction(0)] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] += x * y
    return _check(_trim(out))


def _check(c: Poly) -> Poly:
    for v in c:
        if v.numerator.bit_length() > _MAX_BITS or v.denominator.bit_length() > _MAX_BITS:
            raise ExprError(f"a coefficient exceeds {_MAX_BITS} bits")
    return c


def linear_coefficients(node: Node, side: str = "side") -> tuple[Fraction, Fraction]:
    """``(a, b)`` such that the expression equals ``a x + b``.

    Raises:
        ExprError: the expression is not linear in x (the message names ``side``).
    """
    c = _poly(node)
    if len(c) > 2:
        term = "x^2" if len(c) == 3 else f"x^{len(c) - 1}"
        raise ExprError(f"the {side} is not linear in x (it has an {term} term)")
    return (c[1] if len(c) == 2 else Fraction(0)), c[0]


def _split(equation: str) -> tuple[str, str]:
    if equation.count("=") != 1:
        raise ExprError(
            f"{equation!r} must be an equation with exactly one '=', e.g. '3x + 2 = 11'"
        )
    lhs, _, rhs = equation.partition("=")
    return " ".join(lhs.split()), " ".join(rhs.split())


class _Reading(NamedTuple):
    text: str
    key: str
    p: Fraction
    q: Fraction


def _read_equation(equation: str) -> _Reading:
    lhs, rhs = _split(equation)
    sides = []
    for name, text in (("left side", lhs), ("right side", rhs)):
        if not text:
            raise ExprError(f"the {name} of {equation!r} is empty")
        try:
            tree = read_side(text)
        except ExprError as exc:
            raise ExprError(f"could not read the {name} {text!r}: {exc}") from None
        sides.append((tree, linear_coefficients(tree, name)))
    (lt, (a1, b1)), (rt, (a2, b2)) = sides
    key = f"{to_str(lt)} = {to_str(rt)}"
    return _Reading(f"{lhs} = {rhs}", key, a1 - a2, b1 - b2)


# ---------------------------------------------------------------------- writing
def _fmt_num(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


def _fmt_term(is_x: bool, c: Fraction, first: bool) -> str:
    sign = "-" if c < 0 else "+"
    a = abs(c)
    if is_x:
        body = "x" if a == 1 else (f"{_fmt_num(a)}x" if a.denominator == 1 else f"({a})x")
    else:
        body = _fmt_num(a)
    if first:
        return f"-{body}" if c < 0 else body
    return f" {sign} {body}"


def _fmt_terms(terms: list[Term]) -> str:
    if not terms:
        return "0"
    return "".join(_fmt_term(is_x, c, i == 0) for i, (is_x, c) in enumerate(terms))


def _terms(node: Node, scale: Fraction) -> list[Term]:
    """A side as a list of signed terms, distributing numbers over parentheses (no combining)."""
    kind = node[0]
    if kind == "num":
        return [(False, scale * node[1])]
    if kind == "var":
        return [(True, scale)]
    if kind == "neg":
        return _terms(node[1], -scale)
    if kind == "add":
        return _terms(node[1], scale) + _terms(node[2], scale)
    if kind == "sub":
        return _terms(node[1], scale) + _terms(node[2], -scale)
    if kind == "mul" and len(_poly(node[1])) == 1:
        return _terms(node[2], scale * _poly(node[1])[0])
    if kind == "mul" and len(_poly(node[2])) == 1:
        return _terms(node[1], scale * _poly(node[2])[0])
    if kind == "div" and len(_poly(node[2])) == 1:
        return _terms(node[1], scale / _poly(node[2])[0])
    a, b = linear_coefficients(node)
    return _combine([(True, scale * a), (False, scale * b)])


def _combine(terms: list[Term]) -> list[Term]:
    a = sum((c for is_x, c in terms if is_x), Fraction(0))
    b = sum((c for is_x, c in terms if not is_x), Fraction(0))
    out = [t for t in ((True, a), (False, b)) if t[1] != 0]
    return out or [(False, Fraction(0))]


def _trace(equation: str) -> list[str]:
    """The reference steps from ``equation``: expand, combine, collect, combine, divide."""
    lhs, rhs = _split(equation)
    lt, rt = read_side(lhs), read_side(rhs)
    left, right = _terms(lt, Fraction(1)), _terms(rt, Fraction(1))
    candidates = [f"{_fmt_terms(left)} = {_fmt_terms(right)}"]
    left, right = _combine(left), _combine(right)
    candidates.append(f"{_fmt_terms(left)} = {_fmt_terms(right)}")
    a1 = sum((c for is_x, c in left if is_x), Fraction(0))
    b1 = sum((c for is_x, c in left if not is_x), Fraction(0))
    a2 = sum((c for is_x, c in right if is_x), Fraction(0))
    b2 = sum((c for is_x, c in right if not is_x), Fraction(0))
    moved_left = [t for t in ((True, a1), (True, -a2)) if t[1] != 0]
    moved_right = [t for t in ((False, b2), (False, -b1)) if t[1] != 0]
    candidates.append(f"{_fmt_terms(moved_left)} = {_fmt_terms(moved_right)}")
    a, b = a1 - a2, b2 - b1
    candidates.append(f"{_fmt_terms([(True, a)])} = {_fmt_num(b)}")
    candidates.append(f"x = {_fmt_num(b / a)}")
    seen = {_read_equation(equation).key}
    steps = []
    for cand in candidates:
        key = _read_equation(cand).key
        if key not in seen:
            seen.add(key)
            steps.append(cand)
    return steps


# ---------------------------------------------------------------------- env
class LinearEquationEnv(ReasoningEnv):
    """Solve a linear equation in x, writing one equivalent equation per step.

    ## Description
    The problem is ``Solve for x: 2(x - 3) + 1 = x + 4``. Each step is an equation in x that is
    linear, equivalent to the previous one (same solution) and new (not a repeat of an earlier
    equation of the episode). ``2x`` and ``3(x + 1)`` are products. The reference solver expands,
    combines like terms, moves the x terms left and the numbers right, combines, and divides, one
    short step each::

        Solve for x: 2(x - 3) + 1 = x + 4
        2x - 6 + 1 = x + 4
        2x - 5 = x + 4
        2x - x = 4 + 5
        x = 9
        Answer: x = 9

    Steps are checked exactly: each side is parsed by the bounded parser :mod:`thinkgym.expr`
    (never ``eval``/``sympify``) and expanded into a polynomial with Fractions; two linear
    equations ``p x + q = 0`` and ``p' x + q' = 0`` are equivalent when ``p q' = p' q``.

    ## Action Space
    ``spaces.Text``: an equation such as ``3x = 9``, or ``Answer: x = 3`` (``Answer: 3`` and
    fractions ``Answer: x = -5/3`` are accepted).

    ## Observation Space
    ``spaces.Text``: the problem line, then one accepted step per line.

    ## Reward
    Default: 1.0 for a correct final answer, 0.0 otherwise; a rejected step costs
    ``invalid_penalty``. The answer check needs the hidden reference
    (``outcome_needs_reference = True``); the step check (linearity and equivalence with the
    previous equation) does not.

    ## Episode End
    Terminated by an ``Answer:`` step; truncated after ``max_steps`` actions (default 20).

    ## Arguments
    * ``difficulty`` (default 1) sets the defaults of the knobs below:

      ========== ========= ========== =========== =========
      difficulty max_coef  both_sides parentheses fractions
      ========== ========= ========== =========== =========
      0          5         no         no          no
      1          9         yes        no          no
      2          12        yes        yes         no
      d >= 3     9 + 3d    yes        yes         yes
      ========== ========= ========== =========== =========

    * ``max_coef``: largest coefficient (and integer solution) drawn, 2 to 99.
    * ``both_sides``: x may appear on both sides (``5x + 2 = 2x + 11``), half the time.
    * ``parentheses``: sides may be ``a(x + b) + c``, half the time.
    * ``fractions``: solutions may be fractions (``x = -5/3``); otherwise always integers.
    * plus the :class:`ReasoningEnv` arguments (``max_steps``, ``invalid_penalty``, ``reward``,
      ``render_mode``).

    ``reset(options={"problem": "3x + 2 = 11"})`` pins a problem; it must have exactly one
    solution.

    ## Version History
    * v0: initial version.
    """

    outcome_needs_reference = True

    def __init__(
        self,
        difficulty: int = 1,
        *,
        max_coef: int | None = None,
        both_sides: bool | None = None,
        parentheses: bool | None = None,
        fractions: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(difficulty=difficulty, **kwargs)
        d = self.difficulty
        if max_coef is None:
            max_coef = (5, 9, 12)[d] if d < 3 else min(9 + 3 * d, 99)
        if isinstance(max_coef, bool) or not isinstance(max_coef, (int, np.integer)):
            raise ValueError(f"max_coef={max_coef!r} must be an integer from 2 to 99")
        if not 2 <= max_coef <= 99:
            raise ValueError(f"max_coef={max_coef!r} must be an integer from 2 to 99")
        self.max_coef = int(max_coef)
        self.both_sides = bool(d >= 1 if both_sides is None else both_sides)
        self.parentheses = bool(d >= 2 if parentheses is None else parentheses)
        self.fractions = bool(d >= 3 if fractions is None else fractions)

    # ------------------------------------------------------------------ problems
    def generate_problem(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw an equation with exactly one solution (an integer unless ``fractions``)."""
        m = self.max_coef
        for _ in range(1000):
            left_kind = "paren" if self.parentheses and rng.random() < 0.5 else "lin"
            right_kind = "const"
            if self.both_sides and rng.random() < 0.5:
                right_kind = "paren" if self.parentheses and rng.random() < 0.3 else "lin"
            a1, rest1, build1 = self._side(rng, left_kind)
            a2, rest2, build2 = self._side(rng, right_kind)
            if a1 == a2:
                continue
            c1 = int(rng.integers(-m, m + 1))
            if self.fractions:
                c2 = int(rng.integers(-m, m + 1))
                solution = Fraction(rest2 + c2 - rest1 - c1, a1 - a2)
                if solution.denominator == 1 and rng.random() < 0.7:
                    continue  # mostly fractional solutions
            else:
                solution = int(rng.integers(-m, m + 1))
                c2 = a1 * solution + rest1 + c1 - a2 * solution - rest2
                if abs(c2) > 10 * m or (c2 == 0 and right_kind == "const"):
                    continue
            return {"equation": f"{build1(c1)} = {build2(c2)}"}
        raise RuntimeError("could not draw an equation; report this with the env arguments")

    def _coef(self, rng: np.random.Generator) -> int:
        v = int(rng.integers(1, self.max_coef + 1))
        if v == 1 and rng.random() < 0.6:  # keep a bare x rarer than 2x, 3x, ...
            v = int(rng.integers(2, self.max_coef + 1))
        return -v if self.difficulty >= 2 and rng.random() < 0.3 else v

    def _side(self, rng: np.random.Generator, kind: str) -> tuple[int, int, Callable[[int], str]]:
        """One side of kind const/lin/paren: ``(x coefficient, constant so far, writer)``.

        ``writer(c)`` prints the side with a final constant ``c`` added.
        """
        if kind == "const":
            return 0, 0, lambda c: str(c)
        if kind == "lin":
            a = self._coef(rng)

            def write_lin(c: int) -> str:
                terms = [(True, Fraction(a))] + ([(False, Fraction(c))] if c else [])
                return _fmt_terms(terms)

            return a, 0, write_lin
        k = int(rng.integers(2, self.max_coef + 1))
        n = int(rng.integers(1, self.max_coef + 1)) * (1 if rng.random() < 0.5 else -1)
        head = f"{k}({_fmt_terms([(True, Fraction(1)), (False, Fraction(n))])})"

        def write_paren(c: int) -> str:
            return head + (_fmt_term(False, Fraction(c), first=False) if c else "")

        return k, k * n, write_paren

    option_keys = ("problem",)

    def problem_from_options(self, options: dict[str, Any]) -> dict[str, Any] | None:
        """Pin a problem: ``{"problem": "3x + 2 = 11"}`` (or ``{"problem": {"equation": ...}}``)."""
        problem = options.get("problem")
        if problem is None:
            return None
        if isinstance(problem, dict):
            if "equation" not in problem:
                raise ValueError(
                    f"options['problem']={problem!r} has no 'equation' key; pass the text, "
                    "e.g. {'problem': '3x + 2 = 11'}"
                )
            problem = problem["equation"]
        if not isinstance(problem, str):
            raise ValueError(
                "options['problem'] must be an equation string like '3x + 2 = 11', "
                f"got {type(problem).__name__}"
            )
        text = problem.strip()
        if text.startswith(PROBLEM_PREFIX):
            text = text[len(PROBLEM_PREFIX) :].strip()
        if len(text) > _MAX_PROBLEM_CHARS:
            raise ValueError(
                f"options['problem'] is {len(text)} characters long; the limit is "
                f"{_MAX_PROBLEM_CHARS}"
            )
        try:
            reading = _read_equation(text)
        except ExprError as exc:
            raise ValueError(
                f"options['problem']={problem!r} is not a linear equation in x: {exc}"
            ) from None
        if reading.p == 0:
            raise ValueError(
                f"options['problem']={problem!r} has no unique solution (x cancels out); "
                "pass an equation with exactly one solution, e.g. '3x + 2 = 11'"
            )
        return {"equation": reading.text}

    def parse_problem(self, text: str) -> dict[str, Any]:
        """Read ``Solve for x: <equation>`` back into a problem."""
        if not text.startswith(PROBLEM_PREFIX):
            raise ValueError(f"{text[:80]!r} is not a problem line like 'Solve for x: <equation>'")
        problem = self.problem_from_options({"problem": text})
        assert problem is not None
        return problem

    def format_problem(self, problem: dict[str, Any]) -> str:
        """``Solve for x: <equation>``."""
        return f"{PROBLEM_PREFIX} {problem['equation']}"

    def initial_data(self, problem: dict[str, Any]) -> EquationData:
        """The problem's equation, parsed."""
        r = _read_equation(problem["equation"])
        return EquationData(r.text, r.p, r.q, (r.key,))

    # ------------------------------------------------------------------ checks
    def check_step(self, state: EnvState, step: str) -> StepCheck:
        """Accept a new linear equation equivalent to the current one."""
        data: EquationData = state.data
        try:
            r = _read_equation(step)
        except ExprError as exc:
            return StepCheck(ok=False, error=str(exc))
        if r.p == 0:
            return StepCheck(
                ok=False,
                error=(
                    f"x cancels out of {r.text!r}, so it no longer has one solution; it is not "
                    f"equivalent to {data.equation!r}"
                ),
            )
        if data.p * r.q != r.p * data.q:
            return StepCheck(
                ok=False,
                error=(
                    f"{r.text!r} is not equivalent to the previous equation {data.equation!r}; "
                    "check the signs and the arithmetic"
                ),
            )
        if r.key in data.seen:
            return StepCheck(
                ok=False,
                error=(
                    f"{r.text!r} repeats an earlier equation; write a new, simpler equivalent one"
                ),
            )
        return StepCheck(
            ok=True, data=EquationData(r.text, r.p, r.q, data.seen + (r.key,)), text=r.text
        )

    def check_answer(self, state: EnvState, answer: str) -> tuple[bool, str]:
        """Compare ``x = <value>`` (or a bare value) with the reference solution."""
        try:
            value = _read_answer(answer)
        except ExprError as exc:
            return False, f"could not read the answer {answer!r}: {exc}"
        if value == _solution(state.problem):
            return True, ""
        return False, "the answer is wrong"

    def answer_form_error(self, answer: str) -> str:
        """Why ``answer`` is not ``x = <number>`` (``""`` when it is), whatever its value.
        Rewards that grade the value another way (``OutcomeVerifier(use_verify=True)``) check
        this first, so an unsolved formula (``x = 9 - 6``) never pays."""
        try:
            _read_answer(answer)
        except ExprError as exc:
            return str(exc)
        return ""

    def reference_answer(self, problem: dict[str, Any]) -> str:
        """``x = <solution>``, e.g. ``x = 3`` or ``x = -5/3``."""
        return f"x = {_fmt_num(_solution(problem))}"

    # ------------------------------------------------------------------ solver
    def solve(self, problem: dict[str, Any]) -> list[str]:
        """Expand, combine, collect x left and numbers right, combine, divide; then answer."""
        return _trace(problem["equation"]) + [f"{ANSWER_PREFIX} {self.reference_answer(problem)}"]

    def candidate_steps(self, state: EnvState) -> list[str]:
        """The standard moves from the current equation: expand, combine like terms, collect x
        on the left and numbers on the right, combine, divide (each one that gives a new
        equation); the answer line once the equation reads ``x = <number>``.
        """
        if state.done:
            return []
        data: EquationData = state.data
        out = [s for s in _trace(data.equation) if _read_equation(s).key not in data.seen]
        lhs, rhs = _split(data.equation)
        if not out or lhs == "x":
            try:
                coef, value = linear_coefficients(read_side(rhs), "right side")
            except ExprError:
                coef, value = Fraction(1), Fraction(0)
            if lhs == "x" and coef == 0:
                out.append(f"{ANSWER_PREFIX} x = {_fmt_num(value)}")
        return out

    def features(self, state: EnvState) -> np.ndarray:
        """A fixed-size float32 vector describing a state, for SB3 policies (see ``wrappers``).

        Done flag, whether the equation reads ``x = <number>``, x on both sides, parentheses,
        the number of terms, the size of ``p`` and ``q`` in ``p x + q = 0``, and the step count.
        """
        data: EquationData = state.data
        lhs, rhs = _split(data.equation)
        solved = lhs == "x" and "x" not in rhs
        terms = sum(data.equation.count(c) for c in "+-") + 2
        return np.array(
            [
                float(state.done),
                float(solved),
                float("x" in lhs and "x" in rhs),
                float("(" in data.equation),
                min(terms, 20) / 20.0,
                float(np.log1p(abs(float(data.p)))) / 5.0,
                float(np.log1p(abs(float(data.q)))) / 5.0,
                min(len(state.steps), 20) / 20.0,
            ],
            dtype=np.float32,
        )

    def random_step(self, state: EnvState, rng: np.random.Generator) -> str:
        """The solver's next step, often with one number changed, or an answer."""
        data: EquationData = state.data
        steps = _trace(data.equation)
        if not steps or rng.random() < 0.1:
            guess = _fmt_num(-data.q / data.p + int(rng.integers(-1, 2)))
            return f"{ANSWER_PREFIX} x = {guess}"
        step = steps[0]
        if rng.random() < 0.5:
            digits = [i for i, ch in enumerate(step) if ch.isdigit()]
            if digits:
                i = digits[int(rng.integers(len(digits)))]
                step = step[:i] + str(int(rng.integers(10))) + step[i + 1 :]
        return step


def _solution(problem: dict[str, Any]) -> Fraction:
    r = _read_equation(problem["equation"])
    if r.p == 0:
        raise ExprError(f"{problem['equation']!r} has no unique solution")
    return -r.q / r.p


def _read_answer(answer: str) -> Fraction:
    """The value of ``x = <number>`` (or ``<number> = x``, or a bare number).

    The task asks for x solved: the value is one number literal (``3``, ``-5/3``, ``2.5``), not
    a formula that still needs working (``(11 + 7)/(5 - 2)``, ``9 - 6``, ``3^1``).
    """
    text = answer.strip()
    if "=" in text:
        lhs, rhs = _split(text)
        if lhs == "x":
            text = rhs
        elif rhs == "x":
            text = lhs
        else:
            raise ExprError("write the answer as 'x = <number>', e.g. 'Answer: x = 3'")
    value = number_value(text)
    if value is None:
        read_side(text)  # an unreadable value says why; a readable formula is still refused
        raise ExprError(
            f"{text.strip()!r} is not a number: solve for x fully and write 'x = <number>', "
            "e.g. 'Answer: x = 3' or 'Answer: x = -5/3'"
        )
    return value
