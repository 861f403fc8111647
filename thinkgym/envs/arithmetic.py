"""Arithmetic: evaluate a nested integer expression, one operation per step."""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np

from thinkgym.envs.base import ANSWER_PREFIX, EnvState, ReasoningEnv, StepCheck
from thinkgym.expr import ExprError, Node, apply, parse

__all__ = ["ArithmeticEnv", "format_expr", "read_expr", "count_ops", "evaluate_int"]

MAX_DIFFICULTY = 4
"""The hardest ``difficulty`` (a tree of depth 5, 3-digit numbers, ``+ - * /``)."""

PROBLEM_PREFIX = "Evaluate:"
_BINARY = ("add", "sub", "mul", "div")
_SYM = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_PREC = {"add": 1, "sub": 1, "mul": 2, "div": 2}
_OP_NAMES = {"+": "add", "-": "sub", "*": "mul", "/": "div"}
#: Largest magnitude (in bits) of any value a pinned problem or a step may produce.
_MAX_VALUE_BITS = 128
#: Longest pinned problem (characters) and most operations in it.
_MAX_PROBLEM_CHARS = 300


@lru_cache(maxsize=8192)
def read_expr(text: str) -> Node:
    """Parse integer arithmetic into this task's canonical tree.

    Negative number literals (``-4``, ``(-4)``) become ``("num", -4)`` nodes; only integers and
    the operators ``+ - * /`` are allowed.

    Raises:
        ValueError: with a message in words for malformed input.

    Results are cached (trees are immutable): the expression a step writes is read again as the
    current expression of the next step.
    """
    return _canon(parse(text))


def _canon(node: Node) -> Node:
    kind = node[0]
    if kind == "num":
        if node[1].denominator != 1:
            raise ExprError(
                f"the number {float(node[1]):g} is not an integer; this task uses integers only"
            )
        return node
    if kind == "neg":
        inner = _canon(node[1])
        if inner[0] == "num":
            return ("num", -inner[1])
        return ("neg", inner)
    if kind in _BINARY:
        return (kind, _canon(node[1]), _canon(node[2]))
    if kind == "pow":
        raise ExprError("powers (^) are not part of this task; use + - * /")
    raise ExprError(f"{kind!r} is not part of this task; use integers with + - * /")


def _fold(node: Node) -> Node:
    """Fold ``neg(number)`` into a number after a substitution."""
    kind = node[0]
    if kind == "num":
        return node
    if kind == "neg":
        inner = _fold(node[1])
        return ("num", -inner[1]) if inner[0] == "num" else ("neg", inner)
    return (kind, _fold(node[1]), _fold(node[2]))


def format_expr(node: Node, top: bool = True) -> str:
    """Print a canonical tree so that :func:`read_expr` gives the same tree back.

    Negative numbers inside an expression are wrapped as ``(-4)``; a right operand of the same
    precedence keeps its parentheses (``3 - (4 - 1)``, ``2 + (3 + 4)``).
    """
    kind = node[0]
    if kind == "num":
        v = int(node[1])
        return str(v) if v >= 0 or top else f"({v})"
    if kind == "neg":
        inner = format_expr(node[1], top=False)
        return f"-({inner})" if node[1][0] in _BINARY or node[1][0] == "neg" else f"-{inner}"
    prec = _PREC[kind]
    left = format_expr(node[1], top=False)
    right = format_expr(node[2], top=False)
    if node[1][0] in _PREC and _PREC[node[1][0]] < prec:
        left = f"({left})"
    if node[2][0] in _PREC and _PREC[node[2][0]] <= prec:
        right = f"({right})"
    if node[1][0] == "neg":
        left = f"({left})"
    if node[2][0] == "neg":
        right = f"({right})"
    return f"{left} {_SYM[kind]} {right}"


def count_ops(node: Node) -> int:
    """Number of operations (binary operators and unary minus of non-numbers) in a tree."""
    if node[0] == "num":
        return 0
    if node[0] == "neg":
        return 1 + count_ops(node[1])
    return 1 + count_ops(node[1]) + count_ops(node[2])


