"""ReasoningGym: any reasoning-gym task as a thinkgym env (``pip install thinkgym[rg]``).

``gym.make("thinkgym/ReasoningGym-v0", task="leg_counting", **task_config)`` poses the problems of
reasoning-gym's generator for that task. Steps are free-form reasoning lines (every non-empty line
of printable text is accepted; the env does not check working it cannot read); the ``Answer:``
line is scored by the task's own ``score_answer``, and its score (partial credit included) is the
outcome reward. The answer counts as correct when the score is 1.

* Problems: entry ``index`` of the task's dataset built with ``dataset_seed`` (reasoning-gym draws
  entry ``i`` from ``Random(dataset_seed + i)``); a reset seed picks the index, so seeds and
  ``split=`` reproduce. The held-out split is a hash of the question text, as for the other tasks.
* Text: characters outside thinkgym's charset (emoji, ``∧``, ``×``, box drawing) are written as
  ``\\uXXXX`` escapes in the transcript; an answer may use the same escapes, and ``\\n`` for a
  line break (grids, boards), which are decoded before scoring.
* ``thinkgym.make("rg:leg_counting")`` is a short form (it registers ``thinkgym/rg-leg_counting-v0``
  on first use); :func:`rg_tasks` lists the tasks.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections import OrderedDict
from typing import Any, ClassVar

import numpy as np

from thinkgym.envs.base import (
    ANSWER_PREFIX,
    CHARSET,
    EnvState,
    ReasoningEnv,
    Reward,
    StepCheck,
)

__all__ = [
    "ReasoningGymEnv",
    "PartialCreditReward",
    "rg_tasks",
    "register_task",
    "UNSUPPORTED",
    "escape_text",
    "unescape_answer",
]

UNSUPPORTED: dict[str, str] = {
    "composite": "a mix of other tasks that needs its own list of datasets; make each task "
    "separately (or pass datasets=[...] as reasoning-gym's CompositeConfig takes)",
}
"""reasoning-gym tasks that cannot be built with their default config, and why."""

_TAG_RE = re.compile(r"^\[rg:([A-Za-z0-9_]+) #(\d+)\]$")
_ESCAPE_RE = re.compile(r"\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})|\\n")
_DEFAULT_DATASET_SIZE = 5_000


def _registry() -> dict[str, Any]:
    try:
        from reasoning_gym.factory import DATASETS
    except ImportError:
        raise ImportError(
            "the ReasoningGym env needs reasoning-gym: pip install 'thinkgym[rg]'"
        ) from None
    return DATASETS


def rg_tasks(*, supported_only: bool = True) -> list[str]:
    """Names of reasoning-gym's tasks (without :data:`UNSUPPORTED` ones unless asked)."""
    names = sorted(_registry())
    return [n for n in names if n not in UNSUPPORTED] if supported_only else names


def register_task(task: str) -> str:
    """Register ``thinkgym/rg-<task>-v0`` (the ReasoningGym env with ``task=``); its id.

    ``thinkgym.make("rg:leg_counting")`` and ``--envs rg:leg_counting`` call it.

    Raises:
        gymnasium.error.NameNotFound: ``task`` is not a reasoning-gym task (with a suggestion).
    """
    import gymnasium as gym

    names = rg_tasks(supported_only=False)
    if task not in names:
        folded = {n.lower(): n for n in names}
        if task.lower() in folded:
            task = folded[task.lower()]
        else:
            hint = difflib.get_close_matches(task, names, n=1)
            raise gym.error.NameNotFound(
                f"no reasoning-gym task {task!r}"
                + (f"; did you mean 'rg:{hint[0]}'?" if hint else "")
                + " (thinkgym list --rg lists them)"
            )
    env_id = f"thinkgym/rg-{task}-v0"
    if env_id not in gym.registry:
        gym.register(
            id=env_id,
            entry_point="thinkgym.envs.reasoning_gym:ReasoningGymEnv",
            kwargs={"task": task},
            disable_env_checker=True,
        )
    return env_id


