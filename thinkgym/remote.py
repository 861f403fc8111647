"""``RemoteEnv``: a ``gymnasium.Env`` over a served thinkgym env (``thinkgym serve``).

It speaks OpenEnv's WebSocket session protocol (``/ws``: ``reset``, ``step``, ``state`` and
``close`` messages), so each ``RemoteEnv`` holds one session, i.e. one env on the server. Its
spaces are the served env's (read from ``GET /spec``), and ``reset`` / ``step`` return what the
local env returns: the transcript, the reward, ``terminated``, ``truncated`` and the same
``info``. Vector envs, rollout loops and gymnasium wrappers therefore work unchanged over the
wire. Only the ``websockets`` package is needed on the client side.

Example::

    from thinkgym.remote import RemoteEnv

    env = RemoteEnv("http://127.0.0.1:8000")
    obs, info = env.reset(seed=3)
    obs, reward, terminated, truncated, info = env.step("13 - 9 = 4")

Differences from a local env: a step after the episode ended, and a step holding a control
character no action can hold, raise :class:`RemoteEnvError` (the server refuses them) where the
local env would reject the step; planners, which need the env's pure transition
(``apply``/``get_state``/``set_state``), run on local envs.
"""

from __future__ import annotations

import inspect
import json
import urllib.error
import urllib.request
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from thinkgym.envs.spaces import TranscriptSpace

__all__ = ["RemoteEnv", "RemoteEnvError"]


class RemoteEnvError(RuntimeError):
    """The server refused a request, or the connection to it failed (the message says which)."""


def _base_urls(url: str) -> tuple[str, str]:
    """``(http_base, ws_url)`` of a server URL given as ``http(s)://`` or ``ws(s)://``."""
    if not isinstance(url, str) or "://" not in url:
        raise ValueError(f"url={url!r} must look like 'http://127.0.0.1:8000'")
    scheme, rest = url.split("://", 1)
    rest = rest.rstrip("/")
    if rest.endswith("/ws"):
        rest = rest[: -len("/ws")]
    table = {"http": ("http", "ws"), "https": ("https", "wss"), "ws": ("http", "ws")}
    table["wss"] = ("https", "wss")
    if scheme.lower() not in table:
        raise ValueError(f"url={url!r}: the scheme must be http, https, ws or wss")
    http, ws = table[scheme.lower()]
    return f"{http}://{rest}", f"{ws}://{rest}/ws"


