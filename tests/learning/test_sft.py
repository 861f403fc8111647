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
