"""SFT: the loss falls, held-out step accuracy rises, and resume is exact."""

from __future__ import annotations

import string

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from thinkgym.agents.llm import LLMPolicy  # noqa: E402
from thinkgym.learning.evaluation import step_accuracy  # noqa: E402
from thinkgym.learning.sft import batch_indices, latest_checkpoint, sft  # noqa: E402
from thinkgym.learning.traces import Trace, make_traces, pairs  # noqa: E402
from thinkgym.models import build_char_tokenizer, build_tiny_model  # noqa: E402


def _policy(seed: int = 0) -> LLMPolicy:
    tok = build_char_tokenizer()
    model = build_tiny_model(tok, seed=seed, hidden_size=48, layers=2, heads=2, max_positions=64)
    return LLMPolicy(model, tok, device="cpu")


def _copy_traces(words: list[str]) -> list[Trace]:
    """A hand-made tiny task: repeat the word, then answer with it reversed."""
    return [Trace("copy", f"Copy: {w}", (w, f"Answer: {w[::-1]}")) for w in words]


def _words(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = list(string.ascii_lowercase)
    return ["".join(rng.choice(letters, size=3)) for _ in range(n)]


def test_sft_lowers_loss_and_raises_heldout_step_accuracy() -> None:
    torch.set_num_threads(1)
    train_words = _words(600, 0)
    held = [w for w in _words(80, 1) if w not in set(train_words)][:40]
    policy = _policy()
    held_pairs = pairs(_copy_traces(held))
    before = step_accuracy(policy, held_pairs)
    result = sft(
        policy,
        _copy_traces(train_words),
        steps=400,
        batch_size=32,
        lr=3e-3,
        warmup=20,
        progress=False,
    )
    after = step_accuracy(policy, held_pairs)
    assert np.mean(result.losses[-20:]) < 0.5 * np.mean(result.losses[:5])
    assert before < 0.1
    assert after >= before + 0.4, (before, after)


def test_batch_order_is_a_function_of_seed_and_step() -> None:
    a = batch_indices(100, 8, seed=3, step=17)
    assert np.array_equal(a, batch_indices(100, 8, seed=3, step=17))
    assert not np.array_equal(a, batch_indices(100, 8, seed=4, step=17))
    epoch = np.concatenate([batch_indices(96, 8, 0, k) for k in range(12)])
    assert sorted(epoch.tolist()) == list(range(96))


def test_resume_continues_the_same_loss_curve(tmp_path) -> None:
    torch.set_num_threads(1)
    traces = make_traces("thinkgym/Countdown-v0", 30, seed=0, env_kwargs={"n_numbers": 2})
    kw = dict(steps=8, batch_size=8, lr=2e-3, progress=False, seed=5)
    full = sft(_policy(), traces, **kw)
    out = tmp_path / "run"
    part = sft(_policy(), traces, out_dir=out, save_every=4, stop_at=4, **kw)
    assert part.step == 4 and latest_checkpoint(out).name == "step-0000004"
    resumed = sft(_policy(seed=123), traces, out_dir=out, save_every=4, **kw)
    assert resumed.step == 8 and len(resumed.losses) == 8
    np.testing.assert_allclose(resumed.losses, full.losses, rtol=1e-5, atol=1e-6)
    state = torch.load(
        latest_checkpoint(out) / "trainer_state.pt", map_location="cpu", weights_only=True
    )
    assert state["step"] == 8 and len(state["losses"]) == 8


def test_sft_checks_its_arguments() -> None:
    policy = _policy()
    with pytest.raises(ValueError, match="traces is empty"):
        sft(policy, [], steps=1)
    with pytest.raises(ValueError, match="exactly one"):
        sft(policy, _copy_traces(["abc"]), steps=1, epochs=1)


def test_train_sft_command_with_the_default_recipe(tmp_path) -> None:
    import argparse
    import json

    from thinkgym.agents.llm import LLMPolicy
    from thinkgym.commands.train_sft import add_arguments, run

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out, export = tmp_path / "run", tmp_path / "export"
    argv = ["--recipe", "default", "--out", str(out), "--export", str(export)]
    argv += ["--steps", "3", "--batch-size", "4", "--data-scale", "0.002", "--eval-limit", "1"]
    argv += ["--hidden", "32", "--layers", "1", "--heads", "2", "--intermediate", "64"]
    argv += ["--max-positions", "256", "--device", "cpu", "--no-progress"]
    assert run(parser.parse_args(argv)) == 0
    record = json.loads((out / "result.json").read_text())
    assert record["step"] == 3 and len(record["losses"]) == 3
    assert set(record["evals"][-1]) >= {"step", "thinkgym/Game24-v0", "thinkgym/Arithmetic-v0"}
    policy = LLMPolicy.from_pretrained(export, device="cpu")
    assert len(policy.propose(["Evaluate: 1 + 2"], 2, seed=0, max_new_tokens=4)[0]) == 2
    assert json.loads((export / "training_args.json").read_text())["recipe"] == "default"


# ---------------------------------------------------------------- one configuration
def test_sft_config_is_the_one_source_of_defaults() -> None:
    import argparse
    import dataclasses
    import inspect

    from thinkgym.commands._common import field_docs
    from thinkgym.commands.train_sft import add_arguments
    from thinkgym.learning.recipes import RECIPES
    from thinkgym.learning.sft import SFTConfig

    docs = field_docs(SFTConfig)
    assert {f.name for f in dataclasses.fields(SFTConfig)} == set(docs), "a field lacks a docstring"
    # sft() has no defaults of its own: its settings come from SFTConfig
    params = inspect.signature(sft).parameters
    assert not set(params) & {f.name for f in dataclasses.fields(SFTConfig)}
    for recipe in RECIPES.values():
        assert isinstance(recipe.config, SFTConfig) and recipe.config.validate() is recipe.config
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--out", "x"])
    # options left out stay absent, so SFTConfig's (or the recipe's) value is used
    assert not any(hasattr(args, f.name) for f in dataclasses.fields(SFTConfig))
    args = parser.parse_args(["--out", "x", "--batch-size", "8", "--no-resume"])
    assert (args.batch_size, args.resume) == (8, False)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"batch_size": 0}, "batch_size=0 is below 1"),
        ({"lr": float("nan")}, "lr=nan is not finite"),
        ({"lr": -1.0}, "lr=-1.0 is not positive"),
        ({"steps": None}, "exactly one of steps"),
        ({"heads": 3}, "heads=3 does not divide hidden=256"),
        ({"export_dtype": "int8"}, "export_dtype='int8'.*float16"),
        ({"time_budget": float("inf")}, "time_budget=inf is not finite"),
        ({"steps": 2.5}, "steps=2.5 is not an integer"),
    ],
)
def test_sft_config_validate_names_the_field_the_value_and_the_fix(change, match) -> None:
    from thinkgym.learning.sft import SFTConfig

    with pytest.raises(ValueError, match=match):
        SFTConfig(**change).validate()


