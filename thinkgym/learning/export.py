"""Export traces and search results as Hugging Face datasets in TRL's formats.

Three kinds of data, each a list of plain records (:func:`sft_records`, :func:`preference_records`,
:func:`prm_records`) or a :class:`datasets.Dataset` (:func:`to_dataset`, ``pip install
thinkgym[datasets]``):

* **SFT, prompt-completion** (TRL's ``SFTTrainer``): ``{"prompt", "completion"}``. Per step (the
  default, as thinkgym's own policies generate: the prompt is the transcript so far plus a
  newline, the completion is the next step plus a newline) or per trajectory (the prompt is the
  problem line, the completion every step).
* **Preference pairs** (TRL's ``DPOTrainer``): ``{"prompt", "chosen", "rejected"}``, two sibling
  steps at the same search-tree node: the chosen one leads to a correct final answer somewhere
  below it, the rejected one leads only to wrong answers (or dead ends).
* **Stepwise supervision** (TRL's PRM format): ``{"prompt", "completions", "labels"}``: a problem,
  the steps of one trajectory and, per step, whether a correct answer was reached below it.

Correctness is judged with the env's answer check against the hidden reference. That is the
point of training data and happens after search (docs/architecture.md, "Honest search"); planners never see
it. Traces from the reference solver are correct by construction.

Example::

    from thinkgym.learning.export import sft_records, to_dataset
    from thinkgym.learning.traces import make_traces

    ds = to_dataset(sft_records(make_traces("MathWord", 100)))
    ds.save_to_disk("mathword-sft")         # datasets.load_from_disk("mathword-sft")
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym

from thinkgym.agents.base import unwrap_env
from thinkgym.envs.base import EnvState, ReasoningEnv
from thinkgym.learning.traces import Trace, check_trace
from thinkgym.search import SearchResult, score_result

__all__ = [
    "KINDS",
    "SAVE_FORMATS",
    "sft_records",
    "preference_records",
    "prm_records",
    "node_outcomes",
    "to_dataset",
    "save_dataset",
    "load_dataset_file",
    "save_results",
    "load_results",
]

KINDS = ("sft", "dpo", "prm")
"""What :func:`thinkgym.commands.export` can write: SFT, preference pairs, stepwise PRM data."""
SAVE_FORMATS = ("disk", "jsonl", "parquet")
"""``save_to_disk`` (a directory), JSON lines, or Parquet."""

Source = Trace | SearchResult


def _env(env: gym.Env | ReasoningEnv | str | None) -> ReasoningEnv | None:
    if env is None:
        return None
    if isinstance(env, str):
        from thinkgym.envs import make

        return unwrap_env(make(env))
    return unwrap_env(env)


def _head_and_steps(
    item: Source, env: ReasoningEnv | None, only_correct: bool
) -> tuple[str, list[str]] | None:
    """A source's problem line(s) and steps; ``None`` when it is skipped (wrong or unanswered)."""
    if isinstance(item, Trace):
        if env is not None:
            check_trace(item, env)  # traces of another task are refused, not relabelled
        return item.head, list(item.steps)
    if not isinstance(item, SearchResult):
        raise TypeError(f"expected a Trace or a SearchResult, got {type(item).__name__}")
    if env is None:
        raise ValueError(
            "exporting a SearchResult needs its env (env=...) to write the problem line and to "
            "score the answer"
        )
    if only_correct:
        if item.correct is None:
            score_result(env, item)
        if not item.correct:
            return None
    return env.format_problem(item.problem), list(item.steps)


def sft_records(
    sources: Iterable[Source],
    env: gym.Env | ReasoningEnv | str | None = None,
    *,
    granularity: str = "step",
    only_correct: bool = True,
) -> list[dict[str, str]]:
    """Prompt-completion records (TRL SFT) from traces and/or search results.

    Args:
        sources: :class:`~thinkgym.learning.traces.Trace` s and/or
            :class:`~thinkgym.search.SearchResult` s.
        env: the env the search results come from (not needed for traces).
        granularity: ``"step"``: one record per step (prompt: transcript so far + newline;
            completion: step + newline); ``"trajectory"``: one record per source (prompt: the
            problem + newline; completion: all steps, one per line).
        only_correct: keep only search results whose answer is right (scored here when
            ``correct`` is still ``None``).

    Returns:
        ``[{"prompt": ..., "completion": ...}, ...]``.
    """
    if granularity not in ("step", "trajectory"):
        raise ValueError(f"granularity={granularity!r} must be 'step' or 'trajectory'")
    inner = _env(env)
    out: list[dict[str, str]] = []
    for item in sources:
        got = _head_and_steps(item, inner, only_correct)
        if got is None or not got[1]:
            continue
        head, steps = got
        if granularity == "trajectory":
            out.append({"prompt": head + "\n", "completion": "\n".join(steps) + "\n"})
            continue
        for k, step in enumerate(steps):
            out.append({"prompt": "\n".join((head, *steps[:k])) + "\n", "completion": step + "\n"})
    return out


