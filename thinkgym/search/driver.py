"""The driver: runs many planners' per-problem searches side by side and batches their requests.

Every round, the pending propose requests of all problems of all jobs that share a policy and
sampling settings (:meth:`Planner.call_key <thinkgym.search.planner.Planner.call_key>`)
and ``n`` go to the policy as one call; score requests that share a guidance object go to it as
one call. Each problem's :class:`~thinkgym.search.budget.Meter` is charged for its share.

The driver does not trust the policy: a reply with more proposals than asked keeps the first
``n`` (and is charged ``n``), non-finite log-probs and entropies are replaced by finite values,
token counts are capped at the ``max_new_tokens`` asked for, and an exception or a malformed reply
becomes a :class:`PolicyError` naming the planner and the problem.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

import gymnasium as gym
import numpy as np

from thinkgym.agents.base import PolicyError, Proposal
from thinkgym.search.progress import SearchProgress
from thinkgym.search.requests import Outcome, ProposeRequest, ScoreRequest

if TYPE_CHECKING:
    from thinkgym.envs.base import ReasoningEnv
    from thinkgym.search.context import SearchContext
    from thinkgym.search.result import SearchResult

__all__ = ["plan_together", "PolicyError", "GuidanceError", "LOGPROB_FLOOR"]

LOGPROB_FLOOR = -1e9
"""The log-prob given to a proposal whose log-prob is NaN or ``-inf`` (as good as impossible)."""


class GuidanceError(RuntimeError):
    """A guidance object raised or returned the wrong number of scores."""


class Searcher(Protocol):
    """What the driver needs of a planner (:class:`~thinkgym.search.planner.Planner` has it all).

    The driver sits below the planner base class: it takes planners as arguments and never
    imports them.
    """

    name: str
    seed: int
    policy: Any
    max_step_tokens: int | None

    def search(self, ctx: SearchContext) -> Generator[Any, Any, Outcome]:
        """One problem's search: yields requests, returns an :class:`Outcome`."""
        ...

    def call_policy(self, observations: list[str], n: int, seed: int) -> Any:
        """Ask the policy for ``n`` proposals per observation."""
        ...

    def contexts(self, env_or_id: Any, seeds: Any, problems: Any) -> tuple[str, list, list]:
        """The env id, one search context per problem, and the seeds."""
        ...


def _where(entries: list[tuple[int, Searcher, SearchContext]], idx: list[int]) -> str:
    names = sorted({entries[i][1].name for i in idx})
    problem = entries[idx[0]][2].root.problem
    more = f" and {len(idx) - 1} more" if len(idx) > 1 else ""
    return f"planner {', '.join(names)}, problem {problem}{more}"


def _clean(p: Any, bound: int, where: str, policy: Any) -> Proposal:
    """A proposal the planners can trust: finite log-prob <= 0, entropy >= 0, tokens capped."""
    if not isinstance(p, Proposal) or not isinstance(p.text, str):
        raise PolicyError(
            f"{type(policy).__name__}.propose returned {p!r} ({where}); each proposal must be a "
            "thinkgym.agents.Proposal with a text"
        )
    lp, ent, tokens, count = p.logprob, p.entropy, p.tokens, p.count
    lp = float(lp) if isinstance(lp, (int, float)) else math.nan
    lp = LOGPROB_FLOOR if math.isnan(lp) or lp < LOGPROB_FLOOR else min(0.0, lp)
    ent = float(ent) if isinstance(ent, (int, float)) else math.nan
    ent = 0.0 if math.isnan(ent) or ent < 0 else min(ent, 1e9)
    tokens = min(max(0, int(tokens)), bound) if isinstance(tokens, int) else bound
    count = max(1, int(count)) if isinstance(count, int) else 1
    if (lp, ent, tokens, count) == (p.logprob, p.entropy, p.tokens, p.count):
        return p
    return replace(p, logprob=lp, entropy=ent, tokens=tokens, count=count)