def test_unknown_sft_setting_suggests_the_right_one() -> None:
    with pytest.raises(TypeError, match="did you mean 'batch_size'"):
        sft(_policy(), _copy_traces(["abc"]), batch_sise=4)


def test_epochs_replace_steps() -> None:
    from thinkgym.learning.sft import SFTConfig

    cfg = SFTConfig().replace(epochs=2.0).validate()
    assert cfg.steps is None and cfg.epochs == 2.0


# ---------------------------------------------------------------- damaged checkpoints, bad losses
def _traces_small() -> list[Trace]:
    return make_traces("thinkgym/Countdown-v0", 20, seed=0, env_kwargs={"n_numbers": 2})


def test_resume_falls_back_to_the_newest_intact_checkpoint(tmp_path) -> None:
    torch.set_num_threads(1)
    traces = _traces_small()
    kw = dict(steps=6, batch_size=4, lr=2e-3, progress=False, seed=1, keep_checkpoints=3)
    full = sft(_policy(), traces, **kw)
    out = tmp_path / "run"
    sft(_policy(), traces, out_dir=out, save_every=2, stop_at=4, **kw)
    newest = out / "checkpoints" / "step-0000004"
    weights = newest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated copy
    lines: list[str] = []
    resumed = sft(_policy(seed=9), traces, out_dir=out, save_every=2, log=lines.append, **kw)
    assert any("skipping damaged checkpoint" in s and "model.safetensors" in s for s in lines)
    assert any("resumed from" in s and "step-0000002" in s for s in lines)
    np.testing.assert_allclose(resumed.losses, full.losses, rtol=1e-5, atol=1e-6)
    assert (out / "checkpoints" / "step-0000004.damaged").is_dir()


@pytest.mark.parametrize("damage", ["truncate_state", "garbage_state", "foreign_state"])
def test_no_usable_checkpoint_is_an_error_not_a_silent_restart(tmp_path, damage) -> None:
    from thinkgym.checkpoints import CheckpointError

    torch.set_num_threads(1)
    traces = _traces_small()
    out = tmp_path / "run"
    sft(_policy(), traces, out_dir=out, steps=2, batch_size=4, progress=False)
    state = out / "checkpoints" / "step-0000002" / "trainer_state.pt"
    if damage == "truncate_state":
        state.write_bytes(state.read_bytes()[:300])
    elif damage == "garbage_state":
        state.write_bytes(b"\x00garbage" * 50)
    else:
        torch.save({"step": 2}, state)
    with pytest.raises(CheckpointError, match="no usable checkpoint.*trainer_state.pt"):
        sft(_policy(), traces, out_dir=out, steps=4, batch_size=4, progress=False)


def test_a_checkpoint_of_another_model_is_refused(tmp_path) -> None:
    from thinkgym.checkpoints import CheckpointError

    torch.set_num_threads(1)
    traces = _traces_small()
    out = tmp_path / "run"
    sft(_policy(), traces, out_dir=out, steps=2, batch_size=4, progress=False)
    tok = build_char_tokenizer()
    model = build_tiny_model(tok, hidden_size=64, layers=2, heads=2, max_positions=64)
    wider = LLMPolicy(model, tok, device="cpu")
    with pytest.raises(CheckpointError, match="shape mismatch"):
        sft(wider, traces, out_dir=out, steps=4, batch_size=4, progress=False)


def test_a_non_finite_loss_stops_training_and_saves_nothing_new(tmp_path) -> None:
    from thinkgym.learning.sft import NonFiniteLossError

    torch.set_num_threads(1)
    traces = _traces_small()
    out = tmp_path / "run"
    kw = dict(batch_size=4, progress=False, warmup=1, grad_clip=0.0)
    sft(_policy(), traces, out_dir=out, steps=1, lr=1e-3, **kw)
    good = out / "checkpoints" / "step-0000001"
    before = {p.name: p.read_bytes() for p in good.iterdir()}
    with pytest.raises(NonFiniteLossError, match="training stopped.*step-0000001 is kept"):
        sft(_policy(), traces, out_dir=out, steps=50, lr=1e30, resume=False, **kw)
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["step-0000001"]
    assert {p.name: p.read_bytes() for p in good.iterdir()} == before
