"""A thinkgym env as an OpenEnv ``Environment``: what one server session runs.

:class:`ServedEnvironment` wraps one env made with ``gym.make`` (the same object a local user
gets) and turns its ``reset`` / ``step`` tuples into OpenEnv observations. OpenEnv's server makes
one instance per session.
"""

from __future__ import annotations

import math
import secrets
from collections import OrderedDict
from typing import Any

import numpy as np
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import EnvironmentMetadata

from thinkgym.envs import make, resolve_id
from thinkgym.envs.base import CHECK_ERRORS, EnvState
from thinkgym.serve.models import (
    TaskBody,
    ThinkgymAction,
    ThinkgymObservation,
    ThinkgymState,
    WireState,
)

__all__ = [
    "ServedEnvironment",
    "ClientError",
    "NoEpisode",
    "EpisodeOver",
    "SessionClosed",
    "UnknownHandle",
    "jsonable",
    "STORE_LIMIT",
]

STORE_LIMIT = 200_000
"""Most problems and working states one session keeps handles to (least recently used go)."""


class ClientError(ValueError):
    """A request the env cannot act on because of what the client sent (HTTP 4xx)."""

    status_code = 422


class NoEpisode(ClientError):
    """A step or state request before any reset."""

    status_code = 409


class EpisodeOver(ClientError):
    """A step after the episode ended."""

    status_code = 409


class UnknownHandle(ClientError):
    """A state whose problem or working-state handle this session does not hold."""

    status_code = 404


class SessionClosed(ClientError):
    """A request on a session the server has closed (idle too long, or closed by its owner)."""

    status_code = 410