def _propose(
    planner: Searcher, obs: list[str], n: int, seed: int, where: str
) -> list[list[Proposal]]:
    policy = planner.policy
    try:
        out = planner.call_policy(obs, n, seed)
    except Exception as exc:  # noqa: BLE001 - re-raised with the search it broke
        raise PolicyError(
            f"{type(policy).__name__}.propose raised {type(exc).__name__}: {exc} ({where})"
        ) from exc
    if not isinstance(out, (list, tuple)) or len(out) != len(obs):
        got = f"{len(out)} lists" if isinstance(out, (list, tuple)) else repr(out)[:80]
        raise PolicyError(
            f"{type(policy).__name__}.propose returned {got} for {len(obs)} observations "
            f"({where}); it must return one list of proposals per observation"
        )
    lists = []
    for lst in out:
        if not isinstance(lst, (list, tuple)):
            raise PolicyError(
                f"{type(policy).__name__}.propose returned {lst!r} for an observation ({where}); "
                "it must be a list of Proposal"
            )
        lists.append([_clean(p, planner.max_step_tokens, where, policy) for p in lst])
    return lists


def _score(guidance: Any, cands: list[Any], where: str) -> tuple[list[float], list[Any]]:
    try:
        values, costs = guidance.evaluate(cands)
    except Exception as exc:  # noqa: BLE001 - re-raised with the search it broke
        raise GuidanceError(
            f"{guidance!r}.evaluate raised {type(exc).__name__}: {exc} ({where})"
        ) from exc
    values, costs = list(values), list(costs)
    if len(values) != len(cands) or len(costs) != len(cands):
        raise GuidanceError(
            f"{guidance!r}.evaluate returned {len(values)} scores and {len(costs)} costs for "
            f"{len(cands)} candidates ({where}); it must return one of each per candidate"
        )
    clean = []
    for v in values:
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise GuidanceError(
                f"{guidance!r}.evaluate returned the score {v!r} ({where}); scores must be numbers"
            ) from None
        clean.append(-math.inf if math.isnan(v) else v)
    return clean, costs


