"""Pluggable guidance: objects that score a candidate step or state for a planner.

Higher is better; the built-in ones return values in ``[0, 1]``. Internal guidance uses only the
policy's own signals (log-prob, entropy, self-evaluation); external guidance uses the environment's
reference-free feedback or a reward model. None of them ever sees the hidden reference answer.

============================  ===================================================  ==========
class                         score of a candidate                                 cost
============================  ===================================================  ==========
:class:`LogProbGuidance`      mean per-token probability of the path               free
:class:`EntropyGuidance`      ``exp(-entropy)`` of the step (low uncertainty = 1)  free
:class:`StepLogProbGuidance`  per-token probability of the path's least likely step free
:class:`SelfEvalGuidance`     policy's probability of a "correct" verdict line     1 RM call
:class:`EnvFeedbackGuidance`  1 solved / 0 rejected or wrong / 0.5 otherwise       free
:class:`RewardModelGuidance`  a PRM (aggregated step scores) or an ORM             1 RM call
:class:`FunctionGuidance`     any ``fn(candidate) -> float``                       free
============================  ===================================================  ==========

One *reward-model call* is one text scored by a model; self-evaluation forward passes count as
reward-model calls (the policy acts as its own reward model; nothing is generated).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from thinkgym.search.budget import Cost
from thinkgym.search.context import Candidate

__all__ = [
    "Guidance",
    "LogProbGuidance",
    "EntropyGuidance",
    "StepLogProbGuidance",
    "SelfEvalGuidance",
    "ContinuationScorer",
    "EnvFeedbackGuidance",
    "RewardModelGuidance",
    "FunctionGuidance",
    "as_guidance",
    "aggregate_scores",
    "with_aggregate",
    "GUIDANCE_NAMES",
]

AGGREGATES = ("min", "prod", "last", "mean")


def aggregate_scores(scores: Sequence[float], how: str = "min") -> float:
    """Aggregate per-step PRM scores into one trajectory score.

    Args:
        scores: one score per step (empty: 0.5, no information).
        how: ``"min"`` (weakest step), ``"prod"`` (all steps right), ``"last"`` or ``"mean"``.
    """
    if how not in AGGREGATES:
        raise ValueError(f"aggregate={how!r} is not one of {AGGREGATES}")
    vals = [float(v) for v in scores if v == v]  # NaN (a step cut off by truncation) drops out
    if not vals:
        return 0.5
    if how == "min":
        return min(vals)
    if how == "prod":
        return math.prod(vals)
    if how == "last":
        return vals[-1]
    return sum(vals) / len(vals)


class Guidance:
    """Base class: score candidates (higher is better).

    Subclasses implement :meth:`score`; those that call a model override :meth:`evaluate` to report
    the cost per candidate.
    """

    name: str = "guidance"
    model_calls: int = 0
    """Reward-model calls one scored candidate costs at most (the meter keeps room for them)."""

    def score(self, candidates: Sequence[Candidate]) -> list[float]:
        """One score per candidate."""
        raise NotImplementedError

    def evaluate(self, candidates: Sequence[Candidate]) -> tuple[list[float], list[Cost]]:
        """Scores and the cost of each (what planners call; batched across problems)."""
        return list(self.score(candidates)), [Cost() for _ in candidates]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LogProbGuidance(Guidance):
    """The policy's confidence in the path: ``exp(mean log-prob per token)`` (internal).

    Args:
        per_token: normalise by the generated tokens (comparable across lengths); otherwise
            ``exp(summed log-prob)``.
    """

    name = "logprob"

    def __init__(self, per_token: bool = True) -> None:
        self.per_token = per_token

    def score(self, candidates: Sequence[Candidate]) -> list[float]:
        """Path probability of each accepted candidate; 0 for rejected ones."""
        out = []
        for c in candidates:
            if not c.accepted:
                out.append(0.0)
                continue
            lp = c.path_logprob
            if self.per_token:
                lp = lp / max(1, c.path_tokens)
            out.append(math.exp(min(0.0, lp)))
        return out


class EntropyGuidance(Guidance):
    """Low uncertainty is good: ``exp(-mean token entropy)`` of the newest step (internal)."""

    name = "entropy"

    def score(self, candidates: Sequence[Candidate]) -> list[float]:
        """``exp(-entropy)`` of each accepted candidate's step; 0 for rejected ones."""
        out = []
        for c in candidates:
            if not c.accepted:
                out.append(0.0)
            elif c.proposal is None:
                out.append(1.0)
            else:
                out.append(math.exp(-max(0.0, float(c.proposal.entropy))))
        return out


