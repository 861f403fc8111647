"""Checked loading: corrupt, truncated and foreign files are refused with one line naming them."""

from __future__ import annotations

import json
import shutil
import struct

import pytest

torch = pytest.importorskip("torch")

from thinkgym.agents.llm import LLMPolicy  # noqa: E402
from thinkgym.checkpoints import (  # noqa: E402
    CheckpointError,
    check_safetensors,
    load_trainer_state,
    load_weights,
)
from thinkgym.models import build_char_tokenizer, build_tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt") / "policy"
    tok = build_char_tokenizer()
    model = build_tiny_model(tok, hidden_size=32, layers=1, heads=2, max_positions=64)
    LLMPolicy(model, tok, device="cpu").save_pretrained(d)
    return d


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_a_saved_policy_loads(model_dir) -> None:
    policy = LLMPolicy.from_pretrained(model_dir, device="cpu")
    assert policy.model.config.hidden_size == 32


def test_a_missing_directory_is_an_error_without_any_hub_lookup(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no such directory") as exc:
        LLMPolicy.from_pretrained(tmp_path / "typo")
    assert "typo" in _one_line(exc)


def test_a_directory_that_is_not_a_model_says_so(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="not a policy directory.*config.json") as exc:
        LLMPolicy.from_pretrained(tmp_path)
    assert "Repo id" not in _one_line(exc)


@pytest.mark.parametrize("cut", [0, 5, 100, -10])
def test_a_truncated_weights_file_names_the_file(model_dir, tmp_path, cut) -> None:
    d = _copy(model_dir, tmp_path / "m")
    f = d / "model.safetensors"
    data = f.read_bytes()
    f.write_bytes(data[:cut] if cut >= 0 else data[:cut])
    with pytest.raises(CheckpointError, match="model.safetensors") as exc:
        LLMPolicy.from_pretrained(d)
    _one_line(exc)


def test_a_corrupt_header_names_the_file(model_dir, tmp_path) -> None:
    d = _copy(model_dir, tmp_path / "m")
    f = d / "model.safetensors"
    data = bytearray(f.read_bytes())
    data[8:40] = b"\xff" * 32
    f.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="model.safetensors"):
        check_safetensors(f)


@pytest.mark.parametrize("offsets", [["a", "b"], [0, None], [0, [1]], [0]])
def test_a_header_with_bad_offsets_names_the_file(tmp_path, offsets) -> None:
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": offsets}}).encode()
    f = tmp_path / "model.safetensors"
    f.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(CheckpointError, match="model.safetensors.*tensor 'w'"):
        check_safetensors(f)


@pytest.mark.parametrize(
    "change", [{"hidden_size": 64}, {"num_hidden_layers": 2}, {"vocab_size": 500}]
)
def test_a_config_that_does_not_fit_the_weights_is_refused(model_dir, tmp_path, change) -> None:
    d = _copy(model_dir, tmp_path / "m")
    config = json.loads((d / "config.json").read_text())
    config.update(change)
    (d / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="does not fit the weights") as exc:
        LLMPolicy.from_pretrained(d)
    _one_line(exc)


def test_a_broken_config_json_names_the_file(model_dir, tmp_path) -> None:
    d = _copy(model_dir, tmp_path / "m")
    (d / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json: not valid JSON"):
        LLMPolicy.from_pretrained(d)


def test_load_weights_checks_before_copying(model_dir) -> None:
    tok = build_char_tokenizer()
    other = build_tiny_model(tok, hidden_size=48, layers=1, heads=2, max_positions=64)
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_weights(other, model_dir)
    after = other.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("content", [b"", b"garbage" * 10, "truncate", "foreign"])
def test_a_bad_trainer_state_names_the_file(tmp_path, content) -> None:
    f = tmp_path / "trainer_state.pt"
    if content == "truncate":
        torch.save({"step": 3, "x": torch.zeros(100)}, f)
        f.write_bytes(f.read_bytes()[:200])
    elif content == "foreign":
        torch.save({"weights": torch.zeros(3)}, f)
    else:
        f.write_bytes(content)
    with pytest.raises(CheckpointError, match="trainer_state.pt") as exc:
        load_trainer_state(f)
    _one_line(exc)


@pytest.fixture(scope="module")
def reward_dir(tmp_path_factory):
    from thinkgym.rewards.learned import LearnedRewardModel

    d = tmp_path_factory.mktemp("rm") / "prm"
    LearnedRewardModel.build(hidden_size=32, layers=1, heads=2, max_positions=64).save_pretrained(d)
    return d


@pytest.mark.parametrize(
    "meta, match",
    [
        ({"kind": "xrm"}, "kind='xrm'"),
        ({"kind": "prm", "outcome_how": "median"}, "outcome_how='median'"),
        ({"kind": "prm", "problem_lines": -1}, "problem_lines=-1"),
        ({"kind": "prm", "temperature": 2}, "unknown settings"),
        ("{broken", "not valid JSON"),
    ],
)
def test_a_bad_reward_model_config_is_refused_at_load_time(reward_dir, tmp_path, meta, match):
    from thinkgym.rewards.learned import LearnedRewardModel

    d = _copy(reward_dir, tmp_path / "rm")
    text = meta if isinstance(meta, str) else json.dumps(meta)
    (d / "thinkgym_reward.json").write_text(text)
    with pytest.raises(CheckpointError, match=match) as exc:
        LearnedRewardModel.from_pretrained(d)
    assert "thinkgym_reward.json" in _one_line(exc)


def test_a_reward_model_loads_and_a_policy_dir_is_not_one(reward_dir, model_dir) -> None:
    from thinkgym.rewards.learned import LearnedRewardModel

    assert LearnedRewardModel.from_pretrained(reward_dir).kind == "prm"
    # a causal LM folder lacks the scalar head: refused, not filled with a random head
    with pytest.raises(CheckpointError, match="does not fit the weights"):
        LearnedRewardModel.from_pretrained(model_dir)
    assert LearnedRewardModel.from_policy(model_dir).kind == "prm"


def test_a_path_that_is_not_a_directory_never_reaches_transformers(monkeypatch, tmp_path) -> None:
    import transformers

    def no_hub(*args, **kwargs):
        raise AssertionError("transformers was asked to load (and could look up a hub)")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_hub)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", no_hub)
    for spec in ("runs/typo", "someone/some-model", str(tmp_path / "missing")):
        with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
            LLMPolicy.from_pretrained(spec)


def test_a_reward_model_folder_is_not_taken_for_a_policy(reward_dir) -> None:
    # a foreign checkpoint: same architecture family, another head; never filled in at random
    with pytest.raises(CheckpointError, match="does not fit the weights.*lm_head"):
        LLMPolicy.from_pretrained(reward_dir)
