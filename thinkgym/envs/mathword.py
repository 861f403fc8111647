"""MathWord: word problems (GSM8K- or MATH-style) read from data files, one line of working per step.

The problems come from local JSONL, JSON, CSV or Parquet files read with Hugging Face ``datasets``
(``pip install thinkgym[datasets]``), or from the problem set that thinkgym ships
(``thinkgym/data/mathword/``, made by :mod:`thinkgym.envs.mathword_gen`), which the env uses when
no ``data_files`` are given. JSON lines files are also read without ``datasets`` installed.

Nothing here imports :mod:`thinkgym.rewards` (envs sit below rewards in the layer order): the
answer check compares numbers exactly with the bounded parser of :mod:`thinkgym.expr`; a richer
checker, e.g. :func:`thinkgym.rewards.verify` for MATH answers (sets, intervals, expressions),
is passed in as ``answer_checker=``.
"""

from __future__ import annotations

import difflib
import json
import re
import warnings
from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from thinkgym.envs.base import ANSWER_PREFIX, CHARSET, EnvState, ReasoningEnv, StepCheck
from thinkgym.expr import ExprError, evaluate, exact, parse, parse_latex

__all__ = [
    "MathWordEnv",
    "DEFAULT_DATA_DIR",
    "extract_answer",
    "answers_equal",
    "reference_steps",
    "check_arithmetic_claims",
    "load_problems",
    "shipped_problems",
    "DataFileError",
]

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "mathword"
"""The problem set thinkgym ships: ``train.jsonl`` and the held-out ``test.jsonl``."""

PROBLEM_PREFIX = "Problem:"
_BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")
_CALC_RE = re.compile(r"<<[^<>]*>>")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TIMES_X_RE = re.compile(r"(?<=\d)\s*[xX]\s*(?=\d)")
_SPAN_RE = re.compile(r"[0-9.+\-*/×÷·−()=\s]+")
_MAX_SOLUTION_STEPS = 40


class DataFileError(ValueError):
    """A problem file cannot be used; the message names the file, the row and the column."""


# ---------------------------------------------------------------------- answers
def _boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0:
        rest = text[start + len("\\boxed") :].strip()
        return rest.split("$")[0].strip() or None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j].strip()
    return None


def extract_answer(text: Any) -> str:
    """The final answer of a reference solution.

    Looks for, in order: GSM8K's ``#### 42``, MATH's last ``\\boxed{...}``, then the last number
    in the text (``"... so she has 42 apples."`` gives ``"42"``; a bare ``42`` is itself).

    Raises:
        ValueError: no final answer can be found.
    """
    if isinstance(text, bool) or text is None:
        raise ValueError(f"{text!r} is not an answer")
    if isinstance(text, (int, np.integer)):
        return str(int(text))
    if isinstance(text, (float, np.floating)):
        if not np.isfinite(text):
            raise ValueError(f"{text!r} is not a finite number")
        return str(Fraction(str(text))) if float(text) != int(text) else str(int(text))
    if not isinstance(text, str):
        raise ValueError(f"expected text, got {type(text).__name__}")
    if "####" in text:
        tail = text.rsplit("####", 1)[1].strip()
        ans = _clean_number_text(tail.splitlines()[0]) if tail else ""
        if ans:
            return ans
        raise ValueError(f"'####' is followed by nothing in {_short(text)}")
    boxed = _boxed(text)
    if boxed:
        return boxed
    if "\\" in text and _numeric_value(text) is not None:  # a bare LaTeX number: \frac{1}{2}
        return _clean_number_text(text)
    numbers = _NUMBER_RE.findall(_clean_number_text(text))
    if numbers:
        return numbers[-1]
    raise ValueError(
        f"no final answer found in {_short(text)}: expected '#### 42' (GSM8K), "
        "'\\boxed{...}' (MATH) or a number"
    )


