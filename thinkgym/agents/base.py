"""Agent and policy protocols, and the scripted agents that exercise every env.

* An **agent** answers ``act(observation, info) -> str``: the next step.
* A **policy** proposes candidate steps for many observations at once:
  ``propose(observations, n, *, temperature, top_p, max_new_tokens, seed) ->
  list[list[Proposal]]``. Planners batch their calls through it.

:class:`OracleAgent` (the task's reference solver) and :class:`RandomAgent` (plausible random
steps) are both, so they plug into envs and into search planners alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from thinkgym.envs.base import EnvState, ReasoningEnv

__all__ = [
    "Proposal",
    "Agent",
    "Policy",
    "PolicyError",
    "OracleAgent",
    "RandomAgent",
    "unwrap_env",
]


@dataclass(frozen=True, slots=True)
class Proposal:
    """One candidate next step.

    Attributes:
        text: the step, one line.
        logprob: summed log-probability of its tokens under the policy (0 for scripted agents).
        entropy: mean per-token entropy (the policy's uncertainty; 0 for scripted agents).
        tokens: number of generated tokens.
        count: how many samples produced this text (when duplicates are merged).
        token_ids: the sampled token ids (the stop token included; empty for scripted agents).
            RL recomputes log-probs of exactly these tokens, not of the re-tokenised text.
        behavior_logprobs: per-token log-probabilities of ``token_ids`` under the distribution
            actually sampled (temperature and top-p applied; ``0`` per token for a greedy
            decode, a point mass). Importance ratios of RL are taken against these.
    """

    text: str
    logprob: float = 0.0
    entropy: float = 0.0
    tokens: int = 0
    count: int = 1
    token_ids: tuple[int, ...] = ()
    behavior_logprobs: tuple[float, ...] = ()

    @property
    def behavior_logprob(self) -> float:
        """Summed behaviour log-probability of the sampled tokens (see ``behavior_logprobs``)."""
        return float(sum(self.behavior_logprobs))


@runtime_checkable
class Agent(Protocol):
    """Anything that picks the next step from an observation."""

    def act(self, observation: str, info: dict[str, Any]) -> str:
        """Return the next step for ``observation`` (the transcript so far)."""
        ...


@runtime_checkable
class Policy(Protocol):
    """Anything that proposes candidate steps for a batch of observations."""

    def propose(
        self,
        observations: Sequence[str],
        n: int = 1,
        *,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 48,
        seed: int | None = None,
    ) -> list[list[Proposal]]:
        """Return ``n`` proposals for each observation.

        Args:
            observations: transcripts so far.
            n: proposals per observation.
            temperature: sampling temperature (``0``: greedy).
            top_p: nucleus sampling mass.
            max_new_tokens: longest step to generate; planners charge a step at most this.
            seed: makes the sampling reproducible.

        Returns:
            One list of ``n`` proposals per observation, in order. Planners take the first ``n``
            of a longer list, cope with shorter ones, and treat a non-finite log-prob as
            impossible.
        """
        ...


def unwrap_env(env: gym.Env | ReasoningEnv) -> ReasoningEnv:
    """The :class:`ReasoningEnv` under Gymnasium's wrappers."""
    inner = getattr(env, "unwrapped", env)
    if not isinstance(inner, ReasoningEnv):
        raise TypeError(f"expected a thinkgym ReasoningEnv, got {type(inner).__name__}")
    return inner


def _tokens(text: str) -> int:
    return len(text) + 1  # one character-level token per character and an end of line


class PolicyError(RuntimeError):
    """A policy raised, or returned something that is not ``list[list[Proposal]]``.

    Planners, the rollout collector and Monte-Carlo labelling raise it naming the caller and the
    problem, so a broken policy is reported where it was called, not deep inside a search.
    """


class _ScriptedAgent:
    """Shared plumbing: recover the env state from an observation, then pick steps."""

    def __init__(self, env: gym.Env | ReasoningEnv) -> None:
        self.env = unwrap_env(env)
        self._states: dict[str, EnvState] = {}

    def _state(self, observation: str) -> EnvState:
        cur = self.env._state
        if cur is not None and self.env.transcript(cur) == observation:
            return cur
        state = self._states.get(observation)
        if state is None:
            state = self.env.state_from_transcript(observation)
            if len(self._states) > 10_000:
                self._states.clear()
            self._states[observation] = state
        return state

    def act(self, observation: str, info: dict[str, Any] | None = None) -> str:
        """Return one step for ``observation``."""
        return self.propose([observation], 1)[0][0].text

    def propose(
        self,
        observations: Sequence[str],
        n: int = 1,
        *,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 48,
        seed: int | None = None,
    ) -> list[list[Proposal]]:
        """Return ``n`` proposals per observation (the :class:`Policy` contract).

        Scripted agents draw from their own seeded generator: ``temperature``, ``top_p``,
        ``max_new_tokens`` and ``seed`` are accepted and ignored.
        """
        return [self._propose_one(self._state(obs), n) for obs in observations]

    def _propose_one(self, state: EnvState, n: int) -> list[Proposal]:
        raise NotImplementedError


class OracleAgent(_ScriptedAgent):
    """Follows the task's reference solver from wherever the episode stands.

    Args:
        env: the env (wrapped or not) whose task solves the problems.
        seed: when given, solvers that can pick among several solutions do so at random (each
            proposal may then follow a different correct solution).
    """

    def __init__(self, env: gym.Env | ReasoningEnv, seed: int | None = None) -> None:
        super().__init__(env)
        self.rng = None if seed is None else np.random.default_rng(seed)

    def _propose_one(self, state: EnvState, n: int) -> list[Proposal]:
        out = []
        for _ in range(n):
            plan = self.env.solve_state(state, rng=self.rng)
            step = plan[0] if plan else self.env.random_step(state, np.random.default_rng(0))
            out.append(Proposal(step, tokens=_tokens(step)))
        return out


class RandomAgent(_ScriptedAgent):
    """Plausible-looking random steps from the task's ``random_step`` (seeded)."""

    def __init__(self, env: gym.Env | ReasoningEnv, seed: int | None = None) -> None:
        super().__init__(env)
        self.rng = np.random.default_rng(seed)

    def _propose_one(self, state: EnvState, n: int) -> list[Proposal]:
        out = []
        for _ in range(n):
            step = self.env.random_step(state, self.rng)
            out.append(Proposal(step, logprob=0.0, tokens=_tokens(step)))
        return out
