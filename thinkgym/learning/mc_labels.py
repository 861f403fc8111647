"""Monte-Carlo step labels for PRM training (Math-Shepherd, Wang et al. 2023).

For each step prefix of a trajectory, ``k`` rollouts continue from the state after the step with
a policy until an answer (or the action limit); the prefix is labeled with the share of rollouts
that reach a correct answer (soft label, an estimate of the value of the prefix under the policy)
and whether any does (hard label, "the step can still lead to a correct answer").

The labeled units are the steps of the transcript, i.e. steps the env *accepted*. A proposal the
env rejects never enters a transcript (the state is unchanged), so it is not a unit a PRM is asked
about. In tasks whose step checker rejects wrong arithmetic (Arithmetic, Countdown), the accepted
steps that lead away from the right answer are wrong answers (including answers given too early)
and, in Countdown, legal operations after which the target cannot be reached anymore.

Final answers are scored with the env's :meth:`~thinkgym.envs.base.ReasoningEnv.check_answer`,
which may use the hidden reference: this is training data, not search (docs/architecture.md, "Honest
search"). Pass ``use_reference=False`` to use only checks that need no reference.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from thinkgym.agents.base import Policy, PolicyError, Proposal, unwrap_env
from thinkgym.envs.base import ANSWER_PREFIX, EnvState, ReasoningEnv, answer_text, is_answer

__all__ = [
    "LabeledTrajectory",
    "MCRolloutLabeler",
    "NoisyOraclePolicy",
    "StateTracker",
    "collect_prm_dataset",
    "roc_auc",
    "step_check_labels",
]

_EXPECTED = (ValueError, ArithmeticError, TypeError, RecursionError)
_NUMBER = re.compile(r"-?\d+")


@dataclass(frozen=True, slots=True)
class LabeledTrajectory:
    """A trajectory with Monte-Carlo labels for each of its steps.

    Attributes:
        problem: the task's problem.
        transcript: the problem line(s) and the steps, one per line (what a PRM reads).
        steps: the accepted steps, in order.
        soft: per step, the share of rollouts from the state after it that reach a correct
            answer (for an ``Answer:`` step: 1.0 or 0.0, its own correctness).
        hard: per step, whether any rollout reaches a correct answer.
        correct: whether the trajectory itself ends with a correct answer (``False`` when it
            gave none).
        k: rollouts per step.
    """

    problem: dict[str, Any]
    transcript: str
    steps: tuple[str, ...]
    soft: tuple[float, ...]
    hard: tuple[bool, ...]
    correct: bool
    k: int

    def example(self, labels: str = "soft") -> tuple[str, list[float]]:
        """``(transcript, labels)`` for :func:`~thinkgym.rewards.train_reward_model`.

        Args:
            labels: ``"soft"`` (shares) or ``"hard"`` (0/1).
        """
        if labels == "soft":
            return self.transcript, list(self.soft)
        if labels == "hard":
            return self.transcript, [float(h) for h in self.hard]
        raise ValueError(f"labels={labels!r} must be 'soft' or 'hard'")


@runtime_checkable
class StateTracker(Protocol):
    """A policy that is told the states rollouts start from (see :class:`NoisyOraclePolicy`).

    The labelers call ``track(state)`` for every state they start rollouts from when the policy
    declares this method; a plain :class:`~thinkgym.agents.Policy` needs nothing of it.
    """

    def track(self, state: EnvState) -> None:
        """Remember ``state`` so its transcript is recognised."""
        ...


def _as_policy(policy: Any, env: ReasoningEnv) -> Any:
    if isinstance(policy, Policy):
        return policy
    if callable(policy):
        built = policy(env)
        if isinstance(built, Policy):
            return built
    raise TypeError(
        f"policy={policy!r} has no propose(observations, n) method; pass a Policy (e.g. "
        "OracleAgent(env)) or a factory env -> Policy"
    )


def _track(policy: Any, state: EnvState) -> None:
    if isinstance(policy, StateTracker):
        policy.track(state)


class MCRolloutLabeler:
    """Label every step prefix of trajectories with Monte-Carlo rollouts of a policy.

    Args:
        env: the env (wrapped or not) of the task; only its pure methods are used (``apply``,
            ``transcript``, ``check_answer``), never its current episode.
        policy: a :class:`~thinkgym.agents.Policy`. All the rollouts of one level (every
            prefix of every trajectory, ``k`` each) go into one ``propose`` call with ``n=1``
            per rollout and the keywords below; a :class:`StateTracker` is also told the states
            rollouts start from.
        k: rollouts per step prefix.
        max_steps: action limit of a whole episode, rollout included (default: the env's
            ``max_steps``); a rollout that reaches it without answering counts as a failure.
        use_reference: score final answers with ``check_answer`` (may use the hidden reference;
            fine for training data). With ``False`` only reference-free checks are used, which
            raises for tasks that need the reference.
        progress: show a tqdm progress bar (one tick per labeled step).
        temperature: sampling temperature of the rollouts.
        top_p: nucleus mass of the rollouts.
        max_new_tokens: longest rollout step.
        seed: base seed of the sampling (level ``r`` of a ``label`` call uses
            ``seed + 7919 r``); ``None`` leaves it free.
    """

    def __init__(
        self,
        env: Any,
        policy: Any,
        k: int = 8,
        *,
        max_steps: int | None = None,
        use_reference: bool = True,
        progress: bool = True,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 48,
        seed: int | None = 0,
    ) -> None:
        self.env = unwrap_env(env)
        self.policy = _as_policy(policy, self.env)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k={k!r} must be a positive integer (rollouts per step)")
        self.k = k
        self.max_steps = int(max_steps if max_steps is not None else self.env.max_steps)
        if not use_reference and self.env.outcome_needs_reference:
            raise ValueError(
                f"{type(self.env).__name__} can only score answers with the hidden reference; "
                "use use_reference=True (fine for training data)"
            )
        self.use_reference = bool(use_reference)
        self.progress = bool(progress)
        self.sampling = {
            "temperature": temperature,
            "top_p": top_p,
            "max_new_tokens": max_new_tokens,
        }
        self.seed = seed
        self.policy_calls = 0
        self.rollout_steps = 0

    def answer_correct(self, state: EnvState, answer: str) -> bool:
        """Whether ``answer`` (text after ``Answer:``) is right in ``state``."""
        try:
            if self.use_reference:
                return bool(self.env.check_answer(state, answer)[0])
            return bool(self.env.check_answer_without_reference(state, answer))
        except _EXPECTED:
            return False

    def _prefixes(self, final: EnvState) -> list[tuple[EnvState, bool | None]]:
        """The state after each step of ``final`` (replayed), with the answer's verdict."""
        env = self.env
        state = EnvState(problem=final.problem, data=env.initial_data(final.problem))
        out: list[tuple[EnvState, bool | None]] = []
        for step in final.steps:
            verdict = None
            if is_answer(step):
                verdict = self.answer_correct(state, answer_text(step))
            state, ok, error = env.apply(state, step)
            if not ok:
                raise ValueError(f"step {step!r} of the trajectory is rejected: {error}")
            out.append((state, verdict))
        return out

    def label(self, trajectories: Sequence[EnvState]) -> list[LabeledTrajectory]:
        """Label each step of each trajectory (finished or not).

        Args:
            trajectories: final states of the trajectories (their ``steps`` are replayed).

        Returns:
            One :class:`LabeledTrajectory` per input, in order.
        """
        from tqdm.auto import tqdm

        prefixes = [self._prefixes(t) for t in trajectories]
        # successes[i][j]: correct rollouts from prefix j of trajectory i
        successes = [[0] * len(p) for p in prefixes]
        active: list[tuple[int, int, EnvState]] = []
        total = sum(len(p) for p in prefixes)
        bar = tqdm(total=total, desc="MC labels", disable=not self.progress, leave=False)
        pending = [[self.k] * len(p) for p in prefixes]
        for i, plist in enumerate(prefixes):
            for j, (state, verdict) in enumerate(plist):
                if verdict is not None:  # an answer step: its own correctness, no rollouts
                    successes[i][j] = self.k if verdict else 0
                    pending[i][j] = 0
                    bar.update(1)
                    continue
                _track(self.policy, state)
                active.extend((i, j, state) for _ in range(self.k))

        def finish(i: int, j: int, good: bool) -> None:
            successes[i][j] += int(good)
            pending[i][j] -= 1
            if pending[i][j] == 0:
                bar.update(1)

        level = 0
        while active:
            # Rollouts out of actions fail; the rest propose one step each, in one call.
            alive = []
            for i, j, state in active:
                if state.t >= self.max_steps:
                    finish(i, j, False)
                else:
                    alive.append((i, j, state))
            if not alive:
                break
            obs = [self.env.transcript(s) for _, _, s in alive]
            seed = None if self.seed is None else self.seed + 7919 * level
            proposals = self.policy.propose(obs, 1, seed=seed, **self.sampling)
            self.policy_calls += 1
            level += 1
            name = type(self.policy).__name__
            if len(proposals) != len(obs):
                raise PolicyError(
                    f"{name}.propose returned {len(proposals)} proposal lists for {len(obs)} "
                    "observations; it must return one list per observation"
                )
            active = []
            for (i, j, state), props in zip(alive, proposals, strict=True):
                if not props:
                    raise PolicyError(
                        f"{name}.propose returned no proposal for an observation when asked for "
                        "n=1; it must return n proposals per observation"
                    )
                step = props[0].text
                self.rollout_steps += 1
                nxt, ok, _ = self.env.apply(state, step)
                if ok and nxt.done:
                    finish(i, j, self.answer_correct(state, answer_text(step)))
                else:
                    active.append((i, j, nxt))
        bar.close()

        out = []
        for final, plist, succ in zip(trajectories, prefixes, successes, strict=True):
            last_verdict = plist[-1][1] if plist else None
            out.append(
                LabeledTrajectory(
                    problem=final.problem,
                    transcript=self.env.transcript(plist[-1][0] if plist else final),
                    steps=tuple(final.steps),
                    soft=tuple(s / self.k for s in succ),
                    hard=tuple(s > 0 for s in succ),
                    correct=bool(last_verdict),
                    k=self.k,
                )
            )
        return out


