"""`plan_sharded`: :meth:`Planner.plan_many` with the problems cut into shards on a backend.

A :mod:`thinkgym.distributed` backend runs each shard as one ``plan_many`` call (batched as
usual); on the Ray backend the planner, its policy and guidance are pickled to the workers once
and kept there while the same planner is used. The results come back in problem order.
Results depend on the shards (sampling is drawn per batch), not on the backend or the number of
workers: ``shards=k`` gives the same results in this process and on Ray.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from thinkgym.search.planner import Planner
from thinkgym.search.result import SearchResult

__all__ = ["plan_sharded", "PlanShards"]


class PlanShards:
    """Factory of ``plan_many`` shards (items: ``(seed, problem)`` pairs) for a backend.

    Args:
        planner: the planner (with its policy and guidance) each worker runs.
        env_or_id: the env or its id (an id is cheaper to ship; it travels with its gymnasium
            registration, so envs registered in this process only exist in the workers too).
    """

    def __init__(self, planner: Planner, env_or_id: Any) -> None:
        import gymnasium as gym

        from thinkgym.envs import resolve_id

        self.planner, self.env = planner, env_or_id
        self.spec = gym.spec(resolve_id(env_or_id)) if isinstance(env_or_id, str) else None

    def __call__(self) -> Callable[[list[tuple[Any, Any]]], list[SearchResult]]:
        import gymnasium as gym

        if self.spec is not None and self.spec.id not in gym.registry:
            gym.registry[self.spec.id] = self.spec

        def run(items: list[tuple[Any, Any]]) -> list[SearchResult]:
            return self.planner.plan_many(
                self.env, seeds=[s for s, _ in items], problems=[p for _, p in items]
            )

        return run


def plan_sharded(
    planner: Planner,
    env_or_id: Any,
    seeds: Sequence[int | None] | None = None,
    problems: Sequence[dict[str, Any] | str | None] | None = None,
    *,
    backend: Any = None,
    shards: int | None = None,
) -> list[SearchResult]:
    """Search several problems, shard by shard on ``backend``.

    Args:
        planner: any :class:`Planner`.
        env_or_id: the env or its id.
        seeds: one problem seed per problem.
        problems: one pinned problem per problem (overrides the seed).
        backend: a :class:`thinkgym.distributed.Backend` (``make_backend("ray", workers=4)``);
            ``None`` runs ``planner.plan_many`` here, all problems in one batch.
        shards: how many shards (default: one per worker).

    Returns:
        One :class:`SearchResult` per problem, in order.
    """
    if backend is None:
        return planner.plan_many(env_or_id, seeds=seeds, problems=problems)
    if seeds is None and problems is None:
        raise ValueError("plan_sharded needs seeds=[...] or problems=[...]")
    n = len(seeds) if seeds is not None else len(problems or [])
    if seeds is not None and problems is not None and len(seeds) != len(problems):
        raise ValueError(
            f"seeds has {len(seeds)} entries but problems has {len(problems)}; give one of "
            "each per problem"
        )
    seeds_l = list(seeds) if seeds is not None else [None] * n
    probs_l = list(problems) if problems is not None else [None] * n
    items = list(zip(seeds_l, probs_l, strict=True))
    return backend.map(PlanShards(planner, env_or_id), items, shards=shards)
