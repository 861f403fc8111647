"""OpenEnv's own client for a served thinkgym env: an ``EnvClient`` subclass.

Example::

    from thinkgym.serve.client import ThinkgymEnvClient
    from thinkgym.serve.models import ThinkgymAction

    with ThinkgymEnvClient(base_url="http://127.0.0.1:8000").sync() as env:
        result = env.reset(seed=3)
        result = env.step(ThinkgymAction(step="13 - 9 = 4"))
        print(result.observation.transcript, result.reward, result.done)
"""

from __future__ import annotations

from typing import Any

from openenv.core.client_types import StepResult
from openenv.core.env_client import EnvClient

from thinkgym.serve.models import ThinkgymAction, ThinkgymObservation, ThinkgymState

__all__ = ["ThinkgymEnvClient"]


class ThinkgymEnvClient(EnvClient[ThinkgymAction, ThinkgymObservation, ThinkgymState]):
    """OpenEnv ``EnvClient`` of a served thinkgym env (WebSocket session ``/ws``)."""

    def _step_payload(self, action: ThinkgymAction) -> dict[str, Any]:
        """The step message's data: ``{"step": "..."}``."""
        if isinstance(action, str):
            action = ThinkgymAction(step=action)
        return action.model_dump(exclude={"metadata"})

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[ThinkgymObservation]:
        """An OpenEnv ``StepResult`` holding a :class:`ThinkgymObservation`."""
        obs = ThinkgymObservation(
            **payload.get("observation", {}),
            reward=payload.get("reward"),
            done=bool(payload.get("done", False)),
        )
        return StepResult(observation=obs, reward=payload.get("reward"), done=obs.done)

    def _parse_state(self, payload: dict[str, Any]) -> ThinkgymState:
        """The served episode's :class:`ThinkgymState`."""
        return ThinkgymState(**payload)
