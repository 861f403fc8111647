"""Shared machinery of the search planners: budgets, costs, the search tree, results and the driver.

A planner is written as a *generator* per problem: it yields requests (``ProposeRequest`` for the
policy, ``ScoreRequest`` for a guidance object) and receives the answers. :meth:`Planner.plan_many`
runs the generators of many problems side by side and merges their requests into one batched
policy call (and one batched guidance call) per round, because small models on a CPU are bound by
per-call overhead. :meth:`Planner.plan` is ``plan_many`` with one problem.

Honest search (DESIGN.md): planners only use the env's pure, reference-free transition
:meth:`~thinkgym.envs.base.ReasoningEnv.apply` and :meth:`~thinkgym.envs.base.ReasoningEnv.transcript`.
Whether the chosen answer is right against the hidden reference is decided afterwards by
:func:`score_result`.

Cost units: one *policy call* is one generated candidate step (one sampled sequence); *tokens* are
generated tokens; one *reward-model call* is one text scored by a learned model; one *env step* is
one :meth:`apply`.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Generator, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from thinkgym.agents.base import Policy, Proposal, unwrap_env
from thinkgym.envs.base import EnvState, ReasoningEnv

__all__ = [
    "Budget",
    "Cost",
    "Meter",
    "Node",
    "SearchTree",
    "SearchResult",
    "Candidate",
    "ProposeRequest",
    "ScoreRequest",
    "Planner",
    "score_result",
    "resolve_env",
]


# ---------------------------------------------------------------------- budget and cost
@dataclass(frozen=True)
class Budget:
    """A compute budget per problem; ``None`` means unlimited in that unit.

    Attributes:
        policy_calls: most generated candidate steps (sampled sequences) per problem.
        tokens: most generated tokens per problem.
    """

    policy_calls: int | None = None
    tokens: int | None = None

    def __post_init__(self) -> None:
        for name in ("policy_calls", "tokens"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise ValueError(f"Budget({name}={v!r}) must be a non-negative integer or None")

    @classmethod
    def coerce(cls, value: Budget | int | dict[str, Any] | None) -> Budget:
        """A :class:`Budget` from a Budget, an int (policy calls), a dict or ``None``."""
        if value is None:
            return cls()
        if isinstance(value, Budget):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(policy_calls=value)
        if isinstance(value, dict):
            return cls(**value)
        raise TypeError(
            f"budget={value!r} must be a Budget, an int (policy calls) or a dict like "
            "{'policy_calls': 100, 'tokens': 5000}"
        )


@dataclass
class Cost:
    """What a search spent.

    Attributes:
        policy_calls: generated candidate steps (sampled sequences).
        tokens: generated tokens.
        reward_model_calls: texts scored by a learned reward model.
        env_steps: calls of the env's reference-free ``apply``.
        seconds: wall seconds attributed to this problem (batched calls are split by share).
    """

    policy_calls: int = 0
    tokens: int = 0
    reward_model_calls: int = 0
    env_steps: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready)."""
        return asdict(self)


