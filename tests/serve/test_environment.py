"""The session's task hooks without a server: the handle store and drawing by split."""

from __future__ import annotations

import pytest

pytest.importorskip("openenv")

from thinkgym.serve import environment as served  # noqa: E402
from thinkgym.serve.models import TaskBody  # noqa: E402


def test_the_store_forgets_the_least_recently_used_handles(monkeypatch) -> None:
    monkeypatch.setattr(served, "STORE_LIMIT", 6)
    env = served.ServedEnvironment("Game24")
    first = env.task_call(TaskBody(op="reset", seed=0))["state"]
    for seed in range(1, 6):  # each reset stores a problem and its initial working state
        env.task_call(TaskBody(op="reset", seed=seed))
    assert len(env._store) <= 6 and len(env._ids) <= 6
    body = TaskBody(op="candidate_steps", state={**first, "problem": first["problem"]["ref"]})
    with pytest.raises(served.UnknownHandle, match="holds no state handle"):
        env.task_call(body)
    # a value seen again after its handle went gets a new handle that works
    again = env.task_call(TaskBody(op="reset", seed=0))["state"]
    assert again["problem"]["ref"] != first["problem"]["ref"]
    steps = env.task_call(
        TaskBody(op="candidate_steps", state={**again, "problem": again["problem"]["ref"]})
    )["steps"]
    assert steps


def test_draw_problem_keeps_to_the_served_split() -> None:
    from thinkgym.envs.puzzles import is_test_puzzle

    for split, want in (("test", True), ("train", False)):
        env = served.ServedEnvironment("Game24", {"split": split})
        for seed in range(5):
            wire = env.task_call(TaskBody(op="draw_problem", seed=seed))["problem"]
            numbers = [int(x) for x in wire["text"].split("|")[0].split()[1:]]
            assert is_test_puzzle(numbers) is want
