"""Load on a served env: steps/s and p50/p99 step latency, served against in-process.

Starts ``thinkgym serve ENV`` on a free localhost port, then for each session count runs that many
client threads, each holding one :class:`thinkgym.remote.RemoteEnv` (one HTTP session) and
taking ``--steps`` steps: random plausible steps of the task, with a reset whenever an episode
ends. Every session's replies are compared with what a local env returned for the same actions
(made beforehand): a lost or crossed episode is counted and reported. The same action scripts
are then run on in-process envs (one thread per session) for the reference.

With ``--async-client`` the same scripts also run through OpenEnv's own async ``EnvClient``
(all sessions on one event loop in one thread), which shows the server without the client
threads' cost.

Example::

    python benchmarks/serve_load.py --env Game24 --sessions 1 8 64 --steps 200 --async-client
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import thinkgym  # noqa: F401
from thinkgym.envs import resolve_id


def script(env_id: str, session: int, steps: int) -> list[tuple[str, Any, Any]]:
    """``(kind, arg, expected)`` events of one session: resets and ``steps`` steps."""
    env = gym.make(env_id)
    base = env.unwrapped
    rng = np.random.default_rng(session)
    events: list[tuple[str, Any, Any]] = []
    taken = 0
    episode = 0
    while taken < steps:
        seed = 10_000 * session + episode
        episode += 1
        events.append(("reset", seed, env.reset(seed=seed)))
        done = False
        while not done and taken < steps:
            action = base.random_step(base.get_state(), rng)
            out = env.step(action)
            events.append(("step", action, out))
            taken += 1
            done = out[2] or out[3]
    return events


def run_sessions(
    make_env: Any, scripts: list[list[tuple[str, Any, Any]]], check: bool
) -> dict[str, Any]:
    """Play each script in its own thread; per-step latencies, wall time and mismatches."""
    latencies: list[list[float]] = [[] for _ in scripts]
    mismatches = [0] * len(scripts)
    errors: list[str] = []
    barrier = threading.Barrier(len(scripts) + 1)

    def worker(k: int) -> None:
        try:
            env = make_env()
        except Exception as exc:  # noqa: BLE001 - reported in the result
            errors.append(f"session {k}: {exc!r}")
            barrier.wait()
            return
        barrier.wait()
        try:
            for kind, arg, expected in scripts[k]:
                if kind == "reset":
                    got: Any = env.reset(seed=arg)
                else:
                    t0 = time.perf_counter()
                    got = env.step(arg)
                    latencies[k].append(time.perf_counter() - t0)
                if check and tuple(got) != tuple(expected):
                    mismatches[k] += 1
            env.close()
        except Exception as exc:  # noqa: BLE001 - reported in the result
            errors.append(f"session {k}: {exc!r}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(scripts))]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return _summary(scripts, latencies, mismatches, errors, wall)


def run_sessions_async(url: str, scripts: list[list[tuple[str, Any, Any]]]) -> dict[str, Any]:
    """The same scripts through OpenEnv's own async client, all sessions on one event loop."""
    import asyncio

    from thinkgym.serve.client import ThinkgymEnvClient
    from thinkgym.serve.models import ThinkgymAction

    latencies: list[list[float]] = [[] for _ in scripts]
    mismatches = [0] * len(scripts)
    errors: list[str] = []

    def same(result: Any, expected: Any) -> bool:
        obs = result.observation
        got = (obs.transcript, float(result.reward), obs.terminated, obs.truncated, obs.info)
        return got == tuple(expected)

    async def session(k: int, client: Any, start: asyncio.Event) -> None:
        await start.wait()
        try:
            for kind, arg, expected in scripts[k]:
                if kind == "reset":
                    result = await client.reset(seed=arg)
                    ok = (result.observation.transcript, result.observation.info) == expected
                else:
                    t0 = time.perf_counter()
                    result = await client.step(ThinkgymAction(step=arg))
                    latencies[k].append(time.perf_counter() - t0)
                    ok = same(result, expected)
                mismatches[k] += not ok
        except Exception as exc:  # noqa: BLE001 - reported in the result
            errors.append(f"session {k}: {exc!r}")

    async def main() -> float:
        clients = [ThinkgymEnvClient(base_url=url, message_timeout_s=300) for _ in scripts]
        for client in clients:
            await client.connect()
        start = asyncio.Event()
        tasks = [asyncio.create_task(session(k, c, start)) for k, c in enumerate(clients)]
        t0 = time.perf_counter()
        start.set()
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0
        for client in clients:
            await client.close()
        return wall

    wall = asyncio.run(main())
    return _summary(scripts, latencies, mismatches, errors, wall)


