"""`ReasoningEnv`: the Gymnasium environment in which one step is one reasoning step.

A task subclasses :class:`ReasoningEnv` and fills in a handful of hooks (problem generator, step
checker, answer checker, reference solver). The base class owns the episode logic, the
observation/action spaces, rewards, truncation, rendering and the small immutable state that search
planners copy with :meth:`ReasoningEnv.get_state` / :meth:`ReasoningEnv.set_state`.

The reward protocol lives here too (:class:`Reward`, :class:`DefaultReward`): an env needs a
reward, and the envs are the layer below every reward implementation (:mod:`thinkgym.rewards`).
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import string
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, NamedTuple, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from thinkgym.envs.spaces import TranscriptSpace

__all__ = [
    "CHARSET",
    "CHECK_ERRORS",
    "EnvState",
    "StepCheck",
    "Transition",
    "ReasoningEnv",
    "ANSWER_PREFIX",
    "SPLITS",
    "is_answer",
    "answer_text",
    "Reward",
    "RewardProtocol",
    "DefaultReward",
]

ANSWER_PREFIX = "Answer:"

SPLITS = ("train", "test", "all")
"""Problem splits every task takes (``split=``): ``train`` never draws a test problem, ``test``
draws only test problems, ``all`` draws any. Which split a problem is in is a fixed function of the
problem (:meth:`ReasoningEnv.problem_split`), so the splits never overlap whatever the seeds."""

CHARSET = frozenset(string.printable + "×÷·−√π≤≥≠")
"""Characters the observation and action spaces contain: printable ASCII plus a few math signs."""


def is_answer(step: str) -> bool:
    """Whether a step is a final answer line (``Answer: ...``)."""
    return step.lstrip().startswith(ANSWER_PREFIX)


def answer_text(step: str) -> str:
    """The text after ``Answer:`` in a final answer line."""
    return step.lstrip()[len(ANSWER_PREFIX) :].strip()


@dataclass(frozen=True, slots=True)
class EnvState:
    """Everything that defines where an episode stands; immutable, small and picklable.

    Attributes:
        problem: the task's problem description (plain JSON-like values).
        steps: accepted steps so far, in order (the final answer line included once given).
        data: task-specific working state derived from the steps (e.g. the numbers left).
        t: actions taken so far, rejected ones included (drives truncation).
        done: whether the episode has ended with an answer.
        answer: the final answer text, once given.
        correct: whether that answer was right (``None`` until answered).
        task: the name of the task class that made the state (``""`` when built by hand);
            :meth:`ReasoningEnv.set_state` refuses a state of another task. Not compared.
    """

    problem: dict[str, Any]
    steps: tuple[str, ...] = ()
    data: Any = None
    t: int = 0
    done: bool = False
    answer: str | None = None
    correct: bool | None = None
    task: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class StepCheck:
    """The verdict of a task's step checker.

    Attributes:
        ok: whether the step is accepted.
        error: why it was rejected, in words (empty when ``ok``).
        data: the task's new working state after an accepted step.
        text: the step as written into the transcript (normalised; defaults to the input).
    """

    ok: bool
    error: str = ""
    data: Any = None
    text: str | None = None


@runtime_checkable
class RewardProtocol(Protocol):
    """What an env needs from a reward object."""

    def process(self, state: EnvState, step: str, next_state: EnvState) -> float:
        """Reward for an accepted step ``step`` taken from ``state``, leading to ``next_state``."""
        ...

    def outcome(self, state: EnvState) -> float:
        """Reward for a finished episode (``state.done`` is true)."""
        ...


class Reward:
    """Base class of rewards. Subclasses override :meth:`process` and/or :meth:`outcome`.

    An env calls :meth:`bind` once with itself, so rule-based rewards can use the task's step and
    answer checkers. ``bind`` returns a bound copy and leaves ``self`` untouched, so one reward
    object can be handed to many envs.
    """

    env: ReasoningEnv | None = None

    def bind(self, env: ReasoningEnv) -> Reward:
        """Return a copy of this reward attached to ``env``."""
        bound = copy.copy(self)
        bound.env = env
        return bound

    def process(self, state: EnvState, step: str, next_state: EnvState) -> float:
        """Reward for an accepted step ``step`` from ``state`` to ``next_state`` (default 0).

        ``step`` is the step as written into the transcript (``next_state.steps[-1]``); the env
        hands the next state over so that a reward never recomputes the transition.
        """
        return 0.0

    def outcome(self, state: EnvState) -> float:
        """Reward for a finished episode (default 0)."""
        return 0.0

    def __repr__(self) -> str:
        fields: dict[str, Any] = {k: v for k, v in vars(self).items() if k != "env"}
        args = ", ".join(f"{k}={v!r}" for k, v in fields.items())
        return f"{type(self).__name__}({args})"


class DefaultReward(Reward):
    """1.0 for a correct final answer, 0.0 otherwise; accepted steps earn 0."""

    def outcome(self, state: EnvState) -> float:
        """1.0 when the env judged the answer correct."""
        return 1.0 if state.correct else 0.0


class Transition(NamedTuple):
    """What one action does to a state (:meth:`ReasoningEnv.transition`).

    Attributes:
        state: the next state (on rejection: the same state with one more action counted).
        accepted: whether the action was accepted.
        error: why it was rejected ("" when accepted).
        verdict: for an accepted answer judged wrong, why ("" otherwise).
    """

    state: EnvState
    accepted: bool
    error: str
    verdict: str = ""


_CHECK_ERRORS = (ValueError, ArithmeticError, TypeError, RecursionError)
CHECK_ERRORS = _CHECK_ERRORS
"""What a task's checks may raise on text they cannot read (the transition turns it into a
rejection)."""


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


"""What a task's checkers may raise on strange input; turned into a rejection, never raised."""


