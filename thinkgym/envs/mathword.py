"""MathWord: word problems (GSM8K- or MATH-style) read from data files, one line of working per step.

The problems come from local JSONL, JSON, CSV or Parquet files read with Hugging Face ``datasets``
(``pip install thinkgym[datasets]``), or from the problem set that thinkgym ships
(``thinkgym/data/mathword/``, made by :mod:`thinkgym.data.mathword_gen`), which the env uses when
no ``data_files`` are given. JSON lines files are also read without ``datasets`` installed.

Nothing here imports :mod:`thinkgym.rewards` (envs sit below rewards in the layer order): the
answer check compares numbers exactly with the bounded parser of :mod:`thinkgym.expr`; a richer
checker, e.g. :func:`thinkgym.rewards.verify` for MATH answers (sets, intervals, expressions),
is passed in as ``answer_checker=``.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import warnings
from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from thinkgym.envs.base import ANSWER_PREFIX, CHARSET, EnvState, ReasoningEnv, StepCheck
from thinkgym.envs.spaces import TranscriptSpace
from thinkgym.expr import ExprError, exact, parse_latex
from thinkgym.expr import answers as A

__all__ = [
    "MathWordEnv",
    "DEFAULT_DATA_DIR",
    "extract_answer",
    "answers_equal",
    "reference_steps",
    "check_arithmetic_claims",
    "check_reference",
    "answer_problem",
    "MAX_QUESTION_CHARS",
    "MAX_REFERENCE_DIGITS",
    "load_problems",
    "shipped_problems",
    "DataFileError",
]

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "mathword"
"""The problem set thinkgym ships: ``train.jsonl`` and the held-out ``test.jsonl``."""

PROBLEM_PREFIX = "Problem:"
_BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
_CALC_RE = re.compile(r"<<[^<>]*>>")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TIMES_X_RE = re.compile(r"(?<=\d)\s*[xX]\s*(?=\d)")
_SPAN_RE = re.compile(r"[0-9.+\-*/×÷·−()=\s^%]+")
_NUMBER_ONLY = re.compile(r"-?\s*\d+(?:\.\d+)?")
_MAX_SOLUTION_STEPS = 40


class DataFileError(ValueError):
    """A problem file cannot be used; the message names the file, the row and the column."""


# ---------------------------------------------------------------------- answers
MAX_REFERENCE_DIGITS = A.MAX_NUMBER_DIGITS
"""Most digits a numeric reference may have (numerator and denominator each); a longer one
could not be written in one step, so no answer could match it."""
MAX_QUESTION_CHARS = 4000
"""Longest question a data file may hold (the observation space grows with the longest one)."""
_PROSE_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}")
_MATH_WORDS = frozenset({"sqrt", "frac", "dfrac", "tfrac", "pi", "infty", "left", "right", "cdot"})
_LIST_WORD = re.compile(r"(?i)\b(?:or|and)\b")
_UNIT_WORDS = re.compile(r"[A-Za-z\s'.:%]*")
_NAME_EQUALS = re.compile(r"^[A-Za-z][A-Za-z ]{0,40}=(?!=)")


def _boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced."""
    found = A.last_boxed(text)
    if found is None:
        return None
    return found.strip() or None


def _is_rationale(text: str) -> bool:
    """Whether an answer cell is worked prose (several lines, or words) rather than a bare
    answer: GSM8K/MATH solutions are rationales, ``2\\sqrt{2}`` or ``[0, 1)`` are bare."""
    if "\n" in text.strip():
        return True
    return any(w.group(0).lower() not in _MATH_WORDS for w in _PROSE_WORD.finditer(text))


def extract_answer(text: Any) -> str:
    """The final answer of a reference cell (a data file's answer column or a pinned answer).

    A GSM8K rationale gives the number after its last ``####``; a MATH solution its last
    ``\\boxed{...}``; other worked prose (several lines, or a sentence) its last number
    (``"... so she has 42 apples."`` gives ``"42"``). A bare answer is the reference as written
    (``2\\sqrt{2}``, ``[0, 1)``, ``x^2+1``, ``1e5`` stay as they are), to be scored by the
    env's checker (pass :func:`thinkgym.rewards.verify` as ``answer_checker`` for algebra).

    Raises:
        ValueError: no final answer can be found.
    """
    if isinstance(text, bool) or text is None:
        raise ValueError(f"{text!r} is not an answer")
    if isinstance(text, (int, np.integer)):
        value = int(text)
        if abs(value).bit_length() > 4 * MAX_REFERENCE_DIGITS:
            raise ValueError(
                f"the answer is an integer of over {MAX_REFERENCE_DIGITS} digits, which no "
                "answer can match"
            )
        return str(value)
    if isinstance(text, (float, np.floating)):
        if not np.isfinite(text):
            raise ValueError(f"{text!r} is not a finite number")
        if abs(float(text)) >= 2**53 and float(text) == int(text):
            raise ValueError(
                f"the answer {float(text):g} was read as a floating-point number, which holds "
                "integers this large only approximately; write the answer as a string"
            )
        return str(Fraction(str(text))) if float(text) != int(text) else str(int(text))
    if not isinstance(text, str):
        raise ValueError(f"expected text, got {type(text).__name__}")
    marked = A.marked_answer(text)
    if marked is not None:
        ans = _clean_number_text(marked)
        if not ans:
            raise ValueError(f"'####' is followed by nothing in {_short(text)}")
        if _numeric_value(ans) is None:
            raise ValueError(
                f"'####' is followed by {_short(ans)}, which no answer can match: a GSM8K "
                "answer line holds one number"
            )
        return ans
    boxed = _boxed(text)
    if boxed:
        return boxed
    if not _is_rationale(text):
        bare = text.strip()
        if len(bare) > 2 and bare[0] == bare[-1] == "$" and "$" not in bare[1:-1]:
            bare = bare[1:-1].strip()
        bare = bare.rstrip(".").strip()
        if bare:
            plain = _clean_number_text(bare)
            return plain if _numeric_value(plain) is not None else bare
    numbers = A.numbers(_clean_number_text(text))  # the front end's last number
    if numbers:
        return numbers[-1].group(0).replace(" ", "")
    raise ValueError(
        f"no final answer found in {_short(text)}: expected '#### 42' (GSM8K), "
        "'\\boxed{...}' (MATH), a bare answer or a solution ending in a number"
    )


