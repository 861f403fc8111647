"""LearnedRewardModel: scoring positions, one forward pass per batch, padding, save/load, training."""

from __future__ import annotations

import math

import gymnasium as gym
import pytest

torch = pytest.importorskip("torch")

import thinkgym  # noqa: E402,F401
from thinkgym.learning.reward_models import train_reward_model  # noqa: E402
from thinkgym.rewards import LearnedRewardModel, PotentialShaping  # noqa: E402

TINY = {"hidden_size": 32, "layers": 1, "heads": 2, "max_positions": 128}

TEXTS = [
    "Evaluate: (3 + 4) * 5\n= 7 * 5\n= 35\nAnswer: 35",
    "Evaluate: 2 * 3\n= 6\nAnswer: 6",
    "Evaluate: 1 + 1\nAnswer: 3",
]


@pytest.fixture(scope="module")
def rm():
    return LearnedRewardModel.build(seed=0, **TINY)


def _count_forwards(model):
    calls = []
    handle = model.model.register_forward_hook(lambda *a: calls.append(1))
    return calls, handle


def test_prm_scores_every_prefix_in_one_forward_pass(rm):
    calls, handle = _count_forwards(rm)
    try:
        scores = rm.score_steps(TEXTS)
    finally:
        handle.remove()
    assert len(calls) == 1
    assert [len(s) for s in scores] == [3, 2, 1]  # step lines after the problem line
    assert all(0.0 <= v <= 1.0 for row in scores for v in row)


def test_prm_prefix_scores_match_scoring_prefixes_alone(rm):
    """Causal attention: the score of a step does not depend on the steps after it."""
    text = TEXTS[0]
    full = rm.score_steps([text])[0]
    lines = text.split("\n")
    for j in range(1, len(lines)):
        prefix = "\n".join(lines[: j + 1])
        assert rm.score_steps([prefix])[0][-1] == pytest.approx(full[j - 1], abs=1e-5)


@pytest.mark.parametrize("side", ["left", "right"])
def test_padding_side_does_not_change_scores(rm, side):
    alone = [rm.score_steps([t])[0] for t in TEXTS] + [rm.score_transcripts([t])[0] for t in TEXTS]
    old = rm.tokenizer.padding_side
    rm.tokenizer.padding_side = side
    try:
        batched = rm.score_steps(TEXTS) + rm.score_transcripts(TEXTS)
    finally:
        rm.tokenizer.padding_side = old
    for a, b in zip(alone, batched, strict=True):
        assert b == pytest.approx(a, abs=1e-5)


def test_orm_scores_in_unit_interval_and_batches(rm):
    small = LearnedRewardModel(rm.model, rm.tokenizer, kind="orm", batch_size=2)
    calls, handle = _count_forwards(small)
    try:
        scores = small.score_transcripts(TEXTS)
    finally:
        handle.remove()
    assert len(calls) == 2  # 3 texts, batch_size 2
    assert len(scores) == 3 and all(0.0 <= s <= 1.0 for s in scores)
    with pytest.raises(TypeError, match="list"):
        small.score_transcripts(TEXTS[0])


def test_save_load_round_trip(rm, tmp_path):
    rm.save_pretrained(tmp_path)
    assert any(p.suffix == ".safetensors" for p in tmp_path.iterdir())
    back = LearnedRewardModel.from_pretrained(tmp_path)
    assert back.kind == rm.kind
    for x, y in zip(back.score_steps(TEXTS), rm.score_steps(TEXTS), strict=True):
        assert x == pytest.approx(y, abs=1e-6)
    assert back.score_transcripts(TEXTS) == pytest.approx(rm.score_transcripts(TEXTS), abs=1e-6)
    with pytest.raises(FileNotFoundError):
        LearnedRewardModel.from_pretrained(tmp_path / "missing")


def test_rejects_non_scalar_head(rm):
    from transformers import LlamaForTokenClassification

    cfg = rm.model.config.__class__.from_dict(rm.model.config.to_dict())
    cfg.num_labels = 3
    with pytest.raises(ValueError, match="num_labels"):
        LearnedRewardModel(LlamaForTokenClassification(cfg), rm.tokenizer)


def test_as_reward_in_env(rm):
    """A PRM plugs into gym.make(reward=...): process scores the new prefix, outcome the last."""
    env = gym.make("thinkgym/Arithmetic-v0", reward=rm).unwrapped
    env.reset(seed=0)
    trace = env.solve(env.get_state().problem)
    rewards = [env.step(s)[1] for s in trace]
    expect = rm.score_steps([env.transcript()])[0]
    assert rewards == pytest.approx(expect, abs=1e-5)
    # As a potential for shaping (value of the latest prefix).
    shaped = PotentialShaping(None, rm).bind(env)
    assert shaped.phi(env.get_state()) == 0.0  # terminal
    assert 0.0 <= rm.bind(env).value(env.get_state()) <= 1.0
    with pytest.raises(RuntimeError, match="bind"):
        rm.outcome(env.get_state())


def test_train_orm_and_prm_learn_simple_rules():
    """Tiny trainings: an ORM that likes texts ending in 'yes', a PRM that dislikes steps with 'x'."""
    orm_data = [(f"Q{i}\nsome text {'yes' if i % 2 else 'no'}", float(i % 2)) for i in range(40)]
    orm = train_reward_model(
        None, orm_data, kind="orm", steps=60, batch_size=16, lr=3e-3, seed=0, progress=False, **TINY
    )
    s = orm.score_transcripts(["Q7\nsome text yes", "Q8\nsome text no"])
    assert s[0] > 0.8 and s[1] < 0.2

    prm_data = []
    for i in range(40):
        steps = ["ab", "x" if i % 3 == 0 else "ab", "ab"]
        prm_data.append(("P\n" + "\n".join(steps), [1.0, 0.0 if i % 3 == 0 else 1.0, None]))
    prm = train_reward_model(
        None, prm_data, kind="prm", steps=60, batch_size=16, lr=3e-3, seed=0, progress=False, **TINY
    )
    good, bad = prm.score_steps(["P\nab\nab\nab", "P\nab\nx\nab"])
    assert good[1] > 0.8 and bad[1] < 0.2
    assert not math.isnan(prm.train_loss)


