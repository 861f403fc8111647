"""A thinkgym env as an OpenEnv ``Environment``: what one server session runs.

:class:`ServedEnvironment` wraps one env made with ``gym.make`` (the same object a local user
gets) and turns its ``reset`` / ``step`` tuples into OpenEnv observations. OpenEnv's server makes
one instance per session.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import EnvironmentMetadata

from thinkgym.envs import make, resolve_id
from thinkgym.serve.models import ThinkgymAction, ThinkgymObservation, ThinkgymState

__all__ = [
    "ServedEnvironment",
    "ClientError",
    "NoEpisode",
    "EpisodeOver",
    "SessionClosed",
    "jsonable",
]


class ClientError(ValueError):
    """A request the env cannot act on because of what the client sent (HTTP 4xx)."""

    status_code = 422


class NoEpisode(ClientError):
    """A step or state request before any reset."""

    status_code = 409


class EpisodeOver(ClientError):
    """A step after the episode ended."""

    status_code = 409


class SessionClosed(ClientError):
    """A request on a session the server has closed (idle too long, or closed by its owner)."""

    status_code = 410


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars, tuples and sets turned into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


class ServedEnvironment(Environment[ThinkgymAction, ThinkgymObservation, ThinkgymState]):
    """One session's env, behind OpenEnv's server.

    Args:
        env_id: a registered env id or short name (``"Game24"``, ``"thinkgym/MathWord-v0"``).
        env_kwargs: keyword arguments of ``gym.make`` (``data_files=...``, ``difficulty=2``).
    """

    SUPPORTS_CONCURRENT_SESSIONS = True
    """Each session has its own env object; envs share no mutable state."""

    def __init__(self, env_id: str, env_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.env_id = resolve_id(env_id)
        self.env = make(self.env_id, **(env_kwargs or {}))
        self._episode_id: str | None = None
        self._steps_taken = 0
        self._started = False
        self._over = ""
        self._closed = False

    # ------------------------------------------------------------------ OpenEnv API
    def reset(
        self,
        seed: int | None = None,
        episode_id: str | None = None,
        options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> ThinkgymObservation:
        """Start an episode: ``seed`` fixes the problem, ``options`` may pin one.

        Raises:
            ClientError: an unknown keyword, a bad seed or options the env refuses.
        """
        self._check_open()
        if kwargs:
            raise ClientError(
                f"reset got the unknown field(s) {sorted(kwargs)}; it takes seed, options and "
                "episode_id"
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ClientError(f"seed={seed!r} must be a non-negative integer")
        if options is not None and not isinstance(options, dict):
            raise ClientError(f"options must be an object, got {type(options).__name__}")
        try:
            obs, info = self.env.reset(seed=seed, options=options)
        except ValueError as exc:
            raise ClientError(f"reset refused: {exc}") from None
        self._episode_id = episode_id
        self._steps_taken = 0
        self._started = True
        self._over = ""
        return self._observation(obs, None, False, False, info)

    def step(
        self, action: ThinkgymAction, timeout_s: float | None = None, **kwargs: Any
    ) -> ThinkgymObservation:
        """Take one reasoning step (a bad step is rejected by the env, as locally).

        Raises:
            NoEpisode: no reset yet.
            EpisodeOver: the episode has ended (answered or out of steps).
        """
        self._check_open()
        if not self._started:
            raise NoEpisode(
                "no episode to step: reset first. OpenEnv's stateless POST /step builds a fresh "
                "env for each call; keep a session instead (POST /sessions, then "
                "/sessions/{id}/reset and /sessions/{id}/step, or the WebSocket /ws)"
            )
        if self._over:
            raise EpisodeOver(
                f"the episode is over ({self._over}); reset to start another before stepping"
            )
        text = action.step if isinstance(action, ThinkgymAction) else action
        obs, reward, terminated, truncated, info = self.env.step(text)
        self._steps_taken += 1
        if terminated:
            self._over = "answered"
        elif truncated:
            self._over = "out of steps"
        return self._observation(obs, float(reward), bool(terminated), bool(truncated), info)

    @property
    def state(self) -> ThinkgymState:
        """The episode's state (the problem as text; never the hidden reference answer)."""
        if not self._started:
            return ThinkgymState(env_id=self.env_id, episode_id=self._episode_id)
        st = self.env.unwrapped.get_state()
        return ThinkgymState(
            episode_id=self._episode_id,
            step_count=self._steps_taken,
            env_id=self.env_id,
            problem=self.env.unwrapped.format_problem(st.problem),
            steps=list(st.steps),
            done=bool(st.done),
            answer=st.answer,
            correct=st.correct,
        )

    def get_metadata(self) -> EnvironmentMetadata:
        """Name and description of the served env (``GET /metadata``)."""
        doc = (type(self.env.unwrapped).__doc__ or "").strip().split("\n")[0]
        return EnvironmentMetadata(
            name=self.env_id,
            description=doc or f"thinkgym env {self.env_id}",
            version="1.0.0",
            documentation_url="https://github.com/thinkgym/thinkgym/blob/main/docs/serve.md",
        )

    def close(self) -> None:
        """Close the wrapped env; the session takes no more requests."""
        self._closed = True
        self.env.close()

    def _check_open(self) -> None:
        if self._closed:
            raise SessionClosed(
                "this session was closed by the server (idle longer than its --idle-timeout) "
                "or by its owner; open a new session"
            )

    # ------------------------------------------------------------------ helpers
    def _observation(
        self,
        obs: str,
        reward: float | None,
        terminated: bool,
        truncated: bool,
        info: dict[str, Any],
    ) -> ThinkgymObservation:
        valid = bool(info.get("valid", True))
        steps = info.get("steps") or []
        stepped = reward is not None
        return ThinkgymObservation(
            transcript=str(obs),
            step=str(steps[-1]) if stepped and valid and steps else "",
            valid=valid,
            error=str(info.get("error", "")),
            correct=info.get("correct"),
            answer=info.get("answer"),
            terminated=terminated,
            truncated=truncated,
            info=jsonable(info),
            done=terminated or truncated,
            reward=reward,
        )
