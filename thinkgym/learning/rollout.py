"""One rollout collector: many episodes of any policy in lockstep, with everything RL needs.

:func:`collect` plays ``samples`` episodes per problem. At each round the observations of the
running episodes are grouped by text, and each group of ``c`` identical observations asks
``policy.propose`` for ``c`` proposals (the first step of the ``samples`` episodes of one problem is
one call with ``n=samples``). Every step goes through ``env.step``, so rewards, rejections and
truncation are exactly the env's.

Each :class:`Episode` keeps, per step: the observation the step was proposed from (the prompt),
the action, the sampled token ids and their behaviour log-probs (for importance ratios), the
env's reward, whether the step was accepted, and an optional per-step score from a process
reward (a rule PRM, a learned PRM, MC values: anything with
``process(state, step, next_state)`` or a batched callable). The evaluation loop
(:func:`thinkgym.learning.evaluation.run_episodes`) is this collector with greedy decoding.

:func:`collect_sharded` runs the collector shard by shard on a :mod:`thinkgym.distributed`
backend (``"local"`` or ``"ray"``): each worker loads the policy once from its directory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from thinkgym.agents.base import PolicyError

__all__ = ["Step", "Episode", "collect", "collect_sharded", "CollectorFactory", "StepScorer"]

StepScorer = Callable[[Sequence[Any], Sequence[str], Sequence[Any]], Sequence[float]]
"""A batched per-step scorer: ``fn(states_before, steps, states_after) -> scores``."""


@dataclass
class Step:
    """One action of an episode.

    Attributes:
        observation: the transcript the step was proposed from (the policy's prompt).
        action: the step text sent to ``env.step``.
        token_ids: the sampled token ids (empty for scripted policies).
        behavior_logprobs: their log-probs under the sampling distribution.
        logprob: summed log-prob under the policy at temperature 1 (the proposal's ``logprob``).
        reward: the env's reward for the step (process reward, outcome, or invalid penalty).
        valid: whether the env accepted the step.
        error: why it was rejected (empty when accepted).
        process: the per-step score of ``step_reward`` (``None`` when none was given or the
            step was rejected).
    """

    observation: str
    action: str
    token_ids: tuple[int, ...] = ()
    behavior_logprobs: tuple[float, ...] = ()
    logprob: float = 0.0
    reward: float = 0.0
    valid: bool = True
    error: str = ""
    process: float | None = None


@dataclass
class Episode:
    """A finished (or truncated) episode.

    Attributes:
        index: which problem it played (position in ``problems``).
        sample: which of that problem's samples it is.
        problem: the ``env.reset`` keyword arguments of the problem.
        steps: the actions taken, rejected ones included.
        terminated: the episode ended with an answer.
        truncated: it ran out of steps.
        correct: the answer was right (the env's verdict, with the hidden reference).
        outcome: the env's reward for the final answer (``0`` when truncated).
        final_state: the env state at the end (``EnvState``).
    """

    index: int
    sample: int
    problem: dict[str, Any]
    steps: list[Step] = field(default_factory=list)
    terminated: bool = False
    truncated: bool = False
    correct: bool = False
    outcome: float = 0.0
    final_state: Any = None

    @property
    def total_reward(self) -> float:
        """Sum of the env's rewards over the episode."""
        return float(sum(s.reward for s in self.steps))

    @property
    def actions(self) -> list[str]:
        """The actions in order (replaying them through ``env.step`` reproduces the episode)."""
        return [s.action for s in self.steps]


def _scorer(step_reward: Any, env: Any) -> StepScorer | None:
    """A batched scorer from a reward object (``process``) or a callable."""
    if step_reward is None:
        return None
    process = getattr(step_reward, "process", None)
    if callable(process):
        bind = getattr(step_reward, "bind", None)
        obj = (
            bind(env)
            if callable(bind) and getattr(step_reward, "env", None) is None
            else step_reward
        )
        process = obj.process

        def score(before: Sequence[Any], steps: Sequence[str], after: Sequence[Any]) -> list[float]:
            return [float(process(b, s, a)) for b, s, a in zip(before, steps, after, strict=True)]

        return score
    if callable(step_reward):
        return step_reward
    raise TypeError(
        f"step_reward={step_reward!r} is neither a reward (with process(state, step, next_state)) nor a "
        "callable fn(states_before, steps, states_after) -> scores"
    )


def _checked(policy: Any, props: Any, observations: int, n: int) -> Any:
    """``props`` when it holds at least ``n`` proposals for each of the observations."""
    name = type(policy).__name__
    if not isinstance(props, (list, tuple)) or len(props) != observations:
        got = f"{len(props)} lists" if isinstance(props, (list, tuple)) else repr(props)[:80]
        raise PolicyError(
            f"{name}.propose returned {got} for {observations} observations; it must return "
            "one list of proposals per observation"
        )
    for plist in props:
        if not isinstance(plist, (list, tuple)) or len(plist) < n:
            got = f"{len(plist)} proposals" if isinstance(plist, (list, tuple)) else repr(plist)
            raise PolicyError(
                f"{name}.propose returned {got[:80]} for an observation when asked for n={n}; "
                "it must return n proposals per observation (extra ones are ignored)"
            )
    return props


def collect(
    policy: Any,
    env: Any,
    problems: Sequence[dict[str, Any]],
    *,
    samples: int = 1,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int | None = 0,
    max_new_tokens: int = 48,
    env_kwargs: dict[str, Any] | None = None,
    step_reward: Any = None,
    progress: bool = False,
    backend: Any = None,
    shards: int | None = None,
) -> list[Episode]:
    """Play ``samples`` episodes per problem with ``policy``; all episodes advance in lockstep.

    Args:
        policy: a :class:`~thinkgym.agents.Policy`: every call is
            ``propose(observations, n, temperature=, top_p=, max_new_tokens=, seed=)`` and must
            return ``n`` proposals per observation (extra ones are ignored; fewer, or not one list
            per observation, raise :class:`~thinkgym.search.PolicyError`).
        env: an env id (made with ``env_kwargs``) or a :class:`~thinkgym.envs.base.ReasoningEnv`
            (wrapped or not; its reward object gives the step rewards).
        problems: ``env.reset`` keyword arguments, one per problem (``{"seed": 3}``,
            ``{"options": {"numbers": [...]}}``).
        samples: episodes per problem.
        temperature: sampling temperature (0: greedy).
        top_p: nucleus mass.
        seed: base seed of the sampling (round ``r`` with ``c`` copies uses
            ``seed + 7919 r + c``); ``None`` leaves it free.
        max_new_tokens: longest step.
        env_kwargs: keyword arguments of the env when ``env`` is an id.
        step_reward: an extra per-step score stored in :attr:`Step.process` for accepted steps:
            a reward object (``process(state, step, next_state)``; rule PRM, learned PRM) or a batched
            callable ``fn(states_before, steps, states_after) -> scores`` (e.g. MC values).
        progress: show a tqdm bar over finished episodes.
        backend: a :class:`thinkgym.distributed.Backend` (``make_backend("ray", workers=4)``)
            that plays the problems in ``shards`` shards, each a ``collect`` call on a worker
            (the policy, env and ``step_reward`` are pickled to the workers; the Ray backend
            keeps them between calls with the same policy). ``None``: all in this process.
        shards: how many shards (default: one per worker). The same shards give the same
            episodes on any backend; different shards batch the sampling differently.

    Returns:
        The episodes, problem by problem and sample by sample
        (``episodes[i * samples + j]`` is sample ``j`` of problem ``i``).
    """
    if backend is not None:
        kwargs = dict(
            samples=samples,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            max_new_tokens=max_new_tokens,
            env_kwargs=env_kwargs,
            step_reward=step_reward,
        )
        per_problem = backend.map(
            _CollectShards(policy, env, kwargs), [dict(kw) for kw in problems], shards=shards
        )
        episodes_out = []
        for i, eps in enumerate(per_problem):
            for ep in eps:
                ep.index = i  # a shard numbers its problems from 0
                episodes_out.append(ep)
        return episodes_out
    from thinkgym.envs import make

    if samples < 1:
        raise ValueError(f"samples={samples} must be >= 1")
    if isinstance(env, str):
        base = make(env, **(env_kwargs or {})).unwrapped
    else:
        base = getattr(env, "unwrapped", env)
    score = _scorer(step_reward, base)
    episodes: list[Episode] = []
    states = []
    for i, kw in enumerate(problems):
        base.reset(**kw)
        for j in range(samples):
            episodes.append(Episode(index=i, sample=j, problem=dict(kw)))
            states.append(base.get_state())
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(states), desc="rollouts", dynamic_ncols=True)
    active = list(range(len(states)))
    rnd = 0
    while active:
        groups: dict[str, list[int]] = {}
        for i in active:
            groups.setdefault(base.transcript(states[i]), []).append(i)
        by_count: dict[int, list[str]] = {}
        for text, members in groups.items():
            by_count.setdefault(len(members), []).append(text)
        chosen: dict[int, Any] = {}
        for count, texts in by_count.items():
            props = policy.propose(
                texts,
                count,
                temperature=temperature,
                top_p=top_p,
                max_new_tokens=max_new_tokens,
                seed=None if seed is None else seed + rnd * 7919 + count,
            )
            for text, plist in zip(texts, _checked(policy, props, len(texts), count), strict=True):
                for i, p in zip(groups[text], plist[:count], strict=True):
                    chosen[i] = p
        still = []
        scored: list[tuple[int, Any, str, Any]] = []
        for i in active:
            prop = chosen.get(i)
            action = prop.text if prop is not None else ""
            before = states[i]
            obs = base.transcript(before)
            base.set_state(before)
            _, reward, terminated, truncated, info = base.step(action)
            states[i] = after = base.get_state()
            valid = bool(info.get("valid", not info.get("error")))
            step = Step(
                observation=obs,
                action=action,
                token_ids=tuple(getattr(prop, "token_ids", ())),
                behavior_logprobs=tuple(getattr(prop, "behavior_logprobs", ())),
                logprob=float(getattr(prop, "logprob", 0.0)),
                reward=float(reward),
                valid=valid,
                error=str(info.get("error", "") or ""),
            )
            ep = episodes[i]
            ep.steps.append(step)
            if valid and score is not None:
                scored.append((i, before, after.steps[-1] if after.steps else action, after))
            if terminated or truncated:
                ep.terminated, ep.truncated = bool(terminated), bool(truncated and not terminated)
                ep.correct = bool(info.get("correct", False))
                ep.outcome = float(reward) if terminated else 0.0
                ep.final_state = after
                if bar is not None:
                    bar.update(1)
            else:
                still.append(i)
        if scored and score is not None:
            values = score([s[1] for s in scored], [s[2] for s in scored], [s[3] for s in scored])
            for (i, *_), v in zip(scored, values, strict=True):
                episodes[i].steps[-1].process = float(v)
        active = still
        rnd += 1
    if bar is not None:
        bar.close()
    return episodes


class _CollectShards:
    """Factory of :func:`collect` shards for a :mod:`thinkgym.distributed` backend.

    An env given by id travels with its gymnasium registration, so envs registered in this
    process only (a plugin, ``thinkgym.register``) exist in the workers too.
    """

    def __init__(self, policy: Any, env: Any, kwargs: dict[str, Any]) -> None:
        import gymnasium as gym

        from thinkgym.envs import resolve_id

        self.policy, self.env, self.kwargs = policy, env, kwargs
        self.spec = gym.spec(resolve_id(env)) if isinstance(env, str) else None

    def __call__(self) -> Callable[[list[dict[str, Any]]], list[list[Episode]]]:
        import gymnasium as gym

        if self.spec is not None and self.spec.id not in gym.registry:
            gym.registry[self.spec.id] = self.spec

        def run(problems: list[dict[str, Any]]) -> list[list[Episode]]:
            eps = collect(self.policy, self.env, problems, **self.kwargs)
            k = self.kwargs["samples"]
            return [eps[i * k : (i + 1) * k] for i in range(len(problems))]

        return run


@dataclass
class CollectorFactory:
    """A picklable factory for :mod:`thinkgym.distributed`: a worker loads the policy once and
    collects the episodes of the problems of each shard it is given.

    Attributes:
        policy_dir: the policy directory (``None``: the shipped policy).
        env: the env id.
        kwargs: keyword arguments of :func:`collect` (``samples``, ``temperature``, ``seed``, ...).
        device: the workers' device (``None``: CUDA when available).
    """

    policy_dir: str | None
    env: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    device: str | None = None

    def __call__(self) -> Callable[[list[tuple[int, dict[str, Any]]]], list[list[Episode]]]:
        """Load the policy; return ``fn([(index, problem), ...]) -> [episodes per problem]``."""
        from thinkgym.agents.llm import LLMPolicy

        if self.policy_dir is None:
            policy = LLMPolicy.default(device=self.device)
        else:
            policy = LLMPolicy.from_pretrained(self.policy_dir, device=self.device)
        samples = int(self.kwargs.get("samples", 1))

        def run(items: list[tuple[int, dict[str, Any]]]) -> list[list[Episode]]:
            episodes = collect(policy, self.env, [p for _, p in items], **self.kwargs)
            out = []
            for k, (index, _) in enumerate(items):
                group = episodes[k * samples : (k + 1) * samples]
                for ep in group:
                    ep.index = index
                out.append(group)
            return out

        return run


def collect_sharded(
    policy_dir: str | None,
    env: str,
    problems: Sequence[dict[str, Any]],
    *,
    backend: Any = "local",
    shards: int | None = None,
    workers: int | None = None,
    device: str | None = None,
    **kwargs: Any,
) -> list[Episode]:
    """:func:`collect` over a :mod:`thinkgym.distributed` backend, one shard per worker.

    The episodes are those of :func:`collect` run on each shard's problems in turn (sampling
    seeds are per call, so results depend on how the problems are cut into shards, never on the
    backend or the number of workers). ``Episode.index`` is the problem's index in ``problems``.

    Args:
        policy_dir: the policy directory each worker loads (``None``: the shipped policy).
        env: the env id (a string: workers make their own env).
        problems: ``env.reset`` keyword arguments, one per problem.
        backend: ``"local"``, ``"ray"`` or a :class:`thinkgym.distributed.Backend`.
        shards: how many shards (default: one per worker).
        workers: Ray workers (see :func:`thinkgym.distributed.make_backend`).
        device: the workers' device.
        **kwargs: keyword arguments of :func:`collect`.
    """
    from thinkgym.distributed import run_sharded

    factory = CollectorFactory(
        None if policy_dir is None else str(policy_dir), str(env), dict(kwargs), device
    )
    groups = run_sharded(
        factory, list(enumerate(problems)), backend=backend, workers=workers, shards=shards
    )
    return [ep for group in groups for ep in group]