class RemoteEnv(gym.Env[str, str]):
    """A served thinkgym env as a ``gymnasium.Env`` (one server session per instance).

    Args:
        url: the server, e.g. ``"http://127.0.0.1:8000"`` (``ws://`` works too).
        timeout: seconds to wait for the server's answer to any request; a server that stops
            answering raises :class:`RemoteEnvError` after it instead of hanging.
        connect_timeout: seconds to wait for the connection.

    Raises:
        RemoteEnvError: nothing answers at ``url``, or it is not a thinkgym server.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"]}

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        render_mode: str | None = None,
    ) -> None:
        if not timeout > 0 or not connect_timeout > 0:
            raise ValueError(f"timeout={timeout!r} and connect_timeout must be positive")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode={render_mode!r} is not supported; use 'ansi' or None")
        self.render_mode = render_mode
        self.url, self.ws_url = _base_urls(url)
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.spec_info = self._get_json("/spec")
        try:
            charset = self.spec_info["charset"]
            self.env_id = str(self.spec_info["env_id"])
            self.max_steps = int(self.spec_info["max_steps"])
            self.observation_space = TranscriptSpace(
                max_length=int(self.spec_info["observation_max_length"]),
                min_length=0,
                charset=charset,
            )
            self.action_space = spaces.Text(
                max_length=int(self.spec_info["action_max_length"]), min_length=0, charset=charset
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RemoteEnvError(
                f"{self.url}/spec did not describe a thinkgym env ({exc!r}); is this a "
                "'thinkgym serve' server?"
            ) from None
        self._ws: Any = None
        self._transcript: str | None = None

    # ------------------------------------------------------------------ transport
    def _get_json(self, path: str) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=self.connect_timeout) as r:
                return json.loads(r.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise RemoteEnvError(
                f"GET {self.url}{path} answered HTTP {exc.code}; is this a 'thinkgym serve' server?"
            ) from None
        except (OSError, ValueError) as exc:
            raise RemoteEnvError(
                f"no thinkgym server answers at {self.url} ({type(exc).__name__}: {exc}); start "
                "one with: thinkgym serve ENV --port PORT"
            ) from None

    def _connect(self) -> Any:
        if self._ws is not None:
            return self._ws
        try:
            from websockets.sync.client import connect
        except ImportError:
            raise ImportError("RemoteEnv needs websockets: pip install 'thinkgym[serve]'") from None
        options: dict[str, Any] = {"open_timeout": self.connect_timeout, "close_timeout": 2.0}
        options.update(max_size=64 << 20, proxy=None)  # a reply is a transcript: bounded
        if "legacy" in inspect.signature(connect).parameters:  # websockets >= 17
            options["legacy"] = True  # a connection held across calls, closed by close()
        try:
            self._ws = connect(self.ws_url, **options)
        except Exception as exc:  # noqa: BLE001 - any connection failure is one clear error
            raise RemoteEnvError(
                f"could not open a session at {self.ws_url} ({type(exc).__name__}: {exc})"
            ) from None
        return self._ws

    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        ws = self._connect()
        kind = message["type"]
        try:
            try:
                ws.send(json.dumps(message))
            except Exception:  # noqa: BLE001 - the server may have said why it closed
                raw = ws.recv(timeout=1.0)
            else:
                raw = ws.recv(timeout=self.timeout)
        except TimeoutError:
            self._drop()
            raise RemoteEnvError(
                f"the server at {self.url} did not answer a {kind} within {self.timeout:g} s; "
                "the session is dropped (reset to open a new one)"
            ) from None
        except Exception as exc:  # noqa: BLE001 - connection closed, reset, refused
            self._drop()
            raise RemoteEnvError(
                f"the connection to {self.url} was lost during a {kind} "
                f"({type(exc).__name__}: {exc}); the episode is gone: is the server still "
                "running? reset() opens a new session"
            ) from None
        reply = json.loads(raw)
        if reply.get("type") == "error":
            data = reply.get("data") or {}
            msg = str(data.get("message", "unknown error"))
            errors = data.get("errors") or []
            if errors:
                msg += ": " + "; ".join(str(e.get("msg", e)) for e in errors if isinstance(e, dict))
            code = data.get("code", "")
            if code == "CAPACITY_REACHED":
                self._drop()
                raise RemoteEnvError(
                    f"the server at {self.url} holds its maximum of {data.get('max_sessions')} "
                    "sessions (thinkgym serve --max-sessions); close other envs or raise it"
                )
            if "session was closed by the server" in msg:
                self._drop()  # the next reset opens a new session
                raise RemoteEnvError(
                    f"the server at {self.url} closed this session ({msg}); the episode is gone, "
                    "reset() opens a new session"
                )
            raise RemoteEnvError(f"the server refused the {kind}: {msg} ({code})")
        return reply.get("data") or {}

    def _drop(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                ws.close()
            except Exception:  # noqa: BLE001 - closing a broken socket
                pass

    # ------------------------------------------------------------------ gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Start an episode on the server: a seed fixes the problem; ``options`` may pin one."""
        super().reset(seed=seed)
        data: dict[str, Any] = {}
        if seed is not None:
            data["seed"] = int(seed)
        if options is not None:
            data["options"] = options
        try:
            payload = self._request({"type": "reset", "data": data})
        except RemoteEnvError:
            if self._ws is not None:
                raise
            # the session was closed (idle expiry) or the connection dropped: a reset starts
            # afresh anyway, so it opens a new session once
            payload = self._request({"type": "reset", "data": data})
        obs = payload.get("observation", {})
        self._transcript = obs.get("transcript", "")
        return self._transcript, obs.get("info", {})

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Take one step on the server; the same tuple the local env returns."""
        if self._transcript is None:
            raise gym.error.ResetNeeded("call reset() before using the environment")
        if isinstance(action, np.str_):
            action = str(action)
        if isinstance(action, bytes):
            action = action.decode("utf-8", errors="replace")
        if not isinstance(action, str):
            raise ValueError(f"a step must be a string, got {type(action).__name__}")
        payload = self._request({"type": "step", "data": {"step": action}})
        obs = payload.get("observation", {})
        self._transcript = obs.get("transcript", "")
        reward = payload.get("reward")
        return (
            self._transcript,
            float(reward if reward is not None else 0.0),
            bool(obs.get("terminated", False)),
            bool(obs.get("truncated", False)),
            obs.get("info", {}),
        )

    def remote_state(self) -> dict[str, Any]:
        """The server's state of this session's episode (problem text, steps, done, answer)."""
        return self._request({"type": "state"})

    def render(self) -> str | None:
        """The transcript in ``ansi`` mode."""
        if self.render_mode == "ansi":
            return (self._transcript or "") + "\n"
        return None

    def close(self) -> None:
        """End the session (the server frees its env)."""
        ws = self._ws
        if ws is not None:
            try:
                ws.send(json.dumps({"type": "close"}))
            except Exception:  # noqa: BLE001 - the server may be gone already
                pass
        self._drop()
        self._transcript = None
        super().close()

    def __del__(self) -> None:
        try:
            self._drop()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