def _short(text: str, limit: int = 80) -> str:
    """``repr`` of ``text``, cut to about ``limit`` characters (for error messages)."""
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def _clean_number_text(text: str) -> str:
    text = _THOUSANDS_RE.sub("", text.replace("$", "").replace("\\$", ""))
    return text.strip().rstrip(".").strip()


def _latex_to_plain(text: str) -> str:
    """A light LaTeX-to-plain rewrite for numeric answers (fractions, products, powers, roots)."""
    s = text.strip().strip("$").strip()
    s = re.sub(r"\\text\{[^{}]*\}|\\mbox\{[^{}]*\}|\\mathrm\{[^{}]*\}", "", s)
    for old, new in (
        ("\\left", ""),
        ("\\right", ""),
        ("\\!", ""),
        ("\\,", ""),
        ("\\;", ""),
        ("\\%", ""),
        ("%", ""),
        ("\\$", ""),
        ("^\\circ", ""),
        ("^{\\circ}", ""),
        ("\\cdot", "*"),
        ("\\times", "*"),
        ("\\div", "/"),
        ("\\dfrac", "\\frac"),
        ("\\tfrac", "\\frac"),
    ):
        s = s.replace(old, new)
    frac = re.compile(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
    short = re.compile(r"\\frac\s*(\d)\s*(\d)")
    sqrt = re.compile(r"\\sqrt\s*\{([^{}]*)\}")
    for _ in range(20):
        new = frac.sub(r"((\1)/(\2))", s)
        new = short.sub(r"((\1)/(\2))", new)
        new = sqrt.sub(r"sqrt(\1)", new)
        if new == s:
            break
        s = new
    return s.replace("{", "(").replace("}", ")").replace("\\", "")


def _numeric_value(text: str) -> Fraction | None:
    """The exact value of a numeric answer, or ``None`` when it is not a plain number/expression."""
    plain = _clean_number_text(text.replace("\\%", "").replace("%", ""))
    if not plain:
        return None
    try:  # the shared LaTeX front end and exact evaluator (thinkgym.expr), as verify() uses
        return exact(parse_latex(plain, max_chars=200))
    except (ExprError, ArithmeticError, RecursionError):
        return None


def _normal_text(text: str) -> str:
    s = _latex_to_plain(text)
    return re.sub(r"\s+", "", s).rstrip(".").lower()


def answers_equal(pred: str, ref: str) -> bool:
    """Whether a predicted final answer equals the reference (bounded, never evaluates code).

    Numbers compare exactly (``"0.5"``, ``"1/2"``, ``"\\frac{1}{2}"`` and ``"$0.50"`` are equal);
    a prediction with words around one number (``"42 apples"``) is read as that number. Anything
    else compares as normalised text. For MATH answers that need algebra (sets, intervals,
    expressions), pass :func:`thinkgym.rewards.verify` to the env as ``answer_checker=``.
    """
    if not isinstance(pred, str) or not isinstance(ref, str) or len(pred) > 400:
        return False
    ref_value = _numeric_value(ref)
    if ref_value is not None:
        value = _numeric_value(pred)
        if value is None:
            numbers = _NUMBER_RE.findall(_clean_number_text(pred))
            if len(numbers) != 1:
                return False
            value = _numeric_value(numbers[0])
        return value == ref_value
    return _normal_text(pred) == _normal_text(ref)


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


def check_arithmetic_claims(step: str) -> str:
    """Check every arithmetic fact a line of working claims (``48 / 2 = 24``); ``""`` if all hold.

    A claim is a run of numbers, operators and ``=`` signs in which at least one side is a
    computation; all its sides must have the same exact value. A side written as a decimal is
    read as rounded to its places (``10 / 3 = 3.33`` holds). Runs that do not parse as
    arithmetic (words in the middle, ``20% of 50 = 10``) are not claims and are left alone.

    Returns:
        ``""`` when every claim holds, else the reason the step is wrong, in words.
    """
    text = _CALC_RE.sub("", step).replace("$", "")
    text = _THOUSANDS_RE.sub("", text)
    text = _TIMES_X_RE.sub(" * ", text)
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
        try:
            trees = [parse(s, max_chars=200) for s in sides]
            values = [evaluate(t) for t in trees]
        except (ExprError, ArithmeticError, RecursionError, ValueError):
            continue
        if all(t[0] == "num" or (t[0] == "neg" and t[1][0] == "num") for t in trees):
            continue  # no computation is claimed (e.g. "x = 5")
        first = values[0]
        for side, value in zip(sides[1:], values[1:], strict=True):
            if value == first:
                continue
            places = _literal_decimals(side)
            other = first
            if places is None and _literal_decimals(sides[0]) is not None:
                places, other, value = _literal_decimals(sides[0]), value, first
            if places is not None and abs(Fraction(other) - Fraction(value)) <= Fraction(
                1, 2 * 10**places
            ):
                continue
            claim = " = ".join(sides)
            return (
                f"the step claims {claim}, which is false; check the arithmetic "
                "(check_arithmetic=False turns this check off)"
            )
    return ""


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
        raise DataFileError(f"{path}: could not be read as {suffix[1:]}: {exc}") from exc
    return ds.to_list(), list(ds.column_names)


def _find_bad_json(path: Path, suffix: str) -> None:
    """Name the first malformed row of a JSON lines file (``datasets`` only says the file failed)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if suffix == ".json" and text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataFileError(f"{path}: not valid JSON at line {exc.lineno}: {exc.msg}") from None
        for i, row in enumerate(rows, 1):
            if not isinstance(row, dict):
                raise DataFileError(f"{path}: row {i} is {type(row).__name__}, not an object")
        return
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFileError(
                f"{path}: row {n} (line {n}) is not valid JSON: {exc.msg}"
            ) from None
        if not isinstance(row, dict):
            raise DataFileError(
                f"{path}: row {n} (line {n}) is {type(row).__name__}, not an object"
            )


def _read_jsonl(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    _find_bad_json(path, ".jsonl")
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
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
                f"{path}: row {i}, column {question_field!r}: empty or not text ({question!r})"
            )
            continue
        raw = row.get(answer_field)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            bad.append(f"{path}: row {i}, column {answer_field!r}: no answer")
            continue
        try:
            answer = extract_answer(raw)
        except ValueError as exc:
            bad.append(
                f"{path}: row {i}, column {answer_field!r}: unparsable answer {str(raw)[:60]!r}: {exc}"
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
            }
        )
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
        on_bad_rows: ``"raise"`` (default) or ``"skip"``: skip rows with an empty question or an
            unparsable answer and warn with their count.

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
    return problems, bad


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
    ``spaces.Text``: the problem line, then one accepted step per line.

    ## Reward
    Outcome: 1.0 for a final answer equal to the reference (exact numbers, see
    :func:`answers_equal`, or ``answer_checker``), else 0.0; it needs the hidden reference
    (``outcome_needs_reference = True``), so planners may not use it during search. Process
    rewards come from the ``reward=`` object (any PRM: ``process(state, step)``). With
    ``check_arithmetic=True`` (default) a step claiming a false arithmetic fact (``48 / 2 = 25``)
    is rejected with ``invalid_penalty``; this check needs no reference, so planners may use it.

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
    * ``on_bad_rows``: ``"raise"`` (default) or ``"skip"`` (with a warning giving the count).
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
    def check_step(self, state: EnvState, step: str) -> StepCheck:
        """Accept a line of working; with ``check_arithmetic`` its arithmetic claims must hold."""
        if self.check_arithmetic:
            error = check_arithmetic_claims(step)
            if error:
                return StepCheck(ok=False, error=error)
        return StepCheck(ok=True, data=None)

    def check_answer(self, state: EnvState, answer: str) -> tuple[bool, str]:
        """Compare the final answer with the reference."""
        if not answer.strip():
            return False, "the answer is empty; write 'Answer: <number>'"
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