class _Frozen:
    """A problem in the store, hashed by its key (problem dicts are not hashable)."""

    __slots__ = ("key", "problem")

    def __init__(self, key: str, problem: dict[str, Any]) -> None:
        self.key = key
        self.problem = problem

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Frozen) and other.key == self.key


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
        self._store: OrderedDict[str, tuple[Any, Any]] = OrderedDict()  # handle -> (key, value)
        self._ids: dict[Any, str] = {}  # interned (kind, value) -> handle; the store keeps the key
        self._last_problem: tuple[dict[str, Any], dict[str, Any]] | None = None
        self._next_id = 0
        self._token = secrets.token_hex(4)  # handles of one session mean nothing in another

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

    # ------------------------------------------------------------------ task hooks
    def task_call(self, body: TaskBody) -> dict[str, Any]:
        """One of the env's task hooks on a state the client holds (``POST /sessions/{id}/task``).

        What :class:`thinkgym.remote.RemoteEnv` builds planners, rollouts and wrappers on: the
        client keeps the states (``get_state`` / ``set_state`` / ``apply`` run there) and the
        server runs the task's own code. A state travels as a :class:`WireState` whose problem
        and working state are handles into this session's store, so the hidden reference never
        leaves the server; ``check_answer`` (the grader) answers right or wrong only, as a step
        does.

        Ops: ``reset`` (``seed``, ``options``), ``step`` (``state``, ``step``: the env's own step
        from that state, reward included), ``check_step``, ``check_answer``,
        ``check_answer_without_reference`` (``state``, ``step``: the step or answer text),
        ``candidate_steps``, ``features``, ``candidate_table`` (``state``; the last two where the
        task has them), ``problem_from_options`` (``options``),
        ``draw_problem`` (``seed``: a problem of the env's split).

        Raises:
            ClientError: a missing field, or the env refused the request.
            UnknownHandle: a handle this session never gave out (or dropped as least recently
                used after :data:`STORE_LIMIT`).
        """
        self._check_open()
        base = self.env.unwrapped
        op = body.op
        if op == "reset":
            try:
                obs, info = self.env.reset(seed=body.seed, options=body.options)
            except ValueError as exc:
                raise ClientError(f"reset refused: {exc}") from None
            self._started, self._over, self._steps_taken = True, "", 0
            st = base.get_state()
            return {"observation": str(obs), "info": jsonable(info), "state": self._wire(st)}
        if op == "problem_from_options":
            if body.options is None:
                raise ClientError("problem_from_options needs options (an object)")
            try:
                problem = base.problem_from_options(dict(body.options))
            except (ValueError, TypeError, KeyError) as exc:
                raise ClientError(f"options refused: {exc}") from None
            return {"problem": None if problem is None else self._wire_problem(problem)}
        if op == "draw_problem":
            problem = base.draw_problem(np.random.default_rng(body.seed or 0))
            return {"problem": self._wire_problem(problem)}
        if body.state is None:
            raise ClientError(f"the {op} op needs a state")
        state = self._state_of(body.state)
        if op == "candidate_steps":
            return {"steps": [str(s) for s in base.candidate_steps(state)]}
        if op in ("features", "candidate_table"):
            if not callable(getattr(base, op, None)):
                raise ClientError(f"{base.task_name} has no {op}(state)")
        if op == "candidate_table":
            steps, rows = base.candidate_table(state)
            return {"steps": [str(s) for s in steps], "rows": np.asarray(rows).tolist()}
        if op == "features":
            return {"features": [float(x) for x in np.asarray(base.features(state)).ravel()]}
        if body.step is None:
            raise ClientError(f"the {op} op needs a step (the step or answer text)")
        if op == "step":
            base.set_state(state)
            obs, reward, terminated, truncated, info = base.step(body.step)
            self._started, self._steps_taken = True, self._steps_taken + 1
            return {
                "observation": str(obs),
                "reward": float(reward),
                "terminated": bool(terminated),
                "truncated": bool(truncated),
                "info": jsonable(info),
                "state": self._wire(base.get_state()),
            }
        try:  # a task's check may raise on odd text; the client's transition handles it
            if op == "check_step":
                verdict = base.check_step(state, body.step)
                return {
                    "ok": bool(verdict.ok),
                    "error": str(verdict.error),
                    "data": self._handle(verdict.data) if verdict.ok else None,
                    "text": verdict.text,
                }
            if op == "check_answer":
                correct, reason = base.check_answer(state, body.step)
                return {"correct": bool(correct), "reason": str(reason)}
            correct = base.check_answer_without_reference(state, body.step)
        except CHECK_ERRORS as exc:
            return {"raised": type(exc).__name__, "message": str(exc)[:500]}
        return {"correct": None if correct is None else bool(correct)}

    def _handle(self, value: Any, kind: str = "d") -> str:
        """A handle for ``value`` in the store (equal hashable values share one)."""
        try:
            key: Any = (kind, value)
            hash(key)
        except TypeError:
            key = None
        handle = self._ids.get(key) if key is not None else None
        if handle is None:
            handle = f"{kind}{self._token}.{self._next_id}"
            self._next_id += 1
            if key is not None:
                self._ids[key] = handle
        self._store[handle] = (key, value)
        self._store.move_to_end(handle)
        while len(self._store) > STORE_LIMIT:
            _, (old_key, _) = self._store.popitem(last=False)
            if old_key is not None:
                del self._ids[old_key]
        return handle

    def _lookup(self, handle: str) -> Any:
        if handle not in self._store:
            raise UnknownHandle(
                f"this session holds no state handle {handle[:32]!r}: states belong to the "
                "session that made them (and the oldest go after "
                f"{STORE_LIMIT} handles); reset() to start from a fresh state"
            )
        self._store.move_to_end(handle)
        return self._store[handle][1]

    def _wire_problem(self, problem: dict[str, Any]) -> dict[str, Any]:
        cached = self._last_problem  # a session's states share their problem object
        if cached is not None and cached[0] is problem:
            wire = cached[1]
            if wire["ref"] in self._store and wire["data"] in self._store:
                self._lookup(wire["ref"])  # keep it recent
                return wire
        base = self.env.unwrapped
        key = base.problem_key(problem)
        wire = {
            "ref": self._handle(_Frozen(key, problem), "p"),
            "text": base.format_problem(problem),
            "data": self._handle(base.initial_data(problem)),
            "key": key,
        }
        self._last_problem = (problem, wire)
        return wire

    def _wire(self, state: EnvState) -> dict[str, Any]:
        return {
            "problem": self._wire_problem(state.problem),
            "data": self._handle(state.data),
            "steps": list(state.steps),
            "t": int(state.t),
            "done": bool(state.done),
            "answer": state.answer,
            "correct": state.correct,
        }

    def _state_of(self, wire: WireState) -> EnvState:
        problem = self._lookup(wire.problem)
        if not isinstance(problem, _Frozen) or not wire.data.startswith("d"):
            raise UnknownHandle(f"{wire.problem!r} / {wire.data!r} are not a problem and a state")
        return EnvState(
            problem=problem.problem,
            steps=tuple(wire.steps),
            data=self._lookup(wire.data),
            t=wire.t,
            done=wire.done,
            answer=wire.answer,
            correct=wire.correct,
            task=self.env.unwrapped.task_name,
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
