"""The policy registry: one way to turn a name into a policy, for Python and every command.

:func:`load_policy` takes a *policy spec* and returns a policy (an object with
``propose(observations, n, ...)``, see :class:`thinkgym.agents.Policy`). A spec is one of:

* ``None`` or ``"default"``: the shipped :class:`~thinkgym.agents.llm.LLMPolicy`
  (``thinkgym/data/policy/``);
* a registered name: ``"random"`` (:class:`~thinkgym.agents.RandomAgent`), ``"oracle"``
  (:class:`~thinkgym.agents.OracleAgent`, the task's exact solver), or any name added with
  :func:`register_policy` (a ``--plugin`` file may register some);
* a directory written by ``save_pretrained`` (loaded with ``LLMPolicy.from_pretrained``; nothing
  is downloaded);
* ``"path/to/file.py:factory"`` or ``"package.module:factory"``: the file is run (or the module
  imported) and ``factory`` is called;
* a policy object, returned as it is.

A factory is any callable returning a policy. It is called with the keyword arguments it
declares among ``env`` (the unwrapped env the policy will play: scripted agents need it),
``device``, ``seed`` and ``max_batch_rows``, so ``def make(): ...`` and
``def make(env, seed=0): ...`` both work. A factory with a required ``env`` argument builds one
policy per env (:func:`policy_needs_env`); the bench calls it once for each env.

Example::

    from thinkgym.agents import load_policy, register_policy

    register_policy("first-candidate", lambda env: FirstCandidate(env))
    policy = load_policy("first-candidate", env=gym.make("thinkgym/Game24-v0").unwrapped)

and on the command line ``thinkgym bench --plugin my_policy.py --policy first-candidate`` or
``thinkgym bench --policy my_policy.py:make``.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "BUILTIN_POLICIES",
    "PolicyFactory",
    "check_policy_spec",
    "describe_policy",
    "get_policy_factory",
    "list_policies",
    "load_policy",
    "load_trainable",
    "policy_needs_env",
    "register_policy",
    "require_trainable",
]

PolicyFactory = Callable[..., Any]
"""A callable returning a policy; it may declare ``env``, ``device``, ``seed``, ``max_batch_rows``."""

_ARGS = ("env", "device", "seed", "max_batch_rows")


def _default(*, device: Any = None, max_batch_rows: int | None = None) -> Any:
    """The shipped LLMPolicy (``thinkgym/data/policy/``)."""
    from thinkgym.agents.llm import LLMPolicy

    return LLMPolicy.default(device=device, max_batch_rows=max_batch_rows)


def _random(env: Any, *, seed: int = 0) -> Any:
    """The task's random valid steps (needs the env)."""
    from thinkgym.agents.base import RandomAgent

    return RandomAgent(env, seed=seed)


def _oracle(env: Any, *, seed: int = 0) -> Any:
    """The task's exact solver (needs the env)."""
    from thinkgym.agents.base import OracleAgent

    return OracleAgent(env, seed=seed)


_REGISTRY: dict[str, PolicyFactory] = {"default": _default, "random": _random, "oracle": _oracle}
BUILTIN_POLICIES: tuple[str, ...] = tuple(_REGISTRY)
"""Names registered by thinkgym itself."""

_LABELS = {"default": "LLMPolicy.default()", "random": "random", "oracle": "oracle (exact solver)"}
_LOADED_FILES: dict[str, Any] = {}


def register_policy(name: str, factory: PolicyFactory, *, override: bool = False) -> None:
    """Register ``factory`` under ``name``, so that ``load_policy(name)`` and ``--policy NAME``
    build a policy with it.

    Args:
        name: the policy's name (no ``:`` and no path separator: those mean a file or a
            directory).
        factory: a callable returning a policy; see the module docstring for its arguments.
        override: replace an existing registration of ``name`` (a built-in name never).

    Raises:
        ValueError: ``name`` is taken (and ``override`` is false), built in, empty or not a
            plain name.
        TypeError: ``factory`` is not callable.
    """
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise ValueError(f"policy name {name!r} must be a non-empty string without spaces around")
    if ":" in name or "/" in name or os.sep in name:
        raise ValueError(
            f"policy name {name!r} may not contain ':' or a path separator (those name a "
            "file:factory or a model directory)"
        )
    if not callable(factory):
        raise TypeError(f"the factory of policy {name!r} must be callable, got {factory!r}")
    if name in BUILTIN_POLICIES:
        raise ValueError(f"policy name {name!r} is built in; register yours under another name")
    if name in _REGISTRY and not override and _REGISTRY[name] is not factory:
        raise ValueError(
            f"policy {name!r} is already registered; pick another name or pass override=True"
        )
    _REGISTRY[name] = factory


