"""Countdown: combine N numbers with + - * / to reach a target, one operation per step."""

from __future__ import annotations

import re
from dataclasses import replace
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np

from thinkgym import expr as X
from thinkgym.envs.base import ANSWER_PREFIX, EnvState, ReasoningEnv, StepCheck
from thinkgym.envs.puzzles import is_test_puzzle

__all__ = ["CountdownEnv", "fmt", "solve_numbers", "count_paths"]

Number = int | Fraction
# data: a tuple of (value, expression AST) pairs, one per number still available; whole values
# are ints (fast), the others Fractions (exact).
Item = tuple[Number, X.Node]

_NUM = r"-?\d+(?:/\d+)?"
_STEP_RE = re.compile(
    rf"^({_NUM})\s*([-+*/×x÷−])\s*({_NUM})\s*=\s*({_NUM})\s*(?:\(\s*left\s*:\s*([^)]*)\))?\s*$"
)
# One way to split the line (each further number must follow whitespace), so a line that does
# not match fails in linear time; "(?:-?\d+\s*)+" backtracks exponentially.
_HEAD_RE = re.compile(r"^Numbers:\s*(-?\d+(?:\s+-?\d+)*)\s*\|\s*Target:\s*(-?\d+)$")
_MAX_DIGITS = 12
"""Most digits a step can write for one number (see ``_num``); pinned numbers must fit."""
_OPS = {"+": "add", "-": "sub", "*": "mul", "/": "div"}
_OP_ALIASES = {"×": "*", "x": "*", "÷": "/", "−": "-"}