def _apply(kind: str, a: int, b: int) -> int:
    """``a op b`` with the shared exact evaluator; every value in this task is an integer."""
    if kind == "div":
        if b == 0:
            raise ExprError(f"{a} / 0 divides by zero")
        if a % b:
            raise ExprError(
                f"{a} / {b} does not divide evenly; every value in this task is an integer"
            )
    return int(apply(kind, a, b, _MAX_VALUE_BITS))


def evaluate_int(node: Node) -> int:
    """Evaluate a canonical tree, requiring every intermediate value to be an integer.

    Raises:
        ValueError: on division by zero, an inexact division or a value too large.
    """
    kind = node[0]
    if kind == "num":
        value = int(node[1])
        if value.bit_length() > _MAX_VALUE_BITS:
            raise ExprError(f"the number {value} exceeds {_MAX_VALUE_BITS} bits")
        return value
    if kind == "neg":
        return -evaluate_int(node[1])
    value = _apply(kind, evaluate_int(node[1]), evaluate_int(node[2]))
    if value.bit_length() > _MAX_VALUE_BITS:
        raise ExprError(f"a value exceeds {_MAX_VALUE_BITS} bits")
    return value


def _first_reducible(node: Node) -> Node | None:
    """The leftmost operation between two numbers (the one standard order evaluates first)."""
    kind = node[0]
    if kind == "num":
        return None
    if kind == "neg":
        return _first_reducible(node[1])
    found = _first_reducible(node[1])
    if found is not None:
        return found
    found = _first_reducible(node[2])
    if found is not None:
        return found
    if node[1][0] == "num" and node[2][0] == "num":
        return node
    return None


def _reducible(node: Node) -> list[Node]:
    """Every operation between two numbers, left to right."""
    out: list[Node] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n[0] == "num":
            continue
        if n[0] == "neg":
            stack.append(n[1])
        elif n[1][0] == "num" and n[2][0] == "num":
            out.append(n)
        else:
            stack.append(n[2])
            stack.append(n[1])
    return out


def _substitute(node: Node, target: Node, value: int) -> tuple[Node, bool]:
    """Replace the leftmost occurrence of ``target`` with ``value``."""
    if node == target:
        return ("num", Fraction(value)), True
    if node[0] == "num":
        return node, False
    if node[0] == "neg":
        inner, done = _substitute(node[1], target, value)
        return ("neg", inner), done
    left, done = _substitute(node[1], target, value)
    if done:
        return (node[0], left, node[2]), True
    right, done = _substitute(node[2], target, value)
    return (node[0], node[1], right), done


def _op_text(node: Node) -> str:
    return format_expr(node, top=True)