def check_reference(answer: str) -> None:
    """Refuse a reference answer that no answer can match.

    A reference must be one value in characters an action can write: a finite number of at
    most :data:`MAX_REFERENCE_DIGITS` digits, an expression (``x^2+1``, ``2\\sqrt{2}``), or a
    tuple, interval or set of such values (``[0, 1)``, ``1, 2``). Refused: characters outside
    the action charset (``7\\x00``, ``٣``), lists and hedges (``70 or 71``), words
    (``seventy``, ``nan``), values without a finite value (``1/0``, ``inf``) and values too
    large to write (``1e999``, ``10^10^10``, ``100000!``).

    Raises:
        ValueError: why, in words.
    """
    bad = sorted({c for c in answer if c not in CHARSET})
    if bad:
        raise ValueError(
            f"the answer {_short(answer)} holds characters no answer can write "
            f"({''.join(bad[:5])!r}), so no answer can match it"
        )
    if len(answer) > 200:
        raise ValueError(f"the answer {_short(answer)} is longer than 200 characters")
    if _LIST_WORD.search(answer) or A.hedge(answer, signs=False) or A.code(answer):
        raise ValueError(f"the answer {_short(answer)} is not one value")
    if any(w.group(0).lower() not in _MATH_WORDS for w in _PROSE_WORD.finditer(answer)):
        raise ValueError(f"the answer {_short(answer)} is words, not a value an answer can match")
    try:
        _check_value(_clean_number_text(answer))
    except ValueError:
        items = _structure_items(answer)
        if items is None:
            raise
        for item in items:
            _check_value(_clean_number_text(item), inside=True)


def _structure_items(text: str) -> list[str] | None:
    """The items of a tuple, interval or set answer (``[0, 1)``, ``\\{1, 2\\}``, ``1, 2``)."""
    s = text.strip().replace("\\left", "").replace("\\right", "").replace("\\{", "{")
    s = s.replace("\\}", "}").strip()
    if s[:1] in "([{" and s[-1:] in ")]}":
        s = s[1:-1]
    depth, parts, cur = 0, [], []
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                return None
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    if len(parts) < 2 or depth != 0 or any(not p.strip() for p in parts):
        return None
    return [p.strip() for p in parts]


def _check_value(text: str, inside: bool = False) -> None:
    """Refuse one value without a finite value, or too large to write (``ValueError``)."""
    if not text:
        raise ValueError("an empty value")
    if A.number_value(text, percent=True) is not None:
        return
    try:
        tree = parse_latex(text, max_chars=200)
    except (ExprError, RecursionError) as exc:
        raise ValueError(f"the answer {_short(text)} is not a value ({exc})") from None
    if tree == ("const", "oo") or (tree[0] == "neg" and tree[1] == ("const", "oo")):
        if inside:
            return  # an interval's end: (-\infty, 2]
        raise ValueError(f"the answer {_short(text)} has no finite value")
    try:
        value = exact(tree)
    except (ExprError, ArithmeticError) as exc:
        raise ValueError(f"the answer {_short(text)} has no value ({exc})") from None
    if value is not None:
        digits = max(len(str(abs(value.numerator))), len(str(value.denominator)))
        if digits > MAX_REFERENCE_DIGITS:
            raise ValueError(
                f"the answer {_short(text)} has {digits} digits; a reference has at most "
                f"{MAX_REFERENCE_DIGITS}, so that one step can write it"
            )


def _short(text: str, limit: int = 80) -> str:
    """``repr`` of ``text``, cut to about ``limit`` characters (for error messages)."""
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def _clean_number_text(text: str) -> str:
    text = _THOUSANDS_RE.sub("", text.replace("$", "").replace("\\$", ""))
    return text.strip().rstrip(".").strip()


def _numeric_value(text: str) -> Fraction | None:
    """The exact value of a numeric answer, or ``None`` when it is not a plain number/expression."""
    value = A.number_value(text)
    if value is not None:
        return value
    plain = _clean_number_text(text.replace("\\%", "").replace("%", ""))
    if not plain or len(plain) > 200:
        return None
    try:  # the shared LaTeX front end and exact evaluator (thinkgym.expr), as verify() uses
        return exact(parse_latex(plain, max_chars=200))
    except (ExprError, ArithmeticError, RecursionError):
        return None


def _normal_text(text: str) -> str:
    s = text.strip().strip("$").strip()
    s = re.sub(r"\\text\{[^{}]*\}|\\mbox\{[^{}]*\}|\\mathrm\{[^{}]*\}", "", s)
    for old in ("\\left", "\\right", "\\!", "\\,", "\\;", " "):
        s = s.replace(old, "")
    return s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").rstrip(".").lower()


def answer_problem(pred: str) -> str:
    """Why ``pred`` is not one final answer (``""`` when it is).

    An answer is one value (a number, an expression), not a sentence that hedges one: negations
    and qualifiers (``not 34``, ``at least 34``, ``34 or more``, ``maybe 34``,
    ``34 (approximately)``, ``I don't know, 34``), comparisons (``x ≥ 34``) and program code
    (``print(70)``) are refused (:func:`thinkgym.expr.answers.hedge`, :func:`~thinkgym.expr.
    answers.code`).
    """
    return A.code(pred) or A.hedge(pred)


