"""Load on a served env: steps/s and p50/p99 step latency, served against in-process.

Starts ``thinkgym serve ENV`` on a free localhost port, then for each session count runs that many
client threads, each holding one :class:`thinkgym.remote.RemoteEnv` (one WebSocket session) and
taking ``--steps`` steps: random plausible steps of the task, with a reset whenever an episode
ends. Every session's replies are compared with what a local env returned for the same actions
(made beforehand): a lost or crossed episode is counted and reported. The same action scripts
are then run on in-process envs (one thread per session) for the reference.

Example::

    python benchmarks/serve_load.py --env Game24 --sessions 1 8 64 --steps 200 --out runs/serve_load
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
            rows.append({"sessions": n, "in_process": local, "served": remote})
            print(
                f"{n:3d} sessions: served {remote['steps_per_s']:8.0f} steps/s "
                f"p50 {remote['p50_ms']:6.2f} ms p99 {remote['p99_ms']:6.2f} ms "
                f"(mismatched {remote['mismatched_replies']}, errors {len(remote['errors'])}) | "
                f"in-process {local['steps_per_s']:8.0f} steps/s p50 {local['p50_ms']:.3f} ms "
                f"p99 {local['p99_ms']:.3f} ms",
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
        "| sessions | served steps/s | served p50 ms | served p99 ms | in-process steps/s | "
        "in-process p50 ms | in-process p99 ms | lost or crossed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        s, loc = r["served"], r["in_process"]
        bad = s["mismatched_replies"] + len(s["errors"]) + (s["steps_expected"] - s["steps"])
        lines.append(
            f"| {r['sessions']} | {s['steps_per_s']:.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} "
            f"| {loc['steps_per_s']:.0f} | {loc['p50_ms']:.3f} | {loc['p99_ms']:.3f} | {bad} |"
        )
    table = "\n".join(lines)
    (args.out / "serve_load.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
