"""Gumbel MCTS, DVTS, the auto planner, best-of-N's vote variants, final-choice rules and the
step check switched off: budgets, honesty, seeds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

# the env classes that fail a test when a planner reads the reference (shared with the planner tests)
from test_planners import GuardedArithmetic, GuardedLinear

import thinkgym  # noqa: F401  (registers the envs)
from thinkgym.agents.base import OracleAgent, Proposal, RandomAgent
from thinkgym.search import (
    BestOfN,
    Budget,
    FunctionGuidance,
    RewardModelGuidance,
    make_planner,
    resolve_env,
    score_result,
)
from thinkgym.search.auto import AutoPlanner
from thinkgym.search.dvts import DVTS
from thinkgym.search.guidance import with_aggregate
from thinkgym.search.gumbel_mcts import GumbelMCTS
from thinkgym.search.selection import choose_final

NEW = {
    "gumbel_mcts": {"k": 4, "width": 2},
    "dvts": {"subtrees": 3, "width": 2},
    "auto": {"probe": 2},
    "best_of_n_vote": {"n": 4},
    "best_of_n_weighted": {"n": 4},
}


class CountingPolicy:
    """Wraps a scripted agent and counts the sequences and tokens it generates."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sequences = 0
        self.tokens = 0

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
        for lst in out:
            self.sequences += len(lst)
            # a policy stops at max_new_tokens; the scripted agent writes whole lines, so count
            # what a policy honouring the bound would have generated
            self.tokens += sum(min(p.tokens, max_new_tokens) for p in lst)
        return out


class HalfScorePRM:
    """A PRM that scores every step 0.5 and counts the texts it scored."""

    def __init__(self) -> None:
        self.seen = 0

    def score_steps(self, texts: list[str]) -> list[list[float]]:
        self.seen += len(texts)
        return [[0.5] * max(1, t.count("\n")) for t in texts]


@pytest.mark.parametrize("env_id", ["Game24", "Countdown", "Arithmetic", "LinearEquation"])
@pytest.mark.parametrize("name", list(NEW))
def test_oracle_solves_within_budget(env_id: str, name: str) -> None:
    env, _ = resolve_env(env_id)
    planner = make_planner(name, OracleAgent(env, seed=0), budget=60, **NEW[name])
    for r in planner.plan_many(env, seeds=[0, 1]):
        assert r.correct is None  # filled only after search
        assert score_result(env, r).correct, (env_id, name, r.steps)
        assert r.cost.policy_calls <= 60


@pytest.mark.parametrize("name", list(NEW))
@pytest.mark.parametrize(
    "budget",
    [
        Budget(policy_calls=7),
        Budget(tokens=150),
        Budget(policy_calls=50, tokens=400),
        Budget(policy_calls=40, reward_model_calls=5),
    ],
)
def test_budget_never_exceeded(name: str, budget: Budget) -> None:
    env, _ = resolve_env("Countdown")
    policy = CountingPolicy(RandomAgent(env, seed=3))
    prm = HalfScorePRM()
    planner = make_planner(
        name, policy, budget=budget, guidance=prm, max_step_tokens=40, **NEW[name]
    )
    results = planner.plan_many(env, seeds=[0, 1, 2, 3])
    assert sum(r.cost.policy_calls for r in results) == policy.sequences
    assert sum(r.cost.tokens for r in results) == policy.tokens
    if name != "best_of_n_vote":
        assert sum(r.cost.reward_model_calls for r in results) == prm.seen
    for r in results:
        for unit in ("policy_calls", "tokens", "reward_model_calls"):
            limit = getattr(budget, unit)
            assert limit is None or getattr(r.cost, unit) <= limit, (unit, r.cost)


@pytest.mark.parametrize("name", list(NEW))
def test_deterministic_under_a_seed(name: str) -> None:
    env, _ = resolve_env("Countdown")

    def run(seed: int) -> list[dict[str, Any]]:
        planner = make_planner(
            name,
            RandomAgent(env, seed=5),
            budget=30,
            seed=seed,
            guidance=HalfScorePRM(),
            **NEW[name],
        )
        out = []
        for r in planner.plan_many(env, seeds=[3, 4]):
            d = r.to_json()
            d["cost"].pop("seconds")
            out.append(d)
        return out

    assert run(11) == run(11)