def _summary(
    scripts: list[list[tuple[str, Any, Any]]],
    latencies: list[list[float]],
    mismatches: list[int],
    errors: list[str],
    wall: float,
) -> dict[str, Any]:
    flat = sorted(x for lat in latencies for x in lat)
    n = len(flat)
    return {
        "sessions": len(scripts),
        "steps": n,
        "wall_s": wall,
        "steps_per_s": n / wall if wall > 0 else float("nan"),
        "p50_ms": 1000 * flat[n // 2] if n else float("nan"),
        "p99_ms": 1000 * flat[min(n - 1, int(0.99 * n))] if n else float("nan"),
        "mean_ms": 1000 * statistics.fmean(flat) if n else float("nan"),
        "mismatched_replies": sum(mismatches),
        "sessions_with_mismatch": sum(1 for m in mismatches if m),
        "errors": errors,
        "steps_expected": sum(1 for s in scripts for e in s if e[0] == "step"),
    }


def start_server(env_id: str, max_sessions: int, log: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = open(log, "w")  # noqa: SIM115 - closed with the process
    cmd = [sys.executable, "-m", "thinkgym", "serve", env_id, "--port", str(port)]
    cmd += ["--max-sessions", str(max_sessions)]
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the server did not start in 300 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="Game24")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--steps", type=int, default=200, help="steps per session")
    parser.add_argument("--out", type=Path, default=Path("runs/serve_load"))
    parser.add_argument(
        "--async-client",
        action="store_true",
        help="also run the sessions through OpenEnv's async EnvClient on one event loop",
    )
    args = parser.parse_args(argv)
    env_id = resolve_id(args.env)
    args.out.mkdir(parents=True, exist_ok=True)
    from thinkgym.remote import RemoteEnv

    proc, url = start_server(env_id, max(args.sessions), args.out / "server.log")
    rows = []
    try:
        for n in args.sessions:
            scripts = [script(env_id, k, args.steps) for k in range(n)]
            local = run_sessions(lambda: gym.make(env_id), scripts, check=True)
            remote = run_sessions(lambda: RemoteEnv(url, timeout=120), scripts, check=True)
            row = {"sessions": n, "in_process": local, "served": remote}
            if args.async_client:
                row["served_async"] = run_sessions_async(url, scripts)
            rows.append(row)
            for key in ("served", "served_async"):
                if key in row:
                    r = row[key]
                    print(
                        f"{n:3d} sessions, {key}: {r['steps_per_s']:8.0f} steps/s "
                        f"p50 {r['p50_ms']:6.2f} ms p99 {r['p99_ms']:6.2f} ms "
                        f"(mismatched {r['mismatched_replies']}, errors {len(r['errors'])})",
                        flush=True,
                    )
            print(
                f"{n:3d} sessions, in-process: {local['steps_per_s']:8.0f} steps/s "
                f"p50 {local['p50_ms']:.3f} ms p99 {local['p99_ms']:.3f} ms",
                flush=True,
            )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    meta = {
        "env": env_id,
        "steps_per_session": args.steps,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": f"{os.cpu_count()} cores visible; affinity {sorted(os.sched_getaffinity(0))}",
        "python": sys.version.split()[0],
    }
    (args.out / "serve_load.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [
        "| sessions | client | served steps/s | served p50 ms | served p99 ms | "
        "in-process steps/s | in-process p50 ms | in-process p99 ms | lost or crossed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    clients = {"served": "RemoteEnv, a thread each", "served_async": "OpenEnv async client"}
    for r in rows:
        loc = r["in_process"]
        for key, label in clients.items():
            if key not in r:
                continue
            s = r[key]
            bad = s["mismatched_replies"] + len(s["errors"]) + (s["steps_expected"] - s["steps"])
            lines.append(
                f"| {r['sessions']} | {label} | {s['steps_per_s']:.0f} | {s['p50_ms']:.2f} "
                f"| {s['p99_ms']:.2f} | {loc['steps_per_s']:.0f} | {loc['p50_ms']:.3f} "
                f"| {loc['p99_ms']:.3f} | {bad} |"
            )
    table = "\n".join(lines)
    (args.out / "serve_load.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
