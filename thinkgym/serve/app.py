"""The server app: any registered thinkgym env behind OpenEnv's HTTP and WebSocket server.

:func:`create_app` builds OpenEnv's own server (``openenv.core.env_server.HTTPEnvServer``) for a
:class:`~thinkgym.serve.environment.ServedEnvironment` factory, so the routes and messages are
OpenEnv's: ``POST /reset``, ``POST /step``, ``GET /state``, ``GET /schema``, ``GET /metadata``,
``GET /health`` and the WebSocket session ``/ws`` (one env per connection; OpenEnv's
``EnvClient`` speaks it). :class:`thinkgym.remote.RemoteEnv` uses the HTTP session routes below,
whose task route runs the env's hooks on a state the client holds (what search needs).

OpenEnv's HTTP ``/reset`` and ``/step`` are stateless (a fresh env per call). For HTTP clients that
need an episode across calls, thinkgym adds session routes on the same OpenEnv session table
(so they share ``--max-sessions`` and the idle expiry with WebSocket sessions)::

    POST   /sessions                 -> 201 {"session_id": ..., "idle_timeout_s": ...}
    POST   /sessions/{id}/reset      {"seed": 3, "options": {...}}
    POST   /sessions/{id}/step       {"action": {"step": "13 - 9 = 4"}}
    GET    /sessions/{id}/state
    POST   /sessions/{id}/task       {"op": "check_step", "state": {...}, "step": "..."}
    DELETE /sessions/{id}
    GET    /spec                     the env's id, spaces' bounds and the session counts

Bad requests get a 4xx whose ``detail`` says what was wrong and what to do: malformed JSON or
unknown fields (422), a body over ``max_request_bytes`` (413), control characters in a step (422),
a step after the episode ended or before a reset (409), an unknown session id (404), more
sessions than ``max_sessions`` (429).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from openenv.core.env_server.exceptions import SessionCapacityError
from openenv.core.env_server.http_server import HTTPEnvServer
from openenv.core.env_server.serialization import serialize_observation
from openenv.core.env_server.types import ConcurrencyConfig
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thinkgym.envs.base import CHARSET
from thinkgym.serve.environment import ClientError, ServedEnvironment
from thinkgym.serve.models import (
    MAX_ACTION_CHARS,
    ResetBody,
    SessionCreated,
    StepBody,
    TaskBody,
    ThinkgymAction,
    ThinkgymObservation,
)

__all__ = ["create_app", "DEFAULT_MAX_SESSIONS", "DEFAULT_IDLE_TIMEOUT_S", "DEFAULT_MAX_BYTES"]

DEFAULT_MAX_SESSIONS = 64
DEFAULT_IDLE_TIMEOUT_S = 600.0
DEFAULT_MAX_BYTES = 1 << 20
"""Largest request body (and WebSocket message, see :mod:`thinkgym.commands.serve`) accepted."""


class BodyLimitMiddleware:
    """Refuse HTTP request bodies over ``limit`` bytes with a 413, before any route reads them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send, int(declared))
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(send, size, at_least=True)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, size: int, at_least: bool = False) -> None:
        what = f"at least {size}" if at_least else str(size)
        detail = (
            f"the request body is {what} bytes; this server reads at most {self.limit} "
            "(thinkgym serve --max-request-bytes). A step is one line of text"
        )
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _readable(errors: list[dict[str, Any]]) -> str:
    """One line per validation error: where it is and what is wrong (never the input)."""
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        kind = err.get("type", "")
        msg = str(err.get("msg", ""))
        if kind == "json_invalid":
            why = (err.get("ctx") or {}).get("error", msg)
            parts.append(f"the body is not valid JSON: {why} at character {loc or 0}")
            continue
        if kind == "extra_forbidden":
            msg = f"unknown field {loc!r}; see GET /schema for the fields"
        parts.append(f"{loc}: {msg}" if loc and kind != "extra_forbidden" else msg)
    return "; ".join(parts) or "invalid request"


def _depth(env: Any) -> int:
    """Steps per solution planners are sized for (the server knows the solver; clients do not)."""
    from thinkgym.search.registry import task_depth

    return int(task_depth(env))


