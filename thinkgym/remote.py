"""``RemoteEnv``: a thinkgym env served by ``thinkgym serve``, used as if it were local.

A :class:`RemoteEnv` is a :class:`~thinkgym.envs.base.ReasoningEnv` (so a ``gymnasium.Env``)
whose task runs on the server: it holds one server session (one env of its own there) and sends
the task's hooks (checking a step, checking an answer, listing candidate steps, the env's own
``step`` with its reward) over HTTP. States live on the client as ordinary
:class:`~thinkgym.envs.base.EnvState` objects whose problem and working state are handles into
the session, so the hidden reference answer never leaves the server. Everything built on the
env API therefore works unchanged over the wire:

- ``reset`` / ``step`` return what the local env returns (transcript, reward, ``terminated``,
  ``truncated``, the same ``info``), so vector envs and gymnasium wrappers work;
- ``get_state`` / ``set_state`` / ``apply`` / ``apply_unchecked`` / ``candidate_steps`` work, so
  every planner (``make_planner(...).plan(RemoteEnv(url), ...)``, ``score_result``), the rollout
  collector (``collect_rollouts(policy, RemoteEnv(url), ...)``) and the SB3
  ``CandidateStepWrapper`` run on a served env.

Only the Python standard library is needed on the client side.

Example::

    from thinkgym.remote import RemoteEnv

    env = RemoteEnv("http://127.0.0.1:8000")
    obs, info = env.reset(seed=3)
    obs, reward, terminated, truncated, info = env.step("13 - 9 = 4")
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from thinkgym.envs.base import EnvState, ReasoningEnv, StepCheck
from thinkgym.envs.spaces import TranscriptSpace

__all__ = ["RemoteEnv", "RemoteEnvError"]


class RemoteEnvError(RuntimeError):
    """The server refused a request, or the connection to it failed (the message says which)."""


def _parse_url(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a server URL given as ``http(s)://`` or ``ws(s)://``."""
    if not isinstance(url, str) or "://" not in url:
        raise ValueError(f"url={url!r} must look like 'http://127.0.0.1:8000'")
    parts = urllib.parse.urlsplit(url.rstrip("/"))
    scheme = {"http": "http", "ws": "http", "https": "https", "wss": "https"}.get(
        parts.scheme.lower()
    )
    if scheme is None:
        raise ValueError(f"url={url!r}: the scheme must be http, https, ws or wss")
    if not parts.hostname:
        raise ValueError(f"url={url!r} names no host; use e.g. 'http://127.0.0.1:8000'")
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, parts.hostname, port


class _Gone(Exception):
    """The session is no longer on the server (expired, closed, or the server restarted)."""


