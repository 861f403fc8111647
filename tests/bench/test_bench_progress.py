"""A bench run on a backend (local shards or Ray workers) shows its rows arriving as they come."""

from __future__ import annotations

import time
from typing import Any

from thinkgym.agents import Proposal
from thinkgym.bench import BenchConfig
from thinkgym.bench.run import BenchShards, _ShardProgress, held_out_problems
from thinkgym.distributed import Counter, LocalBackend


class SlowPolicy:
    """Wrong answers, slowly, two rows per forward chunk; records the counter it reports to."""

    def __init__(self, counter: Counter) -> None:
        self.progress_hook: Any = None
        self.counter = counter
        self.seen: list[int] = []

    def propose(self, observations: list[str], n: int = 1, **kwargs: Any) -> list[list[Proposal]]:
        rows = len(observations) * n
        for start in range(0, rows, 2):
            time.sleep(0.01)
            if self.progress_hook is not None:
                self.progress_hook(min(2, rows - start))
            self.seen.append(self.counter.value())
        return [[Proposal("Answer: 1", -1.0, 0.1, 3) for _ in range(n)] for _ in observations]


def test_sharded_bench_rows_reach_the_bar_while_the_shards_run() -> None:
    config = BenchConfig(
        envs=["thinkgym/Game24-v0"], planners=["best_of_n"], budgets=[16], problems=4
    )
    seeds, problems = held_out_problems("Game24", 4)
    items = [("thinkgym/Game24-v0", s, p) for s, p in zip(seeds, problems, strict=True)]
    backend = LocalBackend()
    counter = backend.counter()
    policy = SlowPolicy(counter)
    factory = BenchShards(config, (policy, "slow", None), counter=counter)
    with _ShardProgress(counter, 64, every=0.01) as progress:
        per_problem = backend.map(factory, items, shards=2)
        assert 0 < counter.value()
    calls = sum(res.cost.policy_calls for item in per_problem for res in item[2])
    assert counter.value() == calls > 0
    assert progress.bar.n == calls
    assert policy.seen[0] > 0 and policy.seen == sorted(policy.seen)  # it grew call by call
    assert policy.progress_hook is None  # given back after each shard


def test_a_counter_pickles_with_its_total_and_adds_from_threads() -> None:
    import pickle
    import threading

    counter = Counter()
    threads = [
        threading.Thread(target=lambda: [counter.add(1) for _ in range(500)]) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.value() == 2000
    assert pickle.loads(pickle.dumps(counter)).value() == 2000
