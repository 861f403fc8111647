"""Search planners on every procedural env with scripted agents; budgets, seeds, trees, honesty."""

from __future__ import annotations

import json
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import pytest

import thinkgym  # noqa: F401  (registers the envs)
from thinkgym.agents.base import OracleAgent, Proposal, RandomAgent
from thinkgym.envs.arithmetic import ArithmeticEnv
from thinkgym.envs.countdown import solve_numbers
from thinkgym.envs.linear_equation import LinearEquationEnv
from thinkgym.search import (
    MCTS,
    BeamSearch,
    BestOfN,
    Budget,
    FunctionGuidance,
    Planner,
    SearchResult,
    SequentialRevision,
    list_planners,
    make_planner,
    register_planner,
    resolve_env,
    score_result,
)

ENVS = ["Game24", "Countdown", "Arithmetic", "LinearEquation"]
PLANNERS: dict[str, dict[str, Any]] = {
    "best_of_n": {"n": 4},
    "beam": {"beam_size": 2, "width": 3},
    "mcts": {"simulations": 8, "width": 3},
    "revision": {"rounds": 3},
}


@pytest.mark.parametrize("env_id", ENVS)
@pytest.mark.parametrize("name", list(PLANNERS))
def test_oracle_solves(env_id: str, name: str) -> None:
    env, _ = resolve_env(env_id)
    planner = make_planner(name, OracleAgent(env, seed=0), budget=60, **PLANNERS[name])
    results = planner.plan_many(env, seeds=[0, 1, 2])
    for r in results:
        assert r.correct is None  # filled only after search
        score_result(env, r)
        assert r.correct, (env_id, name, r.steps)
        assert r.cost.policy_calls <= 60


@pytest.mark.parametrize("env_id", ["Game24", "Countdown", "LinearEquation"])
@pytest.mark.parametrize("name", list(PLANNERS))
def test_random_rarely_solves_at_tiny_budget(env_id: str, name: str) -> None:
    env, _ = resolve_env(env_id)
    planner = make_planner(name, RandomAgent(env, seed=1), budget=6, **PLANNERS[name])
    results = [score_result(env, r) for r in planner.plan_many(env, seeds=list(range(6)))]
    assert sum(bool(r.correct) for r in results) <= 2
    assert all(r.cost.policy_calls <= 6 for r in results)