class RemoteEnv(ReasoningEnv):
    """A served thinkgym env as a local :class:`ReasoningEnv` (one server session per instance).

    Args:
        url: the server, e.g. ``"http://127.0.0.1:8000"``.
        timeout: seconds to wait for the server's answer to any request; a server that stops
            answering raises :class:`RemoteEnvError` after it instead of hanging.
        connect_timeout: seconds to wait for a connection.
        render_mode: ``"ansi"`` or ``None``.

    Attributes:
        env_id: the served env's id (``"thinkgym/Game24-v0"``).
        spec_info: what ``GET /spec`` said (bounds, session counts).
        solution_depth: steps per solution planners are sized for (measured on the server).

    Raises:
        RemoteEnvError: nothing answers at ``url``, or it is not a thinkgym server.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 4}
    option_keys = None  # the server checks reset options

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
        self._scheme, self._host, self._port = _parse_url(url)
        self.url = f"{self._scheme}://{self._host}:{self._port}"
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self._conn: http.client.HTTPConnection | None = None
        self._session: str | None = None
        status, self.spec_info = self._http("GET", "/spec", None, what="spec", fresh=True)
        try:
            info = self.spec_info
            if status != 200:
                raise ValueError(f"HTTP {status}")
            charset = info["charset"]
            self.env_id = str(info["env_id"])
            self.max_steps = int(info["max_steps"])
            self.max_step_chars = int(info["max_step_chars"])  # type: ignore[misc]
            self._task_name = str(info["task_name"])
            self.solution_depth = int(info["depth"])
            self.difficulty = int(info.get("difficulty", 0))
            self.split = str(info.get("split", "all"))
            self.invalid_penalty = float(info.get("invalid_penalty", 0.0))
            hooks = set(info.get("hooks", ()))
            self.observation_space = TranscriptSpace(
                max_length=int(info["observation_max_length"]), min_length=0, charset=charset
            )
            self.action_space = spaces.Text(
                max_length=int(info["action_max_length"]), min_length=0, charset=charset
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RemoteEnvError(
                f"{self.url}/spec did not describe a thinkgym env ({exc!r}); is this a "
                "'thinkgym serve' server of this thinkgym version?"
            ) from None
        if "features" in hooks:
            self.features = self._features  # type: ignore[method-assign]
        if "candidate_table" in hooks:
            self.candidate_table = self._candidate_table
        self.render_mode = render_mode
        self.reward = None  # rewards are the server's (the env's own step runs there)
        self._state: EnvState | None = None
        self._text_cache = None

    # ------------------------------------------------------------------ transport
    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = (
                http.client.HTTPSConnection
                if self._scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = cls(self._host, self._port, timeout=self.connect_timeout)
        return self._conn

    def _http(
        self, method: str, path: str, body: Any, *, what: str, fresh: bool = False
    ) -> tuple[int, Any]:
        """One request; a kept-alive connection the server closed meanwhile is reopened once."""
        payload = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"content-type": "application/json"} if payload is not None else {}
        for attempt in (0, 1):
            reused = self._conn is not None and not fresh
            conn = self._connection()
            try:
                if conn.sock is None:
                    conn.connect()
                    conn.sock.settimeout(self.timeout)
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                raw = response.read()
                status = response.status
            except TimeoutError:
                self._close_connection()
                if what == "spec":
                    raise RemoteEnvError(self._no_server("timed out")) from None
                raise RemoteEnvError(
                    f"the server at {self.url} did not answer a {what} within {self.timeout:g} s; "
                    "the episode may be gone (reset() starts afresh)"
                ) from None
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._close_connection()
                if reused and attempt == 0:
                    continue  # the server closed an idle kept-alive connection: not processed
                raise self._lost(what, exc) from None
            except (OSError, http.client.HTTPException) as exc:
                self._close_connection()
                if what == "spec":
                    raise RemoteEnvError(self._no_server(f"{type(exc).__name__}: {exc}")) from None
                raise self._lost(what, exc) from None
            try:
                data = json.loads(raw.decode("utf-8")) if raw else {}
            except ValueError:
                data = {"detail": raw[:200].decode("utf-8", errors="replace")}
            return status, data
        raise AssertionError("unreachable")  # pragma: no cover

    def _no_server(self, why: str) -> str:
        return (
            f"no thinkgym server answers at {self.url} ({why}); start one with: "
            "thinkgym serve ENV --port PORT"
        )

    def _lost(self, what: str, exc: BaseException) -> RemoteEnvError:
        return RemoteEnvError(
            f"the connection to {self.url} was lost during a {what} ({type(exc).__name__}: "
            f"{exc}); the episode is gone: is the server still running? reset() opens a new "
            "session"
        )

    def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass

    def _open_session(self) -> str:
        status, data = self._http("POST", "/sessions", None, what="session")
        if status == 429:
            raise RemoteEnvError(
                f"the server at {self.url} holds its maximum of {self.spec_info['max_sessions']} "
                "sessions (thinkgym serve --max-sessions); close other envs or raise it"
            )
        if status != 201:
            raise RemoteEnvError(f"the server refused a new session: {data.get('detail', data)}")
        self._session = str(data["session_id"])
        return self._session

    def _task(self, op: str, **fields: Any) -> dict[str, Any]:
        """Run one task hook in this env's session (see ``POST /sessions/{id}/task``)."""
        if self._session is None:
            if op != "reset":
                raise _Gone()
            self._open_session()
        body = {"op": op, **{k: v for k, v in fields.items() if v is not None}}
        status, data = self._http("POST", f"/sessions/{self._session}/task", body, what=op)
        if status == 200:
            return data
        detail = data.get("detail", data) if isinstance(data, dict) else data
        if status == 404 and str(detail).startswith("no session"):
            self._session = None
            raise _Gone(str(detail))
        raise RemoteEnvError(f"the server refused the {op}: {detail} (HTTP {status})")

    def _call(self, op: str, **fields: Any) -> dict[str, Any]:
        try:
            return self._task(op, **fields)
        except _Gone as gone:
            why = str(gone) or "no session is open: call reset() first"
            raise RemoteEnvError(
                f"the server at {self.url} closed this session ({why}); the episode is gone, "
                "reset() opens a new session"
            ) from None

    # ------------------------------------------------------------------ states on the wire
    def _problem(self, wire: dict[str, Any]) -> dict[str, Any]:
        return {"ref": wire["ref"], "text": wire["text"], "data": wire["data"], "key": wire["key"]}

    def _state_from(self, wire: dict[str, Any]) -> EnvState:
        return EnvState(
            problem=self._problem(wire["problem"]),
            steps=tuple(wire["steps"]),
            data=wire["data"],
            t=int(wire["t"]),
            done=bool(wire["done"]),
            answer=wire["answer"],
            correct=wire["correct"],
            task=self.task_name,
        )

    def _wire(self, state: EnvState) -> dict[str, Any]:
        problem = state.problem
        if not (isinstance(problem, dict) and "ref" in problem and isinstance(state.data, str)):
            raise RemoteEnvError(  # not a ValueError: a transition would take it for a bad step
                f"this state was not made by a RemoteEnv (problem {str(problem)[:80]}); states "
                "of a served env come from its reset(), get_state() and apply()"
            )
        return {
            "problem": problem["ref"],
            "data": state.data,
            "steps": list(state.steps),
            "t": int(state.t),
            "done": bool(state.done),
            "answer": state.answer,
            "correct": state.correct,
        }

    # ------------------------------------------------------------------ task hooks (remote)
    @property
    def task_name(self) -> str:
        """The served task's name (states of this env carry it)."""
        return self._task_name

    def format_problem(self, problem: dict[str, Any]) -> str:
        """The problem's text, as the server wrote it."""
        try:
            return str(problem["text"])
        except (KeyError, TypeError):
            raise ValueError(
                f"{str(problem)[:80]} is not a problem of a served env; pin one with "
                "reset(options=...) or problem_from_options()"
            ) from None

    def problem_key(self, problem: dict[str, Any]) -> str:
        """The server's canonical key of the problem."""
        return str(problem["key"])

    def initial_data(self, problem: dict[str, Any]) -> Any:
        """The handle of the problem's initial working state."""
        return problem["data"]

    def _check(self, op: str, state: EnvState, text: str) -> dict[str, Any]:
        """A check hook on the server; what the task's check raised there is raised here as a
        ``ValueError`` (the transition takes it for a step it could not read, as locally)."""
        out = self._call(op, state=self._wire(state), step=text)
        if "raised" in out:
            raise ValueError(f"{out['raised']}: {out.get('message', '')}")
        return out

    def check_step(self, state: EnvState, step: str) -> StepCheck:
        """The task's step check, run on the server."""
        out = self._check("check_step", state, step)
        return StepCheck(ok=bool(out["ok"]), error=out["error"], data=out["data"], text=out["text"])

    def check_answer(self, state: EnvState, answer: str) -> tuple[bool, str]:
        """The grader, run on the server (right or wrong and why; the reference stays there)."""
        out = self._check("check_answer", state, answer)
        return bool(out["correct"]), str(out["reason"])

    def check_answer_without_reference(self, state: EnvState, answer: str) -> bool | None:
        """The task's reference-free answer check, run on the server."""
        return self._check("check_answer_without_reference", state, answer)["correct"]

    def candidate_steps(self, state: EnvState) -> list[str]:
        """The task's candidate steps in ``state`` (empty for tasks that enumerate none)."""
        return list(self._call("candidate_steps", state=self._wire(state))["steps"])

    def _features(self, state: EnvState) -> np.ndarray:
        return np.asarray(self._call("features", state=self._wire(state))["features"], np.float32)

    def _candidate_table(self, state: EnvState) -> tuple[list[str], np.ndarray]:
        out = self._call("candidate_table", state=self._wire(state))
        rows = np.asarray(out["rows"], dtype=np.float32)
        return list(out["steps"]), rows.reshape(len(out["steps"]), -1)

    def problem_from_options(self, options: dict[str, Any]) -> dict[str, Any] | None:
        """The problem ``options`` pin, made on the server (``None``: they pin none)."""
        out = self._task_or_open("problem_from_options", options=dict(options))
        return None if out["problem"] is None else self._problem(out["problem"])

    def draw_problem(self, rng: np.random.Generator, max_draws: int = 1000) -> dict[str, Any]:
        """A problem of the served env's split, drawn on the server from a seed taken from
        ``rng`` (the split is the server's to judge: some tasks have a fixed test set)."""
        seed = int(rng.integers(0, 2**62))
        return self._problem(self._task_or_open("draw_problem", seed=seed)["problem"])

    def generate_problem(self, rng: np.random.Generator) -> dict[str, Any]:
        """A problem drawn on the server (:meth:`draw_problem`)."""
        return self.draw_problem(rng)

    def solve(self, problem: dict[str, Any]) -> list[str]:
        """Not available: the reference solver stays on the server."""
        raise NotImplementedError(
            "a served env's solver stays on the server; planners are sized with solution_depth"
        )

    def _task_or_open(self, op: str, **fields: Any) -> dict[str, Any]:
        if self._session is None:
            self._open_session()
        return self._call(op, **fields)

    # ------------------------------------------------------------------ gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Start an episode on the server: a seed fixes the problem; ``options`` may pin one."""
        gym.Env.reset(self, seed=seed)
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"options must be a dict, got {type(options).__name__}")
        try:
            out = self._task("reset", seed=seed, options=options)
        except _Gone:
            # the session expired or the server restarted: a reset starts afresh anyway
            out = self._task("reset", seed=seed, options=options)
        self._state = self._state_from(out["state"])
        self._text_cache = (self._state, out["observation"])
        return out["observation"], out["info"]

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Take one step from the current state with the served env's own ``step`` (its reward)."""
        if self._state is None:
            raise gym.error.ResetNeeded("call reset() before using the environment")
        if isinstance(action, np.str_):
            action = str(action)
        if isinstance(action, bytes):
            action = action.decode("utf-8", errors="replace")
        if not isinstance(action, str):
            action = repr(action)  # the server's env rejects it as a non-text step
        out = self._call("step", state=self._wire(self._state), step=action)
        self._state = self._state_from(out["state"])
        self._text_cache = (self._state, out["observation"])
        return (
            out["observation"],
            float(out["reward"]),
            bool(out["terminated"]),
            bool(out["truncated"]),
            out["info"],
        )

    def remote_state(self) -> dict[str, Any]:
        """The server's state of this session's episode (problem text, steps, done, answer)."""
        if self._session is None:
            raise RemoteEnvError("no session is open on the server yet: call reset() first")
        status, data = self._http("GET", f"/sessions/{self._session}/state", None, what="state")
        if status != 200:
            raise RemoteEnvError(f"the server refused the state: {data.get('detail', data)}")
        return data

    def close(self) -> None:
        """End the session (the server frees its env)."""
        if self._session is not None:
            try:
                self._http("DELETE", f"/sessions/{self._session}", None, what="close")
            except RemoteEnvError:
                pass  # the server may be gone already
            self._session = None
        self._close_connection()
        self._state = None
        super().close()

    def __deepcopy__(self, memo: dict[int, Any]) -> RemoteEnv:
        """A copy sharing the session (states stay valid) with its own connection."""
        other = object.__new__(type(self))
        other.__dict__.update(self.__dict__)
        other._conn = None
        memo[id(self)] = other
        return other

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_conn"] = None
        return state

    def __del__(self) -> None:
        try:
            self._close_connection()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
