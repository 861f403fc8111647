"""TRL without a dataset (the env makes its problems) and TRL routing rows to envs by name."""

from __future__ import annotations

import inspect
import os

import pytest

from thinkgym.learning.trl import (
    INSTRUCTION,
    ProblemStream,
    ThinkgymEnvironment,
    environment_factory,
    routing_dataset,
    tool_calling_tokenizer,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

EMPTY = [{"role": "user", "content": ""}]  # TRL's placeholder prompt when the env owns the data
TOOL_CALL = '<tool_call>\n{"name": "step", "arguments": {"step": "Answer: 30"}}\n</tool_call>'


def test_env_makes_its_own_seeded_train_problems() -> None:
    factory = environment_factory("Game24", seed=7, repeat=2)
    a, b = factory(), factory()
    texts = [a.reset(prompt=EMPTY), b.reset(prompt=EMPTY), a.reset(prompt=EMPTY)]
    assert all(t.startswith(INSTRUCTION + "\n\nNumbers: ") for t in texts)
    assert texts[0] == texts[1] != texts[2]  # each seed twice in a row, across instances
    base = a.env
    assert base.split == "train" and base.problem_split(base.get_state().problem) == "train"
    replay = environment_factory("Game24", seed=7, repeat=2)()
    assert [replay.reset() for _ in range(3)] == texts  # no prompt at all: as an empty one
    # a row's own seed (or problem) still wins, and a written prompt gets no instruction
    row = ThinkgymEnvironment("Game24")
    assert (
        row.reset(prompt=[{"role": "user", "content": "Go."}], seed=7)
        == texts[0].split("\n\n", 1)[1]
    )
    with pytest.raises(ValueError, match="repeat=0 must be a positive integer"):
        ProblemStream(0, 0)
    with pytest.raises(ValueError, match="must be a non-empty list of names"):
        routing_dataset([], 4)


def _script_bias(tok, prefix: str, script: str, context: int = 12) -> dict:
    """``sequence_bias`` that makes the untrained tiny model write ``script`` after ``prefix``."""
    ids = tok(prefix + script, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    start = len(tok(prefix, add_special_tokens=False)["input_ids"])
    return {tuple(ids[i - context : i + 1]): 100.0 for i in range(start, len(ids))}


def _trainer(tmp_path, train_dataset, factory):
    pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")
    if "environment_factory" not in inspect.signature(trl.GRPOTrainer.__init__).parameters:
        pytest.skip(f"trl {trl.__version__} has no GRPOTrainer(environment_factory=...)")
    from thinkgym.models import build_char_tokenizer, build_tiny_model

    tok = tool_calling_tokenizer(build_char_tokenizer())
    model = build_tiny_model(
        tok, hidden_size=32, layers=1, heads=2, intermediate_size=64, max_positions=2048
    )
    model.save_pretrained(tmp_path / "tiny")
    tok.save_pretrained(tmp_path / "tiny")
    return trl.GRPOTrainer(
        model=str(tmp_path / "tiny"),
        processing_class=tok,
        train_dataset=train_dataset,
        environment_factory=factory,
        args=trl.GRPOConfig(
            output_dir=str(tmp_path / "grpo"),
            max_steps=1,
            per_device_train_batch_size=4,
            num_generations=2,
            max_completion_length=90,
            max_tool_calling_iterations=1,
            generation_kwargs={
                "sequence_bias": _script_bias(tok, "<|im_start|>assistant\n", TOOL_CALL)
            },
            report_to="none",
            logging_steps=1,
            save_strategy="no",
            use_cpu=True,
            seed=0,
        ),
    )


def _tracked(factory, made: list):
    def make():
        env = factory()
        made.append(env)
        return env

    return make


def test_one_grpo_step_without_a_dataset(tmp_path) -> None:
    made: list[ThinkgymEnvironment] = []
    factory = _tracked(environment_factory("Arithmetic", difficulty=0, seed=50, repeat=2), made)
    trainer = _trainer(tmp_path, None, factory)
    out = trainer.train()
    assert out.global_step == 1
    log = trainer.state.log_history[0]
    assert log["tools/call_frequency"] > 0
    assert "rewards/ThinkgymEnvironment/mean" in log
    rollouts = made[-4:]
    problems = [e.env.get_state().problem for e in rollouts]
    assert problems[0] == problems[1] and problems[2] == problems[3]  # a group shares one
    assert problems[0] != problems[2]
    assert all(e.env.problem_split(p) == "train" for e, p in zip(rollouts, problems, strict=True))
    assert all(e.rewards for e in rollouts), "every rollout stepped the env through the tool"


def test_one_grpo_step_routed_by_environment_name(tmp_path) -> None:
    made: dict[str, list[ThinkgymEnvironment]] = {"game24": [], "countdown": []}
    factories = {
        name: _tracked(environment_factory(env_id), made[name])
        for name, env_id in (("game24", "Game24"), ("countdown", "Countdown"))
    }
    dataset = routing_dataset(["game24", "countdown"], 2)
    trainer = _trainer(tmp_path, dataset, factories)
    out = trainer.train()
    assert out.global_step == 1
    log = trainer.state.log_history[0]
    assert log["tools/call_frequency"] > 0
    for name, task in (("game24", "Game24Env"), ("countdown", "CountdownEnv")):
        used = [e for e in made[name] if e.rewards]
        assert used, f"no {name} rollout stepped its env"
        assert all(e.env.get_state().task == task for e in used)