def _perturb(step: str, rng: np.random.Generator) -> str:
    """Change one number of ``step`` by a small non-zero amount (its first one if it has one)."""
    spans = [m.span() for m in _NUMBER.finditer(step)]
    if not spans:
        return step + " 1"
    a, b = spans[int(rng.integers(len(spans)))]
    delta = int(rng.choice([-3, -2, -1, 1, 2, 3]))
    return step[:a] + str(int(step[a:b]) + delta) + step[b:]


class NoisyOraclePolicy:
    """A scripted policy that follows the reference solver but makes mistakes.

    With probability ``1 - p`` it proposes the task's correct next step; otherwise a corrupted
    one: with probability ``early_answer`` an ``Answer:`` line now, with a number taken from the
    current transcript (usually wrong), else the correct step with one number changed by 1 to 3
    (the env rejects such a step when it checks the arithmetic; when the step was the final
    answer, the answer becomes wrong). Used to make PRM training data with mistakes to find.

    Args:
        env: the env (wrapped or not) of the task.
        p: probability of a corrupted step.
        early_answer: share of corruptions that answer early.
        seed: seeds the noise.
        corrupt: replaces the default corruption: ``corrupt(state, correct_step, rng) -> str``.
    """

    def __init__(
        self,
        env: Any,
        p: float = 0.2,
        early_answer: float = 0.3,
        seed: int | None = 0,
        corrupt: Callable[[EnvState, str, np.random.Generator], str] | None = None,
    ) -> None:
        if not 0.0 <= p <= 1.0 or not 0.0 <= early_answer <= 1.0:
            raise ValueError(f"p={p!r} and early_answer={early_answer!r} must be in [0, 1]")
        self.env = unwrap_env(env)
        self.p = float(p)
        self.early_answer = float(early_answer)
        self.rng = np.random.default_rng(seed)
        self.corrupt = corrupt
        self._states: dict[str, EnvState] = {}
        self._plans: dict[str, list[str] | None] = {}

    def track(self, state: EnvState) -> None:
        """Remember ``state`` so its transcript is recognised without reading it back.

        Tasks without ``parse_problem`` cannot rebuild a state from text; the labelers call
        this for every state they start from, and the policy tracks the successors of its own
        proposals.
        """
        if len(self._states) > 200_000:
            self._states.clear()
            self._plans.clear()
        self._states[self.env.transcript(state)] = state

    def _state(self, observation: str) -> EnvState:
        state = self._states.get(observation)
        if state is None:
            try:
                state = self.env.state_from_transcript(observation)
            except NotImplementedError:
                raise ValueError(
                    f"{type(self.env).__name__} cannot read problems back from text and the "
                    f"observation {observation[:60]!r} was never tracked; call "
                    "policy.track(state) for the states you start from"
                ) from None
            self._states[observation] = state
        return state

    def _plan(self, observation: str, state: EnvState) -> list[str] | None:
        if observation not in self._plans:
            self._plans[observation] = self.env.solve_state(state)
        return self._plans[observation]

    def _one(self, observation: str, state: EnvState) -> str:
        plan = self._plan(observation, state)
        good = plan[0] if plan else self.env.random_step(state, self.rng)
        if self.rng.random() >= self.p:
            return good
        if self.corrupt is not None:
            return self.corrupt(state, good, self.rng)
        if self.rng.random() < self.early_answer and not is_answer(good):
            last = observation.rsplit("\n", 1)[-1]
            numbers = _NUMBER.findall(last) or ["0"]
            return f"{ANSWER_PREFIX} {numbers[int(self.rng.integers(len(numbers)))]}"
        return _perturb(good, self.rng)

    def propose(
        self,
        observations: Sequence[str],
        n: int = 1,
        *,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 48,
        seed: int | None = None,
    ) -> list[list[Proposal]]:
        """``n`` proposals per observation (noisy oracle steps).

        The sampling keywords of the :class:`~thinkgym.agents.Policy` protocol are accepted and
        ignored: the noise comes from the policy's own generator (seeded at construction).
        """
        out = []
        for obs in observations:
            state = self._state(obs)
            props = []
            for _ in range(n):
                step = self._one(obs, state)
                nxt, ok, _ = self.env.apply(state, step)
                if ok and not nxt.done:
                    self._states.setdefault(self.env.transcript(nxt), nxt)
                props.append(Proposal(step, tokens=len(step) + 1))
            out.append(props)
        return out

    def act(self, observation: str, info: dict[str, Any] | None = None) -> str:
        """One step for ``observation`` (the :class:`~thinkgym.agents.Agent` protocol)."""
        return self.propose([observation], 1)[0][0].text