@pytest.mark.parametrize("env_cls", [GuardedArithmetic, GuardedLinear])
@pytest.mark.parametrize("name", list(NEW))
@pytest.mark.parametrize("step_check", [True, False])
def test_no_reference_seen(env_cls: type, name: str, step_check: bool) -> None:
    env = env_cls()
    oracle_env = env_cls()  # the oracle policy may use its own solver, on its own env
    planner = make_planner(  # depth given: sizing never runs the task's solver on `env`
        name,
        OracleAgent(oracle_env, seed=0),
        budget=40,
        depth=4,
        step_check=step_check,
        **NEW[name],
    )
    env.searching = True
    try:
        results = planner.plan_many(env, seeds=[0, 1])
    finally:
        env.searching = False
    for r in results:
        assert r.correct is None
        assert r.info["step_check"] is step_check
        assert score_result(env, r).correct


# -- the step check switched off


def test_apply_unchecked_takes_a_false_step_as_claimed() -> None:
    env, _ = resolve_env("Game24")
    env.reset(options={"numbers": [4, 9, 10, 13]})
    s = env.get_state()
    false = "13 - 9 = 5 (left: 4 5 10)"
    _, ok, err = env.apply(s, false)
    assert not ok and "not 5" in err
    nxt, ok, err = env.apply_unchecked(s, false)
    assert ok and err == "" and nxt.steps == (false,) and nxt.t == 1
    assert nxt.data == s.data  # the working state did not follow a false claim
    right, ok, _ = env.apply_unchecked(s, "13 - 9 = 4")
    assert ok and right.steps == ("13 - 9 = 4",)  # written as given, not normalised
    assert right.data == env.apply(s, "13 - 9 = 4")[0].data
    for bad in ("", "a\nb", "x" * 1000):
        assert env.apply_unchecked(s, bad)[1] is False  # not a step at all
    # answers as in apply: the reference-free answer check still judges them
    answered, ok, _ = env.apply_unchecked(s, "Answer: (13 - 9) * (10 - 4) = 24")
    assert ok and answered.done and answered.correct is True
    answered, ok, _ = env.apply_unchecked(s, "Answer: 13 + 9 + 4 - 10 = 24")
    assert ok and answered.done and answered.correct is False


class LiarPolicy:
    """Proposes a false first step, then the steps of a right solution from there on."""

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
        out = []
        for obs in observations:
            depth = obs.count("\n")
            step = ["13 - 9 = 5 (left: 4 5 10)", "10 - 4 = 6", "5 * 6 = 30", "Answer: 24"][
                min(depth, 3)
            ]
            out.append([Proposal(step, logprob=-0.1, tokens=5) for _ in range(n)])
        return out


@pytest.mark.parametrize("name", ["best_of_n", "beam", "mcts", "gumbel_mcts", "dvts", "auto"])
def test_step_check_off_keeps_false_steps_and_scoring_fails_them(name: str) -> None:
    env, _ = resolve_env("Game24")
    problem = {"numbers": [4, 9, 10, 13]}
    on = make_planner(name, LiarPolicy(), budget=24, answer_check=False)
    r_on = on.plan(env, problem=problem)
    assert "13 - 9 = 5 (left: 4 5 10)" not in r_on.steps  # the check rejected it
    off = make_planner(name, LiarPolicy(), budget=24, answer_check=False, step_check=False)
    r_off = off.plan(env, problem=problem)
    assert r_off.info["step_check"] is False
    assert r_off.steps[0] == "13 - 9 = 5 (left: 4 5 10)"  # kept as claimed
    assert score_result(env, r_off).correct is False  # scoring replays with the check on


# -- final choice and aggregation