class Meter:
    """Tracks one problem's :class:`Cost` against its :class:`Budget`.

    Args:
        budget: the limits.
        step_token_bound: the most tokens one generated step can have (the policy's
            ``max_new_tokens`` when it exposes one). Used to keep the token budget: a batch of k
            sequences is only requested when ``k * bound`` tokens remain. When the policy exposes
            no bound, the largest step seen so far is used, so the token budget then holds to
            within one batch's spread.
    """

    def __init__(self, budget: Budget, step_token_bound: int | None = None) -> None:
        self.budget = budget
        self.cost = Cost()
        self.fixed_bound = step_token_bound
        self.seen_max_tokens = 0

    def _bound(self) -> int:
        if self.fixed_bound is not None:
            return max(1, self.fixed_bound)
        return max(1, self.seen_max_tokens)

    def affordable(self, k: int) -> int:
        """How many of ``k`` sequences can still be generated within the budget."""
        k = max(0, int(k))
        b = self.budget
        if b.policy_calls is not None:
            k = min(k, b.policy_calls - self.cost.policy_calls)
        if b.tokens is not None:
            k = min(k, (b.tokens - self.cost.tokens) // self._bound())
        return max(0, k)

    @property
    def exhausted(self) -> bool:
        """Whether not even one more sequence fits."""
        return self.affordable(1) == 0

    def charge(self, proposals: Iterable[Proposal]) -> None:
        """Add generated proposals (a merged proposal counts ``count`` sequences)."""
        for p in proposals:
            c = max(1, int(p.count))
            self.cost.policy_calls += c
            self.cost.tokens += int(p.tokens) * c
            self.seen_max_tokens = max(self.seen_max_tokens, int(p.tokens))


# ---------------------------------------------------------------------- tree
@dataclass
class Node:
    """One node of a search tree: a state reached by a step from its parent.

    Attributes:
        id: index in the tree.
        parent: the parent's id (``None`` at the root).
        step: the step text that led here (as written into the transcript).
        state: the env state (``None`` for trees re-imported without an env).
        prior: the policy prior of the step (softmaxed log-probs among siblings).
        logprob: the step's summed log-probability.
        entropy: the step's mean token entropy.
        tokens: generated tokens of the step.
        count: how many samples proposed this step.
        visits: visit count (MCTS) or how often the node was selected.
        value_sum: sum of backed-up values.
        score: the guidance score, when one was computed.
        depth: number of steps from the root.
        children: child ids.
        terminal: whether the state ends the episode (answered or truncated).
        solved: reference-free verdict of a final answer (``True``/``False``; ``None`` unknown).
        answer: the final answer text, at answered nodes.
    """

    id: int
    parent: int | None
    step: str | None
    state: EnvState | None
    prior: float = 1.0
    logprob: float = 0.0
    entropy: float = 0.0
    tokens: int = 0
    count: int = 1
    visits: int = 0
    value_sum: float = 0.0
    score: float | None = None
    depth: int = 0
    children: list[int] = field(default_factory=list)
    terminal: bool = False
    solved: bool | None = None
    answer: str | None = None

    @property
    def value(self) -> float:
        """Mean backed-up value (0 when unvisited)."""
        return self.value_sum / self.visits if self.visits else 0.0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (the state itself is not exported; it replays from the steps)."""
        d = {k: getattr(self, k) for k in _NODE_FIELDS}
        d["children"] = list(self.children)
        d["value"] = self.value
        return d


_NODE_FIELDS = (
    "id",
    "parent",
    "step",
    "prior",
    "logprob",
    "entropy",
    "tokens",
    "count",
    "visits",
    "value_sum",
    "score",
    "depth",
    "terminal",
    "solved",
    "answer",
)


class SearchTree:
    """The nodes a planner explored, rooted at the problem.

    Args:
        root: the initial state.
    """

    def __init__(self, root: EnvState | None) -> None:
        self.nodes: list[Node] = [Node(id=0, parent=None, step=None, state=root)]

    @property
    def root(self) -> Node:
        """The root node."""
        return self.nodes[0]

    def __len__(self) -> int:
        return len(self.nodes)

    def add(self, parent: int, step: str, state: EnvState, **attrs: Any) -> Node:
        """Append a child of ``parent`` reached by ``step``."""
        p = self.nodes[parent]
        node = Node(
            id=len(self.nodes),
            parent=parent,
            step=step,
            state=state,
            depth=p.depth + 1,
            terminal=bool(state.done),
            solved=state.correct if state.done else None,
            answer=state.answer,
            **attrs,
        )
        self.nodes.append(node)
        p.children.append(node.id)
        return node

    def add_proposal(
        self, parent: int, state: EnvState, proposal: Any | None, **attrs: Any
    ) -> Node:
        """Append the child reached by ``state``'s last step, with the proposal's statistics."""
        return self.add(
            parent,
            state.steps[-1],
            state,
            logprob=proposal.logprob if proposal else 0.0,
            entropy=proposal.entropy if proposal else 0.0,
            tokens=proposal.tokens if proposal else 0,
            count=proposal.count if proposal else 1,
            **attrs,
        )

    def path(self, node_id: int) -> list[int]:
        """Node ids from the root to ``node_id``."""
        out = []
        cur: int | None = node_id
        while cur is not None:
            out.append(cur)
            cur = self.nodes[cur].parent
        return out[::-1]

    def steps(self, node_id: int) -> list[str]:
        """The steps from the root to ``node_id``."""
        return [self.nodes[i].step for i in self.path(node_id)[1:] if self.nodes[i].step]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: every node with its visits and values."""
        return {"nodes": [n.to_json() for n in self.nodes]}

    @classmethod
    def from_json(
        cls, data: dict[str, Any], env: ReasoningEnv | None = None, root: EnvState | None = None
    ) -> SearchTree:
        """Rebuild a tree from :meth:`to_json`; states are replayed when ``env`` and ``root`` are given."""
        tree = cls(root)
        tree.nodes = []
        for d in data["nodes"]:
            kwargs = {k: d[k] for k in _NODE_FIELDS if k in d}
            node = Node(state=None, children=list(d.get("children", [])), **kwargs)
            tree.nodes.append(node)
        if env is not None and root is not None:
            tree.nodes[0].state = root
            for node in tree.nodes[1:]:
                parent = tree.nodes[node.parent] if node.parent is not None else None
                if parent is not None and parent.state is not None and node.step is not None:
                    node.state, _, _ = env.apply(parent.state, node.step)
        return tree


# ---------------------------------------------------------------------- result
@dataclass
class SearchResult:
    """What a planner returns.

    Attributes:
        planner: the planner's registry name.
        env_id: the env id (or class name).
        problem: the problem searched (JSON-like).
        steps: the chosen trajectory (the final ``Answer:`` line included when one was given).
        answer: the chosen final answer text (``None`` when the search ended without one).
        solved_without_reference: the task's reference-free verdict of the answer (Game24,
            Countdown: ``True``/``False``; ``None`` for tasks whose answer needs the reference).
        correct: whether the answer is right against the hidden reference; ``None`` until
            :func:`score_result` fills it in after search.
        cost: what the search spent.
        budget: the budget it ran under.
        tree: the explored tree (per-node visits/values), when the planner keeps one.
        candidates: summary of the final candidates (answers, scores, votes), JSON-ready.
        seed: the problem seed, when one was used.
        info: planner-specific extras (JSON-ready).
    """

    planner: str
    env_id: str
    problem: dict[str, Any]
    steps: list[str]
    answer: str | None
    solved_without_reference: bool | None
    cost: Cost
    budget: Budget
    correct: bool | None = None
    tree: SearchTree | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    seed: int | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (round-trips through :meth:`from_json`)."""
        return {
            "planner": self.planner,
            "env_id": self.env_id,
            "problem": _jsonable(self.problem),
            "steps": list(self.steps),
            "answer": self.answer,
            "solved_without_reference": self.solved_without_reference,
            "correct": self.correct,
            "cost": self.cost.to_dict(),
            "budget": asdict(self.budget),
            "tree": self.tree.to_json() if self.tree is not None else None,
            "candidates": _jsonable(self.candidates),
            "seed": self.seed,
            "info": _jsonable(self.info),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], env: ReasoningEnv | None = None) -> SearchResult:
        """Rebuild a result from :meth:`to_json` (tree states replayed when ``env`` is given)."""
        tree = None
        if data.get("tree") is not None:
            root = None
            if env is not None:
                root = EnvState(problem=data["problem"], data=env.initial_data(data["problem"]))
            tree = SearchTree.from_json(data["tree"], env=env, root=root)
        return cls(
            planner=data["planner"],
            env_id=data["env_id"],
            problem=data["problem"],
            steps=list(data["steps"]),
            answer=data["answer"],
            solved_without_reference=data["solved_without_reference"],
            correct=data.get("correct"),
            cost=Cost(**data["cost"]),
            budget=Budget(**data["budget"]),
            tree=tree,
            candidates=list(data.get("candidates", [])),
            seed=data.get("seed"),
            info=dict(data.get("info", {})),
        )


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if x is None or isinstance(x, (str, int, float, bool)):
        return x
    return str(x)


def score_result(env: gym.Env | ReasoningEnv | str, result: SearchResult) -> SearchResult:
    """Score a finished search against the hidden reference; fills in ``result.correct``.

    This is the only place the reference answer is used, and it runs *after* search. The
    trajectory is replayed with ``apply`` from the problem, then the final answer is checked
    with the env's ``check_answer``.

    Args:
        env: the env (or its id) the result was searched on.
        result: the result to score (modified in place and returned).

    Returns:
        ``result`` with ``correct`` set (``False`` when the search gave no answer or a step of
        the trajectory does not replay).
    """
    inner, _ = resolve_env(env)
    if result.answer is None:
        result.correct = False
        return result
    state = EnvState(problem=result.problem, data=inner.initial_data(result.problem))
    for step in result.steps:
        if state.done:
            break
        state, ok, _ = inner.apply(state, step)
        if not ok:
            result.correct = False
            return result
    if not state.done or state.answer is None:
        result.correct = False
        return result
    try:
        ok, _ = inner.check_answer(state, state.answer)
    except (ValueError, ArithmeticError, TypeError, RecursionError):
        ok = False
    result.correct = bool(ok)
    return result


def resolve_env(env_or_id: gym.Env | ReasoningEnv | str) -> tuple[ReasoningEnv, str]:
    """The :class:`ReasoningEnv` behind an env, a wrapped env or an id, and a name for it."""
    if isinstance(env_or_id, str):
        from thinkgym.envs import make

        env = make(env_or_id)
        inner = unwrap_env(env)
        return inner, env.spec.id if env.spec is not None else env_or_id
    inner = unwrap_env(env_or_id)
    spec = getattr(env_or_id, "spec", None) or getattr(inner, "spec", None)
    return inner, spec.id if spec is not None else type(inner).__name__


# ---------------------------------------------------------------------- requests
@dataclass
class ProposeRequest:
    """Ask the policy for ``n`` proposals for each observation."""

    observations: list[str]
    n: int = 1


@dataclass
class ScoreRequest:
    """Ask a guidance object to score candidates."""

    guidance: Any
    candidates: list[Candidate]


@dataclass
class Candidate:
    """A candidate step applied to a state, as guidance objects see it.

    Attributes:
        env: the env (for ``transcript`` and reference-free checks only).
        parent: the state the step was taken from.
        state: the state after the step (``parent`` with ``t`` bumped when rejected).
        step: the step text.
        proposal: the policy's proposal (``None`` for states not reached by a proposal).
        accepted: whether ``apply`` accepted the step.
        error: why it was rejected.
        path_logprob: summed log-prob of every step from the root.
        path_tokens: generated tokens of every step from the root.
        step_logprobs: log-prob of each step from the root (for backtracking).
        step_entropies: entropy of each step from the root.
    """

    env: ReasoningEnv
    parent: EnvState
    state: EnvState
    step: str
    proposal: Proposal | None = None
    accepted: bool = True
    error: str = ""
    path_logprob: float = 0.0
    path_tokens: int = 0
    step_logprobs: tuple[float, ...] = ()
    step_entropies: tuple[float, ...] = ()

    @property
    def transcript(self) -> str:
        """The transcript of the state after the step."""
        return self.env.transcript(self.state)

    @property
    def solved(self) -> bool:
        """Whether the state is an answer the task accepted without the reference."""
        return bool(self.state.done and self.state.correct is True)


def root_candidate(env: ReasoningEnv, state: EnvState) -> Candidate:
    """A candidate standing for a state with no step (e.g. the root)."""
    return Candidate(env=env, parent=state, state=state, step="")


# ---------------------------------------------------------------------- planner base
class _Ctx:
    """Per-problem search context handed to a planner's generator."""

    def __init__(
        self,
        env: ReasoningEnv,
        root: EnvState,
        meter: Meter,
        rng: np.random.Generator,
    ) -> None:
        self.env = env
        self.root = root
        self.meter = meter
        self.rng = rng
        self.tree = SearchTree(root)

    def apply(self, state: EnvState, step: str) -> tuple[EnvState, bool, str]:
        """The env's reference-free transition, counted as one env step."""
        self.meter.cost.env_steps += 1
        return self.env.apply(state, step)

    def extend(self, parent: Candidate | None, state: EnvState, proposal: Proposal) -> Candidate:
        """Apply ``proposal`` to ``state`` and return the candidate (path stats carried on)."""
        new, ok, err = self.apply(state, proposal.text)
        lp = parent.path_logprob if parent else 0.0
        tk = parent.path_tokens if parent else 0
        lps = parent.step_logprobs if parent else ()
        ents = parent.step_entropies if parent else ()
        if ok:
            lps = lps + (proposal.logprob,)
            ents = ents + (proposal.entropy,)
        return Candidate(
            env=self.env,
            parent=state,
            state=new,
            step=proposal.text,
            proposal=proposal,
            accepted=ok,
            error=err,
            path_logprob=lp + (proposal.logprob if ok else 0.0),
            path_tokens=tk + (proposal.tokens if ok else 0),
            step_logprobs=lps,
            step_entropies=ents,
        )

    def out_of_steps(self, state: EnvState) -> bool:
        """Whether the episode would be truncated (the env's action limit)."""
        return state.t >= self.env.max_steps


@dataclass
class Outcome:
    """What a planner's generator returns for one problem."""

    steps: list[str]
    state: EnvState | None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    keep_tree: bool = True


class Planner:
    """Base class of search planners.

    Subclasses set :attr:`name` and implement :meth:`search`, a generator that yields
    :class:`ProposeRequest` / :class:`ScoreRequest` objects, receives their answers, and returns an
    :class:`Outcome`.

    Args:
        policy: anything with ``propose(observations, n, **kwargs) -> list[list[Proposal]]``.
        budget: per-problem compute budget (a :class:`Budget`, an int = policy calls, or ``None``).
        temperature: sampling temperature passed to the policy (when it takes one).
        top_p: nucleus sampling passed to the policy (when it takes one).
        seed: seed of the planner's own randomness and of the policy's sampling.
        stop_score: stop early when a final answer's guidance score reaches this value
            (``None``: stop only on a reference-free verified solution).
        early_stop: stop as soon as a solution the task verifies without the reference is found.
        max_step_tokens: longest generated step, passed to the policy as ``max_new_tokens`` when
            it takes one (default: the policy's own default); it also bounds the token budget.
        progress: show a tqdm progress bar over problems in :meth:`plan_many`.
    """

    name: ClassVar[str] = "planner"

    def __init__(
        self,
        policy: Policy,
        *,
        budget: Budget | int | dict[str, Any] | None = None,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int = 0,
        stop_score: float | None = None,
        early_stop: bool = True,
        max_step_tokens: int | None = None,
        progress: bool = False,
    ) -> None:
        if not callable(getattr(policy, "propose", None)):
            raise TypeError(
                f"policy={policy!r} has no propose(observations, n) method; use an LLMPolicy, "
                "an OracleAgent/RandomAgent or any object implementing thinkgym.Policy"
            )
        if temperature < 0:
            raise ValueError(f"temperature={temperature!r} must be >= 0")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p={top_p!r} must be in (0, 1]")
        self.policy = policy
        self.budget = Budget.coerce(budget)
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.seed = int(seed)
        self.stop_score = stop_score
        self.early_stop = bool(early_stop)
        self.progress = bool(progress)
        self._propose_kwargs = _accepted_kwargs(policy.propose)
        self.max_step_tokens = max_step_tokens
        if max_step_tokens is not None and max_step_tokens < 1:
            raise ValueError(f"max_step_tokens={max_step_tokens!r} must be a positive integer")

    # -- to implement
    def search(self, ctx: _Ctx) -> Generator[Any, Any, Outcome]:
        """The per-problem search (a generator of requests). See the class docstring."""
        raise NotImplementedError

    # -- helpers for subclasses
    def is_done(self, cand: Candidate, score: float | None = None) -> bool:
        """Whether guidance says the search may stop at this candidate."""
        if not cand.state.done:
            return False
        if self.early_stop and cand.state.correct is True:
            return True
        return self.stop_score is not None and score is not None and score >= self.stop_score

    def propose(
        self, ctx: _Ctx, observations: list[str], n: int
    ) -> Generator[Any, Any, list[list[Proposal]]]:
        """Yield a propose request within budget; returns one list per observation (maybe [])."""
        k = ctx.meter.affordable(len(observations) * n)
        if k <= 0 or not observations:
            return [[] for _ in observations]
        if k < len(observations) * n:
            if k >= len(observations):
                n = k // len(observations)
            else:
                head = yield ProposeRequest(list(observations[:k]), 1)
                return list(head) + [[] for _ in observations[k:]]
        out = yield ProposeRequest(list(observations), n)
        return list(out)

    # -- public API
    def plan(
        self,
        env_or_id: gym.Env | ReasoningEnv | str,
        *,
        seed: int | None = None,
        problem: dict[str, Any] | str | None = None,
    ) -> SearchResult:
        """Search one problem.

        Args:
            env_or_id: the env (wrapped or not) or its id (``"thinkgym/Game24-v0"``, ``"Game24"``).
            seed: fixes the problem (``env.reset(seed=seed)``) when ``problem`` is not given.
            problem: pins the problem: reset options (``{"numbers": [4, 9, 10, 13], "target": 24}``,
                ``{"problem": "(3 + 4) * 5"}``), the env's own problem dict, or a problem string.

        Returns:
            The :class:`SearchResult` (``correct`` is ``None``: see :func:`score_result`).
        """
        return self.plan_many(env_or_id, seeds=[seed], problems=[problem])[0]

    def plan_many(
        self,
        env_or_id: gym.Env | ReasoningEnv | str,
        seeds: Sequence[int | None] | None = None,
        problems: Sequence[dict[str, Any] | str | None] | None = None,
    ) -> list[SearchResult]:
        """Search several problems at once, batching policy and guidance calls across them.

        Args:
            env_or_id: the env or its id.
            seeds: one problem seed per problem.
            problems: one pinned problem per problem (see :meth:`plan`); overrides the seed.

        Returns:
            One :class:`SearchResult` per problem, in order.
        """
        env, env_id, ctxs, seeds_l = self._contexts(env_or_id, seeds, problems)
        return self._results(env_id, ctxs, seeds_l, self._drive(ctxs))

    # -- the driver
    def _contexts(
        self,
        env_or_id: gym.Env | ReasoningEnv | str,
        seeds: Sequence[int | None] | None,
        problems: Sequence[dict[str, Any] | str | None] | None,
    ) -> tuple[ReasoningEnv, str, list[_Ctx], list[int | None]]:
        """The env, its id, one search context per problem and the seeds (checked)."""
        env, env_id = resolve_env(env_or_id)
        if seeds is None and problems is None:
            raise ValueError("plan_many needs seeds=[...] or problems=[...]")
        count = len(seeds) if seeds is not None else len(problems or [])
        if seeds is not None and problems is not None and len(seeds) != len(problems):
            raise ValueError(
                f"seeds has {len(seeds)} entries but problems has {len(problems)}; give one "
                "of each per problem"
            )
        seeds_l = list(seeds) if seeds is not None else [None] * count
        probs_l = list(problems) if problems is not None else [None] * count
        bound = self.max_step_tokens or _step_token_bound(self.policy)
        ctxs = []
        for i, (s, p) in enumerate(zip(seeds_l, probs_l, strict=False)):
            root = _root_state(env, s, p)
            rng = np.random.default_rng([self.seed, 0 if s is None else int(s) + 1, i])
            ctxs.append(_Ctx(env, root, Meter(self.budget, bound), rng))
        return env, env_id, ctxs, seeds_l

    def _results(
        self, env_id: str, ctxs: list[_Ctx], seeds_l: list[int | None], outcomes: list[Outcome]
    ) -> list[SearchResult]:
        results = []
        for ctx, s, out in zip(ctxs, seeds_l, outcomes, strict=False):
            final = out.state
            answer = final.answer if final is not None and final.done else None
            results.append(
                SearchResult(
                    planner=self.name,
                    env_id=env_id,
                    problem=_jsonable(ctx.root.problem),
                    steps=list(out.steps),
                    answer=answer,
                    solved_without_reference=(final.correct if answer is not None else None),
                    cost=ctx.meter.cost,
                    budget=self.budget,
                    tree=ctx.tree if out.keep_tree else None,
                    candidates=out.candidates,
                    seed=s,
                    info=out.info,
                )
            )
        return results

    def _drive(self, ctxs: list[_Ctx]) -> list[Outcome]:
        return _drive_jobs([(self, ctxs)], self.progress, self.name)[0]

    def _call_key(self) -> tuple[Any, ...]:
        """Requests with equal keys (and equal ``n``) can share one ``propose`` call."""
        return (id(self.policy), self.temperature, self.top_p, self.max_step_tokens)

    def _call_policy(
        self, observations: list[str], n: int, rng: np.random.Generator
    ) -> list[list[Proposal]]:
        kwargs: dict[str, Any] = {}
        accepts, any_kw = self._propose_kwargs
        wanted = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": int(rng.integers(2**31 - 1)),
        }
        if self.max_step_tokens is not None:
            wanted["max_new_tokens"] = self.max_step_tokens
        for k, v in wanted.items():
            if k in accepts or any_kw:
                kwargs[k] = v
        out = self.policy.propose(observations, n, **kwargs)
        if len(out) != len(observations):
            raise RuntimeError(
                f"{type(self.policy).__name__}.propose returned {len(out)} lists for "
                f"{len(observations)} observations; it must return one list per observation"
            )
        return [list(x) for x in out]


