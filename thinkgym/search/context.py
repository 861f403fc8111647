"""The search context a planner's ``search`` receives, and the candidates guidance scores.

A :class:`SearchContext` is one problem's view of the world: the env (only its reference-free
transition :meth:`~thinkgym.envs.base.ReasoningEnv.apply` and ``transcript``), the root state, the
:class:`~thinkgym.search.budget.Meter`, a seeded random generator and the tree. It is the
one argument of the extension point :meth:`~thinkgym.search.planner.Planner.search`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from thinkgym.agents.base import Proposal, unwrap_env
from thinkgym.envs.base import EnvState, ReasoningEnv
from thinkgym.search.budget import Meter
from thinkgym.search.tree import SearchTree

__all__ = ["SearchContext", "Candidate", "root_candidate", "resolve_env", "root_state"]


@dataclass
class Candidate:
    """A candidate step applied to a state, as guidance objects see it.

    Attributes:
        env: the env (for ``transcript`` and reference-free checks only).
        parent: the state the step was taken from.
        state: the state after the step (``parent`` with ``t`` bumped when rejected).
        step: the step text.
        proposal: the policy's proposal (``None`` for states not reached by a proposal).
        accepted: whether ``apply`` accepted the step.
        error: why it was rejected.
        path_logprob: summed log-prob of every step from the root.
        path_tokens: generated tokens of every step from the root.
        step_logprobs: log-prob of each step from the root (for backtracking).
        step_entropies: entropy of each step from the root.
        step_tokens: generated tokens of each step from the root.
    """

    env: ReasoningEnv
    parent: EnvState
    state: EnvState
    step: str
    proposal: Proposal | None = None
    accepted: bool = True
    error: str = ""
    path_logprob: float = 0.0
    path_tokens: int = 0
    step_logprobs: tuple[float, ...] = ()
    step_entropies: tuple[float, ...] = ()
    step_tokens: tuple[int, ...] = ()

    @property
    def transcript(self) -> str:
        """The transcript of the state after the step."""
        return self.env.transcript(self.state)

    @property
    def solved(self) -> bool:
        """Whether the state is an answer the task accepted without the reference."""
        return bool(self.state.done and self.state.correct is True)


def root_candidate(env: ReasoningEnv, state: EnvState) -> Candidate:
    """A candidate standing for a state with no step (e.g. the root)."""
    return Candidate(env=env, parent=state, state=state, step="")


class SearchContext:
    """Per-problem search context handed to :meth:`Planner.search
    <thinkgym.search.planner.Planner.search>`.

    Attributes:
        env: the env; planners use :meth:`apply` (below), ``env.transcript`` and
            ``env.max_steps``. With the answer check off it is a view of the env whose
            reference-free answer check is switched off (answers come back with
            ``correct=None``).
        root: the problem's initial state.
        meter: the problem's cost and budget (read ``meter.exhausted``, ``meter.cost``).
        rng: the planner's seeded random generator for this problem.
        tree: the search tree, rooted at ``root``.
        answer_check: whether the env's reference-free answer check is used during search.
        step_check: whether the env's reference-free step check is used during search. When
            off, :meth:`apply` takes every well-formed step as claimed
            (:meth:`~thinkgym.envs.base.ReasoningEnv.apply_unchecked`): a false step stays in
            the transcript, nothing is learned from a rejection, and the planner has only its
            guidance. Scoring after search still replays every step with the check on.

    Args:
        env: the env.
        root: the initial state.
        meter: the meter.
        rng: the random generator.
        answer_check: use the env's reference-free answer check during search.
        step_check: use the env's reference-free step check during search.
    """

    def __init__(
        self,
        env: ReasoningEnv,
        root: EnvState,
        meter: Meter,
        rng: np.random.Generator,
        *,
        answer_check: bool = True,
        step_check: bool = True,
    ) -> None:
        self.answer_check = bool(answer_check)
        self.step_check = bool(step_check)
        self.env = env if self.answer_check else _without_answer_check(env)
        self.root = root
        self.meter = meter
        self.rng = rng
        self.tree = SearchTree(root)

    def apply(self, state: EnvState, step: str) -> tuple[EnvState, bool, str]:
        """The env's reference-free transition, charged as one env step (with the step check
        off: :meth:`~thinkgym.envs.base.ReasoningEnv.apply_unchecked`)."""
        self.meter.charge_env_step()
        if not self.step_check:
            return self.env.apply_unchecked(state, step)
        return self.env.apply(state, step)

    def extend(self, parent: Candidate | None, state: EnvState, proposal: Proposal) -> Candidate:
        """Apply ``proposal`` to ``state`` and return the candidate (path stats carried on)."""
        new, ok, err = self.apply(state, proposal.text)
        lp = parent.path_logprob if parent else 0.0
        tk = parent.path_tokens if parent else 0
        lps = parent.step_logprobs if parent else ()
        ents = parent.step_entropies if parent else ()
        toks = parent.step_tokens if parent else ()
        if ok:
            lps = lps + (proposal.logprob,)
            ents = ents + (proposal.entropy,)
            toks = toks + (proposal.tokens,)
        return Candidate(
            env=self.env,
            parent=state,
            state=new,
            step=proposal.text,
            proposal=proposal,
            accepted=ok,
            error=err,
            path_logprob=lp + (proposal.logprob if ok else 0.0),
            path_tokens=tk + (proposal.tokens if ok else 0),
            step_logprobs=lps,
            step_entropies=ents,
            step_tokens=toks,
        )

    def out_of_steps(self, state: EnvState) -> bool:
        """Whether the episode would be truncated (the env's action limit)."""
        return state.t >= self.env.max_steps


def _no_answer_check(state: EnvState, answer: str) -> bool | None:
    return None


def _without_answer_check(env: ReasoningEnv) -> ReasoningEnv:
    """A shallow copy of ``env`` whose reference-free answer check answers "unknown".

    ``apply`` then still accepts a well-formed answer and ends the episode, but leaves its
    verdict (``correct``) at ``None`` without calling the task's check, so a planner must judge
    answers by its guidance alone (as Tree of Thoughts did). The original env is untouched.
    """
    view = copy.copy(env)
    view.check_answer_without_reference = _no_answer_check  # type: ignore[method-assign]
    return view


def resolve_env(env_or_id: gym.Env | ReasoningEnv | str) -> tuple[ReasoningEnv, str]:
    """The :class:`ReasoningEnv` behind an env, a wrapped env or an id, and a name for it."""
    if isinstance(env_or_id, str):
        from thinkgym.envs import make

        env = make(env_or_id)
        inner = unwrap_env(env)
        return inner, env.spec.id if env.spec is not None else env_or_id
    inner = unwrap_env(env_or_id)
    spec = getattr(env_or_id, "spec", None) or getattr(inner, "spec", None)
    if spec is not None:
        return inner, spec.id
    return inner, str(getattr(inner, "env_id", None) or type(inner).__name__)


def root_state(env: ReasoningEnv, seed: int | None, problem: Any) -> EnvState:
    """The initial state of the problem fixed by ``seed`` or pinned by ``problem``.

    Args:
        env: the env.
        seed: ``env.reset(seed=seed)`` when ``problem`` is ``None``.
        problem: reset options (``{"numbers": [...], "target": 24}``), the env's own problem dict,
            a problem string, or reset keyword arguments (``{"options": {...}}`` or
            ``{"seed": 3}``, the items :func:`thinkgym.envs.eval_problems` returns).
    """
    if isinstance(problem, dict) and problem and set(problem) <= {"options", "seed"}:
        # reset keyword arguments, the one problem shape eval_problems() and rollouts use
        seed = problem.get("seed", seed)
        problem = problem.get("options")
        if isinstance(problem, dict) and not problem:
            problem = None
    if problem is None:
        env.reset(seed=seed)
        return env.get_state()
    if isinstance(problem, str):
        env.reset(seed=seed, options={"problem": problem})
        return env.get_state()
    if not isinstance(problem, dict):
        raise TypeError(
            f"problem={problem!r} must be a dict (reset options or the env's problem) or a string"
        )
    pinned = env.problem_from_options(dict(problem))
    if pinned is None:
        pinned = env.problem_from_options({"problem": dict(problem)})
    if pinned is None:
        raise ValueError(
            f"problem={problem!r} does not pin a {type(env).__name__} problem; pass reset "
            "options such as {'numbers': [...], 'target': 24} or {'problem': ...}"
        )
    return EnvState(problem=pinned, data=env.initial_data(pinned))
