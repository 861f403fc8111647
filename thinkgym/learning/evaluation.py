"""Evaluate a policy by running full episodes in an env, many at once (batched proposals)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["run_episodes", "pass_at", "step_accuracy"]


def run_episodes(
    policy: Any,
    env_id: str,
    problems: Sequence[dict[str, Any]],
    *,
    samples: int = 1,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int | None = 0,
    max_new_tokens: int = 48,
    env_kwargs: dict[str, Any] | None = None,
) -> list[list[bool]]:
    """Play ``samples`` episodes per problem with the policy; all episodes advance in lockstep.

    At each round the observations of the running episodes are grouped by text, and each group
    of ``c`` identical observations asks ``policy.propose`` for ``c`` proposals (so the first
    step of the ``samples`` episodes of one problem is one call with ``n=samples``): this is
    :func:`thinkgym.learning.rollout.collect`, keeping only the verdicts. Episodes are
    scored by the env itself (with the hidden reference where the task needs it: this is
    evaluation, not search).

    Args:
        policy: a :class:`~thinkgym.agents.Policy`, or a spec for
            :func:`thinkgym.agents.registry.load_policy` (``None``/``"default"``, a registered
            name, a model directory, ``FILE.py:FACTORY``); every call passes ``temperature``,
            ``top_p``, ``max_new_tokens`` and ``seed``.
        env_id: the task.
        problems: ``env.reset`` keyword arguments, one per problem (see
            :func:`thinkgym.envs.eval_problems`).
        samples: episodes per problem.
        temperature: sampling temperature (0: greedy).
        top_p: nucleus mass.
        seed: base seed of the sampling, passed to every ``propose`` call (the
            :class:`~thinkgym.agents.Policy` protocol): at round ``r`` each group of ``c``
            identical observations is proposed with seed ``seed + 7919 r + c``; ``None`` leaves
            it free.
        max_new_tokens: longest step.
        env_kwargs: keyword arguments of the env.

    Returns:
        For each problem, whether each of its episodes ended with a correct answer.
    """
    import os

    from thinkgym.learning.rollout import collect

    if policy is None or isinstance(policy, (str, os.PathLike)):
        from thinkgym.agents.registry import load_policy, policy_needs_env
        from thinkgym.envs import make

        env = make(env_id, **(env_kwargs or {})).unwrapped if policy_needs_env(policy) else None
        policy = load_policy(policy, env=env)
    episodes = collect(
        policy,
        env_id,
        problems,
        samples=samples,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        max_new_tokens=max_new_tokens,
        env_kwargs=env_kwargs,
    )
    correct = [ep.correct for ep in episodes]
    return [correct[k * samples : (k + 1) * samples] for k in range(len(problems))]


def pass_at(results: Sequence[Sequence[bool]]) -> float:
    """Share of problems with at least one correct episode."""
    if not results:
        return 0.0
    return sum(any(r) for r in results) / len(results)


def step_accuracy(policy: Any, pairs: Sequence[tuple[str, str]], **kwargs: Any) -> float:
    """Share of (transcript, reference step) pairs whose greedy proposal equals the reference."""
    if not pairs:
        return 0.0
    props = policy.propose([p for p, _ in pairs], 1, temperature=0.0, **kwargs)
    return sum(
        pl[0].text == step.strip() for pl, (_, step) in zip(props, pairs, strict=True)
    ) / len(pairs)