class StepLogProbGuidance(Guidance):
    """A self-evaluation PRM without a model call: the path is as good as its least likely step,
    ``exp(min over steps of the step's mean per-token log-prob)`` (internal guidance).

    A step the policy itself found unlikely is suspect, and a prefix is as suspect as its worst
    step, the way a PRM's ``min`` aggregation reads a trajectory. The log-probs are the ones the
    policy reported when it proposed the steps, so this costs nothing.
    """

    name = "step_logprob"

    def score(self, candidates: Sequence[Candidate]) -> list[float]:
        """The least likely step's per-token probability; 0 for rejected candidates, 1 with no
        step yet."""
        out = []
        for c in candidates:
            if not c.accepted:
                out.append(0.0)
                continue
            per = [lp / max(1, tk) for lp, tk in zip(c.step_logprobs, c.step_tokens, strict=False)]
            out.append(math.exp(min(0.0, min(per))) if per else 1.0)
        return out


class EnvFeedbackGuidance(Guidance):
    """External, reference-free environment feedback.

    1.0 for an answer the task verifies without the reference (Game24), 0.0 for a rejected step
    or an answer it refutes, ``neutral`` otherwise (accepted steps, unverifiable answers).
    """

    name = "env"

    def __init__(self, neutral: float = 0.5) -> None:
        self.neutral = float(neutral)

    def score(self, candidates: Sequence[Candidate]) -> list[float]:
        """Scores from ``apply``'s verdicts."""
        out = []
        for c in candidates:
            if not c.accepted:
                out.append(0.0)
            elif c.state.done and c.state.correct is True:
                out.append(1.0)
            elif c.state.done and c.state.correct is False:
                out.append(0.0)
            else:
                out.append(self.neutral)
        return out


class RewardModelGuidance(Guidance):
    """Wrap a reward model: a PRM (``score_steps``) or an ORM (``score_transcripts``).

    Works with :class:`thinkgym.rewards.LearnedRewardModel` or any object with
    ``score_steps(texts) -> list[list[float]]`` (one score per step of each transcript) and/or
    ``score_transcripts(texts) -> list[float]``. Rejected candidates score 0 without a model call.

    Args:
        model: the reward model.
        kind: ``"prm"`` or ``"orm"``; default: PRM when the model has ``score_steps``.
        aggregate: how PRM step scores combine (``min``, ``prod``, ``last``, ``mean``).
    """

    name = "reward_model"
    model_calls = 1

    def __init__(self, model: Any, kind: str | None = None, aggregate: str = "min") -> None:
        has_prm = callable(getattr(model, "score_steps", None))
        has_orm = callable(getattr(model, "score_transcripts", None))
        if kind is None:
            kind = "prm" if has_prm else "orm"
        if kind not in ("prm", "orm"):
            raise ValueError(f"kind={kind!r} must be 'prm' or 'orm'")
        if kind == "prm" and not has_prm:
            raise TypeError(f"{model!r} has no score_steps(texts); it cannot act as a PRM")
        if kind == "orm" and not has_orm:
            raise TypeError(f"{model!r} has no score_transcripts(texts); it cannot act as an ORM")
        if aggregate not in AGGREGATES:
            raise ValueError(f"aggregate={aggregate!r} is not one of {AGGREGATES}")
        self.model = model
        self.kind = kind
        self.aggregate = aggregate
        self.calls = 0

    def score_texts(self, texts: list[str]) -> list[float]:
        """Score transcripts with the model (one reward-model call per text)."""
        if not texts:
            return []
        self.calls += len(texts)
        if self.kind == "orm":
            return [float(v) for v in self.model.score_transcripts(texts)]
        out = []
        for steps in self.model.score_steps(texts):
            if isinstance(steps, (int, float)):
                out.append(float(steps))
            else:
                out.append(aggregate_scores(list(steps), self.aggregate))
        return out

    def evaluate(self, candidates: Sequence[Candidate]) -> tuple[list[float], list[Cost]]:
        """Scores (rejected: 0, unscored) and one reward-model call per scored text."""
        idx = [i for i, c in enumerate(candidates) if c.accepted]
        values = self.score_texts([candidates[i].transcript for i in idx])
        scores = [0.0] * len(candidates)
        costs = [Cost() for _ in candidates]
        for i, v in zip(idx, values, strict=False):
            scores[i] = v
            costs[i].reward_model_calls = 1
        return scores, costs

    def score(self, candidates: Sequence[Candidate]) -> list[float]:
        """Scores only (see :meth:`evaluate`)."""
        return self.evaluate(candidates)[0]

    def __repr__(self) -> str:
        return f"RewardModelGuidance(kind={self.kind!r}, aggregate={self.aggregate!r})"


