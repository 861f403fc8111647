"""A served env against a real server process: bad input, capacity, parity, expiry, a killed server."""

from __future__ import annotations

import threading
import time
import uuid

import gymnasium as gym
import numpy as np
import pytest

httpx = pytest.importorskip("httpx")

import thinkgym  # noqa: E402,F401
from thinkgym.agents import OracleAgent  # noqa: E402
from thinkgym.remote import RemoteEnv, RemoteEnvError  # noqa: E402

JSON = {"content-type": "application/json"}


def _open(client: httpx.Client) -> str:
    r = client.post("/sessions")
    assert r.status_code == 201, r.text
    return r.json()["session_id"]


def _step(client: httpx.Client, sid: str, step: str) -> httpx.Response:
    return client.post(f"/sessions/{sid}/step", json={"action": {"step": step}})


def test_bad_requests_get_a_clear_4xx_and_the_server_keeps_serving(servers) -> None:
    with httpx.Client(base_url=servers["main"].url, timeout=30) as c:
        sid = _open(c)
        r = c.post(f"/sessions/{sid}/reset", json={"seed": 3})
        assert r.status_code == 200 and r.json()["observation"]["transcript"].startswith("Numbers:")

        r = c.post(f"/sessions/{sid}/step", content=b'{"action": {"ste', headers=JSON)
        assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]

        r = c.post(f"/sessions/{sid}/step", json={"action": {"step": "1 + 1 = 2"}, "foo": 1})
        assert r.status_code == 422 and "unknown field 'foo'" in r.json()["detail"]
        r = c.post(f"/sessions/{sid}/step", json={"action": {"step": "1 + 1 = 2", "bogus": 1}})
        assert r.status_code == 422 and "unknown field 'action.bogus'" in r.json()["detail"]
        r = c.post(f"/sessions/{sid}/reset", json={"seed": 1, "colour": "red"})
        assert r.status_code == 422 and "unknown field 'colour'" in r.json()["detail"]
        r = c.post(f"/sessions/{sid}/reset", json={"options": {"numbrs": [1, 2, 3, 4]}})
        assert r.status_code == 422 and "unknown key 'numbrs'" in r.json()["detail"]

        big = b'{"action": {"step": "' + b"1" * 10_000_000 + b'"}}'
        r = c.post(f"/sessions/{sid}/step", content=big, headers=JSON)
        assert r.status_code == 413 and f"{len(big)} bytes" in r.json()["detail"]

        r = _step(c, sid, "13 - 9 = 4\x01\x02")
        assert r.status_code == 422
        assert "control character '\\x01' at position 10" in r.json()["detail"]
        assert "1" * 50 not in r.text  # errors never echo the input back

        for foreign in (str(uuid.uuid4()), "someone-elses-session"):
            r = _step(c, foreign, "1 + 1 = 2")
            assert r.status_code == 404 and "no session" in r.json()["detail"]
            assert "POST /sessions" in r.json()["detail"]

        # the session is untouched by all of that: its episode goes on and ends
        env = gym.make("thinkgym/Game24-v0")
        env.reset(seed=3)
        steps = env.unwrapped.solve(env.unwrapped.get_state().problem)
        for step in steps:
            r = _step(c, sid, step)
            assert r.status_code == 200 and r.json()["observation"]["valid"], r.text
        assert r.json()["done"] and r.json()["reward"] == 1.0
        r = _step(c, sid, "1 + 1 = 2")
        assert r.status_code == 409 and "the episode is over (answered)" in r.json()["detail"]

        r = c.post("/step", json={"action": {"step": "1 + 1 = 2"}})  # OpenEnv's stateless route
        assert r.status_code == 409 and "POST /sessions" in r.json()["detail"]

        assert c.delete(f"/sessions/{sid}").status_code == 200
        r = _step(c, sid, "1 + 1 = 2")  # a closed session is nobody's
        assert r.status_code == 404
        assert c.get("/health").json()["status"] == "healthy"
        sid = _open(c)
        assert c.post(f"/sessions/{sid}/reset", json={"seed": 3}).status_code == 200
        assert c.delete(f"/sessions/{sid}").status_code == 200


def test_more_sessions_than_the_limit_get_429_until_one_closes(servers) -> None:
    url = servers["main"].url
    with httpx.Client(base_url=url, timeout=30) as c:
        spec = c.get("/spec").json()
        held = [_open(c) for _ in range(spec["max_sessions"] - spec["active_sessions"])]
        r = c.post("/sessions")
        assert r.status_code == 429
        assert "10 of its 10 sessions" in r.json()["detail"]
        assert "--max-sessions" in r.json()["detail"]
        remote = RemoteEnv(url)  # its session counts against the same limit
        with pytest.raises(RemoteEnvError, match="maximum of 10 sessions"):
            remote.reset(seed=0)
        assert c.delete(f"/sessions/{held.pop()}").status_code == 200
        obs, _ = remote.reset(seed=0)
        assert obs.startswith("Numbers:")
        assert c.get("/spec").json()["active_sessions"] == 10
        remote.close()
        for sid in held:
            assert c.delete(f"/sessions/{sid}").status_code == 200


