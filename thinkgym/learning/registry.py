"""The trainer registry: every trainer behind one signature, ``train(config, *, policy=None)``.

A trainer is a config dataclass (every setting a field, with a docstring under it and a
``validate()``) and a function ``fn(config, *, policy=None) -> TrainResult``. The built-in ones:

========================  ==========================================  =============================
name                      config                                      what it trains
========================  ==========================================  =============================
``sft``                   :class:`~thinkgym.learning.sft_run.SFTRunConfig` behaviour cloning
``expert-iteration``      :class:`~thinkgym.learning.expert_iteration.ExpertIterationConfig`
                                                                      search, keep, fine-tune
``grpo``                  :class:`~thinkgym.learning.grpo.GRPOConfig` group-relative RL
``ppo``                   :class:`~thinkgym.learning.ppo.PPOConfig`   RL with a value head
``sb3``                   :class:`~thinkgym.learning.sb3_run.SB3Config`
                                                                      stable-baselines3 on wrappers
``rm``                    :class:`~thinkgym.learning.reward_models.RewardModelConfig`
                                                                      PRM/ORM from MC labels
========================  ==========================================  =============================

:func:`register_trainer` adds one; ``thinkgym train NAME`` is built from this registry (one option
per config field, the field's docstring as its help), so a trainer registered by a ``--plugin``
file appears in ``thinkgym train --help`` and runs.

Example::

    from thinkgym.learning import train, GRPOConfig

    result = train("grpo", GRPOConfig(env="Arithmetic", iterations=2, out_dir="runs/g"))
    print(result.metrics, result.policy_dir)
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinkgym.learning.result import TrainResult

__all__ = [
    "TrainResult",
    "Trainer",
    "get_trainer",
    "list_trainers",
    "register_trainer",
    "train",
]


TrainFn = Callable[..., TrainResult]
"""``fn(config, *, policy=None) -> TrainResult``."""


def _resolve(ref: Any) -> Any:
    """``"module:attr"`` -> the attribute (built-ins are registered by name, loaded on use)."""
    if isinstance(ref, str):
        module, _, attr = ref.partition(":")
        return getattr(importlib.import_module(module), attr)
    return ref


@dataclass(frozen=True)
class Trainer:
    """A registered trainer.

    Attributes:
        name: its name (``thinkgym train NAME``).
        summary: one line saying what it trains (``thinkgym train --help``).
        takes_policy: whether it trains a starting policy (``policy=``/``--policy``).
        cli: a module that customises the command line (built-ins keep their historic flags);
            ``None``: the options are generated from the config's fields.
    """

    name: str
    config_ref: Any
    fn_ref: Any
    summary: str = ""
    takes_policy: bool = True
    cli: str | None = None

    @property
    def config_cls(self) -> type:
        """The config dataclass."""
        return _resolve(self.config_ref)

    @property
    def fn(self) -> TrainFn:
        """The training function, ``fn(config, *, policy=None) -> TrainResult``."""
        return _resolve(self.fn_ref)


_TRAINERS: dict[str, Trainer] = {}


def _builtin(name: str, config: str, fn: str, summary: str, *, takes_policy: bool = True) -> None:
    module = "thinkgym.commands.train_" + name.replace("-", "_")
    _TRAINERS[name] = Trainer(name, config, fn, summary, takes_policy, module)


_builtin(
    "sft",
    "thinkgym.learning.sft_run:SFTRunConfig",
    "thinkgym.learning.sft_run:train_sft",
    "behaviour cloning of a (tiny or given) causal LM on solver traces",
)
_builtin(
    "sb3",
    "thinkgym.learning.sb3_run:SB3Config",
    "thinkgym.learning.sb3_run:train_sb3",
    "stable-baselines3 (PPO, A2C, MaskablePPO) on a wrapped env",
)
_builtin(
    "expert-iteration",
    "thinkgym.learning.expert_iteration:ExpertIterationConfig",
    "thinkgym.learning.registry:train_expert_iteration",
    "search training problems, keep approved trajectories, fine-tune, repeat",
)
_builtin(
    "grpo",
    "thinkgym.learning.grpo:GRPOConfig",
    "thinkgym.learning.registry:train_grpo",
    "step-level GRPO of a policy on any registered env",
)
_builtin(
    "ppo",
    "thinkgym.learning.ppo:PPOConfig",
    "thinkgym.learning.registry:train_ppo",
    "step-level PPO (value head, GAE over steps) of a policy",
)
_builtin(
    "rm",
    "thinkgym.learning.reward_models:RewardModelConfig",
    "thinkgym.learning.reward_models:train_reward_models",
    "reward models (PRM, ORM) from Monte-Carlo rollout labels of a policy",
)
BUILTIN_TRAINERS: tuple[str, ...] = tuple(_TRAINERS)
"""Names registered by thinkgym itself."""


def _unknown(name: str) -> str:
    names = list_trainers()
    hint = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    did = f" (did you mean {hint[0]!r}?)" if hint else ""
    return f"unknown trainer {name!r}{did}; registered: {', '.join(names)}"


def register_trainer(
    name: str,
    config_cls: type,
    fn: TrainFn,
    *,
    summary: str | None = None,
    takes_policy: bool | None = None,
) -> Trainer:
    """Register a trainer: ``fn(config, *, policy=None) -> TrainResult`` with its config class.

    ``thinkgym train NAME`` then gets one option per field of ``config_cls`` (``batch_size`` ->
    ``--batch-size``; ``dict`` fields take JSON), the field's docstring as its help, and
    ``--policy`` when the trainer takes a policy.

    Args:
        name: the trainer's name (``thinkgym train NAME``).
        config_cls: a dataclass whose every field has a default (``config_cls()`` works); a
            ``validate()`` method, when it has one, is called before training.
        fn: the training function.
        summary: one line for ``thinkgym train --help`` (default: the first line of ``fn``'s
            docstring).
        takes_policy: whether ``fn`` uses ``policy=`` (default: whether it declares it).

    Returns:
        The registered :class:`Trainer`.

    Raises:
        ValueError: ``name`` is taken or not a plain name (lower-case letters, digits, ``-``).
        TypeError: ``config_cls`` is not a dataclass constructible without arguments, or ``fn``
            is not callable.
    """
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"trainer name {name!r} must be letters, digits, '-' or '_'")
    if name in _TRAINERS:
        raise ValueError(f"trainer {name!r} is already registered; pick another name")
    if not (isinstance(config_cls, type) and dataclasses.is_dataclass(config_cls)):
        raise TypeError(f"config_cls of trainer {name!r} must be a dataclass, got {config_cls!r}")
    try:
        config_cls()
    except TypeError as exc:
        raise TypeError(
            f"config_cls {config_cls.__name__} of trainer {name!r} needs a default for every "
            f"field ({exc})"
        ) from None
    if not callable(fn):
        raise TypeError(f"fn of trainer {name!r} must be callable, got {fn!r}")
    if takes_policy is None:
        try:
            takes_policy = "policy" in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            takes_policy = False
    if summary is None:
        doc = inspect.getdoc(fn) or f"the {name} trainer"
        summary = doc.strip().splitlines()[0].rstrip(".")
    trainer = Trainer(name, config_cls, fn, summary, bool(takes_policy), None)
    _TRAINERS[name] = trainer
    return trainer


def list_trainers() -> list[str]:
    """The registered trainer names (built-in ones first)."""
    return list(BUILTIN_TRAINERS) + sorted(n for n in _TRAINERS if n not in BUILTIN_TRAINERS)


def get_trainer(name: str) -> Trainer:
    """The trainer registered as ``name``.

    Raises:
        KeyError: unknown; the message lists the registered names with a "did you mean".
    """
    try:
        return _TRAINERS[name]
    except KeyError:
        raise KeyError(_unknown(name)) from None


def train(name: str, config: Any = None, *, policy: Any = None, **changes: Any) -> TrainResult:
    """Run the trainer ``name`` with ``config`` (default: its config class's defaults).

    Args:
        name: a registered trainer (:func:`list_trainers`).
        config: an instance of the trainer's config class.
        policy: the starting policy: an object, or a spec for
            :func:`thinkgym.agents.registry.load_policy` (name, directory, ``file.py:factory``).
        **changes: fields of the config to replace (``train("grpo", iterations=2)``).

    Raises:
        KeyError: unknown trainer.
        TypeError: ``config`` is not the trainer's config class, a change is not one of its
            fields, or the trainer takes no policy and one was given.
    """
    trainer = get_trainer(name)
    cls = trainer.config_cls
    if config is None:
        config = cls()
    if not isinstance(config, cls):
        raise TypeError(
            f"trainer {name!r} takes a {cls.__name__}, got {type(config).__name__}; build one "
            f"with {cls.__module__}.{cls.__name__}(...)"
        )
    if changes:
        names = [f.name for f in dataclasses.fields(cls)]
        for key in changes:
            if key not in names:
                hint = difflib.get_close_matches(key, names, n=1)
                did = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise TypeError(
                    f"{cls.__name__} has no field {key!r}{did}; fields: {', '.join(names)}"
                )
        config = dataclasses.replace(config, **changes)
    if policy is not None and not trainer.takes_policy:
        raise TypeError(f"trainer {name!r} takes no policy; drop policy=")
    return trainer.fn(config, policy=policy) if trainer.takes_policy else trainer.fn(config)


# ---------------------------------------------------------------------------- adapters
def _start_policy(spec: Any, config_spec: Any, device: Any, trainer: str, **kwargs: Any) -> Any:
    """The starting policy: ``spec`` (object or spec) over the config's, checked trainable."""
    from thinkgym.agents.registry import load_trainable

    chosen = spec if spec is not None else config_spec
    return load_trainable(chosen, trainer, device=device, **kwargs)


def train_grpo(config: Any, *, policy: Any = None, progress: bool = True) -> TrainResult:
    """Step-level GRPO (:func:`thinkgym.learning.grpo.grpo`) behind the one signature."""
    from thinkgym.learning.grpo import grpo

    config.validate()
    start = _start_policy(policy, config.policy, config.device, "grpo")
    history = grpo(config, policy=start, progress=progress)
    return _rl_result(config, start, history)


def train_ppo(config: Any, *, policy: Any = None, progress: bool = True) -> TrainResult:
    """Step-level PPO (:func:`thinkgym.learning.ppo.ppo`) behind the one signature."""
    from thinkgym.learning.ppo import ppo

    config.validate()
    start = _start_policy(policy, config.policy, config.device, "ppo")
    history = ppo(config, policy=start, progress=progress)
    return _rl_result(config, start, history)


def _rl_result(config: Any, policy: Any, history: list[dict[str, Any]]) -> TrainResult:
    out = Path(config.out_dir)
    evals = [row for row in history if "pass@1" in row]
    metrics: dict[str, Any] = {"iterations": history[-1]["iteration"] if history else 0}
    if evals:
        metrics["pass@1"] = evals[-1]["pass@1"]
        metrics["pass@1_start"] = evals[0]["pass@1"]
    policy_dir = out / "policy"
    return TrainResult(
        policy=policy,
        out_dir=out,
        policy_dir=policy_dir if (policy_dir / "config.json").is_file() else None,
        history=list(history),
        metrics=metrics,
    )


def train_expert_iteration(
    config: Any, *, policy: Any = None, progress: bool = True
) -> TrainResult:
    """Expert iteration (:func:`thinkgym.learning.expert_iteration.expert_iteration`) behind the
    one signature."""
    from thinkgym.learning.expert_iteration import expert_iteration

    config.validate()
    kwargs = {} if config.max_batch_rows is None else {"max_batch_rows": config.max_batch_rows}
    start = _start_policy(policy, config.policy, config.device, "expert iteration", **kwargs)
    result = expert_iteration(config, policy=start, progress=progress)
    curve = list(result.curve)
    metrics: dict[str, Any] = {"rounds": curve[-1]["round"] if curve else 0}
    if curve:
        metrics.update({k: v for k, v in curve[-1].items() if k.startswith("pass@")})
        metrics["pass@1_start"] = curve[0].get("pass@1")
    trained = start
    if (Path(result.policy_dir) / "config.json").is_file():  # a resumed run trains a new object
        from thinkgym.agents.llm import LLMPolicy

        trained = LLMPolicy.from_pretrained(result.policy_dir, device=config.device, **kwargs)
    return TrainResult(
        policy=trained,
        out_dir=Path(config.out_dir),
        policy_dir=Path(result.policy_dir),
        history=curve,
        metrics=metrics,
    )