def answers_equal(pred: str, ref: str) -> bool:
    """Whether a predicted final answer equals the reference (bounded, never evaluates code).

    The prediction's answer is found by the one answer front end (:mod:`thinkgym.expr.answers`:
    ``\\boxed{}``, ``#### N``, ``The answer is``), then must be one value
    (:func:`answer_problem`). Numbers compare exactly (``"0.5"``, ``"1/2"``,
    ``"\\frac{1}{2}"`` and ``"$0.50"`` are equal); a prediction with unit words around one number
    (``"42 apples"``) is read as that number. Anything else compares as normalised text. For
    MATH answers that need algebra (sets, intervals, expressions), pass
    :func:`thinkgym.rewards.verify` to the env as ``answer_checker=``.
    """
    if not isinstance(pred, str) or not isinstance(ref, str) or len(pred) > 400:
        return False
    found = A.extract(pred)
    text = found.text
    if not text or answer_problem(text) or (found.how == "phrase" and answer_problem(pred)):
        return False
    ref_value = _numeric_value(ref)
    if ref_value is not None:
        value = _numeric_value(text)
        if value is None:
            cleaned = _NAME_EQUALS.sub("", _clean_number_text(text), count=1)  # "x = 34"
            numbers = [m.group(0) for m in A.numbers(cleaned)]
            # one number with unit words around it ("42 apples"); any sign or bracket left
            # ("34+", "34 (approximately)", "x = 34 = 35") makes it something else
            if len(numbers) != 1 or not _UNIT_WORDS.fullmatch(cleaned.replace(numbers[0], " ", 1)):
                return False
            value = _numeric_value(numbers[0])
        return value == ref_value
    return _normal_text(text) == _normal_text(ref)


# ---------------------------------------------------------------------- arithmetic in a step
def _strip_parens(side: str) -> str:
    side = side.strip()
    while side.startswith("(") and side.count("(") > side.count(")"):
        side = side[1:].strip()
    while side.endswith(")") and side.count(")") > side.count("("):
        side = side[:-1].strip()
    return side


def _literal_decimals(side: str) -> int | None:
    m = re.fullmatch(r"-?\d+\.(\d+)", side.strip())
    return len(m.group(1)) if m else None


