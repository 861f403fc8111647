"""Choosing the final answer among finished candidates: best score, majority vote, or
reward-model-weighted vote.

Every planner that ends with several finished candidates (best-of-N, beam, DVTS, MCTS, Gumbel
MCTS) chooses among them with one of :data:`FINAL_RULES`:

- ``"best"``: the single best-scored candidate (ties by per-token log-prob);
- ``"vote"``: the final value most candidates reach (ties by log-prob); scores unused;
- ``"weighted_vote"``: the final value with the largest *sum* of scores over the candidates that
  reach it (reward-model-weighted majority vote, as in Uesato et al. 2022, Math-Shepherd and
  search-and-learn's DVTS), then its best-scored candidate.

With a PRM the score of a candidate is its step scores aggregated by ``min``, ``prod``,
``last`` or ``mean`` (:func:`~thinkgym.search.guidance.aggregate_scores`; pick one with
:func:`~thinkgym.search.guidance.with_aggregate`). A candidate whose answer the task refutes
without the reference is never chosen.
"""

from __future__ import annotations

import math
from collections import Counter

__all__ = ["FINAL_RULES", "normalize_answer", "weighted_votes", "pick", "choose_final"]

FINAL_RULES = ("best", "vote", "weighted_vote")
"""The final-choice rules every planner with several finished candidates accepts."""


def normalize_answer(answer: str) -> str:
    """The final value of an answer for voting: the text after the last ``=``, spaces removed."""
    return answer.rsplit("=", 1)[-1].replace(" ", "").strip()


def weighted_votes(
    values: list[str], scores: list[float], counts: list[int] | None = None
) -> dict[str, float]:
    """Each value's summed reward-model score (NaN and negative scores count as 0); a candidate
    that stands for ``count`` identical samples (merged proposals) weighs ``count`` times."""
    mass: dict[str, float] = {}
    counts = counts if counts is not None else [1] * len(values)
    for value, score, count in zip(values, scores, counts, strict=True):
        w = float(score)
        w = w if w > 0 and w != math.inf else 0.0
        mass[value] = mass.get(value, 0.0) + w * max(1, int(count))
    return mass


def pick(
    values: list[str],
    logprobs: list[float],
    scores: list[float] | None = None,
    *,
    weighted: bool = False,
    counts: list[int] | None = None,
) -> int:
    """Index of the selected sample among finished ones (``values``: their normalised answers).

    ``scores=None``: majority vote over ``values``, ties broken by (per-token) log-prob;
    otherwise the best score, ties by log-prob; ``weighted=True``: the value with the largest
    summed score (:func:`weighted_votes`), then its best-scored sample. ``counts``: how many
    identical samples each one stands for (votes and weights multiply). The first of equals wins.
    """
    if scores is None:
        votes: Counter[str] = Counter()
        for v, c in zip(values, counts or [1] * len(values), strict=True):
            votes[v] += max(1, int(c))
        return max(range(len(values)), key=lambda k: (votes[values[k]], logprobs[k]))
    if weighted:
        mass = weighted_votes(values, scores, counts)
        return max(range(len(values)), key=lambda k: (mass[values[k]], scores[k], logprobs[k]))
    return max(range(len(values)), key=lambda k: (scores[k], logprobs[k]))


def choose_final(
    answers: list[str],
    scores: list[float],
    logprobs: list[float],
    rule: str = "best",
    counts: list[int] | None = None,
) -> int:
    """Index of the final answer under ``rule`` (one of :data:`FINAL_RULES`).

    Args:
        answers: the candidates' answer texts (normalised here with :func:`normalize_answer`).
        scores: their guidance scores (higher is better; non-finite counts as unscored).
        logprobs: their per-token log-probs (ties).
        rule: ``"best"``, ``"vote"`` or ``"weighted_vote"``.
        counts: how many identical samples each candidate stands for (merged proposals; votes
            and weights multiply); ``None``: one each.

    Raises:
        ValueError: an unknown rule, or no candidates.
    """
    if rule not in FINAL_RULES:
        raise ValueError(f"final={rule!r} is not one of {FINAL_RULES}")
    if not answers:
        raise ValueError("choose_final needs at least one candidate")
    if not len(answers) == len(scores) == len(logprobs) or (
        counts is not None and len(counts) != len(answers)
    ):
        raise ValueError(
            f"{len(answers)} answers, {len(scores)} scores and {len(logprobs)} log-probs; give "
            "one of each per candidate"
        )
    clean = [float(s) if math.isfinite(s) else -1e9 for s in scores]
    values = [normalize_answer(a) for a in answers]
    if rule == "vote":
        return pick(values, logprobs, None, counts=counts)
    return pick(values, logprobs, clean, weighted=rule == "weighted_vote", counts=counts)
