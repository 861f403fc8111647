"""Resume in SFT and GRPO: every corrupt trainer state falls back to the newest intact checkpoint
with one line, a stray checkpoint does not block, changed settings and impossible steps are
refused."""

from __future__ import annotations

import copy
import random

import pytest

torch = pytest.importorskip("torch")

from learning_toy import register_toy, tiny_policy  # noqa: E402

from thinkgym.checkpoints import (  # noqa: E402
    CheckpointError,
    SettingsChangedError,
    load_trainer_state,
)
from thinkgym.learning.grpo import GRPOConfig, grpo, iteration_checkpoints  # noqa: E402
from thinkgym.learning.sft import checkpoints, sft  # noqa: E402
from thinkgym.learning.traces import make_traces  # noqa: E402

TOY = register_toy()


@pytest.fixture(scope="module")
def traces():
    return make_traces("thinkgym/Countdown-v0", 12, seed=0, env_kwargs={"n_numbers": 2})


def _fuzzed(data: bytes, seed: int) -> bytes:
    """``data`` with a few random bytes changed (and every fifth one cut short)."""
    rng = random.Random(seed)
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b[: rng.randrange(1, len(b))] if seed % 5 == 0 else b)


def _damages(good: bytes) -> list[bytes]:
    """A single byte 't' (IndexError in the unpickler), and fuzzed copies of a good state."""
    return [b"t", b"", *(_fuzzed(good, s) for s in range(12))]


def test_every_corrupt_trainer_state_is_a_checkpoint_error(tmp_path) -> None:
    """Whatever the unpickler raises (IndexError, KeyError, TypeError, UnicodeDecodeError, ...),
    the caller sees one CheckpointError naming the file."""
    f = tmp_path / "trainer_state.pt"
    torch.save({"step": 3, "x": torch.zeros(8), "state": '{"history": []}'}, f)
    good = f.read_bytes()
    refused = 0
    for i, data in enumerate(_damages(good) + [_fuzzed(good, 100 + s) for s in range(40)]):
        f.write_bytes(data)
        try:
            state = load_trainer_state(f)
        except CheckpointError as exc:
            assert "trainer_state.pt" in str(exc) and "\n" not in str(exc), i
            refused += 1
            continue
        assert isinstance(state, dict) and isinstance(state["step"], int)  # a harmless flip
    assert refused >= 2


def test_a_step_beyond_the_run_or_its_directory_is_refused(tmp_path) -> None:
    f = tmp_path / "trainer_state.pt"
    torch.save({"step": 500}, f)
    with pytest.raises(CheckpointError, match="step 500 is beyond the run's end"):
        load_trainer_state(f, end=100)
    with pytest.raises(CheckpointError, match="says step 500 but its directory is step 40"):
        load_trainer_state(f, expect_step=40)
    torch.save({"step": -1}, f)
    with pytest.raises(CheckpointError, match="step=-1"):
        load_trainer_state(f)


