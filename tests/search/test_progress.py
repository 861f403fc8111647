"""The search progress bar moves inside a long batched policy call, not only between rounds."""

from __future__ import annotations

import time
from typing import Any

import pytest

from thinkgym.agents import Proposal
from thinkgym.search import make_planner
from thinkgym.search.driver import plan_together


class SlowPolicy:
    """Answers every observation wrongly, slowly, four rows per forward chunk (like LLMPolicy)."""

    def __init__(self) -> None:
        self.progress_hook: Any = None
        self.seen: list[list[int]] = []  # per call: the bar's count after each chunk

    def propose(self, observations: list[str], n: int = 1, **kwargs: Any) -> list[list[Proposal]]:
        rows = len(observations) * n
        counts: list[int] = []
        for start in range(0, rows, 4):
            time.sleep(0.002)
            if self.progress_hook is not None:
                self.progress_hook(min(4, rows - start))
                counts.append(self.progress_hook.__self__.bar.n)
        self.seen.append(counts)
        return [[Proposal("Answer: 1", -1.0, 0.1, 3) for _ in range(n)] for _ in observations]


def test_the_count_advances_chunk_by_chunk_before_the_first_round_ends() -> None:
    policy = SlowPolicy()
    planner = make_planner("best_of_n", policy, budget=16, depth=1, answer_check=False)
    planner.progress = True
    planner.plan_many("Game24", seeds=[0, 1, 2])
    first = policy.seen[0]  # one round: 3 problems x 16 samples in one call, 12 chunks
    assert len(first) == 12
    assert first[0] == 4 and first == sorted(first) and first[-1] == 48
    assert policy.progress_hook is None  # the bar gave the hook back


def test_several_jobs_share_one_bar_and_the_hook_is_restored_after_an_error() -> None:
    policy = SlowPolicy()
    jobs = [
        (make_planner("best_of_n", policy, budget=8, depth=1), "Game24", [0, 1], None),
        (make_planner("best_of_n", policy, budget=4, depth=1), "Game24", [0, 1], None),
    ]
    plan_together(jobs, progress=True)
    assert policy.seen[0][-1] == 2 * 8 + 2 * 4  # both jobs' rows in the one batched call

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("model fell over")

    policy.propose = boom  # type: ignore[method-assign]
    with pytest.raises(Exception, match="model fell over"):
        plan_together(jobs, progress=True)
    assert policy.progress_hook is None


def test_the_llm_policy_reports_each_chunk(monkeypatch) -> None:
    pytest.importorskip("torch")
    from thinkgym.agents.llm import LLMPolicy

    try:
        policy = LLMPolicy.default(device="cpu", max_batch_rows=4)
    except FileNotFoundError:
        pytest.skip("no shipped policy")
    reported: list[int] = []
    policy.progress_hook = reported.append
    policy.propose(["Numbers: 1 2 3 4 | Target: 24"], 10, max_new_tokens=4, seed=0)
    assert reported == [4, 4, 2]


def test_the_throughput_reference_shows_a_bar(capsys) -> None:
    pytest.importorskip("torch")
    from thinkgym.agents.llm import LLMPolicy
    from thinkgym.bench.run import _generate_reference
    from thinkgym.search.context import resolve_env

    try:
        policy = LLMPolicy.default(device="cpu")
    except FileNotFoundError:
        pytest.skip("no shipped policy")
    env, _ = resolve_env("Game24")
    rates = _generate_reference(policy, env, rows=2, new_tokens=2, repeats=2, progress=True)
    assert len(rates) == 2 and all(r > 0 for r in rates)
    err = capsys.readouterr().err
    assert "throughput reference" in err and "/3 [" in err  # a bar over the 3 generate calls