def test_choose_final_rules() -> None:
    answers = ["Answer: 5", "Answer: 5", "Answer: 5", "Answer: 7", "Answer: 7", "Answer: 9"]
    scores = [0.3, 0.3, 0.3, 0.6, 0.6, 0.95]
    lps = [0.0] * 6
    assert answers[choose_final(answers, scores, lps, "vote")] == "Answer: 5"
    assert answers[choose_final(answers, scores, lps, "best")] == "Answer: 9"
    assert answers[choose_final(answers, scores, lps, "weighted_vote")] == "Answer: 7"
    # a non-finite score counts as unscored, never as the best
    assert choose_final(["a = 1", "a = 2"], [float("nan"), 0.1], [0.0, 0.0], "best") == 1
    with pytest.raises(ValueError, match="final='max'"):
        choose_final(answers, scores, lps, "max")
    with pytest.raises(ValueError, match="one of each"):
        choose_final(answers, scores[:2], lps, "best")


@pytest.mark.parametrize(
    ("how", "expected"),
    [("min", 0.2), ("last", 0.9), ("prod", 0.2 * 0.5 * 0.9), ("mean", 0.8 / 1.5)],
)
def test_with_aggregate_rescores_a_prm(how: str, expected: float) -> None:
    class StepPRM:
        def score_steps(self, texts: list[str]) -> list[list[float]]:
            return [[0.2, 0.5, 0.9] for _ in texts]

    base = RewardModelGuidance(StepPRM())
    g = with_aggregate(base, how)
    assert isinstance(g, RewardModelGuidance) and g.aggregate == how
    assert g.score_texts(["x"])[0] == pytest.approx(expected)
    assert with_aggregate(base, None) is base
    with pytest.raises(ValueError, match="aggregate='max'"):
        with_aggregate(base, "max")