class CountingPolicy:
    """Wraps a scripted agent and counts the sequences and tokens it generates."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sequences = 0
        self.tokens = 0
        self.calls = 0

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
        out = self.inner.propose(
            observations,
            n,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            seed=seed,
        )
        self.calls += 1
        for lst in out:
            self.sequences += len(lst)
            self.tokens += sum(p.tokens for p in lst)
        return out


@pytest.mark.parametrize("name", list(PLANNERS))
@pytest.mark.parametrize("budget", [Budget(policy_calls=7), Budget(tokens=150), Budget(50, 400)])
def test_budget_accounting_adds_up(name: str, budget: Budget) -> None:
    env, _ = resolve_env("Countdown")
    policy = CountingPolicy(RandomAgent(env, seed=3))
    planner = make_planner(name, policy, budget=budget, max_step_tokens=40, **PLANNERS[name])
    results = planner.plan_many(env, seeds=[0, 1, 2, 3])
    assert sum(r.cost.policy_calls for r in results) == policy.sequences
    assert sum(r.cost.tokens for r in results) == policy.tokens
    for r in results:
        if budget.policy_calls is not None:
            assert r.cost.policy_calls <= budget.policy_calls
        if budget.tokens is not None:
            assert r.cost.tokens <= budget.tokens
        assert r.cost.env_steps >= 0 and r.cost.seconds >= 0


def test_plan_many_batches_across_problems() -> None:
    env, _ = resolve_env("Game24")
    policy = CountingPolicy(RandomAgent(env, seed=0))
    BestOfN(policy, n=4, budget=40).plan_many(env, seeds=list(range(8)))
    # lockstep over 8 problems x 4 samples: one call per depth level, not one per problem
    assert policy.calls <= env.max_steps + 1
    assert policy.sequences > policy.calls * 8


@pytest.mark.parametrize("name", list(PLANNERS))
def test_reproducible_with_seed(name: str) -> None:
    env, _ = resolve_env("Countdown")

    def run() -> list[dict[str, Any]]:
        planner = make_planner(name, RandomAgent(env, seed=5), budget=30, seed=11, **PLANNERS[name])
        out = []
        for r in planner.plan_many(env, seeds=[3, 4]):
            d = r.to_json()
            d["cost"].pop("seconds")
            out.append(d)
        return out

    assert run() == run()


def test_tree_exports_and_reimports() -> None:
    env, _ = resolve_env("Countdown")
    r = MCTS(RandomAgent(env, seed=0), simulations=6, width=3, budget=40).plan(env, seed=2)
    assert r.tree is not None and len(r.tree) > 1
    data = json.loads(json.dumps(r.to_json()))
    back = SearchResult.from_json(data, env=env)
    assert back.to_json() == r.to_json()
    assert [n.visits for n in back.tree.nodes] == [n.visits for n in r.tree.nodes]
    assert back.tree.nodes[0].visits > 0
    for node in back.tree.nodes[1:]:  # states replay from the steps
        assert node.state is not None and node.state.steps[-1] == node.step


def _solvable(cand: Any) -> float:
    state = cand.state
    if state.done:
        return 1.0 if state.correct else 0.0
    values = [v for v, _ in state.data]
    return 1.0 if solve_numbers(values, Fraction(state.problem["target"])) else 0.0


def test_mcts_perfect_value_needs_fewer_simulations() -> None:
    env, _ = resolve_env("Countdown")
    used = {}
    for label, value in [("perfect", FunctionGuidance(_solvable)), ("constant", None)]:
        total = 0
        for seed in range(5):
            planner = MCTS(
                RandomAgent(env, seed=seed), simulations=60, width=4, guidance=value, budget=1500
            )
            r = planner.plan(env, seed=seed)
            if label == "perfect":
                assert score_result(env, r).correct
            total += r.info["simulations"]
        used[label] = total
    assert used["perfect"] < used["constant"], used


def test_mcts_rollout_values_and_final_temperature() -> None:
    env, _ = resolve_env("Game24")
    r = MCTS(
        RandomAgent(env, seed=0),
        simulations=4,
        guidance="rollout",
        temperature_final=1.0,
        budget=60,
    ).plan(env, seed=0)
    assert r.cost.policy_calls <= 60


class _NoReference:
    """Mixin: the reference answer (and the solver) may not be touched while the flag is up."""

    searching = False

    def check_answer(self, state: Any, answer: str) -> tuple[bool, str]:
        if self.searching:
            raise AssertionError("a planner looked at the reference answer")
        return super().check_answer(state, answer)  # type: ignore[misc]

    def reference_answer(self, problem: dict[str, Any]) -> str:
        if self.searching:
            raise AssertionError("a planner looked at the reference answer")
        return super().reference_answer(problem)  # type: ignore[misc]


class GuardedArithmetic(_NoReference, ArithmeticEnv):
    pass


class GuardedLinear(_NoReference, LinearEquationEnv):
    pass


@pytest.mark.parametrize("env_cls", [GuardedArithmetic, GuardedLinear])
@pytest.mark.parametrize("name", list(PLANNERS))
def test_planner_never_sees_the_reference(env_cls: type, name: str) -> None:
    env = env_cls()
    oracle_env = env_cls()  # the oracle policy is allowed its own solver, on its own env
    kwargs = dict(PLANNERS[name])
    if name == "best_of_n":
        kwargs["select"] = "vote"
    planner = make_planner(name, OracleAgent(oracle_env, seed=0), budget=40, **kwargs)
    env.searching = True
    try:
        results = planner.plan_many(env, seeds=[0, 1])
        results.append(planner.plan(env, seed=2))
    finally:
        env.searching = False
    for r in results:
        assert r.correct is None
        assert score_result(env, r).correct


def test_beam_with_a_prm_and_best_of_n_selections() -> None:
    env, _ = resolve_env("Arithmetic")

    class FakePRM:
        def __init__(self) -> None:
            self.seen = 0

        def score_steps(self, texts: list[str]) -> list[list[float]]:
            self.seen += len(texts)
            return [[0.9] * max(1, t.count("\n")) for t in texts]

        def score_transcripts(self, texts: list[str]) -> list[float]:
            self.seen += len(texts)
            return [0.5 for _ in texts]

    prm = FakePRM()
    r = BeamSearch(OracleAgent(env), guidance=prm, budget=30).plan(env, seed=0)
    assert score_result(env, r).correct
    assert r.cost.reward_model_calls == prm.seen > 0
    for select in ("vote", "orm", "prm", "logprob"):
        rm = prm if select in ("orm", "prm") else None
        r = BestOfN(RandomAgent(env, seed=0), n=4, select=select, guidance=rm).plan(env, seed=1)
        assert r.info["select"] == select
    with pytest.raises(ValueError, match="guidance"):
        BestOfN(RandomAgent(env), select="prm")


def test_revision_feedback_modes() -> None:
    env, _ = resolve_env("Game24")

    class FeedbackPolicy(RandomAgent):
        prompts: list[str] = []

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
            self.prompts.extend(observations)
            clean = [o.split("\nFeedback:")[0] for o in observations]
            return super().propose(clean, n, seed=seed)

    pol = FeedbackPolicy(env, seed=0)
    r = SequentialRevision(pol, rounds=6, budget=40, text_feedback=True).plan(env, seed=0)
    assert any("Feedback:" in p for p in pol.prompts) or not r.info["events"]
    for backtrack in ("entropy", "logprob"):
        r = SequentialRevision(
            RandomAgent(env, seed=1), feedback="internal", backtrack=backtrack, rounds=4, budget=40
        ).plan(env, seed=0)
        assert r.cost.policy_calls <= 40


def test_plan_with_pinned_problems() -> None:
    env, _ = resolve_env("Game24")
    pl = BeamSearch(OracleAgent(env), budget=40)
    r = pl.plan(env, problem={"numbers": [4, 9, 10, 13], "target": 24})
    assert r.problem["numbers"] == [4, 9, 10, 13] and score_result(env, r).correct
    r = pl.plan("Game24", problem={"numbers": [1, 1, 4, 6]})
    assert r.solved_without_reference is True
    ar, _ = resolve_env("Arithmetic")
    r = BeamSearch(OracleAgent(ar), budget=40).plan(ar, problem="(3 + 4) * 5 - 3")
    assert r.answer == "32" and r.solved_without_reference is None


def test_registry() -> None:
    assert {"best_of_n", "beam", "mcts", "revision"} <= set(list_planners())
    with pytest.raises(KeyError, match="Did you mean 'beam'"):
        make_planner("bean", RandomAgent(resolve_env("Game24")[0]))
    with pytest.raises(ValueError, match="already registered"):
        register_planner("mcts", MCTS)

    class Mine(Planner):
        name = "mine_test"

    register_planner("mine_test", Mine)
    with pytest.raises(ValueError, match="already registered"):
        register_planner("mine_test", Mine)
    register_planner("mine_test", Mine, override=True)
    assert "mine_test" in list_planners()
    with pytest.raises(TypeError):
        register_planner("bad_test", int)  # type: ignore[arg-type]


def test_bad_arguments() -> None:
    env, _ = resolve_env("Game24")
    with pytest.raises(TypeError, match="propose"):
        BestOfN(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Budget"):
        Budget(policy_calls=-1)
    with pytest.raises(ValueError, match="select"):
        BestOfN(RandomAgent(env), select="best")
    with pytest.raises(ValueError, match="guidance"):
        BeamSearch(RandomAgent(env), guidance="logprb")


def test_best_of_n_weighted_vote_sums_reward_model_scores() -> None:
    """Answers 5 (x3, ORM 0.3 each), 7 (x2, ORM 0.6 each) and 9 (x1, ORM 0.95): majority vote
    picks 5, the ORM's single best picks 9, the ORM-weighted vote picks 7 (1.2 > 0.95 > 0.9)."""
    env, _ = resolve_env("Arithmetic")
    answers = ["5", "5", "5", "7", "7", "9"]

    class Scripted:
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
            return [[Proposal(f"Answer: {answers[i]}", tokens=3)] for i in range(len(observations))]

    class AnswerORM:
        def score_transcripts(self, texts: list[str]) -> list[float]:
            return [{"5": 0.3, "7": 0.6, "9": 0.95}[t.rsplit(" ", 1)[-1]] for t in texts]

    def pick(**kw: Any) -> str:
        r = BestOfN(Scripted(), n=len(answers), **kw).plan(env, problem={"expression": "2 + 3"})
        return r.answer.rsplit(" ", 1)[-1]

    assert pick(select="vote") == "5"
    assert pick(select="orm", guidance=AnswerORM()) == "9"
    assert pick(select="orm", guidance=AnswerORM(), weighted_vote=True) == "7"
    with pytest.raises(ValueError, match="weighted_vote"):
        BestOfN(Scripted(), select="vote", weighted_vote=True)


def test_plan_together_shares_policy_calls_and_matches_plan_many() -> None:
    from thinkgym.search import plan_together

    env, _ = resolve_env("Arithmetic")

    class Counting(OracleAgent):
        calls = 0

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
            type(self).calls += 1
            return super().propose(observations, n, seed=seed)

    policy = Counting(env, seed=0)
    planners = [
        BestOfN(policy, n=2, select="vote", budget=40),
        BeamSearch(policy, beam_size=2, width=2, budget=40),
        SequentialRevision(policy, rounds=2, budget=40),
    ]
    seeds = [0, 1, 2]
    alone = []
    calls_alone = 0
    for p in planners:
        Counting.calls = 0
        alone.append(p.plan_many(env, seeds=seeds))
        calls_alone += Counting.calls
    Counting.calls = 0
    together = plan_together([(p, env, seeds, None) for p in planners])
    assert Counting.calls < calls_alone  # one call per round for all planners
    for a, b in zip(alone, together, strict=True):
        assert [r.steps for r in a] == [r.steps for r in b]
        assert [r.cost.policy_calls for r in a] == [r.cost.policy_calls for r in b]
        assert [r.planner for r in b] == [a[0].planner] * len(seeds)
        assert all(score_result(env, r).correct for r in b)