@runtime_checkable
class ContinuationScorer(Protocol):
    """A policy that scores given continuations (teacher-forced), as :class:`LLMPolicy
    <thinkgym.agents.llm.LLMPolicy>` does with ``logprobs``."""

    def logprobs(
        self, prompts: Sequence[str], continuations: Sequence[str], *, template: bool = True
    ) -> list[Any]:
        """Per-token log-probabilities of each continuation after its prompt."""
        ...


class SelfEvalGuidance(Guidance):
    """The policy scores a state itself (internal guidance, no generation).

    The transcript is followed by a verdict line, ``"{transcript}\\nVerdict:"``, and the score is
    the policy's probability of continuing with ``" correct"`` rather than ``" wrong"``:
    ``p(correct) / (p(correct) + p(wrong))``, both from teacher-forced log-probs
    (:meth:`ContinuationScorer.logprobs` with ``template=False``: the prompt is the raw text).
    Models trained only on solution traces have never seen a verdict line, so for them this signal
    is weak; :class:`LogProbGuidance` is then the better internal signal.

    Args:
        policy: the policy that evaluates: a :class:`ContinuationScorer` (``LLMPolicy`` is one).
        prompt: the verdict line's prefix.
        yes: the continuation meaning "this is right".
        no: the continuation meaning "this is wrong".
    """

    name = "self_eval"
    model_calls = 1

    def __init__(
        self,
        policy: ContinuationScorer,
        prompt: str = "Verdict:",
        yes: str = " correct",
        no: str = " wrong",
    ) -> None:
        if not isinstance(policy, ContinuationScorer):
            raise TypeError(
                f"{type(policy).__name__} cannot score given continuations; self-evaluation "
                "needs a policy with logprobs(prompts, continuations, *, template) (LLMPolicy "
                "has one). Use LogProbGuidance or EntropyGuidance for a policy that can only "
                "propose."
            )
        self.policy = policy
        self.prompt = prompt
        self.yes = yes
        self.no = no

    def evaluate(self, candidates: Sequence[Candidate]) -> tuple[list[float], list[Cost]]:
        """Verdict probabilities; one reward-model call (a scoring pass) per accepted candidate."""
        idx = [i for i, c in enumerate(candidates) if c.accepted]
        prompts = [f"{candidates[i].transcript}\n{self.prompt}" for i in idx]
        scores = [0.0] * len(candidates)
        costs = [Cost() for _ in candidates]
        if prompts:
            rows = self.policy.logprobs(
                prompts + prompts,
                [self.yes] * len(prompts) + [self.no] * len(prompts),
                template=False,
            )
            lp = [float(sum(float(v) for v in row)) for row in rows]
            k = len(prompts)
            for j, i in enumerate(idx):
                a, b = lp[j], lp[k + j]
                m = max(a, b)
                if not math.isfinite(m):
                    scores[i] = 0.5  # no information
                else:
                    scores[i] = math.exp(a - m) / (math.exp(a - m) + math.exp(b - m))
                costs[i].reward_model_calls = 1
        return scores, costs

    def score(self, candidates: Sequence[Candidate]) -> list[float]:
        """Scores only (see :meth:`evaluate`)."""
        return self.evaluate(candidates)[0]


