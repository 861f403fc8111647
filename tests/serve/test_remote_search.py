"""Planners, the rollout collector and the SB3 wrappers on a served env, against the local env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

httpx = pytest.importorskip("httpx")

import thinkgym  # noqa: E402,F401
from thinkgym.agents.base import OracleAgent, RandomAgent  # noqa: E402
from thinkgym.envs.wrappers import CandidateStepWrapper  # noqa: E402
from thinkgym.learning.rollout import collect  # noqa: E402
from thinkgym.remote import RemoteEnv, RemoteEnvError  # noqa: E402
from thinkgym.search import make_planner, score_result  # noqa: E402

PROBLEMS = [{"numbers": [4, 9, 10, 13]}, {"numbers": [1, 1, 4, 6]}]


@pytest.fixture
def remote(servers):
    env = RemoteEnv(servers["main"].url)
    yield env
    env.close()


def _local() -> gym.Env:
    return gym.make("thinkgym/Game24-v0")


@pytest.mark.parametrize(
    ("name", "checks"),
    [
        ("best_of_n", {}),
        ("beam", {}),
        ("mcts", {"answer_check": False}),
        ("gumbel_mcts", {"step_check": False}),
        ("dvts", {"answer_check": False}),
    ],
)
def test_planners_search_a_served_env_as_they_search_the_local_one(remote, name, checks) -> None:
    for problem in PROBLEMS:
        got = make_planner(name, RandomAgent(_local(), seed=3), budget=24, env=remote, **checks)
        want = make_planner(name, RandomAgent(_local(), seed=3), budget=24, env="Game24", **checks)
        r = score_result(remote, got.plan(remote, problem=problem, seed=1))
        w = score_result("Game24", want.plan("Game24", problem=problem, seed=1))
        assert r.steps == w.steps and r.answer == w.answer
        assert r.correct == w.correct
        assert r.cost.policy_calls == w.cost.policy_calls <= 24
        assert r.env_id == "thinkgym/Game24-v0"
    # the solver stays on the server: the oracle's answer is graded there
    oracle = make_planner("greedy", OracleAgent(_local(), seed=0), env=remote)
    assert score_result(remote, oracle.plan(remote, problem=PROBLEMS[0])).correct is True


def test_a_served_env_hands_out_no_reference(remote) -> None:
    remote.reset(seed=2)
    state = remote.get_state()
    assert set(state.problem) == {"ref", "text", "data", "key"}
    assert "24" in state.problem["text"] and isinstance(state.data, str)
    with pytest.raises(NotImplementedError, match="solver stays on the server"):
        remote.solve(state.problem)
    # a step checked without the reference leaves a right answer's verdict to the grader
    right = _local().unwrapped
    right.reset(options={"numbers": [1, 1, 4, 6]})
    steps = right.solve(right.get_state().problem)
    pinned = remote.problem_from_options({"numbers": [1, 1, 4, 6]})
    st = remote.initial_state(pinned)
    for step in steps:
        st, ok, err = remote.apply(st, step)
        assert ok, err
    assert st.done and st.correct is True  # Game24 checks its answers without the reference


def test_rollouts_over_the_wire_equal_local_rollouts(remote) -> None:
    problems = [{"seed": 1}, {"seed": 2}]
    got = collect(RandomAgent(_local(), seed=3), remote, problems, samples=2, seed=0)
    want = collect(RandomAgent(_local(), seed=3), "Game24", problems, samples=2, seed=0)
    assert len(got) == len(want) == 4
    for g, w in zip(got, want, strict=True):
        assert [(s.observation, s.action, s.reward, s.valid) for s in g.steps] == [
            (s.observation, s.action, s.reward, s.valid) for s in w.steps
        ]


def test_the_sb3_candidate_wrapper_runs_over_the_wire(remote) -> None:
    from stable_baselines3.common.env_checker import check_env

    got, want = CandidateStepWrapper(remote, k=8), CandidateStepWrapper(_local(), k=8)
    g_obs, g_info = got.reset(seed=4)
    w_obs, w_info = want.reset(seed=4)
    assert np.array_equal(g_obs, w_obs)
    assert np.array_equal(g_info["action_mask"], w_info["action_mask"])
    for action in (0, 1, 0, 0):
        g, w = got.step(action), want.step(action)
        assert np.array_equal(g[0], w[0]) and g[1:4] == w[1:4]
        if g[2] or g[3]:
            break
    check_env(got)


def test_states_from_elsewhere_are_refused_clearly(remote, servers) -> None:
    local = _local().unwrapped
    local.reset(seed=0)
    remote.reset(seed=0)
    with pytest.raises(RemoteEnvError, match="not made by a RemoteEnv"):
        remote.apply(local.get_state(), "1 + 1 = 2")
    other = RemoteEnv(servers["main"].url)
    try:
        other.reset(seed=0)
        with pytest.raises(RemoteEnvError, match="holds no state handle"):
            other.apply(remote.get_state(), "13 - 9 = 4")  # another session's handles
    finally:
        other.close()
    with httpx.Client(base_url=servers["main"].url, timeout=30) as c:
        sid = c.post("/sessions").json()["session_id"]
        try:
            r = c.post(f"/sessions/{sid}/task", json={"op": "exec", "state": None})
            assert r.status_code == 422 and "op" in r.json()["detail"]
            r = c.post(f"/sessions/{sid}/task", json={"op": "check_step", "step": "1 + 1 = 2"})
            assert r.status_code == 422 and "needs a state" in r.json()["detail"]
            bad = {"problem": "p999", "data": "d999", "steps": [], "t": 0}
            r = c.post(f"/sessions/{sid}/task", json={"op": "candidate_steps", "state": bad})
            assert r.status_code == 404 and "holds no state handle" in r.json()["detail"]
            r = c.post(f"/sessions/{sid}/task", json={"op": "features", "state": bad, "x": 1})
            assert r.status_code == 422 and "unknown field" in r.json()["detail"]
            assert c.get("/health").status_code == 200  # still serving
        finally:
            c.delete(f"/sessions/{sid}")


def test_a_task_whose_answers_need_the_reference_searches_over_the_wire(servers) -> None:
    remote = RemoteEnv(servers["arith"].url)
    try:

        def local() -> gym.Env:
            return gym.make("thinkgym/Arithmetic-v0", difficulty=2)

        for name in ("best_of_n", "mcts", "dvts"):
            got = make_planner(name, RandomAgent(local(), seed=3), budget=24, env=remote)
            want = make_planner(name, RandomAgent(local(), seed=3), budget=24, env=local())
            r = score_result(remote, got.plan(remote, seed=5))
            w = score_result(local(), want.plan(local(), seed=5))
            assert (r.steps, r.correct) == (w.steps, w.correct)
            assert r.solved_without_reference is None  # no verdict without the reference
        oracle = make_planner("greedy", OracleAgent(local(), seed=0), env=remote)
        assert score_result(remote, oracle.plan(remote, seed=7)).correct is True
        got, want = CandidateStepWrapper(remote, k=8), CandidateStepWrapper(local(), k=8)
        assert np.array_equal(got.reset(seed=4)[0], want.reset(seed=4)[0])
        assert got.step(0)[1:4] == want.step(0)[1:4]
    finally:
        remote.close()