def node_outcomes(result: SearchResult, env: gym.Env | ReasoningEnv | str) -> list[bool | None]:
    """Per tree node: whether a correct final answer lies at or below it.

    ``True``: some answered node in its subtree is correct (judged against the reference);
    ``False``: its subtree holds terminal nodes and none is correct; ``None``: nothing below it
    was finished (unexplored), so it is neither chosen nor rejected.
    """
    inner = _env(env)
    assert inner is not None
    tree = result.tree
    if tree is None:
        raise ValueError(
            f"the {result.planner} result has no search tree; preference pairs need a planner "
            "that keeps one (beam, mcts, best_of_n)"
        )
    state = EnvState(problem=result.problem, data=inner.initial_data(result.problem))
    own: list[bool | None] = []
    for node in tree.nodes:
        if node.answer is not None:
            try:
                ok, _ = inner.check_answer(state, node.answer)
            except (ValueError, ArithmeticError, TypeError, RecursionError):
                ok = False
            own.append(bool(ok))
        elif node.terminal:
            own.append(False)  # truncated without an answer
        else:
            own.append(None)
    below = list(own)
    for node in sorted(tree.nodes, key=lambda n: -n.depth):  # children before parents
        if node.parent is None:
            continue
        mine, up = below[node.id], below[node.parent]
        if mine is True or up is True:
            below[node.parent] = True
        elif mine is False and up is None:
            below[node.parent] = False
    return below


def preference_records(
    results: Iterable[SearchResult],
    env: gym.Env | ReasoningEnv | str,
    *,
    max_pairs_per_node: int = 4,
) -> list[dict[str, str]]:
    """Preference pairs (TRL DPO) from search trees: chosen vs rejected sibling steps.

    At every node with children of both kinds (see :func:`node_outcomes`), each child step that
    leads to a correct answer is paired with each sibling that leads only to wrong ones (at most
    ``max_pairs_per_node`` pairs, best chosen and worst rejected first by visits and score).

    Returns:
        ``[{"prompt": transcript + "\\n", "chosen": step + "\\n", "rejected": step + "\\n"}, ...]``.
    """
    if max_pairs_per_node < 1:
        raise ValueError(f"max_pairs_per_node={max_pairs_per_node} must be >= 1")
    inner = _env(env)
    assert inner is not None
    out: list[dict[str, str]] = []
    for result in results:
        labels = node_outcomes(result, inner)
        tree = result.tree
        assert tree is not None
        head = inner.format_problem(result.problem)
        for node in tree.nodes:
            kids = [tree.nodes[c] for c in node.children if tree.nodes[c].step]
            good = [k for k in kids if labels[k.id] is True]
            bad = [k for k in kids if labels[k.id] is False]
            if not good or not bad:
                continue
            good.sort(key=lambda k: (-k.visits, -(k.score or 0.0)))
            bad.sort(key=lambda k: (k.visits, k.score or 0.0))
            prompt = "\n".join((head, *tree.steps(node.id))) + "\n"
            seen: set[tuple[str, str]] = set()
            for g in good:
                for b in bad:
                    if (g.step, b.step) in seen or g.step == b.step:
                        continue
                    seen.add((g.step, b.step))
                    out.append(
                        {"prompt": prompt, "chosen": g.step + "\n", "rejected": b.step + "\n"}
                    )
                    if len(seen) >= max_pairs_per_node:
                        break
                if len(seen) >= max_pairs_per_node:
                    break
    return out