class FunctionGuidance(Guidance):
    """Any function of a candidate, e.g. a value function: ``fn(candidate) -> float``.

    Args:
        fn: the scoring function.
        name: a label for tables.
    """

    def __init__(self, fn: Callable[[Candidate], float], name: str = "function") -> None:
        if not callable(fn):
            raise TypeError(f"fn={fn!r} must be callable: fn(candidate) -> float")
        self.fn = fn
        self.name = name

    def score(self, candidates: Sequence[Candidate]) -> list[float]:
        """``fn`` of each candidate."""
        return [float(self.fn(c)) for c in candidates]

    def __repr__(self) -> str:
        return f"FunctionGuidance(name={self.name!r})"


def with_aggregate(guidance: Guidance | None, aggregate: str | None) -> Guidance | None:
    """``guidance`` with its PRM step scores aggregated by ``aggregate``.

    A :class:`RewardModelGuidance` PRM with another aggregation becomes a new one over the same
    model (``min``, ``prod``, ``last`` or ``mean``); anything else (an ORM, other guidance,
    ``None``, or ``aggregate=None``) comes back unchanged.

    Raises:
        ValueError: ``aggregate`` is not one of ``min``, ``prod``, ``last``, ``mean``.
    """
    if aggregate is None:
        return guidance
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate={aggregate!r} is not one of {AGGREGATES}")
    if (
        isinstance(guidance, RewardModelGuidance)
        and guidance.kind == "prm"
        and guidance.aggregate != aggregate
    ):
        return RewardModelGuidance(guidance.model, kind="prm", aggregate=aggregate)
    return guidance


GUIDANCE_NAMES = ("logprob", "entropy", "step_logprob", "env")


def as_guidance(obj: Any, policy: Any = None) -> Guidance | None:
    """Turn a name, a reward model, a callable or a :class:`Guidance` into a Guidance.

    Args:
        obj: ``None``; a Guidance; ``"logprob"``, ``"entropy"``, ``"step_logprob"``, ``"env"`` or
            ``"self_eval"``;
            an object with ``score_steps``/``score_transcripts``; or ``fn(candidate) -> float``.
        policy: the policy, for ``"self_eval"``.
    """
    if obj is None or isinstance(obj, Guidance):
        return obj
    if isinstance(obj, str):
        table: dict[str, Callable[[], Guidance]] = {
            "logprob": LogProbGuidance,
            "entropy": EntropyGuidance,
            "step_logprob": StepLogProbGuidance,
            "env": EnvFeedbackGuidance,
            "self_eval": lambda: SelfEvalGuidance(policy),
        }
        if obj not in table:
            import difflib

            hint = difflib.get_close_matches(obj, list(table), n=1)
            extra = f" Did you mean {hint[0]!r}?" if hint else ""
            raise ValueError(
                f"guidance={obj!r} is unknown.{extra} Known names: {', '.join(table)}; or pass "
                "a Guidance, a reward model or a function"
            )
        return table[obj]()
    if callable(getattr(obj, "score_steps", None)) or callable(
        getattr(obj, "score_transcripts", None)
    ):
        return RewardModelGuidance(obj)
    if callable(obj):
        return FunctionGuidance(obj)
    raise TypeError(
        f"guidance={obj!r} is not a Guidance, a guidance name, a reward model or a function"
    )