def test_remote_env_returns_what_the_local_env_returns(servers) -> None:
    remote = RemoteEnv(servers["main"].url)
    local = gym.make("thinkgym/Game24-v0")
    assert remote.observation_space == local.observation_space
    assert remote.action_space == local.action_space
    oracle = OracleAgent(local)
    for seed in (0, 5):
        r_obs, r_info = remote.reset(seed=seed)
        l_obs, l_info = local.reset(seed=seed)
        assert (r_obs, r_info) == (l_obs, l_info)
        for step in ["99 + 1 = 100", "x" * (local.unwrapped.max_step_chars + 5), "a\nb"]:
            assert remote.step(step) == local.step(step)
        done = False
        while not done:
            step = oracle.act(l_obs, l_info)
            got = remote.step(step)
            want = local.step(step)
            assert got == want
            l_obs, _, terminated, truncated, l_info = want
            done = terminated or truncated
        assert l_info["correct"]
    # a step after the end is what it is locally: rejected, no penalty, still over
    assert remote.step("1 + 1 = 2") == local.step("1 + 1 = 2")
    state = remote.remote_state()
    assert state["done"] and state["correct"] and state["env_id"] == "thinkgym/Game24-v0"
    remote.close()


@pytest.mark.parametrize("vector", ["sync", "async"])
def test_vector_envs_run_unchanged_over_the_wire(servers, vector: str) -> None:
    url = servers["main"].url
    cls = gym.vector.SyncVectorEnv if vector == "sync" else gym.vector.AsyncVectorEnv
    remote = cls([lambda: RemoteEnv(url)] * 2)
    local = cls([lambda: gym.make("thinkgym/Game24-v0")] * 2)
    try:
        r_obs, _ = remote.reset(seed=[3, 4])
        l_obs, _ = local.reset(seed=[3, 4])
        assert list(r_obs) == list(l_obs)
        for actions in (["13 - 11 = 2", "nonsense"], ["12 / 2 = 6", "Answer: 1"]):
            got, want = remote.step(actions), local.step(actions)
            assert list(got[0]) == list(want[0])
            assert got[1].tolist() == want[1].tolist() and got[2].tolist() == want[2].tolist()
    finally:
        remote.close()
        local.close()


def test_concurrent_sessions_never_lose_or_cross_an_episode(servers) -> None:
    url = servers["main"].url
    failures: list[str] = []

    def worker(k: int) -> None:
        try:
            remote = RemoteEnv(url)
            local = gym.make("thinkgym/Game24-v0").unwrapped
            rng = np.random.default_rng(k)
            for episode in range(3):
                seed = 100 * k + episode
                obs, _ = remote.reset(seed=seed)
                local.reset(seed=seed)
                for _ in range(8):
                    step = local.random_step(local.get_state(), rng)
                    got = remote.step(step)
                    want = local.step(step)
                    if got != want:
                        failures.append(f"session {k} seed {seed}: {got} != {want}")
                        return
                    if got[2] or got[3]:
                        break
            remote.close()
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(f"session {k}: {exc!r}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures


def test_openenv_own_client_drives_the_served_env(servers) -> None:
    from thinkgym.serve.client import ThinkgymEnvClient
    from thinkgym.serve.models import ThinkgymAction

    with ThinkgymEnvClient(base_url=servers["main"].url).sync() as client:
        result = client.reset(seed=3)
        assert result.observation.transcript == "Numbers: 4 12 11 13 | Target: 24"
        assert not result.done
        result = client.step(ThinkgymAction(step="13 - 11 = 2"))
        assert result.observation.valid and result.observation.step == "13 - 11 = 2 (left: 4 12 2)"
        assert result.reward == 0.0
        result = client.step(ThinkgymAction(step="nonsense"))
        assert not result.observation.valid and result.reward == pytest.approx(-0.1)
        assert result.observation.error
        state = client.state()
        assert state.steps == ["13 - 11 = 2 (left: 4 12 2)"] and state.step_count == 2
    with httpx.Client(base_url=servers["main"].url, timeout=30) as c:
        schema = c.get("/schema").json()
        assert "step" in schema["action"]["properties"]
        assert {"transcript", "valid", "error", "correct"} <= set(
            schema["observation"]["properties"]
        )
        assert c.get("/metadata").json()["name"] == "thinkgym/Game24-v0"


def test_idle_sessions_expire_and_a_killed_server_gives_a_clear_error(servers) -> None:
    server = servers["short"]
    remote = RemoteEnv(server.url, timeout=20)
    remote.reset(seed=1)
    with httpx.Client(base_url=server.url, timeout=30) as c:
        sid = _open(c)
        assert c.post(f"/sessions/{sid}/reset", json={"seed": 0}).status_code == 200
        deadline = time.monotonic() + 30
        while c.post(f"/sessions/{sid}/reset", json={}).status_code == 200:
            assert time.monotonic() < deadline, "the idle session never expired"
            time.sleep(6.5)  # idle past the 1 s timeout; OpenEnv's reaper runs every 5 s
        r = _step(c, sid, "1 + 1 = 2")
        assert r.status_code == 404 and "expired after 1.0 s idle" in r.json()["detail"]
    # the idle RemoteEnv session was closed too: a clear error, and reset opens a new one
    with pytest.raises(RemoteEnvError, match="closed this session .*reset\\(\\) opens a new"):
        remote.step("1 + 1 = 2")
    obs, _ = remote.reset(seed=1)
    assert obs.startswith("Numbers:")
    remote.step("1 + 1 = 2")
    server.proc.kill()
    server.proc.wait(timeout=10)
    start = time.monotonic()
    with pytest.raises(RemoteEnvError, match="connection to .* was lost during a step"):
        remote.step("2 + 2 = 4")
    assert time.monotonic() - start < 15  # an error, not a hang
    with pytest.raises(RemoteEnvError, match="no thinkgym server answers"):
        RemoteEnv(server.url, connect_timeout=2)
