"""The local and Ray backends of :mod:`thinkgym.distributed`.

The Ray tests share one local Ray instance limited to 2 CPUs (start-up takes seconds), and one
2-worker backend; they are skipped when ray is not installed.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import thinkgym  # noqa: F401  (registers the envs)
from thinkgym.agents.base import Proposal
from thinkgym.distributed import (
    LocalBackend,
    RayBackend,
    ShardError,
    make_backend,
    run_sharded,
    shard_bounds,
)
from thinkgym.envs.countdown import CountdownEnv
from thinkgym.search import BestOfN

RAY_REASON = "the Ray backend tests need ray: pip install 'thinkgym[ray]'"


# ---------------------------------------------------------------- picklable test factories
class Square:
    """Factory: fn squares its items and tags them with the worker's pid and build id."""

    def __call__(self):
        build = int(np.random.default_rng().integers(1 << 30))
        return lambda items: [(x * x, os.getpid(), build) for x in items]


class DieOnce:
    """Factory: the first run of the shard holding ``trigger`` kills its worker process."""

    def __init__(self, marker: str, trigger: int) -> None:
        self.marker, self.trigger = marker, trigger

    def __call__(self):
        def fn(items):
            if self.trigger in items and not Path(self.marker).exists():
                Path(self.marker).write_text("died")
                os._exit(1)
            return [x + 1 for x in items]

        return fn


class AlwaysDie:
    """Factory: any shard holding ``trigger`` kills its worker, every time."""

    def __init__(self, trigger: str) -> None:
        self.trigger = trigger

    def __call__(self):
        def fn(items):
            if self.trigger in items:
                os._exit(1)
            return [x.upper() for x in items]

        return fn


class RaiseOn:
    """Factory: any shard holding ``trigger`` raises ValueError."""

    def __init__(self, trigger: int) -> None:
        self.trigger = trigger

    def __call__(self):
        def fn(items):
            if self.trigger in items:
                raise ValueError(f"cannot handle {self.trigger}")
            return list(items)

        return fn


class Sleep:
    """Factory: fn sleeps for a long time (to be interrupted)."""

    def __call__(self):
        return lambda items: [time.sleep(60) for _ in items]


BUILDS: list[str] = []


