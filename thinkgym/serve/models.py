"""The typed messages of a served thinkgym env: OpenEnv action, observation and state models.

They subclass OpenEnv's own base models (``openenv.core.env_server.types``), so OpenEnv's
server validates them and its clients read them: an action is one reasoning step, an observation
carries the transcript, the step as written, the reward, ``done`` and what the local env's
``info`` says; the state is where the episode stands (the problem as text, never the hidden
reference answer).
"""

from __future__ import annotations

from typing import Any, Literal

from openenv.core.env_server.types import Action, Observation, State
from pydantic import BaseModel, ConfigDict, Field, field_validator

from thinkgym.envs.base import CHARSET

__all__ = [
    "MAX_ACTION_CHARS",
    "WireState",
    "TaskBody",
    "TASK_OPS",
    "ThinkgymAction",
    "ThinkgymObservation",
    "ThinkgymState",
    "ResetBody",
    "StepBody",
    "SessionCreated",
    "control_character",
]

MAX_ACTION_CHARS = 65_536
"""Longest step text the server reads (a longer one is refused with HTTP 422 before the env sees
it; the env itself rejects steps longer than its ``max_step_chars`` as an ordinary bad step)."""


def control_character(text: str) -> tuple[int, str] | None:
    """The first control character of ``text`` that no action of a thinkgym env can hold.

    Tab, newline, carriage return, vertical tab and form feed are in the action space's
    charset (the env rejects a multi-line step itself, as it would locally); every other C0
    control character, DEL and the C1 controls are not.

    Returns:
        ``(position, character)``, or ``None`` when there is none.
    """
    for i, ch in enumerate(text):
        code = ord(ch)
        if (code < 32 or 127 <= code < 160) and ch not in CHARSET:
            return i, ch
    return None


class ThinkgymAction(Action):
    """One reasoning step, e.g. ``{"step": "13 - 9 = 4"}``; ``"Answer: ..."`` ends the episode."""

    step: str = Field(
        ...,
        max_length=MAX_ACTION_CHARS,
        description="One reasoning step: a line of text. A step starting with 'Answer:' ends "
        "the episode and is scored.",
    )

    @field_validator("step")
    @classmethod
    def _no_control_characters(cls, value: str) -> str:
        found = control_character(value)
        if found is not None:
            pos, ch = found
            raise ValueError(
                f"the step holds the control character {ch!r} at position {pos}; a step is "
                "one line of printable text"
            )
        return value


class ThinkgymObservation(Observation):
    """What the env says after a reset or a step (``done`` and ``reward`` come from OpenEnv)."""

    transcript: str = Field(..., description="The problem followed by the accepted steps.")
    step: str = Field("", description="The step as written into the transcript ('' if none).")
    valid: bool = Field(True, description="Whether the step was accepted.")
    error: str = Field("", description="Why the step was rejected, or why an answer is wrong.")
    correct: bool | None = Field(None, description="Whether the final answer was right.")
    answer: str | None = Field(None, description="The final answer, once given.")
    terminated: bool = Field(False, description="The episode ended with an answer.")
    truncated: bool = Field(False, description="The episode ran out of steps.")
    info: dict[str, Any] = Field(
        default_factory=dict, description="The env's info dict, as the local env returns it."
    )


class ThinkgymState(State):
    """Where a served episode stands (``episode_id`` and ``step_count`` come from OpenEnv)."""

    env_id: str = Field("", description="The served env's id.")
    problem: str = Field("", description="The problem as text.")
    steps: list[str] = Field(default_factory=list, description="Accepted steps so far.")
    done: bool = Field(False, description="Whether the episode has ended with an answer.")
    answer: str | None = Field(None, description="The final answer, once given.")
    correct: bool | None = Field(None, description="Whether the final answer was right.")


class ResetBody(BaseModel):
    """Body of ``POST /sessions/{id}/reset``: a seed, reset options, an episode id."""

    model_config = ConfigDict(extra="forbid")

    seed: int | None = Field(None, ge=0, description="Fixes the problem.")
    options: dict[str, Any] | None = Field(None, description="Pins a problem (the env's keys).")
    episode_id: str | None = Field(None, max_length=255, description="Your name for it.")


class StepBody(BaseModel):
    """Body of ``POST /sessions/{id}/step``: ``{"action": {"step": "..."}}``."""

    model_config = ConfigDict(extra="forbid")

    action: ThinkgymAction


class WireState(BaseModel):
    """An episode state on the wire: the problem and the task's working state are handles into
    the session's store (the hidden reference never leaves the server), the rest is plain."""

    model_config = ConfigDict(extra="forbid")

    problem: str = Field(..., max_length=32, description="Handle of the problem.")
    data: str = Field(..., max_length=32, description="Handle of the task's working state.")
    steps: list[str] = Field(default_factory=list, max_length=4096)
    t: int = Field(0, ge=0, le=1_000_000, description="Actions taken, rejected ones included.")
    done: bool = False
    answer: str | None = Field(None, max_length=MAX_ACTION_CHARS)
    correct: bool | None = None


TASK_OPS = (
    "reset",
    "step",
    "check_step",
    "check_answer",
    "check_answer_without_reference",
    "candidate_steps",
    "features",
    "candidate_table",
    "problem_from_options",
    "draw_problem",
)
"""What ``POST /sessions/{id}/task`` does (see :meth:`ServedEnvironment.task_call
<thinkgym.serve.environment.ServedEnvironment.task_call>`)."""


class TaskBody(BaseModel):
    """Body of ``POST /sessions/{id}/task``: one of the env's task hooks on a state."""

    model_config = ConfigDict(extra="forbid")

    op: Literal[TASK_OPS]  # type: ignore[valid-type]
    state: WireState | None = None
    step: str | None = Field(None, max_length=MAX_ACTION_CHARS)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    options: dict[str, Any] | None = None


class SessionCreated(BaseModel):
    """Answer of ``POST /sessions``."""

    session_id: str
    idle_timeout_s: float | None