def collect_prm_dataset(
    env_id: str | Any,
    policy: Any,
    n_problems: int,
    k: int = 8,
    seed: int = 0,
    *,
    env_kwargs: dict[str, Any] | None = None,
    max_steps: int | None = None,
    use_reference: bool = True,
    progress: bool = True,
) -> list[LabeledTrajectory]:
    """Sample one trajectory per problem with ``policy`` and label its steps by MC rollouts.

    Problems come from ``env.reset(seed=seed + i)``. All trajectories advance together, one
    ``propose`` call per step level; then :class:`MCRolloutLabeler` labels every step.

    Args:
        env_id: an env id (``"thinkgym/Arithmetic-v0"``) or an env instance.
        policy: a Policy, or a factory ``env -> Policy`` (e.g.
            ``lambda env: NoisyOraclePolicy(env, p=0.2)``), used both to sample and to roll out.
        n_problems: trajectories to sample.
        k: rollouts per step.
        seed: seed of the first problem.
        env_kwargs: keyword arguments of ``gym.make`` when ``env_id`` is an id.
        max_steps: action limit (default: the env's ``max_steps``).
        use_reference: see :class:`MCRolloutLabeler`.
        progress: show tqdm progress bars.

    Returns:
        One :class:`LabeledTrajectory` per problem (trajectories with no step are skipped).
    """
    import gymnasium as gym

    if isinstance(n_problems, bool) or not isinstance(n_problems, int) or n_problems < 1:
        raise ValueError(f"n_problems={n_problems!r} must be a positive integer")
    if isinstance(env_id, str):
        from thinkgym.envs import resolve_id

        env = unwrap_env(gym.make(resolve_id(env_id), **(env_kwargs or {})))
    else:
        env = unwrap_env(env_id)
    policy = _as_policy(policy, env)
    limit = int(max_steps if max_steps is not None else env.max_steps)

    from thinkgym.learning.rollout import collect

    for i in range(n_problems):
        env.reset(seed=seed + i)
        _track(policy, env.get_state())
    # the shared lockstep collector samples the trajectories (the labels below use only their
    # steps, replayed from the problem, so the reference the env grades with is not used here)
    saved_limit = env.max_steps
    env.max_steps = limit
    try:
        episodes = collect(policy, env, [{"seed": seed + i} for i in range(n_problems)])
    finally:
        env.max_steps = saved_limit
    kept = [
        ep.final_state for ep in episodes if ep.final_state is not None and ep.final_state.steps
    ]
    labeler = MCRolloutLabeler(
        env, policy, k, max_steps=limit, use_reference=use_reference, progress=progress
    )
    return labeler.label(kept)