def escape_text(text: str) -> str:
    """``text`` with every character outside thinkgym's charset as a ``\\uXXXX`` escape."""
    if all(c in CHARSET for c in text):
        return text
    out = []
    for c in text:
        if c in CHARSET:
            out.append(c)
        elif ord(c) <= 0xFFFF:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return "".join(out)


def unescape_answer(text: str) -> str:
    """Decode ``\\uXXXX``, ``\\UXXXXXXXX`` and ``\\n`` in an answer (nothing else is touched)."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "\\n":
            return "\n"
        code = int(m.group(1) or m.group(2), 16)
        return chr(code) if code <= 0x10FFFF else m.group(0)

    return _ESCAPE_RE.sub(sub, text)


def _escape_answer(text: str) -> str:
    return escape_text(text).replace("\n", "\\n")


class PartialCreditReward(Reward):
    """The task's own score of the final answer (0 to 1, partial credit kept); steps earn 0."""

    def outcome(self, state: EnvState) -> float:
        """The ``score_answer`` of the answer (1/0 by ``correct`` when not bound to the env)."""
        env = self.env
        if isinstance(env, ReasoningGymEnv) and state.answer is not None:
            return env.score(state.problem, state.answer)
        return 1.0 if state.correct else 0.0


class ReasoningGymEnv(ReasoningEnv):
    """A reasoning-gym task: its generator's problems, free-form steps, its own answer scoring.

    ## Arguments
    ``task``: a reasoning-gym task name (``rg_tasks()``); any other keyword is a field of that
    task's config (``min_animals=3``); ``config``: the same fields as a dict; ``dataset_seed``
    and ``dataset_size``: the dataset the problems come from (problem ``index`` in
    ``[0, dataset_size)``); ``max_problem_chars``: longest question accepted; plus the
    :class:`~thinkgym.envs.base.ReasoningEnv` arguments (``difficulty`` is not used: set the
    task's own config fields instead).
    """

    default_max_steps: ClassVar[int] = 20
    max_step_chars: ClassVar[int] = 4096
    outcome_needs_reference: ClassVar[bool] = True
    option_keys: ClassVar[tuple[str, ...] | None] = ("problem", "index")

    def __init__(
        self,
        task: str = "leg_counting",
        *,
        config: dict[str, Any] | None = None,
        dataset_seed: int = 0,
        dataset_size: int = _DEFAULT_DATASET_SIZE,
        max_problem_chars: int = 16_384,
        difficulty: int = 1,
        max_steps: int | None = None,
        invalid_penalty: float = -0.1,
        reward: Any = None,
        render_mode: str | None = None,
        split: str = "train",
        **task_config: Any,
    ) -> None:
        registry = _registry()
        if not isinstance(task, str) or task not in registry:
            hint = difflib.get_close_matches(str(task), list(registry), n=1)
            raise ValueError(
                f"task={task!r} is not a reasoning-gym task"
                + (f"; did you mean {hint[0]!r}?" if hint else "")
                + " (see thinkgym list --rg)"
            )
        for name, value, low in (
            ("dataset_seed", dataset_seed, 0),
            ("dataset_size", dataset_size, 1),
            ("max_problem_chars", max_problem_chars, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name}={value!r} must be an integer >= {low}")
        fields = dict(config or {})
        clash = set(fields) & set(task_config)
        if clash:
            raise ValueError(f"config fields {sorted(clash)} given twice (config= and keywords)")
        fields.update(task_config)
        dataset_cls, config_cls = registry[task]
        known = [f.name for f in dataclasses.fields(config_cls)]
        for key in ("seed", "size"):
            if key in fields:
                raise ValueError(
                    f"set the dataset's {key} with dataset_{key}=, not {key}= (the env draws "
                    "problem indexes itself)"
                )
        unknown = [k for k in fields if k not in known]
        if unknown:
            hint = difflib.get_close_matches(unknown[0], known, n=1)
            raise ValueError(
                f"{task} has no config field {unknown[0]!r}"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")
                + f"; its fields: {', '.join(k for k in known if k not in ('seed', 'size'))}"
            )
        try:
            cfg = config_cls(**fields, seed=int(dataset_seed), size=int(dataset_size))
            if hasattr(cfg, "validate"):
                cfg.validate()
            self.dataset = dataset_cls(config=cfg)
        except (AssertionError, ValueError, TypeError) as exc:
            raise ValueError(
                f"reasoning-gym refused the {task} config {fields or '(defaults)'}: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        self.task = task
        self.task_config = fields
        self.dataset_seed = int(dataset_seed)
        self.dataset_size = int(dataset_size)
        self.max_problem_chars = int(max_problem_chars)
        self._entries: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._last_score: tuple[int, str, float] | None = None
        super().__init__(
            difficulty=difficulty,
            max_steps=max_steps,
            invalid_penalty=invalid_penalty,
            reward=PartialCreditReward() if reward is None else reward,
            render_mode=render_mode,
            split=split,
        )

    # ------------------------------------------------------------------ problems
    def entry(self, problem: dict[str, Any]) -> dict[str, Any]:
        """The reasoning-gym entry (question, answer, metadata) of a problem (cached)."""
        index = self._index(problem)
        cached = self._entries.get(index)
        if cached is not None:
            self._entries.move_to_end(index)
            return cached
        item = self.dataset[index]
        if len(item["question"]) > self.max_problem_chars:
            raise ValueError(
                f"{self.task} problem {index} is {len(item['question'])} characters long; the "
                f"limit is max_problem_chars={self.max_problem_chars}"
            )
        self._entries[index] = item
        if len(self._entries) > 256:
            self._entries.popitem(last=False)
        return item

    def _index(self, problem: dict[str, Any]) -> int:
        index = problem.get("index") if isinstance(problem, dict) else None
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise ValueError(f"a {self.task} problem is {{'index': i}}, got {problem!r}")
        if not 0 <= int(index) < self.dataset_size:
            raise ValueError(
                f"problem index {index} is outside the dataset [0, {self.dataset_size}); "
                "raise dataset_size= to reach it"
            )
        return int(index)

    def generate_problem(self, rng: np.random.Generator) -> dict[str, Any]:
        """A random index of the dataset."""
        return {"index": int(rng.integers(self.dataset_size))}

    def problem_from_options(self, options: dict[str, Any]) -> dict[str, Any] | None:
        """``{"index": i}`` or ``{"problem": {"index": i}}`` pins entry ``i``."""
        if "index" in options:
            problem = {"index": options["index"]}
        elif options.get("problem") is not None:
            given = options["problem"]
            if not isinstance(given, dict) or "index" not in given:
                raise ValueError(
                    f"options['problem'] must be {{'index': i}} for {self.task}, got {given!r}"
                )
            problem = {"index": given["index"]}
        else:
            return None
        self._index(problem)
        problem["index"] = int(problem["index"])
        return problem

    def problem_key(self, problem: dict[str, Any]) -> str:
        """The question text: equal questions are one problem, whatever their index."""
        return self.entry(problem)["question"].strip()

    def format_problem(self, problem: dict[str, Any]) -> str:
        """A tag line ``[rg:<task> #<index>]``, then the question escaped into the charset.

        The tag makes a transcript readable back (:meth:`parse_problem`) without the generator's
        state: the index regenerates the entry.
        """
        index = self._index(problem)
        question = escape_text(self.entry(problem)["question"].strip())
        return f"[rg:{self.task} #{index}]\n{question}"

    def parse_problem(self, text: str) -> dict[str, Any]:
        """The problem of a transcript's tag line (checked against the question when given).

        Raises:
            ValueError: no tag of this task, or a question that this env's config does not pose
                at that index (another ``dataset_seed`` or task config).
        """
        first, _, rest = text.partition("\n")
        m = _TAG_RE.match(first.strip())
        if m is None or m.group(1) != self.task:
            raise ValueError(f"{text[:80]!r} does not start with a [rg:{self.task} #<index>] tag")
        problem = {"index": int(m.group(2))}
        self._index(problem)
        head = self.format_problem(problem)
        if rest and not (text.startswith(head) or head.startswith(text)):
            raise ValueError(
                f"the question after {first} is not this env's problem {problem['index']} (made "
                "with another dataset_seed or task config?)"
            )
        return problem

    def state_from_transcript(self, text: str) -> EnvState:
        """Rebuild the state of a transcript: the tagged problem, then one step per line.

        Raises:
            ValueError: the transcript is not one of this env's problems, or holds a rejected step.
        """
        problem = self.parse_problem(text)
        head = self.format_problem(problem)
        if text != head and not text.startswith(head + "\n"):
            raise ValueError(f"the transcript does not start with problem {problem['index']}")
        state = self.initial_state(problem)
        for line in text[len(head) + 1 :].split("\n") if text != head else []:
            state, ok, error = self.apply(state, line)
            if not ok:
                raise ValueError(f"step {line!r} of the transcript is rejected: {error}")
        return state

    def initial_data(self, problem: dict[str, Any]) -> Any:
        """No working state: steps are free-form."""
        return None

    @property
    def task_name(self) -> str:
        """States record the reasoning-gym task too: states do not move between tasks."""
        return f"ReasoningGymEnv[{self.task}]"

    # ------------------------------------------------------------------ steps and answers
    def check_step(self, state: EnvState, step: str) -> StepCheck:
        """Any non-empty line is an accepted reasoning step (the env cannot read its working)."""
        return StepCheck(ok=True, data=state.data)

    def score(self, problem: dict[str, Any], answer: str) -> float:
        """The task's ``score_answer`` of ``answer`` (escapes decoded), clipped to [0, 1]."""
        key = (self._index(problem), answer)
        last = self._last_score
        if last is not None and last[:2] == key:
            return last[2]
        item = self.entry(problem)
        try:
            value = float(self.dataset.score_answer(unescape_answer(answer), item))
        except Exception:  # noqa: BLE001 - a task's scorer failing on odd text scores 0
            value = 0.0
        value = float(min(1.0, max(0.0, value))) if np.isfinite(value) else 0.0
        self._last_score = (*key, value)
        return value

    def check_answer(self, state: EnvState, answer: str) -> tuple[bool, str]:
        """Correct when the task scores the answer 1; partial credit is kept for the reward."""
        value = self.score(state.problem, answer)
        if value >= 1.0:
            return True, ""
        if value > 0:
            return False, f"partly right: {self.task} scores it {value:.3g}"
        return False, f"{self.task} scores it 0"

    def reference_answer(self, problem: dict[str, Any]) -> str | None:
        """The entry's answer as reasoning-gym stores it (some tasks accept others too)."""
        answer = self.entry(problem).get("answer")
        return None if answer is None else str(answer)

    def solve(self, problem: dict[str, Any]) -> list[str]:
        """Two steps: a line stating the stored answer, then the answer line (escaped). Tasks
        with several right answers may score it below 1 (their stored answer is an example)."""
        answer = _escape_answer(self.reference_answer(problem) or "")
        said = f"The answer is {answer}"[: self.max_step_chars]
        return [said, f"{ANSWER_PREFIX} {answer}"]

    def max_observation_chars(self) -> int:
        """The tag and question (escaped, up to 10 characters per character) plus the steps."""
        tag = 64
        return tag + 10 * self.max_problem_chars + (self.max_steps + 1) * (self.max_step_chars + 1)