class Tagged:
    """Factory: records its tag in BUILDS when it builds (in this process)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __call__(self):
        BUILDS.append(self.tag)
        return lambda items: [self.tag for _ in items]


class SeededRandomPolicy:
    """A policy whose samples depend only on the ``seed`` of each call (like LLMPolicy)."""

    stats = None  # collect() passes a per-call seed to policies with stats (as to LLMPolicy)

    def __init__(self, env_id: str) -> None:
        self.env = gym.make(env_id).unwrapped

    def propose(self, observations, n, seed=None, **kwargs):
        rng = np.random.default_rng(seed)
        out = []
        for obs in observations:
            state = self.env.state_from_transcript(obs)
            out.append(
                [
                    Proposal(
                        self.env.random_step(state, rng), logprob=-float(rng.random()), tokens=4
                    )
                    for _ in range(n)
                ]
            )
        return out


class PlanShard:
    """Factory: a worker loads its policy once, then runs ``plan_many`` on each shard."""

    def __init__(self, env_id: str, planner: str, **kwargs) -> None:
        self.env_id, self.planner, self.kwargs = env_id, planner, kwargs

    def __call__(self):
        from thinkgym.search.registry import get_planner

        policy = SeededRandomPolicy(self.env_id)
        cls = get_planner(self.planner)

        def fn(seeds):
            planner = cls(policy, seed=7, **self.kwargs)
            return [
                (r.steps, [c["answer"] for c in r.candidates or []], r.cost.policy_calls)
                for r in planner.plan_many(self.env_id, seeds=seeds)
            ]

        return fn


# ---------------------------------------------------------------- no Ray needed
def test_shard_bounds() -> None:
    assert shard_bounds(10, 3) == [(0, 4), (4, 7), (7, 10)]
    assert shard_bounds(2, 5) == [(0, 1), (1, 2)]
    assert shard_bounds(0, 3) == []
    with pytest.raises(ValueError, match="shards=0"):
        shard_bounds(3, 0)


def test_local_backend_keeps_order_and_builds_once() -> None:
    factory = Square()
    with LocalBackend() as backend:
        out = backend.map(factory, list(range(7)), shards=3)
        again = backend.map(factory, [3], shards=1)
    assert [x[0] for x in out] == [x * x for x in range(7)]
    assert len({x[2] for x in out + again}) == 1  # the factory ran once


def test_workers_keep_their_two_latest_factories() -> None:
    import pickle

    from thinkgym.distributed import _Worker

    BUILDS.clear()
    worker = _Worker()
    for tag in ["a", "b", "a", "c", "a", "b"]:
        assert worker.run(tag, pickle.dumps(Tagged(tag)), [0]) == [tag]
    assert BUILDS == ["a", "b", "c", "b"]  # c evicted b, then b evicted c
    BUILDS.clear()
    local = LocalBackend()
    fa, fb, fc = Tagged("a"), Tagged("b"), Tagged("c")
    for f in [fa, fb, fa, fc, fa, fb]:
        assert local.map(f, [0]) == [f.tag]
    assert BUILDS == ["a", "b", "c", "b"]


def test_make_backend_errors() -> None:
    with pytest.raises(ValueError, match="did you mean 'ray'"):
        make_backend("rey")
    with pytest.raises(ValueError, match="need backend='ray'"):
        make_backend("local", workers=2)
    with pytest.raises(RuntimeError, match="one result per item"):
        run_sharded(lambda: lambda items: items[:-1], [1, 2, 3])


def test_a_refused_ray_address_fails_at_once_in_one_line() -> None:
    import time

    from thinkgym.distributed import check_address

    t0 = time.perf_counter()
    with pytest.raises(ConnectionError, match="no Ray cluster at 127.0.0.1:1 .connection refused"):
        check_address("127.0.0.1:1", timeout=30)
    assert time.perf_counter() - t0 < 5
    check_address(None)  # nothing to check: Ray starts here
    check_address("auto")


def test_a_silent_ray_address_times_out(monkeypatch) -> None:
    import socket

    from thinkgym.distributed import check_address

    def silent(address, timeout):
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", silent)
    with pytest.raises(ConnectionError, match=r"10.0.0.9:6379 within 0.5 s"):
        check_address("ray://10.0.0.9:6379", timeout=0.5)


@pytest.mark.parametrize("address", ["nonsense", "host:port", "10.0.0.1:99999", ":6379"])
def test_a_malformed_ray_address_is_refused(address) -> None:
    from thinkgym.distributed import check_address

    with pytest.raises(ValueError, match="host:port"):
        check_address(address)


def test_bench_with_a_refused_ray_address_is_one_line_within_seconds(tmp_path) -> None:
    import subprocess
    import time

    pytest.importorskip("ray", reason=RAY_REASON)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "thinkgym", "bench", "--backend", "ray", "--address",
         "127.0.0.1:1", "--envs", "Game24", "--policy", "random", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "thinkgym bench: error: --backend ray: no Ray cluster at 127.0.0.1:1 (connection "
        "refused); start one with `ray start --head` and pass the address it prints, or leave "
        "the address out to start Ray here"
    ]
    assert time.perf_counter() - t0 < 60


def test_ray_that_fails_to_start_or_dies_mid_run_is_a_backend_error(monkeypatch) -> None:
    ray = pytest.importorskip("ray", reason=RAY_REASON)
    from thinkgym.distributed import BackendError

    def dead_agent(*args, **kwargs):
        raise RuntimeError("Failed to start the dashboard agent: it died\nmore lines")

    be = RayBackend(workers=1)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", dead_agent)
    with pytest.raises(BackendError, match=r"dashboard agent: it died\); Ray's logs are in"):
        be.start()
    monkeypatch.undo()

    def raylet_died(*args, **kwargs):
        raise ray.exceptions.RaySystemError("the raylet died")

    be = RayBackend(workers=1)
    monkeypatch.setattr(be, "_map_on_ray", raylet_died)
    with pytest.raises(BackendError, match="the Ray node stopped working .* raylet died"):
        be.map(lambda: lambda items: items, [1, 2])


# ---------------------------------------------------------------- Ray
@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray", reason=RAY_REASON)
    # the test classes above must travel by value: the workers cannot import this test module
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def backend(ray_session):
    be = RayBackend(workers=2, cpus_per_worker=0.5)  # leaves a CPU for the Ctrl-C test
    be.start()
    yield be
    be.close()


def test_ray_map_in_order_one_factory_run_per_worker(backend) -> None:
    factory = Square()
    out = backend.map(factory, list(range(9)), shards=5)
    out += backend.map(factory, [9, 10])  # default: one shard per worker
    assert [x[0] for x in out] == [x * x for x in range(11)]
    pids = {x[1] for x in out}
    assert pids <= set(backend.worker_pids()) and os.getpid() not in pids
    builds = {(pid, b) for _, pid, b in out}
    assert len(builds) == len(pids)  # each worker built the function once


def test_same_seeds_same_results_local_and_ray(backend) -> None:
    factory = PlanShard("thinkgym/Countdown-v0", "best_of_n", n=3, budget=12)
    seeds = list(range(100, 106))
    local = run_sharded(factory, seeds, backend="local", shards=3)
    assert all(len(samples) == 3 for _, samples, _ in local)
    assert backend.map(factory, seeds, shards=3) == local
    with LocalBackend() as one:  # another cut changes nothing for this per-call-seeded policy
        assert one.map(factory, seeds, shards=3) == local


def test_dead_worker_is_restarted_and_its_shard_rerun(backend, tmp_path) -> None:
    restarts = backend.restarts
    factory = DieOnce(str(tmp_path / "died"), trigger=5)
    out = backend.map(factory, list(range(8)), shards=4)
    assert out == [x + 1 for x in range(8)]
    assert (tmp_path / "died").exists()
    assert backend.restarts == restarts + 1
    assert len(backend.worker_pids()) == 2


def test_shard_failing_twice_is_reported_with_its_items(backend) -> None:
    with pytest.raises(ShardError) as info:
        backend.map(AlwaysDie("c"), ["a", "b", "c", "d", "e", "f"], shards=3)
    err = info.value
    assert [f.items for f in err.failures] == [["c", "d"]]
    assert err.failures[0].attempts == 2
    assert "'c', 'd'" in str(err) and "worker died" in str(err)
    assert err.results == ["A", "B", None, None, "E", "F"]
    with pytest.raises(ShardError, match="ValueError: cannot handle 3"):
        backend.map(RaiseOn(3), [1, 2, 3, 4], shards=2)
    assert backend.map(Square(), [2])[0][0] == 4  # the backend still works


def test_ctrl_c_shuts_the_workers_down(ray_session) -> None:
    be = RayBackend(workers=1)
    pid = be.worker_pids()[0]
    # Ctrl-C is Python's default SIGINT handler raising KeyboardInterrupt; a library imported by an
    # earlier test in the same session may have replaced it, so the test installs it explicitly.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            be.map(Sleep(), [1])
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert be._actors == []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"worker process {pid} still runs after Ctrl-C")


def test_too_many_workers_is_a_clear_error(ray_session) -> None:
    with pytest.raises(ValueError, match="workers=5 need 5 CPUs"):
        RayBackend(workers=5).start()


# ---------------------------------------------------------------- the bench on a backend
def _bench_rows(backend, shards):
    from thinkgym.bench import BenchConfig, run_benchmark

    config = BenchConfig(
        envs=["Countdown"],
        planners=["greedy", "best_of_n", "beam"],
        budgets=[4, 8],
        problems=4,
        policy="random",
        progress=False,
        shards=shards,
    )
    report = run_benchmark(config, backend=backend)
    return [{k: v for k, v in row.items() if k != "seconds"} for row in report.rows]


def test_bench_same_rows_local_and_ray(backend) -> None:
    local = _bench_rows(LocalBackend(), shards=2)
    assert len(local) == 5 and {r["problems"] for r in local} == {4}
    assert _bench_rows(backend, shards=2) == local


class MyBestOfN(BestOfN):
    """A user planner, registered in the test process only."""

    name = "my_best_of_n_for_ray"


class MyCountdown(CountdownEnv):
    """A user env, registered in the test process only."""


def test_bench_ships_user_planners_and_envs(backend) -> None:
    from thinkgym.bench import BenchConfig, run_benchmark
    from thinkgym.search.registry import register_planner

    register_planner(MyBestOfN.name, MyBestOfN, override=True)
    env_id = thinkgym.register(MyCountdown, id="thinkgym/MyCountdownForRay-v0", override=True)
    config = BenchConfig(
        envs=[env_id], planners=[MyBestOfN.name], budgets=[4], problems=2, policy="random"
    )
    config.progress = False
    rows = run_benchmark(config, backend=backend).rows
    assert [(r["env"], r["planner"], r["problems"]) for r in rows] == [(env_id, MyBestOfN.name, 2)]


def test_bench_cli_backend_flags() -> None:
    import argparse

    from thinkgym.commands import bench
    from thinkgym.commands._common import CommandError

    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--workers", "2"])
    with pytest.raises(CommandError, match="--workers and --address need --backend ray"):
        bench.run(args)
    args = parser.parse_args(["--backend", "ray", "--workers", "3", "--shards", "5"])
    assert (args.backend, args.workers, args.shards) == ("ray", 3, 5)
    assert bench.config_from_args(args).shards == 5


# ---------------------------------------------------------------- the rollout collector
def _episodes(backend, shards=None):
    from thinkgym.learning.rollout import collect

    policy = SeededRandomPolicy("thinkgym/Countdown-v0")
    problems = [{"seed": s} for s in range(20, 25)]
    eps = collect(
        policy, "thinkgym/Countdown-v0", problems, samples=2, seed=3, backend=backend, shards=shards
    )
    return [(e.index, e.sample, e.problem, e.actions, e.correct) for e in eps]


def test_collect_same_episodes_local_and_ray(backend) -> None:
    local = _episodes(LocalBackend(), shards=2)
    assert [(i, j) for i, j, *_ in local] == [(i, j) for i in range(5) for j in range(2)]
    assert [p for _, _, p, _, _ in local[::2]] == [{"seed": s} for s in range(20, 25)]
    assert all(actions for *_, actions, _ in local)
    assert _episodes(backend, shards=2) == local
    one = _episodes(None)  # one batch: same problems and order, other samples are allowed
    assert [e[:3] for e in one] == [e[:3] for e in local]


# ---------------------------------------------------------------- plan_sharded
def test_plan_sharded_same_results_local_and_ray(backend) -> None:
    from thinkgym.search import get_planner
    from thinkgym.search.sharded import plan_sharded

    policy = SeededRandomPolicy("thinkgym/Countdown-v0")
    planner = get_planner("beam")(policy, width=2, beam_size=2, budget=8, seed=1)
    seeds = list(range(40, 45))

    def run(be):
        results = plan_sharded(planner, "thinkgym/Countdown-v0", seeds=seeds, backend=be, shards=2)
        return [(r.seed, r.steps, r.cost.policy_calls) for r in results]

    local = run(LocalBackend())
    assert [s for s, _, _ in local] == seeds
    assert run(backend) == local
    assert len(run(None)) == len(seeds)
    with pytest.raises(ValueError, match="seeds has 2 entries but problems has 1"):
        plan_sharded(planner, "Countdown", seeds=[1, 2], problems=[None], backend=LocalBackend())


def test_user_env_travels_to_the_workers(backend) -> None:
    from thinkgym.learning.rollout import collect
    from thinkgym.search import get_planner
    from thinkgym.search.sharded import plan_sharded

    env_id = thinkgym.register(MyCountdown, id="thinkgym/MyCountdownForRay-v0", override=True)
    policy = SeededRandomPolicy(env_id)
    planner = get_planner("best_of_n")(policy, n=2, budget=4, seed=0)
    results = plan_sharded(planner, env_id, seeds=[1, 2, 3], backend=backend)
    assert [r.env_id for r in results] == [env_id] * 3
    eps = collect(policy, env_id, [{"seed": 1}, {"seed": 2}], backend=backend, shards=2)
    assert [e.index for e in eps] == [0, 1] and all(e.steps for e in eps)


def test_unpicklable_factory_is_a_clear_error(backend) -> None:
    lock = threading.Lock()
    with pytest.raises(TypeError, match="cannot be pickled for the Ray workers"):
        backend.map(lambda: lambda items: [lock for _ in items], [1])


class _CountingShards:
    """A factory whose shard function adds one to a counter per item."""

    def __init__(self, counter: Any) -> None:
        self.counter = counter

    def __call__(self) -> Any:
        counter = self.counter

        def fn(items: list[Any]) -> list[Any]:
            for _ in items:
                counter.add(1)
            return list(items)

        return fn


def test_ray_workers_add_to_the_backend_counter(backend) -> None:
    import time

    counter = backend.counter()
    assert backend.counter() is counter  # one per backend
    start = counter.value()
    assert backend.map(_CountingShards(counter), list(range(6)), shards=3) == list(range(6))
    deadline = time.monotonic() + 10
    while counter.value() < start + 6 and time.monotonic() < deadline:
        time.sleep(0.1)  # adds are sent without waiting
    assert counter.value() == start + 6
