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


# ---------------------------------------------------------------------------- the levers
def test_diverse_selection_keeps_distinct_answers_then_distinct_steps() -> None:
    from thinkgym.learning.expert_iteration import select_diverse

    a1 = ("1 + 2 = 3", "Answer: 3")
    a2 = ("2 + 1 = 3", "Answer: 3")
    b = ("3 * 1 = 3", "x", "Answer: 3 * 1")
    c = ("1 + 2 = 3", "y", "Answer: (1 + 2)")
    # shortest-first would keep a1 and a2 (the same answer line); diverse keeps two answers
    assert select_diverse([a1, a2, b, c], 2) == [a1, b]
    # the third pick: answer c is new, so it comes before a2 (an answer already kept)
    assert select_diverse([a1, a2, b, c], 3) == [a1, b, c]
    # same answer everywhere: the one sharing fewest steps with those kept comes next
    d = ("1 + 2 = 3", "z", "Answer: 3")
    assert select_diverse([a1, d, a2], 2) == [a1, a2]
    assert select_diverse([], 3) == []


def test_init_start_fine_tunes_the_starting_weights_each_round(tmp_path, weak_dir) -> None:
    """Round 2 of init="start" equals SFT from the start on rounds 1-2's data, not round 1's
    policy fine-tuned further; the search of round 2 still used round 1's policy."""
    from thinkgym.agents.llm import LLMPolicy
    from thinkgym.learning.sft import sft
    from thinkgym.learning.traces import load_traces

    kw = dict(rounds=2, problems_per_round=16, sft_steps=6, eval_limit=5, init="start")
    expert_iteration(_cfg(tmp_path / "s", weak_dir, **kw), progress=False, log=lambda s: None)
    run = tmp_path / "s"
    assert (run / "start-policy" / "config.json").is_file()
    data = []
    for r in (1, 2):
        data += load_traces(run / f"round-00{r}" / "data.jsonl")
    data = list(dict.fromkeys(data))
    ref = LLMPolicy.from_pretrained(weak_dir, device="cpu")
    sft(
        ref,
        data,
        steps=6,
        batch_size=min(32, sum(len(t.steps) for t in data)),
        lr=3e-3,
        warmup=1,
        seed=2,
        progress=False,
        log=lambda s: None,
    )
    got = LLMPolicy.from_pretrained(run / "round-002" / "policy", device="cpu")
    prev = LLMPolicy.from_pretrained(run / "round-001" / "policy", device="cpu")
    for a, b in zip(got.model.parameters(), ref.model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    assert not all(
        torch.allclose(a, b, atol=1e-5)
        for a, b in zip(got.model.parameters(), prev.model.parameters(), strict=True)
    )


def test_mix_adds_the_share_of_behaviour_cloning_traces(tmp_path, weak_dir) -> None:
    from thinkgym.learning.traces import Trace, save_traces

    out = tmp_path / "m"
    out.mkdir()
    pool = [Trace(TOY, f"Say: {d}00000", (f"Answer: {d}",)) for d in "0123456789" * 10]
    save_traces(pool, out / "bc_pool.jsonl")  # the pool is built once per run; here, given
    cfg = _cfg(out, weak_dir, rounds=1, problems_per_round=16, sft_steps=4, eval_limit=5, mix=0.5)
    row = expert_iteration(cfg, progress=False, log=lambda s: None).curve[1]
    assert row["kept_traces"] > 0
    assert row["mix_traces"] == row["kept_traces"]  # mix 0.5: as many BC traces as kept ones
    assert row["train_examples"] == 2 * row["kept_traces"]


def test_curriculum_and_schedule_record_their_state(tmp_path, weak_dir) -> None:
    cfg = _cfg(
        tmp_path / "c",
        weak_dir,
        rounds=2,
        problems_per_round=8,
        sft_steps=2,
        eval_limit=5,
        curriculum="pass_rate",
        curriculum_pool=12,
        difficulty_schedule="1,2",
        schedule_threshold=0.01,
    )
    curve = expert_iteration(cfg, progress=False, log=lambda s: None).curve
    state = json.loads((tmp_path / "c" / "curriculum.json").read_text())
    assert curve[1]["difficulty"] == 1 and curve[2]["difficulty"] == 2  # advanced after round 1
    assert state["schedule"]["stage"] == 1 and state["sampler"]["rates"]
    assert "curriculum_tried" in curve[2]


def test_bad_lever_values(tmp_path, weak_dir) -> None:
    for field, value, match in [
        ("init", "scratch", "unknown init"),
        ("mix", 1.0, "mix"),
        ("select", "longest", "unknown select"),
        ("curriculum", "easy", "unknown curriculum"),
        ("difficulty_schedule", "a", "not an integer"),
    ]:
        with pytest.raises(ValueError, match=match):
            _cfg(tmp_path, weak_dir, **{field: value}).validate()


def test_command_line_takes_the_new_options() -> None:
    import argparse

    from thinkgym.commands._rl import config_from_rl_args
    from thinkgym.commands.train_expert_iteration import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--env", "Game24", "--init", "start", "--mix", "0.3", "--select", "shortest"]
        + ["--curriculum", "pass_rate", "--difficulty-schedule", "1,2"]
    )
    cfg = config_from_rl_args(args, ExpertIterationConfig)
    assert (cfg.init, cfg.mix, cfg.select, cfg.curriculum) == (
        "start",
        0.3,
        "shortest",
        "pass_rate",
    )
    assert cfg.difficulty_schedule == "1,2"