_CLAIM_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?|\.\d+)|(\*\*|//|[-+*/^%()×÷·−]))", re.ASCII)
_CLAIM_OPS = {"+": 10, "-": 10, "*": 20, "/": 20, "//": 20, "%": 20, "^": 30}
_CLAIM_ALIASES = {"×": "*", "·": "*", "÷": "/", "−": "-", "**": "^"}
_MAX_CLAIM_BITS = 4000


class _Unchecked(ValueError):
    """A claim the checker cannot evaluate (a power too large to compute)."""


def _claim_tokens(text: str) -> list[str]:
    out, i = [], 0
    text = text.rstrip()
    while i < len(text):
        m = _CLAIM_TOKEN.match(text, i)
        if m is None:
            raise ValueError(f"unexpected {text[i : i + 1]!r}")
        tok = m.group(1) or m.group(2)
        out.append(_CLAIM_ALIASES.get(tok, tok))
        i = m.end()
    if not out:
        raise ValueError("empty")
    return out


def _claim_value(text: str) -> Fraction:
    """The exact value of one side of a claim: ``+ - * / // % ^ **`` and parentheses on
    numbers; a ``%`` with no number after it is a percent sign (``20% = 0.2``)."""
    tokens = _claim_tokens(text)
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def operand(tok: str | None) -> bool:
        return tok is not None and (tok[0].isdigit() or tok in ("(", "-", ".") or tok[0] == ".")

    def prefix(depth: int) -> Fraction:
        if depth > 40:
            raise ValueError("nested too deeply")
        tok = take() if peek() is not None else None
        if tok is None:
            raise ValueError("ends too early")
        if tok == "(":
            value = expr(0, depth + 1)
            if peek() != ")":
                raise ValueError("unbalanced parentheses")
            take()
            return value
        if tok == "-":
            return -expr(25, depth + 1)
        if tok[0].isdigit() or tok[0] == ".":
            return Fraction(tok)
        raise ValueError(f"unexpected {tok!r}")

    def expr(min_bp: int, depth: int) -> Fraction:
        left = prefix(depth)
        while True:
            tok = peek()
            if tok == "%" and not operand(tokens[pos + 1] if pos + 1 < len(tokens) else None):
                take()
                left /= 100
                continue
            if tok not in _CLAIM_OPS or _CLAIM_OPS[tok] < min_bp:
                return left
            take()
            bp = _CLAIM_OPS[tok]
            right = expr(bp if tok == "^" else bp + 1, depth + 1)
            left = _claim_apply(tok, left, right)

    value = expr(0, 0)
    if pos != len(tokens):
        raise ValueError(f"unexpected {tokens[pos]!r}")
    return value


def _claim_apply(op: str, a: Fraction, b: Fraction) -> Fraction:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0 and op in ("/", "//", "%"):
        raise ZeroDivisionError("division by zero")
    if op == "/":
        return a / b
    if op == "//":
        return Fraction(math.floor(a / b))
    if op == "%":
        return a - b * math.floor(a / b)
    # a power: whole exponents only, and only when the result stays small enough to compute
    if b.denominator != 1:
        raise _Unchecked("a power with a fractional exponent")
    bits = max(a.numerator.bit_length(), a.denominator.bit_length(), 1)
    if abs(b.numerator) * bits > _MAX_CLAIM_BITS:
        raise _Unchecked("a power too large to compute")
    if a == 0 and b < 0:
        raise ZeroDivisionError("division by zero")
    return a ** int(b)


def _claims(step: str) -> tuple[str, bool, bool]:
    """``(error, all_checked, any_claimed)`` for the arithmetic claims of a step (see
    :func:`check_arithmetic_claims`)."""
    text = _CALC_RE.sub("", step).replace("$", "")
    text = _THOUSANDS_RE.sub("", text)
    text = _TIMES_X_RE.sub(" * ", text)
    checked, claimed = True, False
    for span in _SPAN_RE.findall(text):
        if "=" not in span:
            continue
        sides = [_strip_parens(s).rstrip(".").strip() for s in span.split("=")]
        while sides and not sides[0]:
            sides.pop(0)
        while sides and not sides[-1]:
            sides.pop()
        if len(sides) < 2 or not all(sides):
            continue
        if all(_NUMBER_ONLY.fullmatch(side) for side in sides):
            continue  # no computation is claimed (e.g. "x = 5")
        claimed = True
        try:
            values = [_claim_value(s) for s in sides]
        except _Unchecked:
            checked = False
            continue
        except (ValueError, ArithmeticError, RecursionError):
            if any(op in span for op in ("//", "%", "^", "**")):
                checked = False  # looks like a claim the checker could not read
            continue
        first = values[0]
        for side, value in zip(sides[1:], values[1:], strict=True):
            if value == first:
                continue
            places = _literal_decimals(side)
            other = first
            if places is None and _literal_decimals(sides[0]) is not None:
                places, other, value = _literal_decimals(sides[0]), value, first
            if places is not None and abs(other - value) <= Fraction(1, 2 * 10**places):
                continue
            claim = " = ".join(sides)
            return (
                f"the step claims {claim}, which is false; check the arithmetic "
                "(check_arithmetic=False turns this check off)",
                checked,
                claimed,
            )
    return "", checked, claimed


def check_arithmetic_claims(step: str) -> str:
    """Check every arithmetic fact a line of working claims (``48 / 2 = 24``); ``""`` if all hold.

    A claim is a run of numbers, operators (``+ - * / // % ^ **``) and ``=`` signs in which at
    least one side is a computation; all its sides must have the same exact value (``//`` is
    floor division, ``%`` the remainder, or a percent sign when no number follows it). A side
    written as a decimal is read as rounded to its places (``10 / 3 = 3.33`` holds). Runs that
    do not parse as arithmetic (words in the middle, ``20% of 50 = 10``) are not claims and are
    left alone; a claim that cannot be computed (``2^100000 = 3``) is not checked, which
    :meth:`MathWordEnv.step` reports as ``info["claim_checked"] = False``.

    Returns:
        ``""`` when every claim holds, else the reason the step is wrong, in words.
    """
    return _claims(step)[0]


def reference_steps(solution: str, max_chars: int = 400) -> list[str]:
    """The lines of working of a reference solution, without its final-answer marker.

    GSM8K: the lines before ``####``, calculator notes ``<<48/2=24>>`` removed. MATH-style prose:
    its lines, with lines longer than ``max_chars`` split at sentence ends.
    """
    text = solution.split("####", 1)[0] if "####" in solution else solution
    text = _CALC_RE.sub("", text)
    out: list[str] = []
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line:
            continue
        while len(line) > max_chars:
            cut = line.rfind(". ", 0, max_chars)
            cut = cut + 1 if cut > 0 else max_chars
            out.append(line[:cut].strip())
            line = line[cut:].strip()
        if line:
            out.append(line)
    return out


# ---------------------------------------------------------------------- loading
def _suggest(name: str, columns: Sequence[str]) -> str:
    hint = difflib.get_close_matches(name, list(columns), n=1)
    return f" Did you mean {hint[0]!r}?" if hint else ""


def _read_rows(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows and column names of one file, read with ``datasets`` (JSON lines also without it)."""
    suffix = path.suffix.lower()
    if suffix not in _BUILDERS:
        raise DataFileError(
            f"{path}: unsupported file type {suffix!r}; use one of {', '.join(sorted(_BUILDERS))}"
        )
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such problem file")
    if path.stat().st_size == 0:
        raise DataFileError(f"{path}: the file is empty; it needs at least one problem row")
    if suffix != ".parquet":
        _read_text(path)  # not UTF-8: one line naming the file, before any parser sees it
    try:
        import datasets
    except ImportError:
        datasets = None
    if datasets is None:
        if suffix != ".jsonl":
            raise ImportError(
                f"reading {path} needs Hugging Face datasets: pip install thinkgym[datasets]"
            ) from None
        return _read_jsonl(path)
    if suffix in (".jsonl", ".json"):
        _find_bad_json(path, suffix)
    try:
        was = datasets.utils.logging.get_verbosity()
        bars = datasets.is_progress_bar_enabled()
        datasets.utils.logging.set_verbosity_error()
        datasets.disable_progress_bars()
        try:
            ds = datasets.load_dataset(
                _BUILDERS[suffix], data_files=str(path), split="train", keep_in_memory=True
            )
        finally:
            datasets.utils.logging.set_verbosity(was)
            if bars:  # restore, never turn on bars a caller (thinkgym export) turned off
                datasets.enable_progress_bars()
    except Exception as exc:  # datasets wraps parser errors in many types; name the file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise DataFileError(f"{path}: could not be read as {suffix[1:]}: {first}") from None
    return ds.to_list(), list(ds.column_names)


def _read_text(path: Path) -> str:
    """A data file's text; a file that is not UTF-8 is refused in one line naming it."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFileError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8"
        ) from None


def _json_row(path: Path, n: int, line: str) -> Any:
    """One JSON value, or a :class:`DataFileError` in one line naming the file and the row."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{path}: row {n} (line {n}) is not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise DataFileError(
            f"{path}: row {n} (line {n}) is nested too deeply to read as JSON"
        ) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise DataFileError(
            f"{path}: row {n} (line {n}) cannot be read: {str(exc).splitlines()[0][:120]}"
        ) from None


def _find_bad_json(path: Path, suffix: str) -> None:
    """Name the first malformed row of a JSON lines file (``datasets`` only says the file failed)."""
    text = _read_text(path)
    if suffix == ".json" and text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataFileError(f"{path}: not valid JSON at line {exc.lineno}: {exc.msg}") from None
        except RecursionError:
            raise DataFileError(f"{path}: nested too deeply to read as JSON") from None
        except ValueError as exc:
            raise DataFileError(
                f"{path}: cannot be read: {str(exc).splitlines()[0][:120]}"
            ) from None
        for i, row in enumerate(rows, 1):
            if not isinstance(row, dict):
                raise DataFileError(f"{path}: row {i} is {type(row).__name__}, not an object")
        return
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        row = _json_row(path, n, line)
        if not isinstance(row, dict):
            raise DataFileError(
                f"{path}: row {n} (line {n}) is {type(row).__name__}, not an object"
            )


def _read_jsonl(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    _find_bad_json(path, ".jsonl")
    rows = [
        _json_row(path, n, line)
        for n, line in enumerate(_read_text(path).splitlines(), 1)
        if line.strip()
    ]
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    return [{c: row.get(c) for c in columns} for row in rows], columns


def _as_paths(data_files: Any) -> list[Path]:
    if isinstance(data_files, (str, Path)):
        return [Path(data_files)]
    if isinstance(data_files, (list, tuple)) and data_files:
        return [Path(p) for p in data_files]
    raise ValueError(
        f"data_files={data_files!r} must be a path, a list of paths or a dict split -> path(s)"
    )


def _rows_to_problems(
    path: Path,
    rows: list[dict[str, Any]],
    columns: list[str],
    question_field: str,
    answer_field: str,
    solution_field: str | None,
    bad: list[str],
) -> list[dict[str, Any]]:
    for field, arg in (
        (question_field, "question_field"),
        (answer_field, "answer_field"),
        (solution_field, "solution_field"),
    ):
        if field is not None and field not in columns:
            raise DataFileError(
                f"{path}: no column {field!r} (columns: {', '.join(columns) or 'none'})."
                f"{_suggest(field, columns)} Pass {arg}=... to map your column."
            )
    if not rows:
        raise DataFileError(f"{path}: no problem rows")
    out = []
    for i, row in enumerate(rows, 1):
        question = row.get(question_field)
        if not isinstance(question, str) or not question.strip():
            bad.append(
                f"{path}: row {i}, column {question_field!r}: empty or not text ({_short(repr(question))})"
            )
            continue
        problem = _question_problem(question)
        if problem:
            bad.append(f"{path}: row {i}, column {question_field!r}: {problem}")
            continue
        raw = row.get(answer_field)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            bad.append(f"{path}: row {i}, column {answer_field!r}: no answer")
            continue
        try:
            answer = extract_answer(raw)
        except ValueError as exc:
            bad.append(
                f"{path}: row {i}, column {answer_field!r}: unparsable answer {_short(str(raw), 60)}: {exc}"
            )
            continue
        try:
            check_reference(answer)
        except ValueError as exc:
            bad.append(
                f"{path}: row {i}, column {answer_field!r}: unusable reference {_short(answer, 60)}: {exc}"
            )
            continue
        sol_text = row.get(solution_field) if solution_field else raw
        steps = reference_steps(sol_text) if isinstance(sol_text, str) else []
        if solution_field is None and len(steps) == 1 and steps[0].lstrip("#").strip() == answer:
            steps = []  # the answer column holds only the final answer
        out.append(
            {
                "question": " ".join(question.split()),
                "answer": answer,
                "solution": steps[:_MAX_SOLUTION_STEPS],
                "source": f"{path.name}:{i}",
                "source_path": str(path),
                "row": i,
            }
        )
    return out


def _question_problem(question: str) -> str:
    """Why a question cannot be posed (``""`` when it can): too long, or characters outside
    the observation charset."""
    text = " ".join(question.split())
    if len(text) > MAX_QUESTION_CHARS:
        return (
            f"the question has {len(text)} characters; at most {MAX_QUESTION_CHARS} fit an "
            "observation"
        )
    bad = sorted({c for c in text if c not in CHARSET})
    if bad:
        return (
            f"the question has characters outside the observation charset "
            f"({''.join(bad[:10])!r}); replace them (thinkgym.envs.base.CHARSET)"
        )
    return ""


def _conflicts(problems: list[dict[str, Any]], bad: list[str]) -> list[dict[str, Any]]:
    """Refuse questions that appear twice with different answers (both rows are named)."""
    first: dict[str, dict[str, Any]] = {}
    clash: set[str] = set()
    for p in problems:
        seen = first.setdefault(p["question"], p)
        if seen is not p and seen["answer"] != p["answer"]:
            bad.append(
                f"{p['source_path']}: row {p['row']} repeats the question of "
                f"{seen['source_path']}: row {seen['row']} with another answer "
                f"({_short(p['answer'], 30)} vs {_short(seen['answer'], 30)})"
            )
            if p["question"] not in clash:
                bad.append(
                    f"{seen['source_path']}: row {seen['row']} is dropped with its conflicting "
                    "repeat (which answer is right is unknown)"
                )
            clash.add(p["question"])
    out = []
    for p in problems:
        if p["question"] not in clash:
            out.append({k: v for k, v in p.items() if k not in ("source_path", "row")})
    return out


def load_problems(
    data_files: str | Path | Sequence[str | Path],
    *,
    question_field: str = "question",
    answer_field: str = "answer",
    solution_field: str | None = None,
    on_bad_rows: str = "raise",
) -> list[dict[str, Any]]:
    """Read word problems from JSONL, JSON, CSV or Parquet files.

    Args:
        data_files: one path or a list of paths (of one split).
        question_field: the column holding the problem text.
        answer_field: the column holding the answer: a full solution ending in ``#### 42``
            (GSM8K), one with ``\\boxed{...}`` (MATH), or just the final answer.
        solution_field: a separate column with the worked solution, if any (its lines become
            the reference steps); by default the answer column's lines before ``####`` are used.
        on_bad_rows: ``"raise"`` (default) or ``"skip"``: skip bad rows and warn with their
            count. A row is bad when its question is empty, longer than
            :data:`MAX_QUESTION_CHARS` or has characters outside the observation charset, when
            its answer has no final answer (:func:`extract_answer`) or one no answer can match
            (:func:`check_reference`), or when its question appears in another row with another
            answer (both rows are named, and both are skipped).

    Returns:
        Problems ``{"question", "answer", "solution", "source"}``; ``source`` is ``file:row``.

    Raises:
        FileNotFoundError: a file does not exist.
        DataFileError: a file is empty, malformed, lacks a column, or (with ``"raise"``) has bad
            rows; the message names the file, the row and the column.
    """
    if on_bad_rows not in ("raise", "skip"):
        raise ValueError(f"on_bad_rows={on_bad_rows!r} must be 'raise' or 'skip'")
    paths = _as_paths(data_files)
    key = tuple((str(p.resolve()), p.stat().st_mtime_ns if p.is_file() else -1) for p in paths)
    problems, bad = _load_cached(key, question_field, answer_field, solution_field)
    if bad:
        shown = "\n  ".join(bad[:5])
        more = f"\n  ... and {len(bad) - 5} more" if len(bad) > 5 else ""
        if on_bad_rows == "raise":
            raise DataFileError(
                f"{len(bad)} bad row(s):\n  {shown}{more}\nFix them, or pass on_bad_rows='skip' "
                "to skip them (their count is reported)."
            )
        warnings.warn(
            f"skipped {len(bad)} bad row(s) of {len(bad) + len(problems)}:\n  {shown}{more}",
            stacklevel=2,
        )
    if not problems:
        raise DataFileError(f"{', '.join(map(str, paths))}: no usable problem rows")
    return [dict(p) for p in problems]


@lru_cache(maxsize=16)
def _load_cached(
    key: tuple[tuple[str, int], ...],
    question_field: str,
    answer_field: str,
    solution_field: str | None,
) -> tuple[list[dict[str, Any]], list[str]]:
    problems: list[dict[str, Any]] = []
    bad: list[str] = []
    for path_text, _ in key:
        path = Path(path_text)
        rows, columns = _read_rows(path)
        problems += _rows_to_problems(
            path, rows, columns, question_field, answer_field, solution_field, bad
        )
    return _conflicts(problems, bad), bad


def shipped_problems(split: str = "train") -> list[dict[str, Any]]:
    """The problems of thinkgym's own set: ``"train"`` (600) or the held-out ``"test"`` (200)."""
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r}: the shipped MathWord set has 'train' and 'test'")
    return load_problems(DEFAULT_DATA_DIR / f"{split}.jsonl")


