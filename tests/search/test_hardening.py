"""Every registered planner terminates and keeps every budget whatever the policy does.

Adversarial policies: empty replies, more proposals than asked, non-finite log-probs and absurd
token counts, a policy that raises, malformed replies. Also: each budget unit is kept, and with
``answer_check=False`` a planner never calls the env's reference-free answer check.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest

import thinkgym  # noqa: F401  (registers the envs)
from thinkgym.agents.base import OracleAgent, Proposal, RandomAgent
from thinkgym.envs.game24 import Game24Env
from thinkgym.search import (
    BeamSearch,
    BestOfN,
    Budget,
    PolicyError,
    SearchResult,
    make_planner,
    resolve_env,
    score_result,
)
from thinkgym.search.registry import BUILTIN_PLANNERS

PLANNERS = sorted(BUILTIN_PLANNERS)
SIZES: dict[str, dict[str, Any]] = {
    "greedy": {},
    "best_of_n": {"n": 4},
    "beam": {"beam_size": 2, "width": 3},
    "mcts": {"simulations": 8, "width": 3},
    "revision": {"rounds": 3},
    "best_of_n_vote": {"n": 4},
    "best_of_n_weighted": {"n": 4},
    "gumbel_mcts": {"k": 3, "width": 2},
    "dvts": {"subtrees": 2, "width": 3},
    "auto": {"probe": 2},
}


@contextlib.contextmanager
def hang_guard(seconds: int = 60) -> Iterator[None]:
    """Turn a hang into a test failure (a guard against infinite loops, not a timing assert)."""

    def fail(signum: int, frame: Any) -> None:
        raise AssertionError(f"the search did not terminate within {seconds} s")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


class Adversary:
    """A policy implementing the Policy contract with a chosen misbehaviour.

    ``mode``: ``"empty"`` (no proposals), ``"flood"`` (3n proposals, huge token counts),
    ``"nan"`` (NaN/inf log-probs and entropies, negative counts), ``"raise"``, ``"short"``
    (one list too few), ``"strings"`` (plain strings instead of Proposals).
    """

    def __init__(self, env: Any, mode: str) -> None:
        self.inner = RandomAgent(env, seed=0)
        self.mode = mode
        self.asked = 0
        self.rng = np.random.default_rng(0)

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
        self.asked += len(observations) * n
        if self.mode == "raise":
            raise ValueError("boom")
        if self.mode == "empty":
            return [[] for _ in observations]
        if self.mode == "short":
            return [[] for _ in observations[1:]]
        if self.mode == "strings":
            return [["1 + 1 = 2"] * n for _ in observations]  # type: ignore[list-item]
        base = self.inner.propose(observations, 3 * n if self.mode == "flood" else n)
        if self.mode == "flood":
            return [[Proposal(p.text, tokens=10**9, count=2) for p in lst] for lst in base]
        bad = [math.nan, -math.inf, math.inf]
        return [
            [
                Proposal(p.text, logprob=bad[k % 3], entropy=math.nan, tokens=-3, count=-5)
                for k, p in enumerate(lst)
            ]
            for lst in base
        ]


def _plan(name: str, policy: Any, env: Any, budget: Any, **kw: Any) -> list[SearchResult]:
    planner = make_planner(name, policy, budget=budget, max_step_tokens=20, **SIZES[name], **kw)
    with hang_guard():
        return planner.plan_many(env, seeds=[0, 1])


@pytest.mark.parametrize("env_id", ["Game24", "Arithmetic"])
@pytest.mark.parametrize("budget", [None, Budget(policy_calls=12, tokens=200)])
@pytest.mark.parametrize("mode", ["empty", "flood", "nan"])
@pytest.mark.parametrize("name", PLANNERS)
def test_terminates_and_keeps_budget(name: str, mode: str, budget: Any, env_id: str) -> None:
    env, _ = resolve_env(env_id)
    policy = Adversary(env, mode)
    results = _plan(name, policy, env, budget)
    assert sum(r.cost.policy_calls for r in results) == policy.asked  # charged what was asked
    for r in results:
        if budget is not None:
            assert r.cost.policy_calls <= budget.policy_calls
            assert r.cost.tokens <= budget.tokens
        assert r.cost.tokens <= 20 * r.cost.policy_calls  # a step is charged <= max_new_tokens
        json.dumps(r.to_json(), allow_nan=False)  # strict JSON: no NaN leaks into the result
        assert score_result(env, r).correct in (True, False)
        if mode == "empty":
            assert r.answer is None and r.steps == []


@pytest.mark.parametrize("name", PLANNERS)
def test_a_policy_that_raises_is_named(name: str) -> None:
    env, _ = resolve_env("Game24")
    with pytest.raises(PolicyError, match=rf"raised ValueError: boom \(planner {name}, problem"):
        _plan(name, Adversary(env, "raise"), env, 20)


@pytest.mark.parametrize("mode", ["short", "strings"])
@pytest.mark.parametrize("name", PLANNERS)
def test_malformed_replies_are_refused(name: str, mode: str) -> None:
    env, _ = resolve_env("Game24")
    with pytest.raises(PolicyError, match=f"planner {name}"):
        _plan(name, Adversary(env, mode), env, 20)


class FakePRM:
    """A reward model that counts the texts it scores."""

    def __init__(self) -> None:
        self.texts = 0

    def score_steps(self, texts: list[str]) -> list[list[float]]:
        self.texts += len(texts)
        return [[0.5] * max(1, t.count("\n")) for t in texts]


@pytest.mark.parametrize(
    "budget",
    [Budget(env_steps=7), Budget(guidance_calls=3), Budget(reward_model_calls=2)],
    ids=["env_steps", "guidance_calls", "reward_model_calls"],
)
@pytest.mark.parametrize("name", ["best_of_n", "beam", "mcts", "revision"])
def test_every_unit_is_kept(name: str, budget: Budget) -> None:
    env, _ = resolve_env("Arithmetic")
    prm = FakePRM()
    kw: dict[str, Any] = {"guidance": prm}
    if name == "best_of_n":
        kw["select"] = "prm"
    results = _plan(name, RandomAgent(env, seed=2), env, budget, **kw)
    for r in results:
        for unit in ("env_steps", "guidance_calls", "reward_model_calls"):
            limit = getattr(budget, unit)
            if limit is not None:
                assert getattr(r.cost, unit) <= limit, (unit, r.cost)
    assert sum(r.cost.reward_model_calls for r in results) == prm.texts


def test_budget_rejects_unknown_units() -> None:
    with pytest.raises(ValueError, match="not units"):
        BestOfN(RandomAgent(resolve_env("Game24")[0]), budget={"calls": 3})


class CountingGame24(Game24Env):
    """Counts the calls of the reference-free answer check."""

    checks = 0

    def check_answer_without_reference(self, state: Any, answer: str) -> bool | None:
        type(self).checks += 1
        return super().check_answer_without_reference(state, answer)


@pytest.mark.parametrize("name", PLANNERS)
def test_answer_check_off_never_calls_the_check(name: str) -> None:
    env = CountingGame24()
    policy = OracleAgent(Game24Env(), seed=0)  # the oracle solves on its own env
    CountingGame24.checks = 0
    results = _plan(name, policy, env, 40, answer_check=False)
    assert CountingGame24.checks == 0
    for r in results:
        assert r.info["answer_check"] is False
        assert r.solved_without_reference is None  # no verdict during search
        if r.answer is not None:  # the oracle's answers are right: the grader still says so
            assert score_result(env, r).correct
    CountingGame24.checks = 0
    _plan(name, OracleAgent(Game24Env(), seed=0), env, 40)  # a fresh oracle: the same draws
    assert CountingGame24.checks > 0


def test_best_of_n_with_the_check_on_never_calls_its_prm_on_game24() -> None:
    """README labelling: with the answer check on, Game24 best-of-N stops at the first verified
    answer (pass@N with a perfect verifier) and its PRM is never called; with the check off the
    PRM chooses."""
    env, _ = resolve_env("Game24")
    calls = {}
    for check in (True, False):
        prm = FakePRM()
        planner = BestOfN(
            OracleAgent(env, seed=0), n=4, select="prm", guidance=prm, answer_check=check
        )
        results = planner.plan_many(env, seeds=[0, 1, 2])
        calls[check] = sum(r.cost.reward_model_calls for r in results)
        assert calls[check] == prm.texts
        assert all(score_result(env, r).correct for r in results)
    assert calls[True] == 0 and calls[False] > 0


def test_beam_guidance_budget_leaves_unscored_children_last() -> None:
    env, _ = resolve_env("Arithmetic")
    r = BeamSearch(
        RandomAgent(env, seed=0), guidance=FakePRM(), budget=Budget(guidance_calls=2)
    ).plan(env, seed=0)
    assert r.cost.guidance_calls <= 2
    json.dumps(r.to_json(), allow_nan=False)


@pytest.mark.parametrize("name", ["beam", "mcts", "revision"])
def test_guidance_that_raises_or_returns_nan(name: str) -> None:
    from thinkgym.search import FunctionGuidance, Guidance, GuidanceError

    env, _ = resolve_env("Arithmetic")

    def broken(cand: Any) -> float:
        raise RuntimeError("no score")

    with pytest.raises(GuidanceError, match=rf"no score \(planner {name}, problem"):
        _plan(name, OracleAgent(env, seed=0), env, 20, guidance=FunctionGuidance(broken))

    class Words(Guidance):
        def score(self, candidates: Sequence[Any]) -> list[Any]:
            return ["good"] * len(candidates)

    with pytest.raises(GuidanceError, match="must be numbers"):
        _plan(name, OracleAgent(env, seed=0), env, 20, guidance=Words())
    results = _plan(name, RandomAgent(env, seed=0), env, 20, guidance=lambda c: math.nan)
    for r in results:
        json.dumps(r.to_json(), allow_nan=False)