def fmt(value: Number) -> str:
    """Print an exact number as the envs write it: ``5``, ``-3`` or ``8/3``."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}"


def _num(text: str) -> Number:
    if "/" in text:
        a, b = text.split("/")
        if len(a) > 12 or len(b) > 12 or int(b) == 0:
            raise ValueError(f"{text} is not a valid number")
        return _norm(Fraction(int(a), int(b)))
    if len(text) > 12:
        raise ValueError(f"{text} is too long to be a number here")
    return int(text)


def _norm(value: Number) -> Number:
    """Whole numbers as ``int`` (fast), others as ``Fraction`` (exact)."""
    if type(value) is int:
        return value
    return value.numerator if value.denominator == 1 else value


def _apply(a: Number, op: str, b: Number) -> Number | None:
    """``a op b`` with the shared exact evaluator; ``None`` for a division by zero."""
    if op == "/" and b == 0:
        return None
    return X.apply(_OPS[op], a, b)


def _describe(value: int) -> str:
    """A number for an error message (huge ones by their size: printing them may not work)."""
    n = abs(value)
    if n.bit_length() <= 128:
        return str(value)
    d = int(n.bit_length() * 0.3010299956639812)  # floor(log10(n)) or one more
    return f"an integer of {d + 1 if n >= 10**d else d} digits"


MAX_CHECKED_PIN = 5
"""Pins of at most this many numbers are searched for a solution (at most about a second);
the search for six or more can take minutes, so such pins are accepted unsearched."""


def check_pinned(numbers: Any, target: Any, counts: tuple[int, int]) -> dict[str, Any]:
    """Validate a pinned Countdown problem; return it as ``{"numbers": [...], "target": T}``.

    Raises:
        ValueError: naming the bad value and the fix: not a list of integers, a count outside
            ``counts``, a number too long for a step to write (so it could never be used), a
            target no combination of the numbers can reach, or (for at most
            :data:`MAX_CHECKED_PIN` numbers) a puzzle with no solution (``1 1 1 5`` for 24).
    """
    if not isinstance(numbers, (list, tuple)):
        raise ValueError(
            f"options['numbers'] must be a list of integers like [3, 7, 25, 4], got "
            f"{type(numbers).__name__}"
        )
    lo, hi = counts
    if not lo <= len(numbers) <= hi:
        want = f"exactly {lo}" if lo == hi else f"{lo} to {hi}"
        raise ValueError(f"options['numbers'] has {len(numbers)} numbers; pass {want}")
    limit = 10**_MAX_DIGITS
    for i, v in enumerate(numbers):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(
                f"options['numbers'][{i}]={v!r} is not an integer; pass a list of integers, "
                "e.g. [3, 7, 25, 4]"
            )
        if abs(int(v)) >= limit:
            raise ValueError(
                f"options['numbers'][{i}] is {_describe(int(v))}: a step writes numbers of at "
                f"most {_MAX_DIGITS} digits, so it could never be used; pass numbers below "
                f"10**{_MAX_DIGITS} in size"
            )
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
        raise ValueError(f"options['target']={target!r} is not an integer; pass one, e.g. 24")
    nums = [int(v) for v in numbers]
    t = int(target)
    # Every value the numbers make is p/q with |p|, q <= 2^(n-1) * prod(max(|v|, 1)) (each of
    # the n - 1 operations at most doubles the product of its operands' bounds).
    reach = 2 ** (len(nums) - 1)
    for v in nums:
        reach *= max(abs(v), 1)
    if abs(t) > min(reach, limit - 1):
        raise ValueError(
            f"options['target'] is {_describe(t)}, which no combination of {nums} can reach "
            f"(none is larger than {_describe(min(reach, limit - 1))} in size); pass a reachable "
            "target"
        )
    if len(nums) <= MAX_CHECKED_PIN and not _solvable(
        tuple(sorted(Fraction(v) for v in nums)), Fraction(t)
    ):
        raise ValueError(
            f"no combination of {nums} with + - * / makes {t}: the puzzle has no solution; "
            "pass numbers and a target that have one"
        )
    return {"numbers": nums, "target": t}


def _moves(values: tuple[Fraction, ...]) -> list[tuple[int, int, str, Fraction]]:
    """Distinct (i, j, op, result) moves on a tuple of values (commutative duplicates removed)."""
    out: list[tuple[int, int, str, Fraction]] = []
    seen: set[tuple[Fraction, str, Fraction]] = set()
    n = len(values)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            a, b = values[i], values[j]
            for op in "+-*/":
                if op in "+*" and (i > j):
                    continue
                key = (a, op, b) if op in "-/" else (min(a, b), op, max(a, b))
                if key in seen:
                    continue
                r = _apply(a, op, b)
                if r is None:
                    continue
                seen.add(key)
                out.append((i, j, op, r))
    return out


@lru_cache(maxsize=200_000)
def _solvable(values: tuple[Fraction, ...], target: Fraction) -> bool:
    if len(values) == 1:
        return values[0] == target
    for i, j, _, r in _moves(values):
        rest = tuple(sorted(v for k, v in enumerate(values) if k not in (i, j))) + (r,)
        if _solvable(tuple(sorted(rest)), target):
            return True
    return False


@lru_cache(maxsize=200_000)
def count_paths(values: tuple[Fraction, ...], target: Fraction) -> tuple[int, int]:
    """(successful, total) step paths from ``values`` (sorted) to a single number.

    The share ``successful / total`` measures how easy a puzzle is: the chance that uniformly
    random legal steps reach the target.
    """
    if len(values) == 1:
        return (1 if values[0] == target else 0), 1
    good = total = 0
    for i, j, _, r in _moves(values):
        rest = tuple(sorted([v for k, v in enumerate(values) if k not in (i, j)] + [r]))
        g, t = count_paths(rest, target)
        good += g
        total += t
    return good, total


def solve_numbers(
    numbers: list[Fraction] | tuple[Fraction, ...],
    target: Fraction,
    rng: np.random.Generator | None = None,
) -> list[tuple[Fraction, str, Fraction, Fraction]] | None:
    """Find a sequence of ``(a, op, b, result)`` steps that reaches ``target`` using every number.

    Args:
        numbers: the numbers to combine.
        target: the value to reach.
        rng: when given, moves are tried in a random order (diverse solutions); otherwise in a
            fixed order (deterministic).

    Returns:
        The steps, or ``None`` when the puzzle has no solution.
    """
    values = tuple(sorted(Fraction(v) for v in numbers))
    if not _solvable(values, Fraction(target)):
        return None
    steps = []
    while len(values) > 1:
        moves = _moves(values)
        if rng is not None:
            moves = [moves[int(k)] for k in rng.permutation(len(moves))]
        # Prefer steps a learner finds natural: non-negative whole results first.
        moves.sort(key=lambda mv: (mv[3] < 0, mv[3].denominator != 1))
        for i, j, op, r in moves:
            rest = tuple(sorted([v for k, v in enumerate(values) if k not in (i, j)] + [r]))
            if _solvable(rest, Fraction(target)):
                steps.append((values[i], op, values[j], r))
                values = rest
                break
        else:  # pragma: no cover - _solvable guaranteed a move exists
            return None
    return steps


class CountdownEnv(ReasoningEnv):
    """Countdown (as in TinyZero): reach a target from N numbers with + - * /.

    ## Description
    The problem lists N numbers and a target. Each step combines two of the numbers still
    available into one, e.g. ``25 * 4 = 100 (left: 100 3 7)``; arithmetic is exact (fractions are
    allowed: ``7 / 2 = 7/2``). The echo ``(left: ...)`` is optional in actions and always written
    into the transcript. The final line ``Answer: <expression> = <target>`` must use every given
    number exactly once and evaluate to the target.

    ## Action Space
    ``spaces.Text``: ``a op b = c [(left: ...)]`` or ``Answer: <expression> = <target>``.

    ## Observation Space
    ``spaces.Text``: ``Numbers: 3 7 25 4 | Target: 103`` then the accepted steps, one per line.

    ## Reward
    Default: 1.0 for a correct answer, 0.0 for a wrong one, ``invalid_penalty`` per rejected step.

    ## Episode End
    Terminated on an ``Answer:`` line; truncated after ``max_steps`` actions.

    ## Arguments
    ``difficulty`` (0-3): N = 3 + difficulty numbers (1-25 at 0-1, 1-100 above); ``n_numbers``
    and ``max_number`` override it. Problems are solvable by construction (the target is built by
    combining the numbers); ``reset(options={"numbers": [...], "target": T})`` pins one.

    ## Version History
    * v0: initial version.
    """

    default_max_steps = 12
    outcome_needs_reference = False
    pin_counts: tuple[int, int] = (2, 8)
    """How many numbers a pinned problem may have."""

    def __init__(
        self,
        difficulty: int = 1,
        n_numbers: int | None = None,
        max_number: int | None = None,
        max_target: int = 1000,
        **kwargs: Any,
    ) -> None:
        super().__init__(difficulty=difficulty, **kwargs)
        self.n_numbers = int(n_numbers) if n_numbers is not None else 3 + min(self.difficulty, 3)
        self.max_number = (
            int(max_number) if max_number is not None else (25 if self.difficulty <= 1 else 100)
        )
        self.max_target = int(max_target)
        if not 2 <= self.n_numbers <= 8:
            raise ValueError(f"n_numbers={self.n_numbers} must be between 2 and 8")
        if self.max_number < 1:
            raise ValueError(f"max_number={self.max_number} must be at least 1")
        self._head_cache: dict[tuple[tuple[int, ...], int], str] = {}

    # -- problems
    def generate_problem(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw numbers, then build a reachable integer target by combining them at random."""
        for _ in range(1000):
            numbers = [int(v) for v in rng.integers(1, self.max_number + 1, size=self.n_numbers)]
            pool = list(numbers)
            while len(pool) > 1:
                i, j = (int(v) for v in rng.choice(len(pool), size=2, replace=False))
                a, b = pool[i], pool[j]
                op = "+-*/"[int(rng.integers(4))]
                if op == "-" and a < b:
                    a, b = b, a
                if op == "/" and (b == 0 or a % b):
                    op = "+"
                r = {"+": a + b, "-": a - b, "*": a * b, "/": a // b if b else 0}[op]
                pool = [v for k, v in enumerate(pool) if k not in (i, j)] + [r]
            target = pool[0]
            if 1 <= target <= self.max_target and target not in numbers:
                return {"numbers": numbers, "target": int(target)}
        raise RuntimeError("could not generate a Countdown problem; widen max_target")

    option_keys = ("numbers", "target", "problem")

    def problem_from_options(self, options: dict[str, Any]) -> dict[str, Any] | None:
        """Pin a problem with ``{"numbers": [...], "target": T}`` or
        ``{"problem": {"numbers": [...], "target": T}}`` (checked alike)."""
        where = "options"
        if "numbers" not in options:
            problem = options.get("problem")
            if problem is None:
                return None
            if not isinstance(problem, dict):
                raise ValueError(
                    f"options['problem'] must be a dict like {{'numbers': [3, 7, 25, 4], "
                    f"'target': 103}}, got {type(problem).__name__}"
                )
            if "numbers" not in problem:
                raise ValueError(
                    f"options['problem'] has the keys {sorted(problem)}; it needs 'numbers' (and "
                    "'target'), e.g. {'numbers': [3, 7, 25, 4], 'target': 103}"
                )
            options, where = problem, "options['problem']"
        numbers = options["numbers"]
        target = options.get("target", getattr(self, "fixed_target", None))
        if target is None:
            raise ValueError(
                f'{where} needs a "target" next to "numbers", e.g. {{"numbers": [1, 2], '
                '"target": 3}'
            )
        return check_pinned(numbers, target, self.pin_counts)

    def problem_key(self, problem: dict[str, Any]) -> str:
        """Sorted numbers and target: the order of the numbers does not change the problem."""
        return f"{sorted(int(v) for v in problem['numbers'])}|{int(problem['target'])}"

    def problem_split(self, problem: dict[str, Any]) -> str:
        """Four numbers with target 24 split as in Game24 (test: exactly the 100 Tree-of-Thoughts
        puzzles), so no Countdown training problem is a Game24 test puzzle and the two tasks agree
        on the problems they share; other problems split by hash."""
        numbers = problem["numbers"]
        if len(numbers) == 4 and problem["target"] == 24:
            return "test" if is_test_puzzle(numbers) else "train"
        return super().problem_split(problem)

    def format_problem(self, problem: dict[str, Any]) -> str:
        """``Numbers: 3 7 25 4 | Target: 103``."""
        key = (tuple(problem["numbers"]), problem["target"])
        head = self._head_cache.get(key)
        if head is None:
            nums = " ".join(str(v) for v in problem["numbers"])
            head = f"Numbers: {nums} | Target: {problem['target']}"
            if len(self._head_cache) < 4096:
                self._head_cache[key] = head
        return head

    def parse_problem(self, text: str) -> dict[str, Any]:
        """Read ``Numbers: 3 7 25 4 | Target: 103`` back into a problem."""
        m = _HEAD_RE.match(text.strip())
        if m is None:
            raise ValueError(
                f"{text[:80]!r} is not a problem line like 'Numbers: 1 2 3 | Target: 6'"
            )
        tokens = [*m.group(1).split(), m.group(2)]
        longest = max(tokens, key=len).lstrip("-")
        if len(longest) > _MAX_DIGITS:
            raise ValueError(
                f"{text[:80]!r} holds a number of {len(longest)} digits; numbers have at most "
                f"{_MAX_DIGITS}"
            )
        numbers = [int(v) for v in tokens[:-1]]
        problem = self.problem_from_options({"numbers": numbers, "target": int(tokens[-1])})
        if problem is None:  # pragma: no cover - "numbers" is always given here
            raise ValueError(f"{text[:80]!r} is not a problem line")
        return problem

    def solve_state(
        self, state: EnvState, rng: np.random.Generator | None = None
    ) -> list[str] | None:
        """A correct continuation from any state (``None`` when none exists)."""
        if state.done:
            return []
        items: tuple[Item, ...] = state.data
        if len(items) == 1:
            return [self._answer_line(state)] if items[0][0] == state.problem["target"] else None
        target = Fraction(state.problem["target"])
        plan = solve_numbers([v for v, _ in items], target, rng)
        if plan is None:
            return None
        steps = []
        for a, op, b, r in plan:
            verdict = self.check_step(state, f"{fmt(a)} {op} {fmt(b)} = {fmt(r)}")
            steps.append(verdict.text or "")
            state = EnvState(problem=state.problem, steps=state.steps, data=verdict.data)
        steps.append(self._answer_line(state))
        return steps

    def initial_data(self, problem: dict[str, Any]) -> tuple[Item, ...]:
        """One (value, expression) item per given number."""
        return tuple((int(v), ("num", Fraction(v))) for v in problem["numbers"])

    def reference_answer(self, problem: dict[str, Any]) -> str:
        """The target."""
        return str(problem["target"])

    # -- checking
    def check_step(self, state: EnvState, step: str) -> StepCheck:
        """Accept ``a op b = c`` when a and b are available and c is right."""
        m = _STEP_RE.match(step)
        if m is None:
            return StepCheck(
                False,
                f"could not read {step[:60]!r}; write one operation like '8 * 3 = 24' "
                "(or 'Answer: <expression> = <target>')",
            )
        items: tuple[Item, ...] = state.data
        if len(items) < 2:
            return StepCheck(False, "only one number is left; give the final 'Answer:' line")
        sa, op, sb, sc, left = m.groups()
        op = _OP_ALIASES.get(op, op)
        try:
            a, b, c = _num(sa), _num(sb), _num(sc)
        except (ValueError, ZeroDivisionError) as exc:
            return StepCheck(False, str(exc))
        values = [v for v, _ in items]
        ia = _index(values, a, -1)
        if ia < 0:
            return StepCheck(False, f"{sa} is not among the remaining numbers {_show(values)}")
        ib = _index(values, b, ia)
        if ib < 0:
            if b == a:
                return StepCheck(
                    False,
                    f"{sb} is used twice but appears once in the remaining numbers {_show(values)}",
                )
            return StepCheck(False, f"{sb} is not among the remaining numbers {_show(values)}")
        r = _apply(a, op, b)
        if r is None:
            return StepCheck(False, f"{sa} / {sb} divides by zero")
        if r != c:
            return StepCheck(False, f"{sa} {op} {sb} is {fmt(r)}, not {sc}")
        rest = [it for k, it in enumerate(items) if k not in (ia, ib)]
        rest.append((r, (_OPS[op], items[ia][1], items[ib][1])))
        rest_values = [v for v, _ in rest]
        if left is not None:
            try:
                echoed = sorted(_num(t) for t in left.replace(",", " ").split())
            except (ValueError, ZeroDivisionError):
                echoed = None
            if echoed != sorted(rest_values):
                return StepCheck(
                    False,
                    f"the numbers left would be {_show(rest_values)}, not ({left.strip()})",
                )
        text = f"{sa} {op} {sb} = {fmt(r)} (left: {' '.join(fmt(v) for v in rest_values)})"
        return StepCheck(True, data=tuple(rest), text=text)

    def check_answer(self, state: EnvState, answer: str) -> tuple[bool, str]:
        """The expression must use every given number once, only the operations of the steps
        (``+ - * /``, no powers), and equal the target."""
        target = Fraction(state.problem["target"])
        text = answer
        if "=" in text:
            lhs, _, rhs = text.rpartition("=")
            try:
                stated = _num(rhs.strip())
            except (ValueError, ZeroDivisionError):
                return False, f"the right-hand side {rhs.strip()!r} is not a number"
            if stated != target:
                return False, f"the answer must equal {fmt(target)}, not {rhs.strip()}"
            text = lhs
        try:
            tree = _step_ops_only(X.parse(text, max_chars=200, max_depth=20, max_nodes=60))
            value = X.evaluate(tree)
        except X.ExprError as exc:
            return False, f"could not evaluate the answer: {exc}"
        used = sorted(X.leaves(tree))
        given = sorted(Fraction(v) for v in state.problem["numbers"])
        if used != given:
            return False, (
                f"the answer uses {_show(used)} but must use each of {_show(given)} exactly once"
            )
        if value != target:
            return False, f"the expression equals {fmt(value)}, not {fmt(target)}"
        return True, ""

    # -- solving and enumerating
    def solve(self, problem: dict[str, Any], rng: np.random.Generator | None = None) -> list[str]:
        """A correct trace (random among solutions when ``rng`` is given)."""
        plan = self.solve_state(EnvState(problem=problem, data=self.initial_data(problem)), rng)
        if plan is None:
            raise ValueError(f"{self.format_problem(problem)} has no solution")
        return plan

    def _answer_line(self, state: EnvState) -> str:
        ((value, tree),) = state.data
        return f"{ANSWER_PREFIX} {X.to_str(tree)} = {fmt(value)}"

    def candidate_steps(self, state: EnvState) -> list[str]:
        """Every distinct legal operation; the answer line once one number is left."""
        items: tuple[Item, ...] = state.data
        if state.done:
            return []
        if len(items) == 1:
            return [self._answer_line(state)]
        values = tuple(v for v, _ in items)
        out = []
        for i, j, op, r in _moves(values):
            rest = [fmt(v) for k, v in enumerate(values) if k not in (i, j)] + [fmt(r)]
            out.append(
                f"{fmt(values[i])} {op} {fmt(values[j])} = {fmt(r)} (left: {' '.join(rest)})"
            )
        return out

    def candidate_transitions(self, state: EnvState) -> list[tuple[str, EnvState]]:
        """``(step, next state)`` for each of :meth:`candidate_steps`, built without re-reading
        the step texts (what ``apply`` would return for each; SB3 wrappers call this per step).
        """
        items: tuple[Item, ...] = state.data
        if state.done:
            return []
        if len(items) == 1:
            step = self._answer_line(state)
            return [(step, self.apply(state, step)[0])]
        values = tuple(v for v, _ in items)
        out = []
        for i, j, op, r in _moves(values):
            rest = [it for k, it in enumerate(items) if k not in (i, j)]
            rest.append((r, (_OPS[op], items[i][1], items[j][1])))
            left = " ".join(fmt(v) for v, _ in rest)
            text = f"{fmt(values[i])} {op} {fmt(values[j])} = {fmt(r)} (left: {left})"
            nxt = replace(state, steps=state.steps + (text,), data=tuple(rest), t=state.t + 1)
            out.append((text, nxt))
        return out

    def candidate_table(self, state: EnvState) -> tuple[list[str], np.ndarray]:
        """The moves of :meth:`candidate_steps` and the :meth:`features` of the state each one
        leads to (one row per step): the SB3 wrapper's fast path.

        The moves are listed for the numbers left in increasing order (operands and the
        ``(left: ...)`` echo in that order), so the table is cached by the multiset of numbers
        left, whatever order the state holds them in.
        """
        items: tuple[Item, ...] = state.data
        if state.done:
            return [], np.zeros((0, self.features(state).size), dtype=np.float32)
        if len(items) == 1:
            step = self._answer_line(state)
            return [step], self.features(self.apply(state, step)[0])[None, :]
        values = tuple(sorted(v for v, _ in items))
        texts, rows = _candidate_table(values, int(state.problem["target"]), self.n_numbers)
        return list(texts), rows

    def features(self, state: EnvState) -> np.ndarray:
        """A fixed-size float32 vector describing a state, for SB3 policies (see ``wrappers``).

        Numbers left (one-hot), done / correct (the answer check needs no reference here),
        whether one operation reaches the target, per remaining number (largest first) its
        value over the target and a few relations to it, and a histogram of the small integers
        left. The size depends only on ``n_numbers`` and the target range.
        """
        values = tuple(sorted((v for v, _ in state.data), reverse=True))
        target = int(state.problem["target"])
        return _features(values, target, self.n_numbers, state.done, bool(state.correct))

    def random_step(self, state: EnvState, rng: np.random.Generator) -> str:
        """A random operation on two remaining numbers (sometimes with a wrong result)."""
        cands = self.candidate_steps(state)
        if not cands:
            return f"{ANSWER_PREFIX} 0"
        step = cands[int(rng.integers(len(cands)))]
        if rng.random() < 0.1 and not step.startswith(ANSWER_PREFIX):
            lhs = step.split("=")[0]
            return f"{lhs}= {int(rng.integers(0, 100))}"
        return step


_HIST = 48  # integers 0.._HIST get a histogram bin each (scaled to the target when it is larger)


@lru_cache(maxsize=100_000)
def _features(
    values: tuple[Number, ...], target: int, n: int, done: bool, correct: bool
) -> np.ndarray:
    m = len(values)
    t = target if target != 0 else 1
    head = np.zeros(n + 3, dtype=np.float32)
    head[min(m, n) - 1] = 1.0
    head[n] = float(done)
    head[n + 1] = float(done and correct)
    if m == 1:
        head[n + 2] = float(values[0] == target)
    elif m == 2:
        a, b = values
        head[n + 2] = float(
            any(_apply(x, op, y) == target for x, y in ((a, b), (b, a)) for op in "+-*/")
        )
    slots = np.zeros((n, 6), dtype=np.float32)
    scale = max(1, -(-abs(t) // _HIST))  # bin width: 1 for targets up to _HIST
    hist = np.zeros(_HIST + 4, dtype=np.float32)
    for i, v in enumerate(values[:n]):
        whole = type(v) is int
        slots[i] = (
            1.0,
            max(-4.0, min(4.0, float(v) / t)),
            float(v == target),
            float(whole),
            float(whole and v != 0 and target % v == 0),
            float(np.sign(v) * np.log1p(abs(float(v))) / np.log1p(abs(t))),
        )
        if not whole:
            hist[_HIST + 1] += 1
        elif v < 0:
            hist[_HIST + 2] += 1
        elif v // scale > _HIST:
            hist[_HIST + 3] += 1
        else:
            hist[v // scale] += 1
    return np.concatenate([head, slots.ravel(), hist])


@lru_cache(maxsize=100_000)
def _candidate_table(
    values: tuple[Number, ...], target: int, n: int
) -> tuple[tuple[str, ...], np.ndarray]:
    texts, rows = [], []
    for i, j, op, r in _moves(values):
        rest = [v for k, v in enumerate(values) if k not in (i, j)] + [r]
        left = " ".join(fmt(v) for v in rest)
        texts.append(f"{fmt(values[i])} {op} {fmt(values[j])} = {fmt(r)} (left: {left})")
        rows.append(_features(tuple(sorted(rest, reverse=True)), target, n, False, False))
    table = np.stack(rows)
    table.setflags(write=False)  # shared by every caller of the cache
    return tuple(texts), table


def _step_ops_only(node: X.Node) -> X.Node:
    """``node`` with negative literals folded (``-3`` is the number -3), refused (``ExprError``)
    when it uses an operation no step can make: a power (``^``, ``**``) or a unary minus of an
    expression."""
    kind = node[0]
    if kind == "num":
        return node
    if kind == "neg":
        if node[1][0] == "num":
            return ("num", -node[1][1])
        raise X.ExprError("a minus sign in front of an expression is no step; use a - b")
    if kind == "pow":
        raise X.ExprError("powers (^, **) are not operations of this task; use + - * /")
    if kind in _OPS.values():
        return (kind, _step_ops_only(node[1]), _step_ops_only(node[2]))
    raise X.ExprError(f"{kind!r} is not an operation of this task; use + - * /")


def _index(values: list[Fraction], v: Fraction, skip: int) -> int:
    for k, x in enumerate(values):
        if k != skip and x == v:
            return k
    return -1


def _show(values: list[Fraction]) -> str:
    return "[" + ", ".join(fmt(v) for v in values) + "]"