class ArithmeticEnv(ReasoningEnv):
    """Evaluate a nested integer expression step by step.

    ## Description
    The problem is ``Evaluate: (3 + 4) * 5 - 3``. A step is one of two forms:

    * a rewrite of the whole current expression, ``= 7 * 5 - 3``: it must have exactly the same
      value and fewer operations than the current expression;
    * one evaluated operation, ``3 + 4 = 7``: an operation between two numbers that can be
      evaluated now (it appears as such in the current expression, respecting precedence and
      parentheses) with the right result; the env substitutes the result (the leftmost
      occurrence) into the current expression.

    The reference solver rewrites the expression after each single operation (leftmost
    operation first), so its transcript always shows the current expression::

        Evaluate: (3 + 4) * 5 - 3
        = 7 * 5 - 3
        = 35 - 3
        = 32
        Answer: 32

    Negative values inside an expression are written in parentheses, ``= (-4) * 3``. Every value
    is an integer; division only appears where it is exact.

    ## Action Space
    ``spaces.Text``: ``= <expression>``, ``<a> <op> <b> = <c>`` or ``Answer: <integer>``.

    ## Observation Space
    ``spaces.Text``: the problem line, then one accepted step per line.

    ## Reward
    Default: 1.0 for a correct final answer, 0.0 otherwise; a rejected step costs
    ``invalid_penalty``. The answer check needs the hidden reference
    (``outcome_needs_reference = True``), so planners may not use it during search; step checks
    (the arithmetic of one operation, equal value of a rewrite) need no reference.

    With ``verify_steps=False`` the env checks the *form* of a step only: a rewrite must still
    be an integer expression with fewer operations, an operation must still be one the current
    expression can evaluate now, but a wrong value is accepted and carried on (``7 * 5 = 36``
    makes the expression ``36 - 3``). Mistakes then show only in the final answer: the
    outcome-only setting of the best-of-N / ORM / PRM literature, where a process reward model
    has wrong steps to find. The reward still compares the final answer with the value of the
    original problem.

    ## Episode End
    Terminated by an ``Answer:`` step; truncated after ``max_steps`` actions (default 40).

    ## Arguments
    * ``difficulty`` (default 1) sets the defaults of the knobs below:

      ========== ===== ====== ============ =====================
      difficulty depth digits operators    largest |value|
      ========== ===== ====== ============ =====================
      0          1     1      ``+ - *``    100
      1          2     2      ``+ - *``    1000
      2          3     2      ``+ - *``    1000
      3          4     2      ``+ - * /``  1000
      4          5     3      ``+ - * /``  10000
      ========== ===== ====== ============ =====================

    * ``depth``: height of the expression tree (1 to 5); a tree of depth d has d to 2**d - 1
      operations.
    * ``digits``: numbers have 1 to ``digits`` digits (1 to 4).
    * ``operators``: a string of operators to draw from, e.g. ``"+-*"`` or ``"+-*/"``.
    * ``max_value``: every intermediate value stays within ``[-max_value, max_value]``.
    * ``verify_steps`` (default ``True``): reject steps whose arithmetic is wrong; ``False``
      accepts them (form checks only, see *Reward*).
    * plus the :class:`ReasoningEnv` arguments (``max_steps``, ``invalid_penalty``, ``reward``,
      ``render_mode``).

    ``reset(options={"problem": "(3 + 4) * 5 - 3"})`` pins a problem.

    ## Version History
    * v0: initial version.
    """

    default_max_steps = 40
    outcome_needs_reference = True

    def __init__(
        self,
        difficulty: int = 1,
        *,
        depth: int | None = None,
        digits: int | None = None,
        operators: str | None = None,
        max_value: int | None = None,
        verify_steps: bool = True,
        **kwargs: Any,
    ) -> None:
        if isinstance(difficulty, (int, np.integer)) and not isinstance(difficulty, bool):
            if difficulty > MAX_DIFFICULTY:
                raise ValueError(
                    f"difficulty={difficulty!r} must be 0 to {MAX_DIFFICULTY} (the hardest); for "
                    "harder problems raise depth, digits or max_value"
                )
        super().__init__(difficulty=difficulty, **kwargs)
        if not isinstance(verify_steps, bool):
            raise ValueError(
                f"verify_steps={verify_steps!r} must be True (reject wrong arithmetic) or False "
                "(check the form of a step only)"
            )
        self.verify_steps = verify_steps
        d = self.difficulty
        self.depth = _check_int("depth", min(d + 1, 5) if depth is None else depth, 1, 5)
        default_digits = 1 if d == 0 else (2 if d <= 3 else 3)
        self.digits = _check_int("digits", default_digits if digits is None else digits, 1, 4)
        if operators is None:
            operators = "+-*" if d <= 2 else "+-*/"
        if not isinstance(operators, str) or not operators or not set(operators) <= set(_OP_NAMES):
            raise ValueError(
                f"operators={operators!r} must be a non-empty string of '+', '-', '*', '/', "
                "e.g. '+-*'"
            )
        self.operators = "".join(sorted(set(operators), key="+-*/".index))
        if max_value is None:
            max_value = 10 ** (self.digits + 1)
        self.max_value = _check_int("max_value", max_value, 10**self.digits, 10**12)

    # ------------------------------------------------------------------ problems
    def generate_problem(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw an expression of height ``depth`` whose values all stay within ``max_value``."""
        ops = [_OP_NAMES[c] for c in self.operators]
        tree, _ = self._gen(rng, self.depth, ops)
        return {"expression": format_expr(tree)}

    def _number(self, rng: np.random.Generator) -> int:
        nd = int(rng.integers(1, self.digits + 1))
        lo = 1 if nd == 1 else 10 ** (nd - 1)
        return int(rng.integers(lo, 10**nd))

    def _gen(self, rng: np.random.Generator, height: int, ops: list[str]) -> tuple[Node, int]:
        if height == 0:
            v = self._number(rng)
            return ("num", Fraction(v)), v
        for _ in range(100):
            op = ops[int(rng.integers(len(ops)))]
            if op == "div":
                # Division by a small literal, redrawn until exact and non-trivial.
                left, lv = self._gen(rng, height - 1, ops)
                divisors = [k for k in range(2, 13) if lv % k == 0 and lv != 0]
                if not divisors:
                    continue
                k = divisors[int(rng.integers(len(divisors)))]
                return ("div", left, ("num", Fraction(k))), lv // k
            other = int(rng.integers(0, height))
            a, av = self._gen(rng, height - 1, ops)
            b, bv = self._gen(rng, other, ops)
            if rng.random() < 0.5:
                a, av, b, bv = b, bv, a, av
            value = _apply(op, av, bv)
            if abs(value) <= self.max_value:
                return (op, a, b), value
        # Practically unreachable: a subtraction of a subtree from itself keeps the height.
        a, av = self._gen(rng, height - 1, ops)
        return ("sub", a, a), 0

    option_keys = ("problem",)

    def problem_from_options(self, options: dict[str, Any]) -> dict[str, Any] | None:
        """Pin a problem: ``{"problem": "(3 + 4) * 5 - 3"}`` (or ``{"problem": {"expression": ...}}``)."""
        problem = options.get("problem")
        if problem is None:
            return None
        if isinstance(problem, dict):
            if "expression" not in problem:
                raise ValueError(
                    f"options['problem']={problem!r} has no 'expression' key; pass the text, "
                    "e.g. {'problem': '(3 + 4) * 5 - 3'}"
                )
            problem = problem["expression"]
        if not isinstance(problem, str):
            raise ValueError(
                f"options['problem'] must be an expression string like '(3 + 4) * 5 - 3', "
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
            tree = read_expr(text)
            evaluate_int(tree)
        except ValueError as exc:
            raise ValueError(
                f"options['problem']={problem!r} is not a valid integer expression: {exc}. "
                "Use integers with + - * / and parentheses, e.g. '(3 + 4) * 5 - 3'"
            ) from None
        return {"expression": format_expr(tree)}

    def parse_problem(self, text: str) -> dict[str, Any]:
        """Read ``Evaluate: <expression>`` back into a problem."""
        if not text.startswith(PROBLEM_PREFIX):
            raise ValueError(f"{text[:80]!r} is not a problem line like 'Evaluate: <expression>'")
        problem = self.problem_from_options({"problem": text})
        assert problem is not None
        return problem

    def format_problem(self, problem: dict[str, Any]) -> str:
        """``Evaluate: <expression>``."""
        return f"{PROBLEM_PREFIX} {problem['expression']}"

    def initial_data(self, problem: dict[str, Any]) -> str:
        """The current expression, as canonical text."""
        return str(problem["expression"])

    # ------------------------------------------------------------------ checks
    def check_step(self, state: EnvState, step: str) -> StepCheck:
        """Accept ``= <expression>`` (a rewrite) or ``a op b = c`` (one evaluated operation)."""
        current = read_expr(state.data)
        if current[0] == "num":
            return StepCheck(
                ok=False,
                error="the expression is fully evaluated; finish with the line 'Answer: <value>'",
            )
        if step.count("=") != 1:
            return StepCheck(
                ok=False,
                error=(
                    f"{step!r} must contain exactly one '=': write '3 + 4 = 7' to evaluate one "
                    "operation or '= 7 * 5 - 3' to rewrite the whole expression"
                ),
            )
        lhs, _, rhs = step.partition("=")
        try:
            if not lhs.strip():
                return self._check_rewrite(current, read_expr(rhs))
            return self._check_operation(current, read_expr(lhs), read_expr(rhs))
        except ValueError as exc:
            return StepCheck(ok=False, error=f"could not read {step!r}: {exc}")

    def _check_rewrite(self, current: Node, new: Node) -> StepCheck:
        n_new, n_cur = count_ops(new), count_ops(current)
        if n_new >= n_cur:
            return StepCheck(
                ok=False,
                error=(
                    f"the rewrite has {_plural(n_new)} but the current expression has "
                    f"{_plural(n_cur)}; "
                    "evaluate at least one operation"
                ),
            )
        try:
            value = evaluate_int(new)
        except ValueError as exc:
            return StepCheck(ok=False, error=f"the rewrite cannot be evaluated: {exc}")
        if self.verify_steps and value != evaluate_int(current):
            return StepCheck(
                ok=False,
                error=(
                    "the rewrite does not have the same value as the current expression "
                    f"{format_expr(current)}; check the arithmetic of each operation"
                ),
            )
        text = format_expr(new)
        return StepCheck(ok=True, data=text, text=f"= {text}")

    def _check_operation(self, current: Node, lhs: Node, rhs: Node) -> StepCheck:
        if lhs == current and rhs[0] != "num":
            return self._check_rewrite(current, rhs)
        if lhs[0] not in _BINARY or lhs[1][0] != "num" or lhs[2][0] != "num":
            return StepCheck(
                ok=False,
                error=(
                    f"the left side {format_expr(lhs)} must be one operation between two numbers, "
                    "e.g. '3 + 4 = 7'; to rewrite the whole expression start the step with '='"
                ),
            )
        op_text = _op_text(lhs)
        if lhs not in _reducible(current):
            return StepCheck(
                ok=False,
                error=(
                    f"{op_text} cannot be evaluated now in {format_expr(current)}: it is not an "
                    "operation between two numbers there (mind precedence and parentheses)"
                ),
            )
        if rhs[0] != "num":
            return StepCheck(
                ok=False,
                error=f"the right side {format_expr(rhs)} must be a single integer, e.g. '{op_text} = 7'",
            )
        try:
            value = _apply(lhs[0], int(lhs[1][1]), int(lhs[2][1]))
        except ValueError as exc:
            return StepCheck(ok=False, error=str(exc))
        claimed = int(rhs[1])
        if claimed != value and not self.verify_steps:
            if abs(claimed).bit_length() > _MAX_VALUE_BITS:
                return StepCheck(ok=False, error=f"{op_text} = {claimed} is too large a number")
            value = claimed  # form check only: the claimed value is carried on
        if claimed != value:
            if lhs == current:  # the last operation: its value is the final answer, keep it hidden
                return StepCheck(ok=False, error=f"{op_text} = {claimed} is wrong")
            return StepCheck(ok=False, error=f"{op_text} = {claimed} is wrong: {op_text} = {value}")
        new, _ = _substitute(current, lhs, value)
        new = _fold(new)
        if not self.verify_steps:  # a wrong value must still leave an expression with a value
            try:
                evaluate_int(new)
            except ValueError as exc:
                return StepCheck(
                    ok=False,
                    error=f"{op_text} = {claimed} would leave {format_expr(new)}, where {exc}",
                )
        return StepCheck(ok=True, data=format_expr(new), text=f"{op_text} = {value}")

    def check_answer(self, state: EnvState, answer: str) -> tuple[bool, str]:
        """Compare a final integer with the reference value (``Answer: 32``).

        The answer is one integer; it may be written as the end of a true equation
        (``Answer: (3 + 4) * 5 - 3 = 32``), and every side of that equation must have its value:
        an answer with a false equation in it (``31 = 32``) is wrong.
        """
        value, error = _read_answer(answer)
        if error:
            return False, error
        if value == self._value(state.problem):
            return True, ""
        return False, "the answer is wrong"

    def answer_form_error(self, answer: str) -> str:
        """Why ``answer`` is not of the task's answer form, whatever its value (``""`` if it is):
        one integer, possibly the end of a true equation. Rewards that grade the value another
        way (``OutcomeVerifier(use_verify=True)``) check this first."""
        return _read_answer(answer)[1]

    def reference_answer(self, problem: dict[str, Any]) -> str:
        """The value of the expression, as text."""
        return str(self._value(problem))

    @staticmethod
    def _value(problem: dict[str, Any]) -> int:
        return evaluate_int(read_expr(problem["expression"]))

    # ------------------------------------------------------------------ solver
    def solve(self, problem: dict[str, Any]) -> list[str]:
        """Rewrite the expression after each operation (leftmost first), then answer."""
        tree = read_expr(problem["expression"])
        steps = []
        while tree[0] != "num":
            node = _first_reducible(tree)
            if node is None:  # only a unary minus of a number is left; folding removes it
                tree = _fold(tree)
                continue
            value = _apply(node[0], int(node[1][1]), int(node[2][1]))
            tree = _fold(_substitute(tree, node, value)[0])
            steps.append(f"= {format_expr(tree)}")
        steps.append(f"{ANSWER_PREFIX} {int(tree[1])}")
        return steps

    def candidate_steps(self, state: EnvState) -> list[str]:
        """Every operation that can be evaluated now, each as a rewrite; then the answer line.

        Operations that cannot be evaluated (a division by zero or an inexact one) are left out.
        """
        if state.done:
            return []
        current = read_expr(state.data)
        if current[0] == "num":
            return [f"{ANSWER_PREFIX} {int(current[1])}"]
        out: list[str] = []
        for node in _reducible(current):
            try:
                value = _apply(node[0], int(node[1][1]), int(node[2][1]))
            except ValueError:
                continue
            step = f"= {format_expr(_fold(_substitute(current, node, value)[0]))}"
            if step not in out:
                out.append(step)
        return out

    def features(self, state: EnvState) -> np.ndarray:
        """A fixed-size float32 vector describing a state, for SB3 policies (see ``wrappers``).

        Done flag, operations left (scaled by the most a tree of this depth holds), the
        operations of each kind, how many can be evaluated now, and the size of the numbers.
        """
        tree = read_expr(state.data)
        most = float(2**self.depth - 1)
        kinds = {"add": 0, "sub": 0, "mul": 0, "div": 0, "neg": 0}
        nums: list[int] = []
        stack = [tree]
        while stack:
            node = stack.pop()
            if node[0] == "num":
                nums.append(abs(int(node[1])))
                continue
            kinds[node[0]] += 1
            stack.extend(node[1:])
        scale = np.log1p(float(self.max_value))
        return np.array(
            [
                float(state.done),
                count_ops(tree) / most,
                *(v / most for v in kinds.values()),
                len(_reducible(tree)) / most,
                len(nums) / (most + 1),
                np.log1p(max(nums)) / scale,
                np.log1p(sum(nums) / len(nums)) / scale,
            ],
            dtype=np.float32,
        )

    def random_step(self, state: EnvState, rng: np.random.Generator) -> str:
        """A plausible step: a (sometimes mis-computed) operation, rewrite, or answer."""
        current = read_expr(state.data)
        if current[0] == "num":
            v = int(current[1])
            return f"{ANSWER_PREFIX} {v + int(rng.integers(-1, 2)) * int(rng.integers(0, 2))}"
        nodes = _reducible(current)
        node = nodes[int(rng.integers(len(nodes)))]
        try:
            value = _apply(node[0], int(node[1][1]), int(node[2][1]))
        except ValueError:
            value = int(rng.integers(-20, 100))
        if rng.random() < 0.3:
            value += int(rng.integers(1, 4)) * (1 if rng.random() < 0.5 else -1)
        kind = rng.random()
        if kind < 0.45:
            return f"{_op_text(node)} = {value}"
        if kind < 0.95:
            new = _fold(_substitute(current, node, value)[0])
            return f"= {format_expr(new)}"
        return f"{ANSWER_PREFIX} {int(rng.integers(-20, 100))}"


def _read_answer(answer: str) -> tuple[int | None, str]:
    """``(value, "")`` of an answer line's text, or ``(None, why not)``: one integer, or the end
    of an equation whose every side has that value."""
    sides = answer.split("=")
    if any(not side.strip() for side in sides):
        return None, f"the answer {answer!r} has an empty side; write 'Answer: 32'"
    try:
        trees = [read_expr(side) for side in sides]
        values = [evaluate_int(tree) for tree in trees]
    except ValueError as exc:
        return None, f"could not read the answer {answer!r}: {exc}"
    if trees[-1][0] != "num":
        return None, f"the answer {answer!r} must be a single integer, e.g. 'Answer: 32'"
    if len(set(values)) > 1:
        return None, f"the answer {answer!r} holds a false equation"
    return values[-1], ""


def _plural(n: int) -> str:
    return f"{n} operation" if n == 1 else f"{n} operations"


def _check_int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ValueError(f"{name}={value!r} must be an integer from {lo} to {hi}")
    return int(value)
