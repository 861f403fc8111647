"""MCTS spends its whole budget and reuses its tree; beam search returns to pruned states."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

import thinkgym  # noqa: F401  (registers the envs)
from thinkgym.agents.base import Proposal, RandomAgent
from thinkgym.search import MCTS, BeamSearch, Budget, resolve_env, score_result

PROBLEM = {"numbers": [4, 9, 10, 13], "target": 24}


class Scripted:
    """A policy that answers by the last line of the transcript (no reference, no solver).

    From the root it proposes a likely step ``4 + 9`` (log-prob -0.1) that leads to a refuted
    answer, and an unlikely one ``13 - 9`` (log-prob -2) that leads to ``(13 - 9) * (10 - 4)``.
    """

    SCRIPT = {
        "Target: 24": [("4 + 9 = 13 (left: 10 13 13)", -0.1), ("13 - 9 = 4 (left: 4 10 4)", -2.0)],
        "4 + 9 = 13": [("Answer: 4 + 9 + 10 + 13 = 24", -0.1)],
        "13 - 9 = 4": [("10 - 4 = 6 (left: 4 6)", -0.1)],
        "10 - 4 = 6": [("4 * 6 = 24 (left: 24)", -0.1)],
        "4 * 6 = 24": [("Answer: (13 - 9) * (10 - 4) = 24", -0.1)],
    }

    def __init__(self) -> None:
        self.asked = 0

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
        out = []
        for obs in observations:
            last = obs.strip().splitlines()[-1]
            steps = next((v for k, v in self.SCRIPT.items() if k in last), [])
            props = [Proposal(t, logprob=lp, tokens=8) for t, lp in steps]
            out.append([props[k % len(props)] for k in range(n)] if props else [])
        return out


def test_beam_returns_to_a_pruned_state_when_the_live_beam_dies() -> None:
    env, _ = resolve_env("Game24")
    results = {}
    for backtrack in (True, False):
        policy = Scripted()
        planner = BeamSearch(policy, beam_size=1, width=2, budget=40, backtrack=backtrack)
        r = planner.plan(env, problem=PROBLEM)
        assert r.cost.policy_calls == policy.asked <= 40
        results[backtrack] = r
    # the classic beam follows the likely step into a refuted answer and has nothing left
    assert results[False].answer is None
    assert not score_result(env, results[False]).correct
    # with the frontier it resumes from the pruned `13 - 9` and solves the puzzle
    back = results[True]
    assert back.info["resumed"] >= 1
    assert back.steps[0].startswith("13 - 9 = 4")
    assert back.solved_without_reference is True
    assert score_result(env, back).correct


def test_beam_with_the_answer_check_off_resumes_and_keeps_both_answers() -> None:
    env, _ = resolve_env("Game24")
    r = BeamSearch(Scripted(), beam_size=1, width=2, budget=40, answer_check=False).plan(
        env, problem=PROBLEM
    )
    assert r.solved_without_reference is None  # no verdict during search
    answers = {c["answer"] for c in r.candidates}
    assert len(answers) == 2  # the dead-end answer and the resumed branch's answer
    assert all(c["solved"] is None for c in r.candidates)
    assert r.info["resumed"] >= 1


def test_beam_spends_budget_left_after_its_beams_end() -> None:
    env, _ = resolve_env("Game24")
    calls = {}
    for backtrack in (True, False):
        planner = BeamSearch(
            RandomAgent(env, seed=0),
            beam_size=2,
            width=3,
            budget=150,
            answer_check=False,
            backtrack=backtrack,
        )
        results = planner.plan_many(env, seeds=[0, 1])
        calls[backtrack] = sum(r.cost.policy_calls for r in results)
        if backtrack:  # it stops with budget left only when no pruned state is left
            for r in results:
                assert r.cost.policy_calls >= 150 - 2 * 3 or r.info["frontier"] == 0, r.info
    assert calls[True] > calls[False]


@pytest.mark.parametrize("check", [True, False])
@pytest.mark.parametrize("budget", [40, 100])
def test_mcts_spends_the_whole_budget(budget: int, check: bool) -> None:
    env, _ = resolve_env("Game24")
    width = 4
    planner = MCTS(
        RandomAgent(env, seed=1),
        simulations=6,
        width=width,
        budget=budget,
        answer_check=check,
    )
    for r in planner.plan_many(env, seeds=[0, 1, 2, 3]):
        assert r.cost.policy_calls <= budget
        if r.solved_without_reference is not True:  # not stopped early by a verified answer
            assert r.cost.policy_calls >= budget - width, r.info


def test_mcts_for_budget_uses_what_sizing_left_unused() -> None:
    env, _ = resolve_env("Game24")
    planner = MCTS.for_budget(RandomAgent(env, seed=0), Budget(policy_calls=100), depth=4)
    for r in planner.plan_many(env, seeds=[5, 6]):
        if r.solved_without_reference is not True:
            assert r.cost.policy_calls >= 100 - planner.width


def test_mcts_stops_when_the_whole_tree_is_searched() -> None:
    """A policy with one step per state: the tree closes long before the budget."""
    env, _ = resolve_env("Game24")
    policy = Scripted()
    r = MCTS(policy, simulations=4, width=2, budget=10_000, answer_check=False).plan(
        env, problem=PROBLEM
    )
    assert r.cost.policy_calls < 200  # it did not spin on a closed tree
    assert r.answer is not None


@pytest.mark.parametrize("reuse", [True, False])
def test_mcts_reuses_the_chosen_childs_subtree(reuse: bool) -> None:
    env, _ = resolve_env("Game24")
    planner = MCTS(
        RandomAgent(env, seed=3),
        simulations=4,
        width=3,
        budget=120,
        answer_check=False,
        reuse=reuse,
    )
    r = planner.plan(env, seed=7)
    moves = r.info["move_visits"]
    assert moves, r.info
    nodes = r.tree.nodes
    first = moves[0]
    detached = [n.id for n in nodes if n.parent == first["node"]]
    detached = [i for i in detached if i not in nodes[first["node"]].children]
    if reuse:
        assert first["visits"] >= 2  # the chosen child had been searched before the move
        for m in moves:  # its statistics carry over into the next move, never reset
            assert nodes[m["node"]].visits >= m["visits"]
        assert detached == []  # its subtree is kept
    else:
        assert detached or nodes[first["node"]].visits < first["visits"]


class DeadEnd(Scripted):
    """The likely first step leads to a state where every proposal is a false step."""

    SCRIPT = {
        "Target: 24": [("4 + 9 = 13 (left: 10 13 13)", -0.1), ("13 - 9 = 4 (left: 4 10 4)", -2.0)],
        "4 + 9 = 13": [("10 + 13 = 24 (left: 13 24)", -0.1)],  # false: rejected by the check
        "13 - 9 = 4": [("10 - 4 = 6 (left: 4 6)", -0.1)],
        "10 - 4 = 6": [("4 * 6 = 24 (left: 24)", -0.1)],
        "4 * 6 = 24": [("Answer: (13 - 9) * (10 - 4) = 24", -0.1)],
    }


def test_beam_leaves_a_state_whose_proposals_are_all_rejected_for_the_frontier() -> None:
    env, _ = resolve_env("Game24")
    policy = DeadEnd()
    # width 2, one beam, 12 calls: the dead end costs 2 calls, then the frontier's `13 - 9`
    # gets its turn (4 steps x 2 calls); retrying the dead end would spend the budget there
    planner = BeamSearch(policy, beam_size=1, width=2, budget=12)
    r = planner.plan(env, problem=PROBLEM)
    assert r.cost.policy_calls == policy.asked <= 12
    assert r.steps[0].startswith("13 - 9 = 4") and r.solved_without_reference is True
    assert score_result(env, r).correct
    # a dead end is retried only once nothing that has not failed is left
    tree_steps = [n.step for n in r.tree.nodes if n.step]
    assert tree_steps.count("4 + 9 = 13 (left: 10 13 13)") == 1


def test_fit_width_keeps_the_paths_in_hand_finishable() -> None:
    from thinkgym.search.budget import Meter
    from thinkgym.search.planner import fit_width

    class Ctx:
        def __init__(self, calls: int | None) -> None:
            self.meter = Meter(Budget(policy_calls=calls), step_token_bound=48)

    assert fit_width(Ctx(16), 4, rows=1, depth=0, depth_hint=4) == 4
    assert fit_width(Ctx(6), 4, rows=1, depth=1, depth_hint=4) == 2  # 3 steps left, 6 calls
    assert fit_width(Ctx(2), 4, rows=2, depth=3, depth_hint=4) == 1  # never below one
    assert fit_width(Ctx(6), 4, rows=1, depth=9, depth_hint=4) == 4  # past the hint: 1 step left
    assert fit_width(Ctx(6), 4, rows=1, depth=0, depth_hint=None) == 4
    assert fit_width(Ctx(None), 4, rows=1, depth=0, depth_hint=4) == 4