# ---------------------------------------------------------------------- env
class MathWordEnv(ReasoningEnv):
    """Solve a word problem one line of working at a time.

    ## Description
    The problem comes from a data file (GSM8K- or MATH-style). The transcript starts with
    ``Problem: <question>``; each step is one line of working in words and numbers, e.g.
    ``Cost of the pens: 3 * 4 = 12``; ``Answer: 26`` ends the episode. Example (the shipped set)::

        Problem: Ava buys 3 pens at $4 each and 2 mugs at $7 each. How much does Ava spend in dollars?
        Cost of the pens: 3 * 4 = 12
        Cost of the mugs: 2 * 7 = 14
        Total cost: 12 + 14 = 26
        Answer: 26

    ## Action Space
    ``spaces.Text``: one line of working, or ``Answer: <final answer>``.

    ## Observation Space
    ``spaces.Text``: the problem line, then one accepted step per line. Its length fits the
    longest loaded question plus ``max_steps`` full steps.

    ## Reward
    Outcome: 1.0 for a final answer equal to the reference (exact numbers, see
    :func:`answers_equal`, or ``answer_checker``), else 0.0. An answer is one value: a hedge
    (``at least 34``, ``34 or more``, ``maybe 34``), a comparison (``x ≥ 34``) or code
    (``print(70)``) pays 0 whatever the checker (:meth:`answer_form_error`). It needs the hidden reference
    (``outcome_needs_reference = True``), so planners may not use it during search. Process
    rewards come from the ``reward=`` object (any PRM: ``process(state, step)``). With
    ``check_arithmetic=True`` (default) a step claiming a false arithmetic fact (``48 / 2 = 25``)
    is rejected with ``invalid_penalty``; this check needs no reference, so planners may use it.
    Claims use ``+ - * / // % ^ **``; an accepted step whose claim was not checked (too large to
    compute, or ``check_arithmetic=False``) has ``info["claim_checked"] = False``.

    ## Episode End
    Terminated by an ``Answer:`` step; truncated after ``max_steps`` actions (default 12).

    ## Arguments
    * ``data_files``: a path, a list of paths, or a dict ``split -> path(s)`` of JSONL, JSON,
      CSV or Parquet files; ``None`` (default) uses the shipped set (600 train, 200 test).
    * ``split``: which split to draw from (``"train"`` default, ``"test"`` for the held-out
      problems, ``"all"`` for every file). With a single path or list, the files are that split.
      The ``"test"`` split is the task's fixed test set (:meth:`fixed_test_set`, which
      :func:`thinkgym.envs.eval_problems` reads); a problem is in the test split when its
      question is one of the test file's.
    * ``question_field`` / ``answer_field`` / ``solution_field``: column names (defaults
      ``"question"``, ``"answer"``, none).
    * ``check_arithmetic`` (default ``True``): reject steps with false arithmetic; ``False`` for
      outcome-only training.
    * ``answer_checker``: ``callable(pred, ref) -> bool`` replacing :func:`answers_equal`
      (e.g. :func:`thinkgym.rewards.verify`).
    * ``on_bad_rows``: ``"raise"`` (default) or ``"skip"`` (with a warning giving the count):
      rows whose reference no answer can match, whose question cannot be observed, or whose
      question repeats with another answer (see :func:`load_problems`).
    * plus the :class:`ReasoningEnv` arguments (``max_steps``, ``invalid_penalty``, ``reward``,
      ``render_mode``). ``difficulty`` is accepted and ignored (the data sets it).

    ``reset(seed=s)`` poses row ``s mod n`` of a fixed shuffle of the split (seeds ``0 .. n-1``
    visit every row once; no seed: a random row); ``reset(options={"index": i})`` pins row
    ``i``; ``reset(options={"problem": {"question": ..., "answer": ...}})`` poses any problem.

    ## Version History
    * v0: initial version.
    """

    default_max_steps = 12
    outcome_needs_reference = True
    option_keys = ("index", "problem")

    def __init__(
        self,
        data_files: str | Path | Sequence[str | Path] | dict[str, Any] | None = None,
        split: str = "train",
        *,
        question_field: str = "question",
        answer_field: str = "answer",
        solution_field: str | None = None,
        check_arithmetic: bool = True,
        answer_checker: Callable[[str, str], bool] | None = None,
        on_bad_rows: str = "raise",
        difficulty: int = 1,
        **kwargs: Any,
    ) -> None:
        # ``split`` is handled here, not by the base class: a data file's split may have any name
        # (e.g. "validation"), and a problem's split is the file it comes from, not a hash.
        kwargs.pop("split", None)
        super().__init__(difficulty=difficulty, **kwargs)
        if not isinstance(check_arithmetic, bool):
            raise ValueError(f"check_arithmetic={check_arithmetic!r} must be True or False")
        if answer_checker is not None and not callable(answer_checker):
            raise TypeError(
                f"answer_checker={answer_checker!r} must be callable(pred, ref) -> bool"
            )
        self.check_arithmetic = check_arithmetic
        self.answer_checker = answer_checker
        self.split = split
        if data_files is None:
            data_files = {
                "train": DEFAULT_DATA_DIR / "train.jsonl",
                "test": DEFAULT_DATA_DIR / "test.jsonl",
            }
        if isinstance(data_files, dict):
            splits = {str(k): v for k, v in data_files.items()}
            if split == "all" and "all" not in splits:
                splits["all"] = [p for v in splits.values() for p in _as_paths(v)]
            if split not in splits:
                raise ValueError(
                    f"split={split!r} is not in data_files (splits: {', '.join(splits)})."
                    f"{_suggest(split, list(splits))}"
                )
        else:
            splits = {split: data_files}
        self._load_kwargs = {
            "question_field": question_field,
            "answer_field": answer_field,
            "solution_field": solution_field,
            "on_bad_rows": on_bad_rows,
        }
        self._test_files = splits.get("test") if split != "test" else None
        self.problems = load_problems(splits[split], **self._load_kwargs)
        # the observation space fits the longest loaded question plus max_steps full steps
        self._longest_head = max(len(self.format_problem(p)) for p in self.problems)
        self.observation_space = TranscriptSpace(
            max_length=self.max_observation_chars(), min_length=0, charset=CHARSET
        )
        self._by_text = {self.format_problem(p): p for p in self.problems}
        self._test_keys: frozenset[str] | None = None
        # seed s poses row _order[s % n]: seeds 0..n-1 visit every row once, in a fixed shuffle
        self._order = np.random.default_rng(0).permutation(len(self.problems))

    # ------------------------------------------------------------------ problems
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Start an episode. ``seed=s`` poses row ``s mod n`` of a fixed shuffle of the split, so
        seeds ``0 .. n-1`` visit every row once; ``options`` pin a problem (see class docs)."""
        if seed is not None and not options:
            options = {"index": int(self._order[int(seed) % len(self.problems)])}
        return super().reset(seed=seed, options=options)

    def generate_problem(self, rng: np.random.Generator) -> dict[str, Any]:
        """A row of the split, uniformly at random."""
        return dict(self.problems[int(rng.integers(len(self.problems)))])

    def draw_problem(self, rng: np.random.Generator, max_draws: int = 1000) -> dict[str, Any]:
        """A row of the split: the split is the data file, so no problem is redrawn."""
        return self.generate_problem(rng)

    def fixed_test_set(self) -> list[dict[str, Any]] | None:
        """The held-out problems, in file order: the ``"test"`` split (shipped: 200 problems).

        ``None`` when the data has no ``"test"`` split.
        """
        if self.split == "test":
            return [dict(p) for p in self.problems]
        if self._test_files is None:
            return None
        return load_problems(self._test_files, **self._load_kwargs)

    def problem_key(self, problem: dict[str, Any]) -> str:
        """The problem line (the question decides the problem)."""
        return self.format_problem(problem)

    def problem_split(self, problem: dict[str, Any]) -> str:
        """``"test"`` when the question is one of the data's test problems, else ``"train"``."""
        if self._test_keys is None:
            test = self.fixed_test_set() or []
            self._test_keys = frozenset(self.problem_key(p) for p in test)
        return "test" if self.problem_key(problem) in self._test_keys else "train"

    def problem_from_options(self, options: dict[str, Any]) -> dict[str, Any] | None:
        """Pin ``{"index": i}`` (row of the split) or ``{"problem": {...} | "question text"}``."""
        if "index" in options:
            i = options["index"]
            if (
                isinstance(i, bool)
                or not isinstance(i, (int, np.integer))
                or not 0 <= i < len(self.problems)
            ):
                raise ValueError(
                    f"options['index']={i!r} must be an integer from 0 to {len(self.problems) - 1}"
                )
            return dict(self.problems[int(i)])
        problem = options.get("problem")
        if problem is None:
            return None
        if isinstance(problem, str):
            found = self._by_text.get(self.format_problem({"question": problem}))
            if found is None:
                raise ValueError(
                    "options['problem'] is a question that is not in this split; pass "
                    "{'problem': {'question': ..., 'answer': ...}} to pose a new one"
                )
            return dict(found)
        if not isinstance(problem, dict) or not isinstance(problem.get("question"), str):
            raise ValueError(
                "options['problem'] must be a question of the split or a dict "
                "{'question': ..., 'answer': ...}"
            )
        if "answer" not in problem:
            raise ValueError("options['problem'] has no 'answer'; the env needs one to score")
        question = " ".join(problem["question"].split())
        limit = self.max_question_chars()
        if len(question) > limit:
            raise ValueError(
                f"options['problem']['question'] has {len(question)} characters; at most {limit} "
                "fit the observation space of this env (max_observation_chars); shorten the "
                "question or make the env with a larger max_steps"
            )
        bad = sorted(set(question) - CHARSET)
        if bad:
            raise ValueError(
                f"options['problem']['question'] has characters outside the observation "
                f"charset: {''.join(bad[:10])!r}; replace them (thinkgym.envs.base.CHARSET)"
            )
        return {
            "question": question,
            "answer": self._pinned_answer(problem["answer"]),
            "solution": [str(s) for s in problem.get("solution", [])],
            "source": str(problem.get("source", "options")),
        }

    def max_observation_chars(self) -> int:
        """The base bound, raised so that the longest loaded question plus ``max_steps`` steps
        of ``max_step_chars`` always fits."""
        base = super().max_observation_chars()
        longest = getattr(self, "_longest_head", 0)
        return max(base, longest + self.max_steps * (self.max_step_chars + 1))

    def max_question_chars(self) -> int:
        """Longest question whose transcript, at ``max_steps`` full steps, fits the observation."""
        steps = self.max_steps * (self.max_step_chars + 1)
        return self.max_observation_chars() - steps - len(self.format_problem({"question": ""}))

    def _pinned_answer(self, raw: Any) -> str:
        """The reference answer of a pinned problem; refuses one no answer can match."""
        if isinstance(raw, str):
            plain = _clean_number_text(raw.replace("\\%", "").replace("%", ""))
            try:
                tree = parse_latex(plain, max_chars=200) if plain else None
            except (ExprError, RecursionError):
                tree = None  # not an expression: read it as text below
            if tree is not None:
                try:
                    exact(tree)
                except (ExprError, ArithmeticError) as exc:
                    raise ValueError(
                        f"options['problem']['answer']={_short(raw)} has no value ({exc}); "
                        "pass the reference answer as a finite number or text"
                    ) from None
        try:
            answer = extract_answer(raw)
            check_reference(answer)
        except ValueError as exc:
            raise ValueError(f"options['problem']['answer']: {exc}") from None
        # a custom answer_checker need not accept the reference itself; the built-in one must
        if self.answer_checker is None and not answers_equal(answer, answer):
            raise ValueError(
                f"options['problem']['answer']={_short(str(raw))} gives the reference "
                f"{_short(answer)}, which no answer can match (it does not even match itself); "
                "pass a plain number or short text"
            )
        return answer

    def format_problem(self, problem: dict[str, Any]) -> str:
        """``Problem: <question>`` on one line."""
        return f"{PROBLEM_PREFIX} {' '.join(str(problem['question']).split())}"

    def parse_problem(self, text: str) -> dict[str, Any]:
        """The problem of this split whose line is ``text``."""
        found = self._by_text.get(text.strip())
        if found is None:
            raise ValueError(f"{text[:80]!r} is not a problem line of this MathWord split")
        return dict(found)

    def reference_answer(self, problem: dict[str, Any]) -> str:
        """The reference final answer."""
        return str(problem["answer"])

    # ------------------------------------------------------------------ checks
    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Take one step; an accepted line of working also reports ``info["claim_checked"]``:
        ``False`` when it claims arithmetic that was not checked (``check_arithmetic=False``,
        or a claim too large to compute), so a PRM and a user can tell."""
        before = self.get_state() if self._state is not None else None
        obs, reward, terminated, truncated, info = super().step(action)
        state = self.get_state()
        if info.get("valid") and not state.done and state is not before and state.steps:
            info["claim_checked"] = self.claim_checked(state.steps[-1])
        return obs, reward, terminated, truncated, info

    def claim_checked(self, step: str) -> bool:
        """Whether every arithmetic claim of ``step`` was checked by :meth:`check_step`."""
        error, checked, claimed = _claims(step)
        if not self.check_arithmetic:
            return not claimed
        return checked and not error

    def check_step(self, state: EnvState, step: str) -> StepCheck:
        """Accept a line of working; with ``check_arithmetic`` its arithmetic claims must hold."""
        if self.check_arithmetic:
            error = check_arithmetic_claims(step)
            if error:
                return StepCheck(ok=False, error=error)
        return StepCheck(ok=True, data=None)

    def answer_form_error(self, answer: str) -> str:
        """Why ``answer`` is not one value (``""`` when it is): hedges, comparisons, code
        (:func:`answer_problem`). Rewards that grade the value another way check this first."""
        return answer_problem(A.extract(answer).text) or answer_problem(answer)

    def check_answer(self, state: EnvState, answer: str) -> tuple[bool, str]:
        """Compare the final answer with the reference."""
        if not answer.strip():
            return False, "the answer is empty; write 'Answer: <number>'"
        problem = self.answer_form_error(answer)
        if problem:  # one value, whatever the checker: a hedge or code is never right
            return False, problem
        ref = str(state.problem["answer"])
        ok = (
            bool(self.answer_checker(answer, ref))
            if self.answer_checker
            else answers_equal(answer, ref)
        )
        return (True, "") if ok else (False, "the answer is wrong")

    # ------------------------------------------------------------------ solver
    def solve(self, problem: dict[str, Any]) -> list[str]:
        """The data's reference working, then ``Answer: <reference>``."""
        return [*problem.get("solution", []), f"{ANSWER_PREFIX} {problem['answer']}"]

    def random_step(self, state: EnvState, rng: np.random.Generator) -> str:
        """A line with a (sometimes wrong) product of two numbers of the question, or an answer."""
        numbers = [int(v) for v in re.findall(r"\d+", state.problem["question"])[:12]] or [1, 2]
        if rng.random() < 0.25:
            return f"{ANSWER_PREFIX} {int(rng.integers(0, 200))}"
        a, b = (numbers[int(rng.integers(len(numbers)))] for _ in range(2))
        value = a * b + (int(rng.integers(-2, 3)) if rng.random() < 0.3 else 0)
        return f"Work: {a} * {b} = {value}"