class ScriptedAnswers:
    """Every observation gets its own answer from a fixed list (sample i answers answers[i])."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers

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
        k = len(self.answers)
        return [
            [Proposal(f"Answer: {self.answers[(i * n + j) % k]}", tokens=3) for j in range(n)]
            for i in range(len(observations))
        ]


class AnswerPRM:
    """Scores a transcript by its last answer: 5 -> 0.3, 7 -> 0.6, 9 -> 0.95."""

    def score_steps(self, texts: list[str]) -> list[list[float]]:
        return [[{"5": 0.3, "7": 0.6, "9": 0.95}[t.rsplit(" ", 1)[-1]]] for t in texts]


def test_weighted_best_of_n_and_dvts_vote_by_summed_scores() -> None:
    env, _ = resolve_env("Arithmetic")
    answers = ["5", "5", "5", "7", "7", "9"]
    problem = {"expression": "2 + 3"}

    def ans(r: Any) -> str:
        return r.answer.rsplit(" ", 1)[-1]

    policy = ScriptedAnswers(answers)
    assert (
        ans(
            make_planner("best_of_n_vote", policy, n=6, guidance=AnswerPRM()).plan(
                env, problem=problem
            )
        )
        == "5"
    )
    assert ans(BestOfN(policy, n=6, guidance=AnswerPRM()).plan(env, problem=problem)) == "9"
    weighted = make_planner("best_of_n_weighted", policy, n=6, guidance=AnswerPRM())
    assert ans(weighted.plan(env, problem=problem)) == "7"
    # DVTS: one subtree of width 6 sees all six answers; its pool is voted on
    for final, expected in (("weighted_vote", "7"), ("best", "9"), ("vote", "5")):
        dvts = DVTS(policy, subtrees=1, width=6, guidance=AnswerPRM(), final=final, budget=6)
        r = dvts.plan(env, problem=problem)
        assert ans(r) == expected, final
        assert len(r.candidates) == 3  # duplicates merge: one candidate per distinct step


def test_dvts_subtrees_are_independent_and_spend_the_budget() -> None:
    env, _ = resolve_env("Game24")
    policy = CountingPolicy(RandomAgent(env, seed=2))
    planner = DVTS(policy, subtrees=4, width=3, guidance=HalfScorePRM(), budget=96)
    r = planner.plan(env, problem={"numbers": [4, 9, 10, 13]})
    assert r.cost.policy_calls == 96  # restarts spend what is left
    assert r.info["subtrees"] >= 4
    # the root's children are the first steps of every subtree: 4 subtrees x up to 3 steps
    assert len(r.tree.root.children) > 3


# -- Gumbel MCTS


def test_gumbel_solve_rate_does_not_fall_with_budget() -> None:
    """With a random policy and a value that knows whether 24 is still reachable, more budget
    never solves fewer of the problems (same seeds)."""
    env, _ = resolve_env("Game24")
    from thinkgym.envs.countdown import solve_numbers

    def reachable(c: Any) -> float:
        if c.state.done:
            return 1.0 if c.state.correct else 0.0
        values = [v for v, _ in c.state.data]
        return 1.0 if solve_numbers(values, 24) is not None else 0.0

    value = FunctionGuidance(reachable, name="reachable")
    rates = []
    for budget in (8, 32, 128):
        planner = make_planner(
            "gumbel_mcts", RandomAgent(env, seed=4), budget=budget, guidance=value
        )
        rs = planner.plan_many(env, seeds=list(range(8)))
        rates.append(sum(bool(score_result(env, r).correct) for r in rs))
        assert all(r.cost.policy_calls <= budget for r in rs)
    assert rates == sorted(rates) and rates[-1] > rates[0], rates


def test_gumbel_sequential_halving_visits_and_completed_q() -> None:
    env, _ = resolve_env("Countdown")
    planner = GumbelMCTS(
        RandomAgent(env, seed=1), k=4, width=2, simulations=16, guidance=HalfScorePRM(), budget=80
    )
    r = planner.plan(env, seed=0)
    assert r.info["moves"] and r.info["moves"][0]["considered"] <= 4
    root = r.tree.root
    kids = [r.tree.nodes[c] for c in root.children]
    # completed Q: an unvisited child gets v_mix, a visited one its mean value
    kids[0].visits, kids[0].value_sum = 0, 0.0
    q = planner._completed_q(r.tree.nodes, root)
    assert q[1:] == [k.value for k in kids[1:]]
    assert 0.0 <= q[0] <= 1.0
    with pytest.raises(ValueError, match="k=0"):
        GumbelMCTS(RandomAgent(env), k=0)
    with pytest.raises(ValueError, match="final="):
        GumbelMCTS(RandomAgent(env), final="max")


# -- auto


@pytest.mark.parametrize(("value", "bin_name"), [(0.9, "easy"), (0.5, "medium"), (0.1, "hard")])
def test_auto_routes_by_the_probes_confidence(value: float, bin_name: str) -> None:
    env, _ = resolve_env("Arithmetic")
    guidance = FunctionGuidance(lambda c: value, name="const")
    planner = AutoPlanner(
        RandomAgent(env, seed=0), probe=3, guidance=guidance, signal="verifier", budget=60
    )
    r = planner.plan(env, seed=1)
    assert r.info["bin"] == bin_name and r.info["arm"] == planner.arm_names[bin_name]
    assert r.info["confidence"] == pytest.approx(value)
    assert r.cost.policy_calls <= 60


def test_auto_sizes_its_arms_for_the_budget_left_and_checks_arguments() -> None:
    env, _ = resolve_env("Game24")
    planner = make_planner("auto", RandomAgent(env), budget=100)
    assert planner.probe >= 1
    left = 100 - planner.probe * planner.depth
    assert planner.arms["easy"].n == left // planner.depth
    with pytest.raises(ValueError, match="unknown bins"):
        AutoPlanner(RandomAgent(env), arms={"tiny": "beam"})
    with pytest.raises(ValueError, match="itself"):
        AutoPlanner(RandomAgent(env), arms={"easy": "auto"})
    with pytest.raises(ValueError, match="signal='verifier' needs guidance"):
        AutoPlanner(RandomAgent(env), signal="verifier")
    with pytest.raises(ValueError, match="low="):
        AutoPlanner(RandomAgent(env), low=0.8, high=0.2)
