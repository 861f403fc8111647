"""Serve any thinkgym env over HTTP and WebSocket with OpenEnv's server (``pip install thinkgym[serve]``).

``thinkgym serve Game24 --port 8000`` runs it; :func:`create_app` builds the app;
:class:`thinkgym.remote.RemoteEnv` is a ``ReasoningEnv`` over a served env (planners and
rollouts work on it), and
:class:`ThinkgymEnvClient` is OpenEnv's own ``EnvClient`` for it. Nothing here is imported by
``import thinkgym``; names load on first use (OpenEnv's server imports FastAPI and more).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "create_app",
    "ServedEnvironment",
    "ThinkgymAction",
    "ThinkgymObservation",
    "ThinkgymState",
    "ThinkgymEnvClient",
]

_LAZY = {
    "create_app": "thinkgym.serve.app",
    "ServedEnvironment": "thinkgym.serve.environment",
    "ThinkgymAction": "thinkgym.serve.models",
    "ThinkgymObservation": "thinkgym.serve.models",
    "ThinkgymState": "thinkgym.serve.models",
    "ThinkgymEnvClient": "thinkgym.serve.client",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'thinkgym.serve' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(module), name)
    except ImportError as exc:
        if exc.name and exc.name.split(".")[0] in ("openenv", "fastapi", "uvicorn", "starlette"):
            raise ImportError(
                f"thinkgym.serve.{name} needs the serve extra: pip install 'thinkgym[serve]' "
                f"({exc.name} is missing)"
            ) from exc
        raise
    globals()[name] = value
    return value