def list_policies() -> list[str]:
    """The registered policy names (built-in ones first)."""
    return list(BUILTIN_POLICIES) + sorted(n for n in _REGISTRY if n not in BUILTIN_POLICIES)


def _unknown(spec: str) -> str:
    names = list_policies()
    hint = difflib.get_close_matches(spec, names, n=1, cutoff=0.6)
    did = f" (did you mean {hint[0]!r}?)" if hint else ""
    return (
        f"policy {spec!r} is not a registered name{did}, a model directory or FILE.py:FACTORY; "
        f"registered: {', '.join(names)}"
    )


def get_policy_factory(name: str) -> PolicyFactory:
    """The factory registered as ``name``.

    Raises:
        KeyError: not registered; the message lists the names with a "did you mean".
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(_unknown(name)) from None


def _is_factory_ref(spec: str) -> bool:
    """``file.py:name`` or ``pkg.module:name`` (a Windows drive ``C:\\...`` is a path)."""
    if ":" not in spec:
        return False
    left, _, right = spec.rpartition(":")
    if not right.isidentifier():
        return False
    return left.endswith(".py") or all(part.isidentifier() for part in left.split("."))


def _factory_from_ref(spec: str) -> PolicyFactory:
    """The callable named by ``file.py:name`` or ``pkg.module:name``."""
    left, _, attr = spec.rpartition(":")
    if left.endswith(".py"):
        path = Path(left).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"policy {spec!r}: no such file {left!r}")
        key = str(path.resolve())
        module = _LOADED_FILES.get(key)
        if module is None:
            mod_name = f"thinkgym_policy_{abs(hash(key)):x}"
            loader_spec = importlib.util.spec_from_file_location(mod_name, path)
            if loader_spec is None or loader_spec.loader is None:
                raise ValueError(f"policy {spec!r}: {left!r} is not a Python file")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[mod_name] = module  # dataclasses and pickling look the module up
            try:
                loader_spec.loader.exec_module(module)
            except Exception:
                sys.modules.pop(mod_name, None)
                raise
            _LOADED_FILES[key] = module
    else:
        try:
            module = importlib.import_module(left)
        except ModuleNotFoundError as exc:
            raise ValueError(f"policy {spec!r}: no module {exc.name!r}") from None
    factory = getattr(module, attr, None)
    if factory is None:
        names = [n for n in vars(module) if not n.startswith("_") and callable(vars(module)[n])]
        hint = difflib.get_close_matches(attr, names, n=1)
        did = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ValueError(f"policy {spec!r}: {left} defines no {attr!r}{did}")
    if not callable(factory):
        raise ValueError(f"policy {spec!r}: {attr!r} is not callable")
    return factory


def _required_env(factory: PolicyFactory) -> bool:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # builtins without a signature: call them bare
        return False
    p = params.get("env")
    return p is not None and p.default is inspect.Parameter.empty


def _call(factory: PolicyFactory, spec: str, **kwargs: Any) -> Any:
    """``factory`` called with the keyword arguments it declares among ``kwargs``."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        given = kwargs
    else:
        given = {k: v for k, v in kwargs.items() if k in params}
    if _required_env(factory) and kwargs.get("env") is None:
        raise ValueError(
            f"policy {spec!r} plays one env at a time: pass env= (the unwrapped env) to load_policy"
        )
    policy = factory(**given)
    if not callable(getattr(policy, "propose", None)):
        raise TypeError(
            f"policy {spec!r}: the factory returned {type(policy).__name__}, which has no "
            "propose(observations, n, ...) method (see thinkgym.agents.Policy)"
        )
    return policy


def policy_needs_env(spec: Any) -> bool:
    """Whether ``spec`` builds one policy per env (a factory with a required ``env``)."""
    if spec is None or not isinstance(spec, str):
        return False
    if spec in _REGISTRY:
        return _required_env(_REGISTRY[spec])
    if _is_factory_ref(spec):
        return _required_env(_factory_from_ref(spec))
    return False


def describe_policy(spec: Any) -> str:
    """A short label of ``spec`` for tables and logs."""
    if spec is None or spec == "default":
        return _LABELS["default"]
    if not isinstance(spec, str):
        return type(spec).__name__
    return _LABELS.get(spec, spec)


