"""The planner base class: the extension point of search.

A planner is written as a *generator* per problem: :meth:`Planner.search` receives a
:class:`~thinkgym.search.context.SearchContext`, yields requests
(:class:`~thinkgym.search.requests.ProposeRequest` for the policy,
:class:`~thinkgym.search.requests.ScoreRequest` for a guidance object), receives their
answers, and returns an :class:`Outcome`. :meth:`Planner.plan_many` runs the generators of many
problems side by side (:mod:`thinkgym.search.driver`) and merges their requests into one
batched policy call (and one batched guidance call) per round.

Honest search (docs/architecture.md): planners only use the env's pure, reference-free transition
:meth:`SearchContext.apply` and ``transcript``. Whether the chosen answer is right against the
hidden reference is decided afterwards by :func:`~thinkgym.search.result.score_result`.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import replace
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from thinkgym.agents.base import Policy, Proposal
from thinkgym.envs.base import ReasoningEnv
from thinkgym.search.budget import Budget, Meter
from thinkgym.search.context import Candidate, SearchContext, resolve_env, root_state
from thinkgym.search.driver import plan_together
from thinkgym.search.guidance import Guidance, as_guidance
from thinkgym.search.requests import Outcome, ProposeRequest
from thinkgym.search.result import SearchResult, _jsonable

__all__ = [
    "Planner",
    "Outcome",
    "softmax",
    "merge_proposals",
    "fit_width",
    "implied_depth",
    "MAX_STEP_TOKENS",
]

MAX_STEP_TOKENS = 48
"""Default longest generated step (``max_new_tokens`` asked of the policy)."""


class Planner:
    """Base class of search planners.

    Subclasses set :attr:`name` and implement :meth:`search`, a generator that yields
    :class:`~thinkgym.search.requests.ProposeRequest` (best through :meth:`propose`) and
    :class:`~thinkgym.search.requests.ScoreRequest` objects, receives their answers, and
    returns an :class:`Outcome`. To size a planner for a budget (``thinkgym bench`` does), override
    :meth:`sizing`.

    Args:
        policy: a :class:`~thinkgym.agents.base.Policy`: ``propose(observations, n, *,
            temperature, top_p, max_new_tokens, seed) -> list[list[Proposal]]``.
        budget: per-problem compute budget (a :class:`~thinkgym.search.budget.Budget`, an
            int = policy calls, a dict of units, or ``None``).
        guidance: how the planner scores candidates: a Guidance, a guidance name (``"logprob"``,
            ``"entropy"``, ``"env"``, ``"self_eval"``), a reward model or a function; each planner
            documents its default and what it scores.
        temperature: sampling temperature passed to the policy.
        top_p: nucleus sampling passed to the policy.
        seed: seed of the planner's own randomness and of the policy's sampling.
        stop_score: stop early when a final answer's guidance score reaches this value
            (``None``: stop only on a reference-free verified solution).
        early_stop: stop as soon as a solution the task verifies without the reference is found.
        answer_check: use the env's reference-free answer check during search (Game24: the
            expression uses the numbers and equals 24). ``False`` switches it off: answers then
            have no verdict during search, and the planner chooses by guidance alone.
        step_check: use the env's reference-free step check during search. ``False`` takes
            every well-formed step as claimed (a false step stays in the transcript; the planner
            learns nothing from a rejection); scoring after search is unchanged, so such a
            trajectory fails there.
        max_step_tokens: longest generated step, passed to the policy as ``max_new_tokens``; it
            also bounds the token budget (a step is charged at most this many tokens).
        progress: show a tqdm progress bar over problems in :meth:`plan_many`.
    """

    name: ClassVar[str] = "planner"
    budgeted: ClassVar[bool] = True
    """Whether the planner's size follows a budget (``False``: one point, e.g. greedy decoding)."""

    def __init__(
        self,
        policy: Policy,
        *,
        budget: Budget | int | dict[str, Any] | None = None,
        guidance: Any = None,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int = 0,
        stop_score: float | None = None,
        early_stop: bool = True,
        answer_check: bool = True,
        step_check: bool = True,
        max_step_tokens: int = MAX_STEP_TOKENS,
        progress: bool = False,
    ) -> None:
        if not isinstance(policy, Policy):
            raise TypeError(
                f"policy={policy!r} has no propose(observations, n, *, temperature, top_p, "
                "max_new_tokens, seed) method; use an LLMPolicy, an OracleAgent/RandomAgent or "
                "any object implementing thinkgym.agents.Policy"
            )
        if not math.isfinite(temperature) or temperature < 0:
            raise ValueError(f"temperature={temperature!r} must be a finite number >= 0")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p={top_p!r} must be in (0, 1]")
        if (
            isinstance(max_step_tokens, bool)
            or not isinstance(max_step_tokens, int)
            or max_step_tokens < 1
        ):
            raise ValueError(f"max_step_tokens={max_step_tokens!r} must be a positive integer")
        self.policy = policy
        self.budget = Budget.coerce(budget)
        self.guidance: Guidance | None = as_guidance(guidance, policy)
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.seed = int(seed)
        self.stop_score = stop_score
        self.early_stop = bool(early_stop)
        self.answer_check = bool(answer_check)
        self.step_check = bool(step_check)
        self.max_step_tokens = int(max_step_tokens)
        self.progress = bool(progress)

    # -- sizing
    @classmethod
    def sizing(cls, policy_calls: int, depth: int) -> dict[str, Any]:
        """Keyword arguments that spend about ``policy_calls`` on solutions of ``depth`` steps.

        The base class sizes nothing (the budget alone bounds the search); built-in planners
        override this.
        """
        return {}

    @classmethod
    def for_budget(
        cls,
        policy: Policy,
        budget: Budget | int | None,
        *,
        depth: int,
        guidance: Any = None,
        **kwargs: Any,
    ) -> Planner:
        """A planner sized to spend about ``budget`` policy calls per problem.

        Args:
            policy: the policy.
            budget: policy calls per problem (or a :class:`Budget`; ``None``: unlimited, no
                sizing).
            depth: typical steps of a solution of the task.
            guidance: the guidance (see the class).
            **kwargs: other constructor arguments; they override the sizing.

        Returns:
            The planner.
        """
        if depth < 1:
            raise ValueError(f"depth={depth!r} must be >= 1")
        b = Budget.coerce(budget)
        sized = cls.sizing(b.policy_calls, int(depth)) if b.policy_calls is not None else {}
        sized.update(kwargs)
        return cls(policy, budget=b, guidance=guidance, **sized)

    # -- to implement
    def search(self, ctx: SearchContext) -> Generator[Any, Any, Outcome]:
        """The per-problem search (a generator of requests). See the class docstring."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement search(ctx) as a generator that yields "
            "ProposeRequest/ScoreRequest objects and returns an Outcome"
        )

    # -- helpers for subclasses
    def is_done(self, cand: Candidate, score: float | None = None) -> bool:
        """Whether guidance says the search may stop at this candidate."""
        if not cand.state.done:
            return False
        if self.early_stop and cand.state.correct is True:
            return True
        return self.stop_score is not None and score is not None and score >= self.stop_score

    def propose(
        self, ctx: SearchContext, observations: list[str], n: int
    ) -> Generator[Any, Any, list[list[Proposal]]]:
        """Yield a propose request within budget; returns one list per observation (maybe [])."""
        if n < 1:
            raise ValueError(f"n={n!r} proposals per observation must be >= 1")
        k = ctx.meter.affordable(len(observations) * n)
        if k <= 0 or not observations:
            return [[] for _ in observations]
        if k < len(observations) * n:
            if k >= len(observations):
                n = k // len(observations)
            else:
                head = yield ProposeRequest(list(observations[:k]), 1)
                return list(head) + [[] for _ in observations[k:]]
        out = yield ProposeRequest(list(observations), n)
        return list(out)

    # -- public API
    def plan(
        self,
        env_or_id: gym.Env | ReasoningEnv | str,
        *,
        seed: int | None = None,
        problem: dict[str, Any] | str | None = None,
    ) -> SearchResult:
        """Search one problem.

        Args:
            env_or_id: the env (wrapped or not) or its id (``"thinkgym/Game24-v0"``, ``"Game24"``).
            seed: fixes the problem (``env.reset(seed=seed)``) when ``problem`` is not given.
            problem: pins the problem: reset options (``{"numbers": [4, 9, 10, 13], "target": 24}``,
                ``{"problem": "(3 + 4) * 5"}``), the env's own problem dict, or a problem string.

        Returns:
            The :class:`SearchResult` (``correct`` is ``None``: see :func:`score_result`).
        """
        return self.plan_many(env_or_id, seeds=[seed], problems=[problem])[0]

    def plan_many(
        self,
        env_or_id: gym.Env | ReasoningEnv | str,
        seeds: Sequence[int | None] | None = None,
        problems: Sequence[dict[str, Any] | str | None] | None = None,
    ) -> list[SearchResult]:
        """Search several problems at once, batching policy and guidance calls across them.

        Args:
            env_or_id: the env or its id.
            seeds: one problem seed per problem.
            problems: one pinned problem per problem (see :meth:`plan`); overrides the seed.

        Returns:
            One :class:`SearchResult` per problem, in order.
        """
        return plan_together([(self, env_or_id, seeds, problems)], progress=self.progress)[0]

    # -- used by the driver
    def contexts(
        self,
        env_or_id: gym.Env | ReasoningEnv | str,
        seeds: Sequence[int | None] | None,
        problems: Sequence[dict[str, Any] | str | None] | None,
    ) -> tuple[str, list[SearchContext], list[int | None]]:
        """The env id, one search context per problem and the seeds (checked)."""
        env, env_id = resolve_env(env_or_id)
        resize = self.__dict__.get("_size_on_plan")  # make_planner(budget=B) without an env
        if resize is not None:
            resize(self, env)
        if seeds is None and problems is None:
            raise ValueError("plan_many needs seeds=[...] or problems=[...]")
        count = len(seeds) if seeds is not None else len(problems or [])
        if seeds is not None and problems is not None and len(seeds) != len(problems):
            raise ValueError(
                f"seeds has {len(seeds)} entries but problems has {len(problems)}; give one "
                "of each per problem"
            )
        seeds_l = list(seeds) if seeds is not None else [None] * count
        probs_l = list(problems) if problems is not None else [None] * count
        ctxs = []
        for i, (s, p) in enumerate(zip(seeds_l, probs_l, strict=True)):
            root = root_state(env, s, p)
            rng = np.random.default_rng([self.seed, 0 if s is None else int(s) + 1, i])
            meter = Meter(self.budget, self.max_step_tokens)
            ctxs.append(
                SearchContext(
                    env,
                    root,
                    meter,
                    rng,
                    answer_check=self.answer_check,
                    step_check=self.step_check,
                )
            )
        return env_id, ctxs, seeds_l

    def results(
        self,
        env_id: str,
        ctxs: list[SearchContext],
        seeds: list[int | None],
        outcomes: list[Outcome],
    ) -> list[SearchResult]:
        """One :class:`SearchResult` per problem from the outcomes of :meth:`search`."""
        out = []
        for ctx, s, o in zip(ctxs, seeds, outcomes, strict=True):
            final = o.state
            answer = final.answer if final is not None and final.done else None
            info = dict(o.info)
            info.setdefault("answer_check", self.answer_check)
            info.setdefault("step_check", self.step_check)
            if self.guidance is not None:
                info.setdefault("guidance", self.guidance.name)
            out.append(
                SearchResult(
                    planner=self.name,
                    env_id=env_id,
                    problem=_jsonable(ctx.root.problem),
                    steps=list(o.steps),
                    answer=answer,
                    solved_without_reference=(final.correct if answer is not None else None),
                    cost=ctx.meter.cost,
                    budget=self.budget,
                    tree=ctx.tree if o.keep_tree else None,
                    candidates=o.candidates,
                    seed=s,
                    info=info,
                )
            )
        return out

    def call_key(self) -> tuple[Any, ...]:
        """Requests with equal keys (and equal ``n``) can share one ``propose`` call."""
        return (id(self.policy), self.temperature, self.top_p, self.max_step_tokens)

    def call_policy(self, observations: list[str], n: int, seed: int) -> Any:
        """The raw ``propose`` call (the driver checks and cleans its reply)."""
        return self.policy.propose(
            observations,
            n,
            temperature=self.temperature,
            top_p=self.top_p,
            max_new_tokens=self.max_step_tokens,
            seed=seed,
        )


def softmax(xs: Sequence[float]) -> list[float]:
    """Numerically stable softmax (non-finite inputs count as ``-1e9``)."""
    if not xs:
        return []
    vals = [x if math.isfinite(x) else -1e9 for x in xs]
    m = max(vals)
    e = [math.exp(x - m) for x in vals]
    s = sum(e)
    return [v / s for v in e]


def fit_width(ctx: SearchContext, width: int, rows: int, depth: int, depth_hint: int | None) -> int:
    """The expansion width that still lets every live path finish within the budget.

    A tree planner that asks ``width`` proposals for each of ``rows`` states at every step can
    spend its policy calls before any path reaches an answer (a rejected step costs calls and
    moves nothing). With a depth hint (the task's steps per solution) the width is cut to
    ``remaining calls // (rows * steps left)``, at least 1, so the paths in hand can still be
    completed; without a hint, or with no bound on policy calls, ``width`` is returned.

    Args:
        ctx: the search context (its meter says what is left).
        width: the planner's width.
        rows: states expanded this round.
        depth: steps already taken by the shallowest of them.
        depth_hint: steps per solution, or ``None``.
    """
    left = ctx.meter.remaining("policy_calls")
    if depth_hint is None or left is None or rows < 1:
        return width
    steps_left = max(1, int(depth_hint) - int(depth))
    return max(1, min(width, left // (rows * steps_left)))


def implied_depth(budget: Budget, calls_per_step: int) -> int | None:
    """Steps per path a planner's sizing affords: ``policy_calls // calls_per_step`` (at least
    1; ``None`` without a bound on policy calls)."""
    calls = budget.policy_calls
    if calls is None or calls_per_step < 1:
        return None
    return max(1, calls // calls_per_step)


def merge_proposals(props: Sequence[Proposal]) -> list[Proposal]:
    """Merge proposals with the same text (counts add up; the first keeps its stats)."""
    out: dict[str, Proposal] = {}
    for p in props:
        key = p.text.strip()
        if key in out:
            q = out[key]
            out[key] = replace(q, count=q.count + max(1, p.count))
        else:
            out[key] = p
    return list(out.values())