def create_app(
    env_id: str,
    env_kwargs: dict[str, Any] | None = None,
    *,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
    idle_timeout_s: float | None = DEFAULT_IDLE_TIMEOUT_S,
    max_request_bytes: int = DEFAULT_MAX_BYTES,
) -> FastAPI:
    """The FastAPI app serving ``env_id`` with OpenEnv's server and thinkgym's session routes.

    Args:
        env_id: a registered env id or short name (a ``--plugin`` task once registered).
        env_kwargs: keyword arguments of ``gym.make`` for every session's env.
        max_sessions: most sessions (HTTP and WebSocket together) held at once.
        idle_timeout_s: a session untouched this long is closed (``None``: never). OpenEnv's
            reaper checks every ``max(idle_timeout_s / 4, 5)`` seconds.
        max_request_bytes: largest HTTP request body read; larger ones get a 413.

    Returns:
        The app (run it with uvicorn, or ``thinkgym serve``).

    Raises:
        ValueError: a bound is not positive, or the env cannot be made with these arguments
            (the env's own error, raised here rather than in every session).
    """
    if not isinstance(max_sessions, int) or max_sessions < 1:
        raise ValueError(f"max_sessions={max_sessions!r} must be a positive integer")
    if idle_timeout_s is not None and not idle_timeout_s > 0:
        raise ValueError(f"idle_timeout_s={idle_timeout_s!r} must be positive (or None: never)")
    if not isinstance(max_request_bytes, int) or max_request_bytes < 1024:
        raise ValueError(f"max_request_bytes={max_request_bytes!r} must be an integer >= 1024")
    env_kwargs = dict(env_kwargs or {})
    probe = ServedEnvironment(env_id, env_kwargs)  # a bad id or argument fails here, once
    served_id = probe.env_id
    base = probe.env.unwrapped
    spec = {
        "env_id": served_id,
        "env_kwargs": {k: repr(v) for k, v in env_kwargs.items()},
        "observation_max_length": int(base.observation_space.max_length),
        "action_max_length": int(base.action_space.max_length),
        "charset": "".join(sorted(CHARSET)),
        "max_steps": int(base.max_steps),
        "max_step_chars": int(base.max_step_chars),
        "task_name": base.task_name,
        "difficulty": int(getattr(base, "difficulty", 0)),
        "split": str(getattr(base, "split", "all")),
        "invalid_penalty": float(getattr(base, "invalid_penalty", 0.0)),
        "depth": _depth(probe.env),
        "hooks": [h for h in ("features", "candidate_table") if callable(getattr(base, h, None))],
        "max_sessions": max_sessions,
        "idle_timeout_s": idle_timeout_s,
        "max_request_bytes": max_request_bytes,
        "max_action_chars": MAX_ACTION_CHARS,
    }
    probe.close()

    factory = functools.partial(ServedEnvironment, served_id, env_kwargs)
    server = HTTPEnvServer(
        factory,
        ThinkgymAction,
        ThinkgymObservation,
        concurrency_config=ConcurrencyConfig(
            max_concurrent_envs=max_sessions, session_timeout=idle_timeout_s
        ),
    )
    app = FastAPI(
        title=f"thinkgym {served_id}",
        description=f"The thinkgym env {served_id} over OpenEnv's HTTP and WebSocket protocol.",
        version="1.0.0",
    )
    app.state.openenv_server = server
    app.state.spec = spec
    app.add_middleware(BodyLimitMiddleware, limit=max_request_bytes)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse(
            status_code=422, content={"detail": _readable(list(exc.errors())), "errors": errors}
        )

    @app.exception_handler(ClientError)
    async def _client_error(request: Request, exc: ClientError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": str(exc)})

    def _session_env(session_id: str) -> ServedEnvironment:
        env = server._sessions.get(session_id)
        if env is None:
            raise HTTPException(
                status_code=status.HTTP_404_NOT_FOUND,
                detail=(
                    f"no session {session_id[:80]!r} on this server: it was never opened here, was "
                    f"closed, or expired after {idle_timeout_s} s idle. Open one with POST /sessions"
                ),
            )
        return env  # type: ignore[return-value]

    @app.get("/spec", tags=["Environment Info"], summary="The served env and its bounds")
    async def get_spec() -> dict[str, Any]:
        return {**spec, "active_sessions": server.active_sessions}

    @app.post(
        "/sessions",
        status_code=status.HTTP_201_CREATED,
        response_model=SessionCreated,
        tags=["Sessions"],
        summary="Open a session (one env of its own)",
    )
    async def open_session() -> SessionCreated:
        try:
            session_id, _ = await server._create_session()
        except SessionCapacityError as exc:
            raise HTTPException(
                status_code=status.HTTP_429_TOO_MANY_REQUESTS,
                detail=(
                    f"the server holds {exc.active_sessions} of its {exc.max_sessions} sessions "
                    "(thinkgym serve --max-sessions); close one with DELETE /sessions/{id} or "
                    f"retry once idle ones expire ({idle_timeout_s} s)"
                ),
            ) from None
        return SessionCreated(session_id=session_id, idle_timeout_s=idle_timeout_s)

    @app.post("/sessions/{session_id}/reset", tags=["Sessions"], summary="Start an episode")
    async def session_reset(session_id: str, body: ResetBody | None = None) -> dict[str, Any]:
        env = _session_env(session_id)
        body = body or ResetBody()
        obs = await server._run_in_session_executor(
            session_id, env.reset, seed=body.seed, options=body.options, episode_id=body.episode_id
        )
        server._update_session_activity(session_id)
        return serialize_observation(obs)

    @app.post("/sessions/{session_id}/step", tags=["Sessions"], summary="Take one step")
    async def session_step(session_id: str, body: StepBody) -> dict[str, Any]:
        env = _session_env(session_id)
        obs = await server._run_in_session_executor(session_id, env.step, body.action)
        server._update_session_activity(session_id, increment_step=True)
        return serialize_observation(obs)

    @app.get("/sessions/{session_id}/state", tags=["Sessions"], summary="The episode's state")
    async def session_state(session_id: str) -> dict[str, Any]:
        env = _session_env(session_id)
        server._update_session_activity(session_id)
        return env.state.model_dump()

    @app.post(
        "/sessions/{session_id}/task",
        tags=["Sessions"],
        summary="Run one of the env's task hooks on a state (what RemoteEnv's search uses)",
    )
    async def session_task(session_id: str, body: TaskBody) -> dict[str, Any]:
        env = _session_env(session_id)
        out = await server._run_in_session_executor(session_id, env.task_call, body)
        server._update_session_activity(session_id, increment_step=body.op == "step")
        return out

    @app.delete("/sessions/{session_id}", tags=["Sessions"], summary="Close a session")
    async def close_session(session_id: str) -> dict[str, Any]:
        _session_env(session_id)
        await server._destroy_session(session_id)
        return {"session_id": session_id, "closed": True}

    server.register_routes(app)
    return app
