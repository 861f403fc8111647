"""Checked loading of model directories and training checkpoints (model-builder layer).

Everything that reads weights goes through here, so that a bad file is refused with one line that
names it, instead of a transformers traceback, a hub lookup or randomly initialised weights:

* :func:`check_model_dir`: a path that is not a local directory with a ``config.json`` is refused
  before transformers sees it (no hub is ever contacted: a typo is not a repo id).
* :func:`check_safetensors`: the header of every ``*.safetensors`` file parses and the file is as
  long as the header says (a truncated copy is caught without reading the tensors).
* :func:`load_pretrained`: ``from_pretrained`` with ``local_files_only``; missing or unexpected
  weights and shape mismatches (a config that does not fit the weights) are errors.
* :func:`load_weights`: weights of a checkpoint into an existing model, checked key by key and
  shape by shape *before* anything is copied.
* :func:`load_trainer_state`: a ``trainer_state.pt`` read with ``weights_only=True``; a truncated,
  corrupt or foreign file, or a ``step`` beyond the run's end, is a :class:`CheckpointError`.
* :func:`restore_newest`: resume from the newest checkpoint that restores; damaged ones are set
  aside with one line each (``NAME.damaged``), so a stray or corrupt checkpoint never blocks a
  resume.
* :func:`check_resume_settings`: resuming with other settings than the run was made with is
  refused, naming the setting, unless the caller overrides.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "CheckpointError",
    "SettingsChangedError",
    "check_model_dir",
    "check_resume_settings",
    "check_safetensors",
    "check_state_dict",
    "load_pretrained",
    "load_tokenizer",
    "load_trainer_state",
    "load_weights",
    "read_json",
    "restore_newest",
]

_MAX_HEADER = 100 * 1024 * 1024  # the safetensors format's own limit


class CheckpointError(ValueError):
    """A model directory or checkpoint that cannot be used; the message names the file."""


class SettingsChangedError(ValueError):
    """A run would resume with other settings than it was made with; the message names them."""


def check_model_dir(path: str | os.PathLike[str], what: str = "model") -> Path:
    """``path`` as a :class:`~pathlib.Path` if it is a local model directory, else an error.

    Args:
        path: a directory written by ``save_pretrained``.
        what: what the directory should hold, for the message ("policy", "reward model").

    Raises:
        FileNotFoundError: ``path`` does not exist (nothing is looked up on a model hub).
        CheckpointError: ``path`` is a file, or a directory without ``config.json``.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(
            f"{os.fspath(path)!r}: no such directory; give a local {what} directory written by "
            "save_pretrained (nothing is downloaded)"
        )
    if not p.is_dir():
        raise CheckpointError(f"{os.fspath(path)!r} is a file, not a {what} directory")
    if not (p / "config.json").is_file():
        raise CheckpointError(
            f"{os.fspath(path)!r} is not a {what} directory: it has no config.json (write one "
            "with save_pretrained)"
        )
    read_json(p / "config.json")
    for f in sorted(p.glob("*.safetensors")):
        check_safetensors(f)
    return p


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON object in ``path``; a :class:`CheckpointError` naming the file if it is not one."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{os.fspath(path)}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointError(
            f"{os.fspath(path)}: expected a JSON object, found {type(data).__name__}"
        )
    return data