def check_policy_spec(spec: str) -> str:
    """Check ``spec`` without loading weights (for argument parsing); returns it.

    A registered name, an existing ``FILE.py`` (or ``module``) with a ``:FACTORY``, or a model
    directory with its ``config.json`` pass.

    Raises:
        FileNotFoundError: a path that does not exist.
        ValueError: anything else that cannot name a policy (the message lists the choices).
    """
    from thinkgym.checkpoints import check_model_dir

    if spec in _REGISTRY:
        return spec
    if _is_factory_ref(spec):
        left = spec.rpartition(":")[0]
        if left.endswith(".py") and not Path(left).expanduser().is_file():
            raise FileNotFoundError(f"policy {spec!r}: no such file {left!r}")
        return spec
    path = Path(spec).expanduser()
    if path.exists() or os.sep in spec or "/" in spec or spec.startswith("."):
        check_model_dir(spec, "policy")
        return spec
    raise ValueError(_unknown(spec))


def load_policy(
    spec: Any = None,
    *,
    env: Any = None,
    device: Any = None,
    seed: int = 0,
    max_batch_rows: int | None = None,
) -> Any:
    """The policy named by ``spec`` (see the module docstring for the forms it takes).

    Args:
        spec: ``None``/``"default"``, a registered name, a model directory, ``FILE.py:FACTORY``
            or ``module:FACTORY``, or a policy object (returned unchanged).
        env: the env the policy will play (scripted policies such as ``random`` and
            ``oracle`` need it; an LLM policy ignores it). A wrapped env is unwrapped.
        device: the device of an LLM policy (``None``: CUDA when present, else CPU).
        seed: the seed of scripted policies' own generator.
        max_batch_rows: rows per forward batch of an LLM policy (``None``: its default).

    Returns:
        The policy.

    Raises:
        FileNotFoundError: a directory or file that does not exist (nothing is downloaded), or
            ``"default"`` when the package ships no trained policy.
        thinkgym.checkpoints.CheckpointError: a directory that is not a usable model.
        ValueError: an unknown name (the message lists the registered ones), a factory that
            needs ``env`` without one, or a ``FILE.py:FACTORY`` whose factory is missing.
        TypeError: a factory that returned something without ``propose``.
    """
    if spec is not None and not isinstance(spec, (str, os.PathLike)):
        if not callable(getattr(spec, "propose", None)):
            raise TypeError(
                f"policy {spec!r} is neither a spec string nor an object with "
                "propose(observations, n, ...)"
            )
        return spec
    if env is not None and hasattr(env, "unwrapped"):
        env = env.unwrapped
    kwargs = {"env": env, "device": device, "seed": seed, "max_batch_rows": max_batch_rows}
    text = "default" if spec is None else os.fspath(spec)
    if text in _REGISTRY:
        return _call(_REGISTRY[text], text, **kwargs)
    if _is_factory_ref(text):
        return _call(_factory_from_ref(text), text, **kwargs)
    path = Path(text).expanduser()
    if path.exists() or os.sep in text or "/" in text or text.startswith("."):
        from thinkgym.agents.llm import LLMPolicy

        extra = {} if max_batch_rows is None else {"max_batch_rows": max_batch_rows}
        return LLMPolicy.from_pretrained(path, device=device, **extra)
    raise ValueError(_unknown(text))


def require_trainable(policy: Any, spec: Any, trainer: str) -> Any:
    """``policy`` if a gradient trainer can train it (a torch ``model`` and ``logprobs``).

    Raises:
        TypeError: a scripted policy (``random``, ``oracle``, your own without a model); the
            message names the spec and the trainer.
    """
    if not (hasattr(policy, "model") and callable(getattr(policy, "logprobs", None))):
        raise TypeError(
            f"{trainer} trains a policy with a torch model and logprobs() (an LLMPolicy); policy "
            f"{describe_policy(spec)!r} ({type(policy).__name__}) has none: give 'default', a "
            "model directory or a factory that returns an LLMPolicy"
        )
    return policy


def load_trainable(spec: Any, trainer: str, **kwargs: Any) -> Any:
    """:func:`load_policy` for a gradient trainer: the policy must have a torch model.

    Raises:
        TypeError: ``spec`` names a scripted policy (one built per env, such as ``random`` or
            ``oracle``) or the policy has no model (see :func:`require_trainable`).
    """
    if policy_needs_env(spec):
        raise TypeError(
            f"{trainer} trains a policy with a torch model and logprobs() (an LLMPolicy); "
            f"policy {describe_policy(spec)!r} is a scripted agent built per env: give "
            "'default', a model directory or a factory that returns an LLMPolicy"
        )
    return require_trainable(load_policy(spec, **kwargs), spec, trainer)