def step_check_labels(strict_env: Any, trajectory: EnvState) -> list[float]:
    """Process-supervision labels of a trajectory from a stricter env's step check.

    The analogue of PRM800K's human step labels (Lightman et al., 2023) for tasks whose env can
    check a step exactly: the trajectory (sampled where wrong steps are accepted, e.g.
    ``Arithmetic(verify_steps=False)``) is replayed in ``strict_env`` (the same task with step
    checks on, ``verify_steps=True``). Each step is labeled 1.0 while the strict env accepts
    it (an ``Answer:`` step: while ``check_answer`` says it is right) and 0.0 from the first
    rejected step on: the prefix ends in a state that no longer has the problem's value.
    This uses the hidden reference (answers): training labels only, never search.

    Args:
        strict_env: the env (wrapped or not) with step checks on.
        trajectory: the final state of the trajectory (its ``steps`` are replayed).

    Returns:
        One label per step, in order.
    """
    env = unwrap_env(strict_env)
    state = EnvState(problem=trajectory.problem, data=env.initial_data(trajectory.problem))
    labels: list[float] = []
    good = True
    for step in trajectory.steps:
        if good and is_answer(step):
            try:
                good = bool(env.check_answer(state, answer_text(step))[0])
            except _EXPECTED:
                good = False
        elif good:
            state, good, _ = env.apply(state, step)
        labels.append(1.0 if good else 0.0)
    return labels


def roc_auc(scores: Sequence[float], labels: Sequence[bool | int]) -> float:
    """Area under the ROC curve: the chance that a random positive outranks a random negative.

    Ties count one half (the Mann-Whitney U statistic divided by ``n_pos * n_neg``).

    Raises:
        ValueError: the lengths differ, or one class is empty.
    """
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} scores but {len(labels)} labels")
    pairs = sorted(zip((float(s) for s in scores), (bool(y) for y in labels), strict=True))
    n_pos = sum(1 for _, y in pairs if y)
    n_neg = len(pairs) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"ROC AUC needs both classes; got {n_pos} positives, {n_neg} negatives")
    # Average ranks (1-based) over ties, then U = rank sum of positives - n_pos (n_pos + 1) / 2.
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        avg_rank = (i + 1 + j) / 2
        rank_sum += avg_rank * sum(1 for _, y in pairs[i:j] if y)
        i = j
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