def prm_records(
    sources: Iterable[Source],
    env: gym.Env | ReasoningEnv | str | None = None,
) -> list[dict[str, Any]]:
    """Stepwise supervision records (TRL's PRM format): ``{"prompt", "completions", "labels"}``.

    A trace gives one record, every label ``True``. A search result with a tree gives one record
    per finished leaf (answered or truncated): its path's steps, each labelled by whether a
    correct answer lies below that step (:func:`node_outcomes`); without a tree, its chosen
    trajectory, every step labelled by the final answer's correctness.
    """
    inner = _env(env)
    out: list[dict[str, Any]] = []
    for item in sources:
        if isinstance(item, Trace):
            if inner is not None:
                check_trace(item, inner)  # traces of another task are refused
            if item.steps:
                out.append(
                    {
                        "prompt": item.head + "\n",
                        "completions": list(item.steps),
                        "labels": [True] * len(item.steps),
                    }
                )
            continue
        if inner is None:
            raise ValueError("exporting a SearchResult needs its env (env=...)")
        head = inner.format_problem(item.problem) + "\n"
        if item.tree is None:
            if item.correct is None:
                score_result(inner, item)
            if item.steps:
                out.append(
                    {
                        "prompt": head,
                        "completions": list(item.steps),
                        "labels": [bool(item.correct)] * len(item.steps),
                    }
                )
            continue
        labels = node_outcomes(item, inner)
        tree = item.tree
        for node in tree.nodes:
            if not node.terminal or node.id == 0:
                continue
            path = tree.path(node.id)[1:]
            steps = [tree.nodes[i].step for i in path]
            if any(s is None for s in steps):
                continue
            out.append(
                {"prompt": head, "completions": steps, "labels": [bool(labels[i]) for i in path]}
            )
    return out


# ---------------------------------------------------------------------- datasets and files
def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise ImportError(
            "exporting Hugging Face datasets needs the datasets library: "
            "pip install thinkgym[datasets]"
        ) from None
    return datasets


def to_dataset(records: Sequence[dict[str, Any]]) -> Any:
    """A :class:`datasets.Dataset` of records (raises ``ValueError`` when there are none)."""
    if not records:
        raise ValueError(
            "no records to export: the sources gave no (correct) trajectories or, for "
            "preference pairs, no tree node with both a correct and a wrong continuation"
        )
    return _datasets().Dataset.from_list(list(records))


def save_dataset(dataset: Any, path: str | Path, fmt: str = "disk") -> Path:
    """Write a dataset: ``"disk"`` (``save_to_disk``), ``"jsonl"`` or ``"parquet"``.

    Load it back with ``datasets.load_from_disk(path)`` or :func:`load_dataset_file`.
    """
    if fmt not in SAVE_FORMATS:
        raise ValueError(f"format={fmt!r} must be one of {', '.join(SAVE_FORMATS)}")
    path = Path(path)
    if fmt == "disk":
        dataset.save_to_disk(str(path))
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "jsonl":
            dataset.to_json(str(path), lines=True)
        else:
            dataset.to_parquet(str(path))
    return path


def load_dataset_file(path: str | Path, fmt: str | None = None) -> Any:
    """Load what :func:`save_dataset` wrote (a ``save_to_disk`` directory, JSONL or Parquet).

    Args:
        path: The directory or file.
        fmt: The format it was written in (``"disk"``, ``"jsonl"`` or ``"parquet"``); ``None``
            guesses it from ``path`` (a directory, or the ``.jsonl``/``.json``/``.parquet``
            suffix). Pass it when the file name does not say the format.
    """
    datasets = _datasets()
    path = Path(path)
    if fmt is not None and fmt not in SAVE_FORMATS:
        raise ValueError(f"format={fmt!r} must be one of {', '.join(SAVE_FORMATS)}")
    if fmt == "disk" or (fmt is None and path.is_dir()):
        return datasets.load_from_disk(str(path))
    if fmt is None:
        fmt = {".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}.get(path.suffix)
        if fmt is None:
            raise ValueError(
                f"{path}: expected a save_to_disk directory, .jsonl or .parquet "
                "(or pass fmt='jsonl' / fmt='parquet')"
            )
    builder = "json" if fmt == "jsonl" else "parquet"
    return datasets.load_dataset(builder, data_files=str(path), split="train")


def save_results(results: Iterable[SearchResult], path: str | Path) -> Path:
    """Write search results (trees included) as JSON lines."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for r in results:
            fh.write(json.dumps(r.to_json()) + "\n")
    return path


def load_results(
    path: str | Path, env: gym.Env | ReasoningEnv | str | None = None
) -> list[SearchResult]:
    """Read search results written by :func:`save_results` (plain JSON, never a pickle)."""
    inner = _env(env)
    out = []
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(SearchResult.from_json(json.loads(line), env=inner))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n} is not a search result: {exc}") from None
    return out