class ReasoningEnv(gym.Env[str, str]):
    """Base class of thinkgym environments: one action is one reasoning step, written as text.

    ## Observation Space
    ``spaces.Text``: the transcript so far, the problem first and then one accepted step per line.

    ## Action Space
    ``spaces.Text``: one reasoning step. A step that starts with ``Answer:`` ends the episode.

    ## Reward
    Pluggable (``reward=``): an object with ``process(state, step, next_state) -> float`` for
    each accepted step and ``outcome(state) -> float`` for a finished episode. The default gives 1.0 for a
    correct final answer and 0.0 otherwise. A rejected step costs ``invalid_penalty``.

    ## Episode End
    Terminated when an ``Answer:`` step is given; truncated after ``max_steps`` actions.

    ## Info
    ``problem`` (text), ``steps`` (list), ``valid`` (bool), ``error`` (why a step was
    rejected, or ""), ``answer`` and ``correct`` once the episode ends.

    ## Arguments
    ``difficulty``: task-specific knob (0 easiest); ``max_steps``: action limit;
    ``invalid_penalty``: reward for a rejected step; ``reward``: a reward object (or ``None``);
    ``render_mode``: ``"ansi"`` or ``None``.

    Subclasses implement :meth:`generate_problem`, :meth:`problem_from_options`,
    :meth:`format_problem`, :meth:`initial_data`, :meth:`check_step`, :meth:`check_answer` and
    :meth:`solve`; tasks whose moves can be enumerated also implement :meth:`candidate_steps`.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 4}

    #: Default action limit of the task.
    default_max_steps: ClassVar[int] = 20
    #: Longest step (in characters) that is looked at; longer ones are rejected unread.
    max_step_chars: ClassVar[int] = 400
    #: Share of the task's problems in the test split (by a hash of the problem; see
    #: :meth:`problem_split`).
    test_share: ClassVar[float] = 0.2
    #: Whether the outcome check needs the hidden reference answer. When ``True`` a planner
    #: may not use :meth:`check_answer` during search (see docs/architecture.md, "Honest search").
    outcome_needs_reference: ClassVar[bool] = True
    #: Keys :meth:`reset` accepts in ``options``; any other key is refused with a ``ValueError``
    #: (a typo would otherwise silently draw a random problem). A task that overrides
    #: :meth:`problem_from_options` declares the keys it reads here; one that overrides it without
    #: declaring them gets ``None``: its options are not checked.
    option_keys: ClassVar[tuple[str, ...] | None] = ("problem",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "problem_from_options" in vars(cls) and "option_keys" not in vars(cls):
            cls.option_keys = None

    def __init__(
        self,
        difficulty: int = 1,
        max_steps: int | None = None,
        invalid_penalty: float = -0.1,
        reward: Any = None,
        render_mode: str | None = None,
        split: str = "train",
    ) -> None:
        if split not in SPLITS:
            hint = difflib.get_close_matches(str(split), SPLITS, n=1)
            raise ValueError(
                f"split={split!r} is not one of {SPLITS}"
                + (f"; did you mean {hint[0]!r}?" if hint else "")
            )
        self.split = split
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode={render_mode!r} is not supported; use one of "
                f"{self.metadata['render_modes']} or None"
            )
        if not isinstance(difficulty, (int, np.integer)) or difficulty < 0:
            raise ValueError(f"difficulty={difficulty!r} must be a non-negative integer")
        max_steps = self.default_max_steps if max_steps is None else max_steps
        if not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
            raise ValueError(f"max_steps={max_steps!r} must be a positive integer")
        self.difficulty = int(difficulty)
        self.max_steps = int(max_steps)
        self.invalid_penalty = float(invalid_penalty)
        self.render_mode = render_mode
        if reward is None:
            reward = DefaultReward()
        for method in ("process", "outcome"):
            if not callable(getattr(reward, method, None)):
                raise TypeError(
                    f"reward={reward!r} has no {method}() method; a reward needs "
                    "process(state, step, next_state) -> float and outcome(state) -> float"
                )
        bind = getattr(reward, "bind", None)
        self.reward = bind(self) if callable(bind) else reward
        # TranscriptSpace: a spaces.Text that AsyncVectorEnv's shared memory reads correctly
        self.observation_space = TranscriptSpace(
            max_length=self.max_observation_chars(), min_length=0, charset=CHARSET
        )
        self.action_space = spaces.Text(
            max_length=self.max_step_chars, min_length=0, charset=CHARSET
        )
        self._state: EnvState | None = None
        self._text_cache: tuple[EnvState, str] | None = None

    # ------------------------------------------------------------------ task hooks
    def generate_problem(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw a problem at ``self.difficulty`` from ``rng`` (plain JSON-like values)."""
        raise NotImplementedError

    def problem_from_options(self, options: dict[str, Any]) -> dict[str, Any] | None:
        """Build a problem pinned by ``reset(options=...)``; ``None`` when options pin none.

        Raise ``ValueError`` with a clear message when the options are malformed.
        """
        problem = options.get("problem")
        if problem is None:
            return None
        if not isinstance(problem, dict):
            raise ValueError(f"options['problem'] must be a dict, got {type(problem).__name__}")
        return dict(problem)

    def format_problem(self, problem: dict[str, Any]) -> str:
        """The first line(s) of the transcript."""
        raise NotImplementedError

    # ------------------------------------------------------------------ splits
    def problem_key(self, problem: dict[str, Any]) -> str:
        """A canonical text of a problem: equal problems give equal keys (default: sorted JSON).

        Tasks where different dicts pose the same problem override it (Countdown: the order of
        the numbers does not matter).
        """
        return json.dumps(problem, sort_keys=True, separators=(",", ":"), default=str)

    def problem_split(self, problem: dict[str, Any]) -> str:
        """``"train"`` or ``"test"``: the split ``problem`` belongs to, whatever drew it.

        The default hashes :meth:`problem_key` (blake2b) and puts a share :attr:`test_share` of
        the problems in ``"test"``; tasks with a fixed test set override it (Game24).
        """
        digest = hashlib.blake2b(self.problem_key(problem).encode("utf-8"), digest_size=8)
        return (
            "test"
            if int.from_bytes(digest.digest(), "big") % 10_000 < self.test_share * 10_000
            else "train"
        )

    def fixed_test_set(self) -> list[dict[str, Any]] | None:
        """The task's test problems when they are a fixed list (Game24: the 100 Tree-of-Thoughts
        puzzles), in a fixed order; ``None`` when test problems are drawn (the default)."""
        return None

    def draw_problem(self, rng: np.random.Generator, max_draws: int = 1000) -> dict[str, Any]:
        """Draw a problem of :attr:`split` with :meth:`generate_problem` (redrawing others).

        Raises:
            RuntimeError: no problem of the split came up in ``max_draws`` draws.
        """
        if self.split == "all":
            return self.generate_problem(rng)
        for _ in range(max_draws):
            problem = self.generate_problem(rng)
            if self.problem_split(problem) == self.split:
                return problem
        raise RuntimeError(
            f"{self.task_name} drew {max_draws} problems at difficulty={self.difficulty} and none "
            f"is in split={self.split!r}; the problem space is too small for it (try another "
            "difficulty, or split='all')"
        )

    def initial_data(self, problem: dict[str, Any]) -> Any:
        """The task's working state before any step (immutable)."""
        return None

    def check_step(self, state: EnvState, step: str) -> StepCheck:
        """Check a (non-answer) step against the state. Never raises; rejects with words."""
        raise NotImplementedError

    def check_answer(self, state: EnvState, answer: str) -> tuple[bool, str]:
        """Score a final answer (text after ``Answer:``); returns ``(correct, reason)``.

        May use the hidden reference; see :attr:`outcome_needs_reference`.
        """
        raise NotImplementedError

    def check_answer_without_reference(self, state: EnvState, answer: str) -> bool | None:
        """What a planner may know about an answer without the reference.

        Returns ``True``/``False`` when the task can tell without the hidden answer (Game24: the
        expression uses the given numbers and equals 24), else ``None``.
        """
        if self.outcome_needs_reference:
            return None
        return self.check_answer(state, answer)[0]

    def solve(self, problem: dict[str, Any]) -> list[str]:
        """Reference solver: a correct step-by-step trace ending with an ``Answer:`` line."""
        raise NotImplementedError

    def solve_with_rng(self, problem: dict[str, Any], rng: np.random.Generator) -> list[str]:
        """A reference trace, random among solutions for tasks whose solver samples (Countdown).

        Solves from the problem's initial state with :meth:`solve_state` (which draws from
        ``rng`` where the task has several solutions) and falls back to :meth:`solve`.
        """
        plan = self.solve_state(self.initial_state(problem), rng)
        return list(plan) if plan is not None else list(self.solve(problem))

    def parse_problem(self, text: str) -> dict[str, Any]:
        """Inverse of :meth:`format_problem`: the problem from a transcript's first line(s).

        Raise ``ValueError`` when the text is not a problem of this task.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot read problems back from text")

    def solve_state(
        self, state: EnvState, rng: np.random.Generator | None = None
    ) -> list[str] | None:
        """A correct continuation from ``state`` (``None`` when the task cannot find one).

        The default replays :meth:`solve`: it works while the steps so far follow the reference
        trace. Tasks that can solve from any state (Countdown) override it.
        """
        if state.done:
            return []
        trace = self.solve(state.problem)
        k = len(state.steps)
        if list(state.steps) == trace[:k]:
            return trace[k:]
        return None

    def state_from_transcript(self, text: str) -> EnvState:
        """Rebuild the state that produced a transcript (problem line(s), then steps).

        Raises:
            ValueError: the transcript is not one of this task, or holds a rejected step.
        """
        lines = text.split("\n")
        head_lines = self.problem_line_count
        problem = self.parse_problem("\n".join(lines[:head_lines]))
        state = self.initial_state(problem)
        for line in lines[head_lines:]:
            state, ok, error = self.apply(state, line)
            if not ok:
                raise ValueError(f"step {line!r} of the transcript is rejected: {error}")
        return state

    #: How many lines :meth:`format_problem` writes.
    problem_line_count: ClassVar[int] = 1

    def reference_answer(self, problem: dict[str, Any]) -> str | None:
        """The hidden reference answer, when the task has one."""
        return None

    def candidate_steps(self, state: EnvState) -> list[str]:
        """All legal next steps, for tasks whose moves can be enumerated."""
        raise NotImplementedError(f"{type(self).__name__} does not enumerate its moves")

    def random_step(self, state: EnvState, rng: np.random.Generator) -> str:
        """A plausible-looking (not necessarily valid or useful) step, for :class:`RandomAgent`."""
        try:
            cands = self.candidate_steps(state)
        except NotImplementedError:
            cands = []
        if cands:
            return cands[int(rng.integers(len(cands)))]
        return f"{ANSWER_PREFIX} {int(rng.integers(-20, 100))}"

    def max_observation_chars(self) -> int:
        """Bound on the transcript length (sizes the observation space)."""
        return 512 + (self.max_steps + 1) * (self.max_step_chars + 1)

    # ------------------------------------------------------------------ gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Start an episode: a seed fixes the problem; ``options`` may pin one."""
        super().reset(seed=seed)
        problem = None
        if options:
            if not isinstance(options, dict):
                raise ValueError(f"options must be a dict, got {type(options).__name__}")
            self._check_option_keys(options)
            problem = self.problem_from_options(options)
        if problem is None:
            problem = self.draw_problem(self.np_random)
        self._state = self.initial_state(problem)
        return self.transcript(), self._info(valid=True, error="")

    def _check_option_keys(self, options: dict[str, Any]) -> None:
        """Refuse ``options`` keys the task does not read (see :attr:`option_keys`)."""
        accepted = type(self).option_keys
        if accepted is None:
            return
        for key in options:
            if key not in accepted:
                hint = difflib.get_close_matches(str(key), accepted, n=1)
                raise ValueError(
                    f"reset(options=...) got the unknown key {key!r}; {type(self).__name__} "
                    f"accepts {list(accepted)}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                )

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Take one reasoning step. A bad step is rejected (penalty, unchanged state), never raised."""
        state = self._require_state()
        move = self.transition(state, action, use_reference=True)
        new = move.state
        self._state = new
        if not move.accepted:
            if state.done:  # nothing happened: no penalty, the episode stays over
                return self.transcript(), 0.0, True, False, self._info(False, move.error)
            truncated = new.t >= self.max_steps
            return (
                self.transcript(),
                self.invalid_penalty,
                False,
                truncated,
                self._info(False, move.error),
            )
        if new.done:
            reward = float(self.reward.outcome(new))
            return self.transcript(), reward, True, False, self._info(True, move.verdict)
        reward = float(self.reward.process(state, new.steps[-1], new))
        obs = self._extend_transcript(state, new, new.steps[-1])
        return obs, reward, False, new.t >= self.max_steps, self._info(True, "")

    def render(self) -> str | None:
        """Return the transcript as text in ``ansi`` mode."""
        if self.render_mode == "ansi":
            state = self._require_state()
            status = ""
            if state.done:
                status = "\n[correct]" if state.correct else "\n[wrong]"
            return self.transcript() + status + "\n"
        return None

    # ------------------------------------------------------------------ search API
    def get_state(self) -> EnvState:
        """The current state: immutable, so returning it is the copy (no deep copy needed)."""
        return self._require_state()

    def set_state(self, state: EnvState) -> None:
        """Restore a state from :meth:`get_state` (of this or another env of the same task).

        Raises:
            ValueError: ``state`` is not an :class:`EnvState`, was made by another task, or
                (for a state built by hand) holds a problem this task cannot write.
        """
        name = self.task_name
        if not isinstance(state, EnvState):
            raise ValueError(
                f"{name}.set_state expects an EnvState from a {name}'s get_state(), got "
                f"{type(state).__name__} {_short(state)}"
            )
        if state.task and state.task != name:
            raise ValueError(
                f"{name}.set_state got a state of another task ({state.task}); states do not "
                f"move between tasks: use a {state.task} env for it, or reset() this one"
            )
        if not state.task:
            try:
                self.format_problem(state.problem)
            except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
                raise ValueError(
                    f"{name}.set_state got a state whose problem {_short(state.problem)} is not "
                    f"a {name} problem ({type(exc).__name__}: {exc}); use a state from a "
                    f"{name}'s get_state()"
                ) from None
        self._state = state

    @property
    def task_name(self) -> str:
        """The task's name as states record it (:attr:`EnvState.task`): the class name."""
        return type(self).__name__

    def initial_state(self, problem: dict[str, Any]) -> EnvState:
        """The state before any step of ``problem`` (tagged with this task)."""
        return EnvState(problem=problem, data=self.initial_data(problem), task=self.task_name)

    def transcript(self, state: EnvState | None = None) -> str:
        """The observation text of a state (default: the current one)."""
        state = self._require_state() if state is None else state
        cached = self._text_cache
        if cached is not None and cached[0] is state:
            return cached[1]
        head = self.format_problem(state.problem)
        text = "\n".join((head, *state.steps)) if state.steps else head
        self._text_cache = (state, text)
        return text

    def _extend_transcript(self, old: EnvState, new: EnvState, step: str) -> str:
        # Appending to the previous transcript keeps a step O(len(step)) in the common case.
        cached = self._text_cache
        if cached is not None and cached[0] is old:
            text = cached[1] + "\n" + step
            self._text_cache = (new, text)
            return text
        return self.transcript(new)

    def legal(self, state: EnvState, step: str) -> bool:
        """Whether ``step`` would be accepted in ``state`` (answers: well-formed, not scored)."""
        step, error = self._clean_action(step)
        if error:
            return False
        if is_answer(step):
            return True
        try:
            return self.check_step(state, step).ok
        except _CHECK_ERRORS:
            return False

    def apply(self, state: EnvState, step: str) -> tuple[EnvState, bool, str]:
        """Pure transition used by planners: ``(next_state, accepted, error)``.

        The same transition as :meth:`step` (:meth:`transition`), with one difference: answers are
        scored only with checks that need no reference (``correct`` is set from
        :meth:`check_answer_without_reference`, which is ``None`` for reference-only tasks).
        ``error`` says why a step was rejected ("" when accepted).
        """
        move = self.transition(state, step, use_reference=False)
        return move.state, move.accepted, move.error

    def apply_unchecked(self, state: EnvState, step: str) -> tuple[EnvState, bool, str]:
        """:meth:`apply` with the task's step check switched off (search with ``step_check=False``).

        Every step is taken *as claimed*: written into the transcript exactly as given (never
        normalised, so the text does not reveal the check's verdict) and accepted. The working
        state (``data``) follows a step the check would accept and stays where it was after one
        it would reject. Only what cannot be a step at all is refused (not text, empty, several
        lines, over ``max_step_chars``, unsupported characters); answers and finished episodes
        behave as in :meth:`apply`. Scoring replays a trajectory with :meth:`apply`, so a false
        step fails the episode there.
        """
        move = self.transition(state, step, use_reference=False)
        text, error = self._clean_action(step)
        if state.done or error or is_answer(text):
            return move.state, move.accepted, move.error
        data = move.state.data if move.accepted else state.data
        return replace(state, steps=state.steps + (text,), data=data, t=state.t + 1), True, ""

    def transition(self, state: EnvState, action: Any, *, use_reference: bool) -> Transition:
        """The one transition of the task: what ``action`` does to ``state`` (pure; never raises).

        :meth:`step` calls it with ``use_reference=True`` (answers are graded with the hidden
        reference), :meth:`apply` with ``use_reference=False`` (what a planner may know). A
        rejected action counts one action (``t + 1``) and changes nothing else; an action on a
        finished episode is rejected and changes nothing.

        Args:
            state: the state to act from.
            action: one step (text; bytes and numpy strings are accepted, anything else is
                rejected).
            use_reference: grade answers with :meth:`check_answer` (``True``) or with
                :meth:`check_answer_without_reference` (``False``).

        Returns:
            The :class:`Transition`: next state, whether the action was accepted, why not, and
            for an accepted answer judged wrong, why.
        """
        if state.done:
            return Transition(state, False, "the episode is over; call reset()")
        step, error = self._clean_action(action)
        t = state.t + 1
        if error:
            return Transition(replace(state, t=t), False, error)
        if is_answer(step):
            ans = answer_text(step)
            reason = ""
            try:
                if use_reference:
                    correct, reason = self.check_answer(state, ans)
                else:
                    correct = self.check_answer_without_reference(state, ans)
            except _CHECK_ERRORS as exc:
                correct, reason = False, f"could not check the answer: {exc}"
            new = replace(
                state, steps=state.steps + (step,), t=t, done=True, answer=ans, correct=correct
            )
            return Transition(new, True, "", "" if correct is not False else reason)
        try:
            verdict = self.check_step(state, step)
        except _CHECK_ERRORS as exc:
            verdict = StepCheck(ok=False, error=f"could not read the step: {exc}")
        if not verdict.ok:
            return Transition(replace(state, t=t), False, verdict.error or "the step was rejected")
        text = verdict.text if verdict.text is not None else step
        new = replace(state, steps=state.steps + (text,), data=verdict.data, t=t)
        return Transition(new, True, "")

    # ------------------------------------------------------------------ helpers
    def _clean_action(self, action: Any) -> tuple[str, str]:
        if isinstance(action, bytes):
            try:
                action = action.decode("utf-8")
            except UnicodeDecodeError:
                return "", "the step is not valid UTF-8 text"
        if isinstance(action, np.str_):
            action = str(action)
        if not isinstance(action, str):
            return "", f"a step must be a string, got {type(action).__name__}"
        if len(action) > self.max_step_chars:
            return "", (
                f"the step is {len(action)} characters long; the limit is {self.max_step_chars}"
            )
        step = action.strip()
        if not step:
            return "", "the step is empty"
        if "\n" in step or "\r" in step:
            return "", "a step must be a single line"
        if "\x00" in step:
            return "", "the step contains a null byte"
        if not (step.isascii() and step.isprintable()) and not set(step) <= CHARSET:
            bad = next(c for c in step if c not in CHARSET)
            return "", f"the step contains the unsupported character {bad!r}"
        return step, ""

    def _require_state(self) -> EnvState:
        if self._state is None:
            raise gym.error.ResetNeeded("call reset() before using the environment")
        return self._state

    def _info(self, valid: bool, error: str) -> dict[str, Any]:
        state = self._require_state()
        info: dict[str, Any] = {
            "problem": self.format_problem(state.problem),
            "steps": list(state.steps),
            "valid": valid,
            "error": error,
        }
        if state.done:
            info["answer"] = state.answer
            info["correct"] = bool(state.correct)
        return info
