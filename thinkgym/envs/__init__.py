"""thinkgym environments: registration of the built-in tasks and of users' own.

Entry points are strings, so ``import thinkgym`` imports no task module (and no torch or sympy).
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import gymnasium as gym

from thinkgym.envs.base import DefaultReward, EnvState, ReasoningEnv, Reward, StepCheck
from thinkgym.envs.splits import SPLITS, eval_problems, is_held_out

__all__ = [
    "ReasoningEnv",
    "EnvState",
    "StepCheck",
    "Reward",
    "DefaultReward",
    "SPLITS",
    "eval_problems",
    "is_held_out",
    "register",
    "make",
    "list_envs",
    "BUILTIN",
]

NAMESPACE = "thinkgym"
_ID_RE = re.compile(r"^(?:[\w:.-]+/)?[\w:.-]+?-v\d+$")

BUILTIN: dict[str, str] = {
    "Game24-v0": "thinkgym.envs.game24:Game24Env",
    "Countdown-v0": "thinkgym.envs.countdown:CountdownEnv",
    "Arithmetic-v0": "thinkgym.envs.arithmetic:ArithmeticEnv",
    "LinearEquation-v0": "thinkgym.envs.linear_equation:LinearEquationEnv",
    "MathWord-v0": "thinkgym.envs.mathword:MathWordEnv",
    "ReasoningGym-v0": "thinkgym.envs.reasoning_gym:ReasoningGymEnv",  # pip install thinkgym[rg]
}


_NEEDS: dict[str, str] = {"ReasoningGym-v0": "reasoning_gym"}
"""Built-in envs registered only when their optional package is installed (found, not imported)."""


def _register_builtin() -> None:
    from importlib.util import find_spec

    for name, entry in BUILTIN.items():
        if name in _NEEDS and find_spec(_NEEDS[name]) is None:
            continue
        env_id = f"{NAMESPACE}/{name}"
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry, disable_env_checker=True)


def register(
    env_cls: type[ReasoningEnv] | str,
    id: str | None = None,
    *,
    override: bool = False,
    **kwargs: Any,
) -> str:
    """Register a task so that ``gym.make(id)`` builds it; one call per task.

    Args:
        env_cls: a :class:`ReasoningEnv` subclass, or an entry point string ``"module:Class"``.
        id: the environment id; defaults to ``"thinkgym/<Name>-v0"`` where ``<Name>`` is the class
            name without a trailing ``Env``. Must look like ``[namespace/]Name-vN``.
        override: replace an existing registration with the same id instead of raising.
        **kwargs: default keyword arguments passed to the env's constructor.

    Returns:
        The id to pass to ``gym.make``.

    Raises:
        TypeError: ``env_cls`` is not a ReasoningEnv subclass or entry point.
        ValueError: the id is malformed, or already registered and ``override`` is false.
    """
    if isinstance(env_cls, str):
        if ":" not in env_cls:
            raise TypeError(f"entry point {env_cls!r} must look like 'package.module:ClassName'")
        default_name = env_cls.rsplit(":", 1)[1]
    elif isinstance(env_cls, type) and issubclass(env_cls, ReasoningEnv):
        default_name = env_cls.__name__
    else:
        raise TypeError(
            f"register() needs a ReasoningEnv subclass or a 'module:Class' string, got {env_cls!r}"
        )
    if id is None:
        name = default_name[:-3] if default_name.endswith("Env") else default_name
        id = f"{NAMESPACE}/{name}-v0"
    if not _ID_RE.match(id):
        raise ValueError(f"id={id!r} must look like 'namespace/Name-vN', e.g. 'thinkgym/MyTask-v0'")
    if id in gym.registry and not override:
        raise ValueError(f"{id!r} is already registered; pick another id or pass override=True")
    if id in gym.registry:
        del gym.registry[id]
    gym.register(id=id, entry_point=env_cls, kwargs=kwargs, disable_env_checker=True)
    return id


def list_envs() -> list[str]:
    """Ids of every registered thinkgym environment (built-in and user-registered)."""
    out = []
    for env_id, spec in gym.registry.items():
        entry = spec.entry_point
        if env_id.startswith(f"{NAMESPACE}/") or (
            isinstance(entry, type) and issubclass(entry, ReasoningEnv)
        ):
            out.append(env_id)
    return sorted(out)


def resolve_id(name: str) -> str:
    """Turn ``"Game24"``, ``"game24"`` or ``"Game24-v0"`` into ``"thinkgym/Game24-v0"``.

    Short names and ids are case-insensitive; an unknown name raises ``NameNotFound`` with a
    "did you mean" suggestion and the known ids.
    """
    if name in gym.registry:
        return name
    if name[:3].lower() == "rg:":  # a reasoning-gym task: "rg:leg_counting"
        from thinkgym.envs.reasoning_gym import register_task

        return register_task(name[3:])
    candidates = [name, f"{NAMESPACE}/{name}", f"{NAMESPACE}/{name}-v0"]
    for cand in candidates:
        if cand in gym.registry:
            return cand
    known = list_envs()
    short = {k.split("/", 1)[-1].rsplit("-v", 1)[0]: k for k in known}
    # short names and ids are case-insensitive: "game24", "GAME24-v0", "thinkgym/game24-v0"
    folded = {k.lower(): k for k in known} | {s.lower(): k for s, k in short.items()}
    base = name.lower()
    for cand in (base, f"{NAMESPACE}/{base}".lower(), base.rsplit("-v", 1)[0]):
        if cand in folded:
            return folded[cand]
    hint = difflib.get_close_matches(name.split("/")[-1].rsplit("-v", 1)[0], list(short), n=1)
    suggestion = f" Did you mean {short[hint[0]]!r}?" if hint else ""
    raise gym.error.NameNotFound(
        f"no environment {name!r}.{suggestion} Known: {', '.join(known)}. "
        "Register your own with thinkgym.register(MyTaskEnv)."
    )


def make(name: str, **kwargs: Any) -> gym.Env:
    """``gym.make`` that also accepts short names (``"Game24"``) and suggests on typos."""
    return gym.make(resolve_id(name), **kwargs)


_register_builtin()