def _drive_jobs(
    jobs: Sequence[tuple[Planner, list[_Ctx]]], progress: bool, desc: str
) -> list[list[Outcome]]:
    """Run the searches of several planners at once, batching their requests.

    Every round, the pending propose requests of all problems of all jobs that share a policy
    and sampling settings (:meth:`Planner._call_key`) and ``n`` go to the policy as one call;
    score requests that share a guidance object go to it as one call. Costs are charged to each
    problem's meter; wall time of a shared call is split by rows.
    """
    flat: list[tuple[int, Planner, _Ctx]] = [
        (j, planner, ctx) for j, (planner, ctxs) in enumerate(jobs) for ctx in ctxs
    ]
    gens = [planner.search(ctx) for _, planner, ctx in flat]
    outcomes: list[Outcome | None] = [None] * len(flat)
    pending: dict[int, Any] = {}
    rngs = [np.random.default_rng([planner.seed, len(ctxs), 7]) for planner, ctxs in jobs]
    bar = _progress(len(flat), progress, desc)

    def advance(i: int, value: Any) -> None:
        t0 = time.perf_counter()
        try:
            req = gens[i].send(value)
        except StopIteration as stop:
            outcomes[i] = stop.value
            pending.pop(i, None)
            if bar is not None:
                bar.update(1)
        else:
            pending[i] = req
        flat[i][2].meter.cost.seconds += time.perf_counter() - t0

    for i in range(len(gens)):
        advance(i, None)
    while pending:
        replies: dict[int, Any] = {}
        props = {i: r for i, r in pending.items() if isinstance(r, ProposeRequest)}
        scores = {i: r for i, r in pending.items() if isinstance(r, ScoreRequest)}
        bad = set(pending) - set(props) - set(scores)
        if bad:
            planner = flat[min(bad)][1]
            raise TypeError(
                f"{type(planner).__name__}.search yielded {pending[min(bad)]!r}; yield "
                "ProposeRequest or ScoreRequest"
            )
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, r in props.items():
            groups.setdefault((flat[i][1]._call_key(), r.n), []).append(i)
        for (_, n), idx in groups.items():
            obs = [o for i in idx for o in props[i].observations]
            first_job, planner = flat[idx[0]][0], flat[idx[0]][1]
            t0 = time.perf_counter()
            out = planner._call_policy(obs, n, rngs[first_job])
            dt = time.perf_counter() - t0
            pos = 0
            for i in idx:
                k = len(props[i].observations)
                mine = out[pos : pos + k]
                pos += k
                replies[i] = mine
                meter = flat[i][2].meter
                meter.charge(p for lst in mine for p in lst)
                meter.cost.seconds += dt * k / max(1, len(obs))
        by_g: dict[int, list[int]] = {}
        for i, r in scores.items():
            by_g.setdefault(id(r.guidance), []).append(i)
        for idx in by_g.values():
            guidance = scores[idx[0]].guidance
            cands = [c for i in idx for c in scores[i].candidates]
            t0 = time.perf_counter()
            values, costs = guidance.evaluate(cands) if cands else ([], [])
            dt = time.perf_counter() - t0
            pos = 0
            for i in idx:
                k = len(scores[i].candidates)
                replies[i] = list(values[pos : pos + k])
                m = flat[i][2].meter.cost
                for c in costs[pos : pos + k]:
                    m.reward_model_calls += c.reward_model_calls
                    m.policy_calls += c.policy_calls
                    m.tokens += c.tokens
                pos += k
                m.seconds += dt * k / max(1, len(cands))
        for i, value in replies.items():
            advance(i, value)
    if bar is not None:
        bar.close()
    done = [o if o is not None else Outcome([], None) for o in outcomes]
    out_jobs: list[list[Outcome]] = []
    pos = 0
    for _, ctxs in jobs:
        out_jobs.append(done[pos : pos + len(ctxs)])
        pos += len(ctxs)
    return out_jobs