def test_train_is_seeded_and_validates():
    data = [("P\na\nb", [1.0, 0.0])] * 4
    a = train_reward_model(None, data, steps=3, batch_size=2, seed=1, progress=False, **TINY)
    b = train_reward_model(None, data, steps=3, batch_size=2, seed=1, progress=False, **TINY)
    assert a.score_steps(["P\na\nb"]) == b.score_steps(["P\na\nb"])
    with pytest.raises(ValueError, match="labels but"):
        train_reward_model(None, [("P\na\nb", [1.0])], steps=1, progress=False, **TINY)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        train_reward_model(None, [("P\na", [2.0])], steps=1, progress=False, **TINY)
    with pytest.raises(ValueError, match="kind"):
        train_reward_model(None, data, kind="xrm", steps=1, progress=False)
    with pytest.raises(ValueError, match="steps"):
        train_reward_model(None, data, steps=0, progress=False)


def test_early_stopping_keeps_the_weights_with_the_lowest_validation_loss():
    """Training labels contradict the validation labels: the validation loss only rises after
    the first evaluations, and the kept weights are those of the best validation step."""
    from thinkgym.learning.reward_models import _mean_loss, _normalise_examples, _rows

    train = [("P\nab", [1.0])] * 8
    valid = [("P\nab", [0.0])] * 4
    rm = train_reward_model(
        None,
        train,
        steps=40,
        batch_size=4,
        lr=3e-3,
        seed=0,
        progress=False,
        valid=valid,
        eval_every=5,
        lr_schedule="cosine",
        **TINY,
    )
    losses = [h["valid_loss"] for h in rm.history]
    assert len(losses) == 8 and rm.best_step == rm.history[losses.index(min(losses))]["step"]
    assert rm.best_step < 40 and min(losses) < losses[-1]
    rows = _rows(rm, _normalise_examples(valid, "prm"), "prm")
    assert _mean_loss(rm, rows, batch_size=4) == pytest.approx(min(losses), rel=1e-4)
    stopped = train_reward_model(
        None,
        train,
        steps=40,
        batch_size=4,
        lr=3e-3,
        seed=0,
        progress=False,
        valid=valid,
        eval_every=5,
        patience=2,
        **TINY,
    )
    assert len(stopped.history) < 8
    with pytest.raises(ValueError, match="valid"):
        train_reward_model(None, train, steps=2, eval_every=1, progress=False, **TINY)
    with pytest.raises(ValueError, match="lr_schedule"):
        train_reward_model(None, train, steps=2, lr_schedule="step", progress=False, **TINY)


def test_from_policy_copies_the_backbone_and_adds_a_fresh_head(tmp_path):
    from thinkgym.agents.llm import LLMPolicy
    from thinkgym.models import build_char_tokenizer, build_tiny_model

    tok = build_char_tokenizer()
    lm = build_tiny_model(tok, hidden_size=32, layers=2, heads=2, max_positions=128)
    lm.save_pretrained(str(tmp_path))
    tok.save_pretrained(str(tmp_path))
    policy = LLMPolicy(lm, tok, device="cpu")
    before = {k: v.clone() for k, v in policy.model.state_dict().items()}
    from_obj = LearnedRewardModel.from_policy(policy, kind="orm", seed=3)
    from_dir = LearnedRewardModel.from_policy(tmp_path, kind="orm", seed=3)
    for rm_ in (from_obj, from_dir):
        assert rm_.kind == "orm" and rm_.model.config.num_labels == 1
        for name, w in rm_.model.model.state_dict().items():
            assert torch.equal(w, before[f"model.{name}"]), name  # the policy's weights
    # Same seed, same head: both routes give the same scores.
    assert from_obj.score_transcripts(TEXTS) == pytest.approx(from_dir.score_transcripts(TEXTS))
    # Training the reward model leaves the policy untouched.
    train_reward_model(from_obj, [(t, 1.0) for t in TEXTS], kind="orm", steps=2, progress=False)
    assert all(torch.equal(v, before[k]) for k, v in policy.model.state_dict().items())
    assert not torch.equal(
        from_obj.model.model.embed_tokens.weight, before["model.embed_tokens.weight"]
    )


def test_from_policy_rejects_bad_sources(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        LearnedRewardModel.from_policy(tmp_path / "missing")
    with pytest.raises(TypeError, match="neither an LLMPolicy"):
        LearnedRewardModel.from_policy(42)
    with pytest.raises(ValueError, match="kind"):
        LearnedRewardModel.from_policy(tmp_path, kind="xrm")


def test_a_non_finite_loss_stops_training_with_a_clear_error(monkeypatch):
    import torch

    import thinkgym.learning.reward_models as rmod

    monkeypatch.setattr(
        rmod, "_batch_loss", lambda model, batch, reduction="mean": torch.tensor(float("nan"))
    )
    with pytest.raises(FloatingPointError, match="lower lr"):
        train_reward_model(
            None, [("P\nab", [1.0])] * 4, steps=3, batch_size=2, progress=False, **TINY
        )