def drive(
    jobs: Sequence[tuple[Searcher, list[SearchContext]]], progress: bool
) -> list[list[Outcome]]:
    """Run the searches of several planners at once, batching their requests.

    Args:
        jobs: ``(planner, contexts)`` pairs, one context per problem.
        progress: show a progress bar over the policy calls (see :class:`SearchProgress`).

    Returns:
        One list of outcomes per job, in order.
    """
    flat: list[tuple[int, Searcher, SearchContext]] = [
        (j, planner, ctx) for j, (planner, ctxs) in enumerate(jobs) for ctx in ctxs
    ]
    gens = [planner.search(ctx) for _, planner, ctx in flat]
    outcomes: list[Outcome | None] = [None] * len(flat)
    pending: dict[int, Any] = {}
    rngs = [np.random.default_rng([planner.seed, len(ctxs), 7]) for planner, ctxs in jobs]
    bar = _progress([ctx for _, _, ctx in flat], progress, [p.policy for p, _ in jobs])

    def advance(i: int, value: Any) -> None:
        t0 = time.perf_counter()
        try:
            req = gens[i].send(value)
        except StopIteration as stop:
            if not isinstance(stop.value, Outcome):
                raise TypeError(
                    f"{type(flat[i][1]).__name__}.search returned {stop.value!r}; return an "
                    "Outcome(steps, state, ...)"
                ) from None
            outcomes[i] = stop.value
            pending.pop(i, None)
            if bar is not None:
                bar.finish(i)
        else:
            pending[i] = req
        flat[i][2].meter.add_seconds(time.perf_counter() - t0)

    try:
        for i in range(len(gens)):
            advance(i, None)
        while pending:
            replies: dict[int, Any] = {}
            props = {i: r for i, r in pending.items() if isinstance(r, ProposeRequest)}
            scores = {i: r for i, r in pending.items() if isinstance(r, ScoreRequest)}
            bad = set(pending) - set(props) - set(scores)
            if bad:
                planner = flat[min(bad)][1]
                raise TypeError(
                    f"{type(planner).__name__}.search yielded {pending[min(bad)]!r}; yield "
                    "ProposeRequest or ScoreRequest"
                )
            groups: dict[tuple[Any, ...], list[int]] = {}
            for i, r in props.items():
                if not r.observations or r.n < 1:
                    replies[i] = [[] for _ in r.observations]
                    continue
                groups.setdefault((flat[i][1].call_key(), r.n), []).append(i)
            for (_, n), idx in groups.items():
                obs = [o for i in idx for o in props[i].observations]
                first_job, planner = flat[idx[0]][0], flat[idx[0]][1]
                seed = int(rngs[first_job].integers(2**31 - 1))
                t0 = time.perf_counter()
                out = _propose(planner, obs, n, seed, _where(flat, idx))
                dt = time.perf_counter() - t0
                pos = 0
                for i in idx:
                    k = len(props[i].observations)
                    meter = flat[i][2].meter
                    replies[i] = [meter.admit_proposals(n, lst) for lst in out[pos : pos + k]]
                    pos += k
                    meter.add_seconds(dt * k / max(1, len(obs)))
            by_g: dict[int, list[int]] = {}
            for i, r in scores.items():
                by_g.setdefault(id(r.guidance), []).append(i)
            for idx in by_g.values():
                guidance = scores[idx[0]].guidance
                per = max(0, int(guidance.model_calls))
                # each problem's affordable prefix is scored; the rest stays unscored (-inf)
                todo = {i: flat[i][2].meter.scorable(len(scores[i].candidates), per) for i in idx}
                cands = [c for i in idx for c in scores[i].candidates[: todo[i]]]
                t0 = time.perf_counter()
                values, costs = _score(guidance, cands, _where(flat, idx)) if cands else ([], [])
                dt = time.perf_counter() - t0
                pos = 0
                for i in idx:
                    k, total = todo[i], len(scores[i].candidates)
                    replies[i] = list(values[pos : pos + k]) + [-math.inf] * (total - k)
                    meter = flat[i][2].meter
                    meter.admit_scores(costs[pos : pos + k])
                    pos += k
                    meter.add_seconds(dt * k / max(1, len(cands)))
            for i, value in replies.items():
                advance(i, value)
            if bar is not None:
                bar.update()
    finally:  # stops the bar's redraw thread even when a search raises
        if bar is not None:
            bar.close()
    done = [o if o is not None else Outcome([], None) for o in outcomes]
    out_jobs: list[list[Outcome]] = []
    pos = 0
    for _, ctxs in jobs:
        out_jobs.append(done[pos : pos + len(ctxs)])
        pos += len(ctxs)
    return out_jobs


def plan_together(
    jobs: Sequence[
        tuple[
            Searcher,
            gym.Env | ReasoningEnv | str,
            Sequence[int | None] | None,
            Sequence[dict[str, Any] | str | None] | None,
        ]
    ],
    *,
    progress: bool = False,
) -> list[list[SearchResult]]:
    """Run several planners' :meth:`~Planner.plan_many` at once, batching across all of them.

    Each job is ``(planner, env_or_id, seeds, problems)`` as for :meth:`Planner.plan_many`.
    Requests of every job that share a policy, sampling settings and ``n`` go to the policy in
    one call per round, so a small model on a CPU sees large batches even when each planner
    alone sends few rows (``thinkgym bench`` runs all planners and budgets of an env this way).
    Each job's results are what its ``plan_many`` would return, except that sampled tokens
    depend on the batch they were drawn in (reproducible for the same set of jobs and seeds).

    Returns:
        One list of :class:`SearchResult` per job, in order.
    """
    prepared = [planner.contexts(env, seeds, problems) for planner, env, seeds, problems in jobs]
    outcomes = drive(
        [(job[0], prep[1]) for job, prep in zip(jobs, prepared, strict=True)], progress
    )
    return [
        job[0].results(prep[0], prep[1], prep[2], outs)
        for job, prep, outs in zip(jobs, prepared, outcomes, strict=True)
    ]


def _progress(
    contexts: list[SearchContext], enabled: bool, policies: list[Any]
) -> SearchProgress | None:
    return SearchProgress(contexts, policies=policies) if enabled else None