def plan_together(
    jobs: Sequence[
        tuple[
            Planner,
            gym.Env | ReasoningEnv | str,
            Sequence[int | None] | None,
            Sequence[dict[str, Any] | str | None] | None,
        ]
    ],
    *,
    progress: bool = False,
) -> list[list[SearchResult]]:
    """Run several planners' :meth:`~Planner.plan_many` at once, batching across all of them.

    Each job is ``(planner, env_or_id, seeds, problems)`` as for :meth:`Planner.plan_many`.
    Requests of every job that share a policy, sampling settings and ``n`` go to the policy in
    one call per round, so a small model on a CPU sees large batches even when each planner
    alone sends few rows (``thinkgym bench`` runs all planners and budgets of an env this way).
    Each job's results are what its ``plan_many`` would return, except that sampled tokens
    depend on the batch they were drawn in (reproducible for the same set of jobs and seeds).

    Returns:
        One list of :class:`SearchResult` per job, in order.
    """
    prepared = [planner._contexts(env, seeds, problems) for planner, env, seeds, problems in jobs]
    outcomes = _drive_jobs(
        [(job[0], prep[2]) for job, prep in zip(jobs, prepared, strict=True)], progress, "search"
    )
    return [
        job[0]._results(prep[1], prep[2], prep[3], outs)
        for job, prep, outs in zip(jobs, prepared, outcomes, strict=True)
    ]