def check_safetensors(path: str | os.PathLike[str]) -> None:
    """Check that a ``.safetensors`` file is complete, reading only its header.

    Raises:
        CheckpointError: the header does not parse, or the file is shorter or longer than the
            header says (truncated copy, interrupted save, not a safetensors file).
    """
    name = os.fspath(path)
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{name}: truncated safetensors file ({size} bytes)")
        (n,) = struct.unpack("<Q", head)
        if n > min(_MAX_HEADER, size - 8):
            raise CheckpointError(f"{name}: not a safetensors file or truncated (bad header)")
        try:
            header = json.loads(fh.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise CheckpointError(f"{name}: corrupt safetensors header") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{name}: corrupt safetensors header")
    end = 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        try:
            begin, stop = entry["data_offsets"]
            end = max(end, int(stop))
        except (TypeError, KeyError, ValueError):
            raise CheckpointError(f"{name}: corrupt safetensors header (tensor {key!r})") from None
    if 8 + n + end != size:
        raise CheckpointError(
            f"{name}: truncated or padded safetensors file ({size} bytes, header says "
            f"{8 + n + end})"
        )


def _tied_keys(model: Any) -> set[str]:
    config = getattr(model, "config", None)
    tied = getattr(config, "tie_word_embeddings", False)
    return {k for k in model.state_dict() if k.endswith("lm_head.weight")} if tied else set()


def _matches(key: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch(key, p) for p in patterns)


def _short(keys: Sequence[str], n: int = 4) -> str:
    keys = sorted(keys)
    more = f" and {len(keys) - n} more" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def _fit_problems(
    shapes: Sequence[str],
    missing: Sequence[str],
    unexpected: Sequence[str],
    shape_label: str,
    n_shapes: int = 2,
) -> str:
    """``"shape mismatch ...; missing weights: ...; unexpected weights: ..."`` ("" when none)."""
    problems = []
    if shapes:
        problems.append(f"{shape_label}: {_short(shapes, n_shapes)}")
    if missing:
        problems.append(f"missing weights: {_short(missing)}")
    if unexpected:
        problems.append(f"unexpected weights: {_short(unexpected)}")
    return "; ".join(problems)


def check_state_dict(
    model: Any,
    state: dict[str, Any],
    source: str,
    *,
    allow_missing: Sequence[str] = (),
    allow_unexpected: Sequence[str] = (),
) -> None:
    """Refuse ``state`` unless it has exactly ``model``'s weights with the same shapes.

    Args:
        model: a ``torch.nn.Module``.
        state: name -> tensor.
        source: the file or directory, for the message.
        allow_missing: glob patterns of weights the state may lack (tied heads are allowed).
        allow_unexpected: glob patterns of extra weights to ignore.

    Raises:
        CheckpointError: missing or unexpected weights, or shape mismatches.
    """
    own = model.state_dict()
    tied = _tied_keys(model)
    missing = [
        k for k in own if k not in state and k not in tied and not _matches(k, allow_missing)
    ]
    unexpected = [k for k in state if k not in own and not _matches(k, allow_unexpected)]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = _fit_problems(shapes, missing, unexpected, "shape mismatch (checkpoint vs model)")
    if problems:
        raise CheckpointError(
            f"{source} does not fit the model ({problems}); load it with the config "
            "it was saved with"
        )


def load_weights(model: Any, directory: str | os.PathLike[str]) -> None:
    """Load the ``*.safetensors`` weights of ``directory`` into ``model``, all checked first.

    Raises:
        CheckpointError: no weights, a corrupt file, or weights that do not fit the model (the
            model is left unchanged).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    d = Path(directory)
    files = sorted(d.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"{d}: no .safetensors weights")
    state: dict[str, Any] = {}
    for f in files:
        check_safetensors(f)
        try:
            state.update(load_file(str(f)))
        except (SafetensorError, OSError, RuntimeError) as exc:
            raise CheckpointError(
                f"{f}: unreadable weights ({' '.join(str(exc).split())})"
            ) from None
    check_state_dict(model, state, str(d))
    model.load_state_dict(state, strict=False)
    if _tied_keys(model):
        model.tie_weights()


def load_trainer_state(
    path: str | os.PathLike[str],
    required: Sequence[str] = ("step",),
    *,
    end: int | None = None,
    expect_step: int | None = None,
) -> dict:
    """Read a ``trainer_state.pt`` (``weights_only=True``: it runs no code from the file).

    Args:
        path: the file.
        required: keys the state must have (a state without them is foreign).
        end: the run's last step; a state whose ``step`` lies beyond it is refused.
        expect_step: the step the checkpoint's directory name says (``iter-000040`` -> 40); a
            state that claims another step is refused.

    Raises:
        CheckpointError: missing, empty, truncated, corrupt, not a thinkgym trainer state, or a
            ``step`` that is not an integer >= 0, lies beyond ``end`` or differs from
            ``expect_step``.
    """
    import torch

    name = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{name}: missing")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a corrupt file raises anything from the unpickler
        # (a single byte "t" gives IndexError; fuzzed files KeyError, TypeError, UnicodeError)
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise CheckpointError(
            f"{name}: truncated or corrupt trainer state ({type(exc).__name__}: {reason})"
        ) from None
    if not isinstance(state, dict) or any(k not in state for k in required):
        raise CheckpointError(
            f"{name}: not a thinkgym trainer state (needs the keys {', '.join(required)})"
        )
    if "step" in state:
        step = state["step"]
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise CheckpointError(f"{name}: corrupt trainer state (step={step!r})")
        if end is not None and step > end:
            raise CheckpointError(
                f"{name}: step {step} is beyond the run's end ({end}); a state from another run "
                "or a damaged file"
            )
        if expect_step is not None and step != expect_step:
            raise CheckpointError(
                f"{name}: the state says step {step} but its directory is step {expect_step}"
            )
    return state


_T = TypeVar("_T")


def restore_newest(
    candidates: Sequence[Path],
    restore: Callable[[Path], _T],
    *,
    write: Callable[[str], None],
    tag: str,
) -> tuple[Path, _T] | None:
    """Restore the newest checkpoint of ``candidates`` that ``restore`` accepts.

    ``restore(ckpt)`` checks and loads one checkpoint and raises :class:`CheckpointError` when it
    is unusable. Each unusable one newer than the restored one is renamed ``NAME.damaged`` (so it
    is neither resumed nor pruned later) and reported in one line.

    Args:
        candidates: checkpoint directories, newest first.
        restore: loads one checkpoint; its return value is handed back.
        write: where the lines go.
        tag: the line prefix (``"sft"`` gives ``[sft] ...``).

    Returns:
        ``(checkpoint, restore's value)``, or ``None`` when there is no candidate.

    Raises:
        CheckpointError: there are candidates and none restores (the message names the newest
            one's problem and what to do).
    """
    damaged: list[tuple[Path, CheckpointError]] = []
    for ckpt in candidates:
        try:
            value = restore(ckpt)
        except CheckpointError as exc:
            damaged.append((ckpt, exc))
            continue
        for bad, exc in damaged:
            aside = bad.with_name(bad.name + ".damaged")
            if aside.exists():
                shutil.rmtree(aside)
            bad.rename(aside)
            write(
                f"[{tag}] skipping damaged checkpoint: {' '.join(str(exc).split())} (set aside "
                f"as {aside.name}; resuming from {ckpt.name})"
            )
        return ckpt, value
    if damaged:
        where = damaged[0][0].parent
        raise CheckpointError(
            f"no usable checkpoint in {where} ({len(damaged)} damaged; the newest: "
            f"{' '.join(str(damaged[0][1]).split())}); remove them, or start afresh with resume "
            "off (--no-resume) or another run directory"
        )
    return None


def _cli_value(value: Any) -> str:
    """``value`` as it is written on a command line."""
    if isinstance(value, (dict, list)):
        return "'" + json.dumps(value) + "'"
    return str(value)


def check_resume_settings(
    saved: Mapping[str, Any],
    now: Mapping[str, Any],
    *,
    source: str,
    ignore: Iterable[str] = (),
    override: bool = False,
) -> dict[str, tuple[Any, Any]]:
    """Refuse to resume a run with other settings than it was made with.

    Only settings present in both mappings are compared; ``ignore`` lists the ones that may
    change on resume (the device, the run's length, how often it evaluates).

    Args:
        saved: the settings recorded with the run.
        now: the settings of this call.
        source: the run (directory or file), for the message.
        ignore: setting names left out of the comparison.
        override: return the differences instead of raising.

    Returns:
        ``{name: (saved value, new value)}`` of every differing setting (empty when none).

    Raises:
        SettingsChangedError: a setting differs and ``override`` is false; the message names
            each one with both values and the fix.
    """
    skip = set(ignore)
    differ = {
        k: (saved[k], v) for k, v in now.items() if k in saved and k not in skip and saved[k] != v
    }
    if differ and not override:
        named = "; ".join(
            f"{k}={new!r} now, {old!r} in the run" for k, (old, new) in differ.items()
        )
        given = " ".join(
            f"--{k.replace('_', '-')} {_cli_value(old)}" for k, (old, _) in differ.items()
        )
        raise SettingsChangedError(
            f"{source} was made with other settings ({named}): resuming would mix two runs. "
            f"Give the run's values ({given}) to continue it, pass --override (override=True) "
            "to resume with the new settings anyway, or use another run directory"
        )
    return differ


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No load report or progress bar from transformers: problems are raised here instead."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def load_pretrained(
    auto_class: Any,
    directory: str | os.PathLike[str],
    *,
    what: str = "model",
    allow_missing: Sequence[str] = (),
    allow_unexpected: Sequence[str] = (),
    **kwargs: Any,
) -> Any:
    """``auto_class.from_pretrained(directory)`` with every check of this module.

    Args:
        auto_class: e.g. ``transformers.AutoModelForCausalLM``.
        directory: a local directory (checked with :func:`check_model_dir` first).
        what: what it should hold, for messages.
        allow_missing: glob patterns of weights the checkpoint may lack (a new head).
        allow_unexpected: glob patterns of checkpoint weights the model may ignore.
        **kwargs: passed to ``from_pretrained`` (``dtype``, ``num_labels``, ...).

    Raises:
        FileNotFoundError: no such directory.
        CheckpointError: not a model directory, corrupt files, or a config that does not fit the
            weights (missing or unexpected weights, shape mismatches).
    """
    d = check_model_dir(directory, what)
    try:
        with _quiet_transformers():
            model, info = auto_class.from_pretrained(
                str(d), local_files_only=True, output_loading_info=True, **kwargs
            )
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
        text = " ".join(str(exc).split())
        if "mismatched_sizes" in text or "size mismatch" in text:
            text = "its config.json does not fit the weights (shape mismatch)"
        raise CheckpointError(f"{d}: cannot load the {what}: {text[:300]}") from None
    tied = _tied_keys(model)
    missing = [
        k for k in info.get("missing_keys", ()) if k not in tied and not _matches(k, allow_missing)
    ]
    unexpected = [k for k in info.get("unexpected_keys", ()) if not _matches(k, allow_unexpected)]
    mismatched = [
        str(m[0]) if isinstance(m, tuple) else str(m) for m in info.get("mismatched_keys", ())
    ]
    problems = _fit_problems(mismatched, missing, unexpected, "shape mismatch", n_shapes=4)
    if problems:
        raise CheckpointError(
            f"{d}: its config.json does not fit the weights ({problems}); the "
            f"{what} would be partly random"
        )
    return model


def load_tokenizer(directory: str | os.PathLike[str], *, what: str = "model", **kwargs: Any) -> Any:
    """``AutoTokenizer.from_pretrained(directory)``, local files only, errors naming the directory.

    Raises:
        FileNotFoundError: no such directory.
        CheckpointError: the directory holds no usable tokenizer.
    """
    from transformers import AutoTokenizer

    d = Path(directory).expanduser()
    if not d.is_dir():
        raise FileNotFoundError(f"{os.fspath(directory)!r}: no such directory")
    if not any((d / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")):
        raise CheckpointError(
            f"{d} has no tokenizer (tokenizer.json or tokenizer_config.json); save the {what} "
            "with its tokenizer"
        )
    try:
        return AutoTokenizer.from_pretrained(str(d), local_files_only=True, **kwargs)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        text = " ".join(str(exc).split())[:300]
        raise CheckpointError(f"{d}: cannot load the tokenizer: {text}") from None
