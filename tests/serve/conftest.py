"""Real ``thinkgym serve`` processes on localhost (random free ports), started together."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

pytest.importorskip("openenv")
pytest.importorskip("uvicorn")
pytest.importorskip("websockets")

START_TIMEOUT_S = 180.0  # importing OpenEnv's server (FastAPI, gradio) is slow on a busy CPU


@dataclass
class Server:
    """A running ``thinkgym serve`` process."""

    proc: subprocess.Popen
    url: str
    log: str

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(tmp_dir: str, name: str, *args: str) -> Server:
    """Start ``thinkgym serve <args> --port <free>`` without waiting for it."""
    port = free_port()
    log = os.path.join(tmp_dir, f"{name}.log")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "thinkgym", "serve", *args, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    return Server(proc, f"http://127.0.0.1:{port}", log)


def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"the server exited: {open(server.log).read()[-2000:]}")
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=2) as r:
                if json.loads(r.read())["status"] == "healthy":
                    return
        except (OSError, ValueError):
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(
        f"the server did not start in {START_TIMEOUT_S} s: {open(server.log).read()}"
    )


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """``main``: Game24, 10 sessions; ``short``: Game24, 1 s idle expiry (killed by its test);
    ``arith``: Arithmetic difficulty 2 (answers need the reference)."""
    tmp = str(tmp_path_factory.mktemp("serve"))
    started = {
        "main": launch(tmp, "main", "Game24", "--max-sessions", "10"),
        "short": launch(tmp, "short", "Game24", "--max-sessions", "2", "--idle-timeout", "1"),
        "arith": launch(tmp, "arith", "Arithmetic", "--env-arg", "difficulty=2"),
    }
    try:
        for server in started.values():
            wait_ready(server)
        yield started
    finally:
        for server in started.values():
            server.stop()
