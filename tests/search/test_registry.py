"""``make_planner(name, policy, budget=B)`` sizes every planner to its budget, as the bench does."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from thinkgym.agents import Proposal
from thinkgym.envs import EnvState, ReasoningEnv, StepCheck
from thinkgym.search import MCTS, BeamSearch, BestOfN, make_planner, score_result
from thinkgym.search.registry import DEFAULT_DEPTH, task_depth


class CountEnv(ReasoningEnv):
    """Count from 0 to 6 by ``add 1``: six steps and an answer line, 7 steps per solution."""

    default_max_steps = 12
    outcome_needs_reference = True
    option_keys = ("problem",)

    def generate_problem(self, rng: np.random.Generator) -> dict[str, Any]:
        return {"target": 6}

    def format_problem(self, problem: dict[str, Any]) -> str:
        return f"Count to {problem['target']} from 0."

    def parse_problem(self, text: str) -> dict[str, Any]:
        return {"target": int(text.split()[2].rstrip("."))}

    def initial_data(self, problem: dict[str, Any]) -> int:
        return 0

    def check_step(self, state: EnvState, step: str) -> StepCheck:
        if step.split("->")[0].strip() != "add 1" or state.data >= state.problem["target"]:
            return StepCheck(False, "write 'add 1' until the target")
        return StepCheck(True, data=state.data + 1, text=f"add 1 -> {state.data + 1}")

    def reference_answer(self, problem: dict[str, Any]) -> str:
        return str(problem["target"])

    def check_answer(self, state: EnvState, answer: str) -> tuple[bool, str]:
        ok = answer.strip() == str(state.data) == self.reference_answer(state.problem)
        return ok, "" if ok else "wrong"

    def solve(self, problem: dict[str, Any]) -> list[str]:
        return ["add 1"] * problem["target"] + [f"Answer: {problem['target']}"]


class CountingPolicy:
    """Proposes ``add 1`` until the count is reached, then the answer; a wrong step 1 in 4."""

    def __init__(self) -> None:
        self.calls = 0

    def propose(self, observations: list[str], n: int = 1, **kwargs: Any) -> list[list[Proposal]]:
        out = []
        for obs in observations:
            done = obs.count("add 1 ->")
            props = []
            for k in range(n):
                self.calls += 1
                if k % 4 == 3:
                    text = "subtract 1"
                else:
                    text = "Answer: 6" if done >= 6 else "add 1"
                props.append(Proposal(text, -0.5 - 0.1 * k, 0.1, 3))
            out.append(props)
        return out


@pytest.fixture()
def env() -> CountEnv:
    return CountEnv(split="all")


def test_task_depth_is_the_solution_length(env) -> None:
    assert task_depth(env) == 7
    assert task_depth("Game24") == 4


def test_best_of_n_draws_as_many_samples_as_the_budget_pays_for(env) -> None:
    policy = CountingPolicy()
    assert make_planner("best_of_n", policy, budget=64, depth=1).n == 64
    planner = make_planner("best_of_n", policy, budget=64, env=env, answer_check=False)
    assert planner.n == 64 // 7
    result = planner.plan(env, seed=0)
    assert result.info["samples"] == 9
    assert result.cost.policy_calls <= 64
    assert score_result(env, result).correct
    # what you pass wins over the sizing
    assert make_planner("best_of_n", policy, budget=64, env=env, n=3).n == 3


def test_without_an_env_the_planner_sizes_itself_at_plan_time(env) -> None:
    planner = make_planner("best_of_n", CountingPolicy(), budget=64, answer_check=False)
    assert planner.n == 64 // DEFAULT_DEPTH  # until it sees the task
    planner.temperature = 0.7  # set by hand: kept through the sizing
    result = planner.plan(env, seed=0)
    assert planner.n == 9 and result.info["samples"] == 9
    assert planner.temperature == 0.7 and planner.answer_check is False
    assert score_result(env, result).correct  # 16 lockstep samples of 4 steps would finish none


def test_mcts_and_beam_are_sized_like_the_bench_and_mcts_spends_its_budget(env) -> None:
    policy = CountingPolicy()
    for name, cls in (("mcts", MCTS), ("beam", BeamSearch)):
        planner = make_planner(name, policy, budget=64, env=env)
        reference = cls.for_budget(policy, 64, depth=7)
        for attr in ("width", "simulations", "beam_size"):
            assert getattr(planner, attr, None) == getattr(reference, attr, None), (name, attr)
    mcts = make_planner("mcts", policy, budget=64, answer_check=False)  # sized at plan time
    result = mcts.plan(env, seed=0)
    assert mcts.simulations == MCTS.sizing(64, 7)["simulations"]
    assert result.cost.policy_calls >= 56  # the budget is spent, not left unused
    assert result.cost.policy_calls <= 64
    assert score_result(env, result).correct


def test_greedy_and_unbudgeted_planners_keep_their_defaults(env) -> None:
    policy = CountingPolicy()
    assert make_planner("greedy", policy, budget=64).budget.policy_calls is None
    assert make_planner("best_of_n", policy).n == BestOfN(policy).n


def test_bad_depth_is_refused() -> None:
    with pytest.raises(ValueError, match="depth=0"):
        make_planner("beam", CountingPolicy(), budget=8, depth=0)


def test_eval_problems_items_are_problems_every_planner_function_takes() -> None:
    from thinkgym.agents import OracleAgent
    from thinkgym.envs import eval_problems
    from thinkgym.search.context import resolve_env
    from thinkgym.search.sharded import plan_sharded

    env, _ = resolve_env("Game24")
    items = eval_problems("Game24", 3)
    planner = make_planner("best_of_n", OracleAgent(env, seed=0), budget=8)
    pinned = [i["options"]["problem"] for i in items]
    for problems in (items, [i["options"] for i in items], pinned):
        results = planner.plan_many(env, problems=problems)
        assert [r.problem for r in results] == pinned
        assert all(score_result(env, r).correct for r in results)
    results = plan_sharded(planner, env, problems=items)
    assert [r.problem for r in results] == pinned
    # the other shape of reset keyword arguments: a seed
    env.reset(seed=5)
    by_seed = env.get_state().problem
    assert planner.plan_many(env, problems=[{"seed": 5}])[0].problem == by_seed


def test_the_depth_is_measured_once_per_env(env, monkeypatch) -> None:
    import thinkgym.search.registry as registry

    calls = []
    real = registry.task_depth
    monkeypatch.setattr(registry, "task_depth", lambda e: calls.append(e) or real(e))
    planner = make_planner("best_of_n", CountingPolicy(), budget=64)
    for seed in range(3):
        planner.plan(env, seed=seed)
    assert len(calls) == 1 and planner.n == 9
    planner.plan("Game24", seed=0)  # another task: sized again
    planner.plan("Game24", seed=1)  # the same id and kwargs: not measured again
    assert len(calls) == 2 and planner.n == 16