@pytest.mark.parametrize("damage", ["t", "cut", *range(6)])
def test_sft_falls_back_from_any_corrupt_state_with_one_line(tmp_path, traces, damage) -> None:
    """A single byte, a cut file or random byte flips: the run never crashes; a state that
    cannot be used is set aside with one line and the older checkpoint resumes."""
    kw = dict(steps=4, batch_size=4, lr=2e-3, progress=False, seed=1, save_every=2)
    out = tmp_path / "run"
    sft(tiny_policy(), traces, out_dir=out, stop_at=4, keep_checkpoints=2, **kw)
    state = out / "checkpoints" / "step-0000004" / "trainer_state.pt"
    good = state.read_bytes()
    if damage == "t":
        state.write_bytes(b"t")
    elif damage == "cut":
        state.write_bytes(good[: len(good) // 2])
    else:
        state.write_bytes(_fuzzed(good, damage))
    lines: list[str] = []
    res = sft(tiny_policy(), traces, out_dir=out, log=lines.append, keep_checkpoints=2, **kw)
    skipped = [s for s in lines if "skipping damaged checkpoint" in s]
    resumed = [s for s in lines if "resumed from" in s]
    assert len(resumed) == 1, lines
    if damage in ("t", "cut") or skipped:
        assert len(skipped) == 1 and "step-0000004" in skipped[0], lines
        assert "step-0000002" in resumed[0]
    else:  # the flips hit nothing the run reads back (tensor data)
        assert "step-0000004" in resumed[0]
    assert res.step == 4 and len(res.losses) == 4


def test_sft_refuses_other_settings_unless_override(tmp_path, traces) -> None:
    kw = dict(steps=4, batch_size=4, progress=False, save_every=2)
    out = tmp_path / "run"
    sft(tiny_policy(), traces, out_dir=out, stop_at=2, lr=1e-4, **kw)
    with pytest.raises(SettingsChangedError, match=r"lr=0\.5 now, 0\.0001 in the run.*--override"):
        sft(tiny_policy(), traces, out_dir=out, lr=0.5, **kw)
    assert [d.name for d in checkpoints(out)] == ["step-0000002"]  # nothing was touched
    lines: list[str] = []
    res = sft(tiny_policy(), traces, out_dir=out, lr=1e-5, override=True, log=lines.append, **kw)
    assert res.step == 4 and any("override" in s and "lr" in s for s in lines)


def test_sft_refuses_a_checkpoint_beyond_the_runs_end(tmp_path, traces) -> None:
    out = tmp_path / "run"
    sft(tiny_policy(), traces, out_dir=out, steps=4, batch_size=4, progress=False, save_every=4)
    with pytest.raises(CheckpointError, match="step 4 is beyond the run's end"):
        sft(tiny_policy(), traces, out_dir=out, steps=2, batch_size=4, progress=False)


# ---------------------------------------------------------------------------- GRPO
def _grpo_cfg(out, **changes) -> GRPOConfig:
    base = dict(
        env=TOY,
        env_kwargs={"rule": "high"},
        out_dir=str(out),
        iterations=3,
        problems_per_iter=2,
        group_size=2,
        lr=1e-4,
        max_new_tokens=8,
        eval_every=0,
        eval_limit=2,
        save_every=1,
        kl_coef=0.0,
        device="cpu",
    )
    base.update(changes)
    return GRPOConfig(**base)


@pytest.fixture(scope="module")
def start():
    return tiny_policy(seed=3)


def test_grpo_keeps_the_two_newest_checkpoints(tmp_path, start) -> None:
    grpo(_grpo_cfg(tmp_path), policy=copy.deepcopy(start), progress=False, log=lambda s: None)
    assert [d.name for d in iteration_checkpoints(tmp_path)] == ["iter-000003", "iter-000002"]


@pytest.mark.parametrize("damage", [b"t", "fuzz", "stray"])
def test_grpo_falls_back_from_a_corrupt_or_stray_checkpoint(tmp_path, start, damage) -> None:
    quiet = dict(progress=False, log=lambda s: None)
    grpo(_grpo_cfg(tmp_path), policy=copy.deepcopy(start), stop_at=2, **quiet)
    ckpts = tmp_path / "checkpoints"
    if damage == "stray":  # an iter-000099 with a bad state, beyond the run's end
        stray = ckpts / "iter-000099"
        stray.mkdir()
        (stray / "trainer_state.pt").write_bytes(b"t")
    else:
        state = ckpts / "iter-000002" / "trainer_state.pt"
        state.write_bytes(b"t" if damage == b"t" else _fuzzed(state.read_bytes(), 0))
    lines: list[str] = []
    history = grpo(
        _grpo_cfg(tmp_path), policy=copy.deepcopy(start), progress=False, log=lines.append
    )
    skipped = [s for s in lines if "skipping damaged checkpoint" in s]
    assert len(skipped) == 1, lines
    resumed = [s for s in lines if "resumed from" in s]
    want = "iter-000002" if damage == "stray" else "iter-000001"
    assert len(resumed) == 1 and want in resumed[0], lines
    assert [r["iteration"] for r in history] == [0, 1, 2, 3]


def test_grpo_refuses_other_settings_unless_override(tmp_path, start) -> None:
    quiet = dict(progress=False, log=lambda s: None)
    grpo(_grpo_cfg(tmp_path), policy=copy.deepcopy(start), stop_at=1, **quiet)
    with pytest.raises(
        SettingsChangedError, match=r"lr=0\.5 now, 0\.0001 in the run.*--lr 0\.0001"
    ):
        grpo(_grpo_cfg(tmp_path, lr=0.5), policy=copy.deepcopy(start), **quiet)
    # the run's length and how often it evaluates may change
    grpo(_grpo_cfg(tmp_path, iterations=2, eval_every=1), policy=copy.deepcopy(start), **quiet)
    lines: list[str] = []
    grpo(
        _grpo_cfg(tmp_path, lr=5e-5, override=True),
        policy=copy.deepcopy(start),
        progress=False,
        log=lines.append,
    )
    assert any("override" in s and "lr" in s for s in lines), lines
