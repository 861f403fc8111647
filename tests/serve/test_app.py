"""The server app in-process: any registered env (data file, plugin, reasoning-gym), bad arguments."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest

pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

import thinkgym  # noqa: E402
from thinkgym.commands.serve import parse_env_arg  # noqa: E402
from thinkgym.serve.app import create_app  # noqa: E402

MATHWORD = Path(thinkgym.__file__).parent / "data" / "mathword" / "test.jsonl"


def _episode(client: TestClient, steps: list[str], seed: int) -> list[dict]:
    sid = client.post("/sessions").json()["session_id"]
    out = [client.post(f"/sessions/{sid}/reset", json={"seed": seed}).json()]
    for step in steps:
        r = client.post(f"/sessions/{sid}/step", json={"action": {"step": step}})
        assert r.status_code == 200, r.text
        out.append(r.json())
    assert client.delete(f"/sessions/{sid}").status_code == 200
    return out


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [
        ("MathWord", {"data_files": str(MATHWORD)}),
        ("rg:leg_counting", {"min_animals": 2, "max_animals": 3}),
    ],
)
def test_envs_with_arguments_are_served_as_made_locally(env_id: str, kwargs: dict) -> None:
    local = thinkgym.make(env_id, **kwargs)
    local.reset(seed=4)
    trace = local.unwrapped.solve(local.unwrapped.get_state().problem)
    with TestClient(create_app(env_id, kwargs, max_sessions=2)) as client:
        spec = client.get("/spec").json()
        assert spec["env_id"] == local.spec.id
        assert spec["observation_max_length"] == local.observation_space.max_length
        replies = _episode(client, trace, seed=4)
    obs, info = local.reset(seed=4)
    assert replies[0]["observation"]["transcript"] == obs
    for step, reply in zip(trace, replies[1:], strict=True):
        obs, reward, terminated, truncated, info = local.step(step)
        assert reply["observation"]["transcript"] == obs
        assert reply["reward"] == reward and reply["done"] == (terminated or truncated)
        assert reply["observation"]["info"] == info
    assert replies[-1]["observation"]["correct"] is True


def test_a_plugin_registered_env_is_served() -> None:
    env_id = thinkgym.register(
        "thinkgym.envs.arithmetic:ArithmeticEnv", id="plugin/EasyArith-v0", override=True
    )
    with TestClient(create_app(env_id)) as client:
        assert client.get("/metadata").json()["name"] == "plugin/EasyArith-v0"
        replies = _episode(client, ["1 + 1 = 3"], seed=0)
    assert replies[1]["observation"]["valid"] is False and replies[1]["reward"] < 0


def test_state_never_carries_the_hidden_reference() -> None:
    with TestClient(create_app("MathWord", {"data_files": str(MATHWORD)})) as client:
        sid = client.post("/sessions").json()["session_id"]
        client.post(f"/sessions/{sid}/reset", json={"seed": 1})
        state = client.get(f"/sessions/{sid}/state").json()
        local = thinkgym.make("MathWord", data_files=str(MATHWORD)).unwrapped
        local.reset(seed=1)
        reference = local.reference_answer(local.get_state().problem)
        assert state["problem"] == local.transcript() and state["steps"] == []
        assert reference and f'"{reference}"' not in str(state).replace("'", '"')


def test_bad_server_arguments_fail_before_serving() -> None:
    with pytest.raises(ValueError, match="max_sessions=0 must be a positive integer"):
        create_app("Game24", max_sessions=0)
    with pytest.raises(ValueError, match="idle_timeout_s=-1"):
        create_app("Game24", idle_timeout_s=-1)
    with pytest.raises(gym.error.NameNotFound, match="Did you mean 'thinkgym/Game24-v0'"):
        create_app("Game42")
    with pytest.raises(TypeError, match="difficulti"):
        create_app("Arithmetic", {"difficulti": 2})
    assert parse_env_arg("difficulty=2") == ("difficulty", 2)
    assert parse_env_arg("data_files=a.jsonl") == ("data_files", "a.jsonl")
    with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
        parse_env_arg("difficulty")


def test_import_thinkgym_loads_no_server() -> None:
    code = (
        "import sys, thinkgym, thinkgym.remote; "
        "bad = [m for m in ('thinkgym.serve.app', 'openenv', 'fastapi', 'uvicorn') "
        "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
