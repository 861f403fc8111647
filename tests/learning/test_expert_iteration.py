"""Expert iteration: one round teaches a weak policy the toy task; a killed run resumes exactly."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from learning_toy import register_toy, weak_policy  # noqa: E402

from thinkgym.envs import make  # noqa: E402
from thinkgym.learning.expert_iteration import (  # noqa: E402
    ExpertIterationConfig,
    approved_traces,
    expert_iteration,
    train_problems,
)
from thinkgym.rewards.registry import make_reward  # noqa: E402
from thinkgym.search import make_planner  # noqa: E402

TOY = register_toy()


@pytest.fixture(scope="module")
def weak_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("weak")
    weak_policy().save_pretrained(path)
    return str(path)


def _cfg(out, weak_dir, **kw):
    base = dict(
        env=TOY,
        out_dir=str(out),
        policy=weak_dir,
        planner="best_of_n",
        planner_kwargs={"n": 8, "max_step_tokens": 12},
        keep_per_problem=2,
        batch_size=32,
        lr=3e-3,
        eval_limit=60,
        eval_k=0,
        device="cpu",
    )
    base.update(kw)
    return ExpertIterationConfig(**base)


def test_approved_traces_are_correct_deduplicated_and_capped(weak_dir) -> None:
    from thinkgym.agents.llm import LLMPolicy

    env = make(TOY).unwrapped
    policy = LLMPolicy.from_pretrained(weak_dir, device="cpu")
    planner = make_planner("best_of_n", policy, n=8, max_step_tokens=12, seed=1)
    problems = train_problems(TOY, 24, seed=0)
    results = planner.plan_many(env, seeds=[p["seed"] for p in problems])
    reward = make_reward("default").bind(env)
    traces, solved = approved_traces(env, TOY, results, reward, cap=1)
    assert 0 < solved == len(traces) <= 24
    for t in traces:  # every kept answer is the first digit: the data the update learns from
        assert t.steps == (f"Answer: {t.head.split(': ')[1][0]}",)


def test_one_round_raises_held_out_accuracy(tmp_path, weak_dir) -> None:
    cfg = _cfg(tmp_path / "run", weak_dir, rounds=1, problems_per_round=128, sft_steps=100)
    result = expert_iteration(cfg, progress=False, log=lambda s: None)
    start, end = result.curve[0]["pass@1"], result.curve[1]["pass@1"]
    assert result.curve[1]["approved"] > 20
    assert end >= start + 0.15, result.curve
    assert json.loads((tmp_path / "run" / "curve.json").read_text()) == result.curve
    assert (tmp_path / "run" / "round-001" / "policy" / "config.json").is_file()


def test_resume_after_kill_reproduces_the_curve(tmp_path, weak_dir) -> None:
    kw = dict(rounds=2, problems_per_round=16, sft_steps=8, save_every=3, eval_limit=20, eval_k=2)
    full = expert_iteration(
        _cfg(tmp_path / "a", weak_dir, **kw), progress=False, log=lambda s: None
    )

    class Killed(Exception):
        pass

    def kill(r, phase):
        if (r, phase) == (2, "search"):
            raise Killed

    with pytest.raises(Killed):
        expert_iteration(
            _cfg(tmp_path / "b", weak_dir, **kw), progress=False, log=lambda s: None, on_phase=kill
        )
    assert not (tmp_path / "b" / "round-002" / "metrics.json").exists()
    resumed = expert_iteration(
        _cfg(tmp_path / "b", weak_dir, **kw), progress=False, log=lambda s: None
    )

    def strip(curve):
        return [{k: v for k, v in r.items() if "seconds" not in k} for r in curve]

    assert strip(resumed.curve) == strip(full.curve)


def test_bad_names_and_empty_rounds(tmp_path, weak_dir) -> None:
    with pytest.raises(ValueError, match="unknown planner 'bem'.*Did you mean 'beam'"):
        _cfg(tmp_path, weak_dir, planner="bem").validate()
    with pytest.raises(ValueError, match="unknown reward"):
        _cfg(tmp_path, weak_dir, reward="nope").validate()
    with pytest.raises(ValueError, match="Arithmatic.*Did you mean"):
        _cfg(tmp_path, weak_dir, env="Arithmatic").validate()
    # a round in which nothing is approved is logged and skipped (threshold above any reward)
    lines = []
    cfg = _cfg(
        tmp_path / "e",
        weak_dir,
        rounds=1,
        problems_per_round=4,
        approve_threshold=2.0,
        eval_limit=5,
    )
    result = expert_iteration(cfg, progress=False, log=lines.append)
    assert result.curve[1]["approved"] == 0 and result.curve[1]["sft_loss"] is None
    assert any("no approved trajectory" in line for line in lines)