def _accepted_kwargs(fn: Any) -> tuple[set[str], bool]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return set(), False
    names = set(sig.parameters)
    any_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    return names, any_kw


def _step_token_bound(policy: Any) -> int | None:
    for attr in ("max_step_tokens", "max_new_tokens"):
        v = getattr(policy, attr, None)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    try:  # LLMPolicy.propose(..., max_new_tokens=48): its default bounds a step
        param = inspect.signature(policy.propose).parameters.get("max_new_tokens")
    except (TypeError, ValueError):
        param = None
    if param is not None and isinstance(param.default, int) and param.default > 0:
        return int(param.default)
    return None


def _root_state(env: ReasoningEnv, seed: int | None, problem: Any) -> EnvState:
    if problem is None:
        env.reset(seed=seed)
        return env.get_state()
    if isinstance(problem, str):
        env.reset(seed=seed, options={"problem": problem})
        return env.get_state()
    if not isinstance(problem, dict):
        raise TypeError(
            f"problem={problem!r} must be a dict (reset options or the env's problem) or a string"
        )
    pinned = env.problem_from_options(dict(problem))
    if pinned is None:
        pinned = env.problem_from_options({"problem": dict(problem)})
    if pinned is None:
        raise ValueError(
            f"problem={problem!r} does not pin a {type(env).__name__} problem; pass reset "
            "options such as {'numbers': [...], 'target': 24} or {'problem': ...}"
        )
    return EnvState(problem=pinned, data=env.initial_data(pinned))


def _progress(total: int, enabled: bool, desc: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="problem", leave=False)


def softmax(xs: Sequence[float]) -> list[float]:
    """Numerically stable softmax."""
    if not xs:
        return []
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    s = sum(e)
    return [v / s for v in e]


def merge_proposals(props: Sequence[Proposal]) -> list[Proposal]:
    """Merge proposals with the same text (counts add up; the first keeps its stats)."""
    out: dict[str, Proposal] = {}
    for p in props:
        key = p.text.strip()
        if key in out:
            q = out[key]
            out[key] = replace(q, count=q.count + max(1, p.count))
        else:
            out[key] = p
    return list(out.values())
