"""thinkgym envs and rewards for TRL (``pip install thinkgym[trl]``; nothing is downloaded).

Two bridges, so a transformers model trains with TRL against any thinkgym env:

* :func:`reward_function`: a TRL reward function ``(prompts, completions, **kwargs) ->
  list[float]``. Each completion is read as lines of working and replayed in the env from the
  example's problem; the score is what the env pays for that episode (the sum of its step
  rewards: rejected steps cost ``invalid_penalty``, a ``reward=`` PRM pays per step, the outcome
  reward pays for the final answer). Use it with ``GRPOTrainer(reward_funcs=...)`` on a dataset
  from :func:`prompt_dataset`.
* :class:`ThinkgymEnvironment` / :func:`environment_factory`: the class TRL's
  ``GRPOTrainer(environment_factory=...)`` expects (TRL 1.x, experimental there): ``reset(**row)``
  poses the example's problem and returns its text; :meth:`ThinkgymEnvironment.step` is the one
  tool the model calls, once per reasoning step; ``get_reward()`` returns the env's summed reward
  for the rollout.

Example (GRPO with tool calls; the tokenizer needs a chat template that renders tool calls, see
:func:`tool_calling_tokenizer` for thinkgym's char-level models)::

    from trl import GRPOConfig, GRPOTrainer
    from thinkgym.learning.trl import environment_factory, prompt_dataset

    trainer = GRPOTrainer(
        model="my-model-dir",
        train_dataset=prompt_dataset("Arithmetic", 256, conversational=True),
        environment_factory=environment_factory("Arithmetic"),
        args=GRPOConfig(output_dir="runs/grpo", max_steps=100),
    )
    trainer.train()
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

__all__ = [
    "INSTRUCTION",
    "reward_function",
    "prompt_dataset",
    "ThinkgymEnvironment",
    "ProblemStream",
    "environment_factory",
    "routing_dataset",
    "tool_calling_tokenizer",
]

INSTRUCTION = (
    "Solve the problem one reasoning step at a time. Call the step tool once per step with one "
    "line of working; finish with a step 'Answer: <final answer>'."
)
"""The user message of conversational prompts (the problem follows it)."""


def _make(env_id: str, env_kwargs: dict[str, Any]) -> Any:
    from thinkgym.envs import make

    return make(env_id, **env_kwargs).unwrapped


def _text(message: Any) -> str:
    """The text of a prompt or completion: a string, or the last message of a conversation."""
    if isinstance(message, str):
        return message
    if isinstance(message, list) and message:
        last = message[-1]
        if isinstance(last, dict):
            content = last.get("content", "")
            if isinstance(content, list):
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def _pose(env: Any, problem: Any = None, seed: Any = None, **_: Any) -> str:
    """Start an episode on the example's problem (a JSON string or dict) or seed; the transcript."""
    if problem is not None:
        if isinstance(problem, str):
            problem = json.loads(problem)
        if not isinstance(problem, dict):
            raise ValueError(f"the 'problem' column must hold a dict or its JSON, got {problem!r}")
        # checked as reset(options=...) checks a pinned problem: a problem the task cannot pose
        # ({"numbers": [24], "target": 24}) is refused, never scored
        try:
            obs, _ = env.reset(
                seed=None if seed is None else int(seed), options={"problem": problem}
            )
        except ValueError as exc:
            raise ValueError(f"the 'problem' column holds {str(problem)[:80]!r}: {exc}") from None
        return obs
    if seed is None:
        raise ValueError(
            "the example has neither a 'problem' nor a 'seed' column; build the dataset with "
            "thinkgym.learning.trl.prompt_dataset"
        )
    obs, _ = env.reset(seed=int(seed))
    return obs


def _play(env: Any, text: str) -> float:
    """Replay ``text`` line by line from the current state; the env's summed reward."""
    total = 0.0
    for line in text.split("\n"):
        if not line.strip():
            continue
        _, reward, terminated, truncated, _ = env.step(line.strip())
        total += float(reward)
        if terminated or truncated:
            break
    return total


def reward_function(
    env_id: str,
    *,
    outcome_only: bool = False,
    **env_kwargs: Any,
) -> Callable[..., list[float]]:
    """A TRL reward function scoring completions with a thinkgym env.

    Args:
        env_id: the env id or short name (``"Arithmetic"``, ``"thinkgym/MathWord-v0"``).
        outcome_only: score only the final answer (1.0 right, 0.0 otherwise, as the env's
            default outcome reward) instead of the summed episode reward.
        **env_kwargs: passed to the env (``reward=`` a PRM, ``check_arithmetic=False``, ...).

    Returns:
        ``f(prompts, completions, **kwargs) -> list[float]``. The dataset's ``problem`` (JSON
        of the env's problem) or ``seed`` column, which TRL passes as keyword arguments, fixes
        each example's problem; completions are lines of working.
    """
    env = _make(env_id, env_kwargs)

    def thinkgym_reward(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float]:
        problems = kwargs.get("problem") or [None] * len(completions)
        seeds = kwargs.get("seed") or [None] * len(completions)
        out = []
        for completion, problem, seed in zip(completions, problems, seeds, strict=True):
            _pose(env, problem=problem, seed=seed)
            total = _play(env, _text(completion))
            if outcome_only:
                total = 1.0 if env.get_state().correct else 0.0
            out.append(total)
        return out

    thinkgym_reward.__name__ = f"thinkgym_{env.spec.id.split('/')[-1] if env.spec else env_id}"
    return thinkgym_reward


def prompt_dataset(
    env_id: str,
    n: int,
    *,
    seed: int = 0,
    conversational: bool = False,
    **env_kwargs: Any,
) -> Any:
    """A :class:`datasets.Dataset` of ``n`` training problems for GRPO.

    Columns: ``prompt`` (the problem transcript plus a newline; with ``conversational=True`` a
    user message with :data:`INSTRUCTION`, the problem then being appended by
    :meth:`ThinkgymEnvironment.reset`), ``problem`` (JSON of the env's problem) and ``seed``.
    Seeds run from ``seed`` up and must not be evaluation seeds of the task.
    """
    try:
        import datasets
    except ImportError:
        raise ImportError("prompt_dataset needs datasets: pip install thinkgym[trl]") from None
    env = _make(env_id, env_kwargs)
    rows = []
    for s in range(seed, seed + n):
        obs, _ = env.reset(seed=s)
        problem = json.dumps(env.get_state().problem)
        if conversational:
            prompt: Any = [{"role": "user", "content": INSTRUCTION + "\n\n"}]
        else:
            prompt = obs + "\n"
        rows.append({"prompt": prompt, "problem": problem, "seed": s})
    return datasets.Dataset.from_list(rows)


class ProblemStream:
    """Seeds of the problems an environment makes itself: ``seed``, ``seed + 1``, ... in turn.

    Every instance a factory makes shares one stream (thread-safe), so TRL's pooled instances
    never pose the same problem by accident; each seed is handed out ``repeat`` times in a row,
    so with ``repeat=num_generations`` a GRPO group's rollouts (consecutive in a batch) share
    their problem.
    """

    def __init__(self, seed: int = 0, repeat: int = 1) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed={seed!r} must be a non-negative integer")
        if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
            raise ValueError(f"repeat={repeat!r} must be a positive integer (num_generations)")
        self.seed = seed
        self.repeat = repeat
        self._drawn = 0
        self._lock = threading.Lock()

    def next_seed(self) -> int:
        """The seed of the next problem."""
        with self._lock:
            k = self._drawn
            self._drawn += 1
        return self.seed + k // self.repeat


def _row_is_empty(prompt: Any) -> bool:
    """Whether a row's prompt says nothing (TRL's placeholder when the env owns the data)."""
    return prompt is None or not _text(prompt).strip()


class ThinkgymEnvironment:
    """A thinkgym env as TRL's ``GRPOTrainer`` environment (``environment_factory``).

    TRL makes one instance per rollout and calls ``reset(**row)`` with the dataset row; the
    returned problem text is appended to the last user message. Every public method other than
    ``reset`` and ``get_reward`` is a tool the model may call: here only :meth:`step`. After the
    rollout TRL calls :meth:`get_reward`.

    A row without ``problem`` or ``seed`` (TRL's placeholder rows when ``train_dataset`` is
    omitted, or a routing row holding only ``environment``) gets a problem the env makes itself:
    the next seed of its :class:`ProblemStream`, on the env's split (``train`` unless
    ``split=`` says otherwise); when the row's prompt is empty the instruction is sent too.

    Args:
        env_id: the env id or short name.
        seed: first seed of the problems the env makes itself.
        repeat: times each of those problems is posed in a row (GRPO's ``num_generations``).
        stream: a :class:`ProblemStream` shared with other instances (``environment_factory``
            passes one); overrides ``seed`` and ``repeat``.
        **env_kwargs: passed to the env (``reward=`` a PRM, ``check_arithmetic=False``, ...).
    """

    def __init__(
        self,
        env_id: str,
        *,
        seed: int = 0,
        repeat: int = 1,
        stream: ProblemStream | None = None,
        **env_kwargs: Any,
    ) -> None:
        self._env = _make(env_id, env_kwargs)
        self._stream = stream if stream is not None else ProblemStream(seed, repeat)
        self._total = 0.0
        self._done = False
        self._rewards: list[float] = []

    def reset(self, **kwargs: Any) -> str:
        """Pose the row's problem (``problem`` JSON or ``seed`` column), else one of the env's own.

        Returns:
            The problem's text (after the instruction when the row's prompt is empty).
        """
        self._total = 0.0
        self._done = False
        self._rewards = []
        problem, seed = kwargs.get("problem"), kwargs.get("seed")
        if problem is None and seed is None:
            obs, _ = self._env.reset(seed=self._stream.next_seed())
        else:
            obs = _pose(self._env, problem=problem, seed=seed)
        if _row_is_empty(kwargs.get("prompt")):
            return f"{INSTRUCTION}\n\n{obs}"
        return obs

    def step(self, step: str) -> str:
        """Take one reasoning step in the environment.

        Args:
            step: One line of working, e.g. "48 / 2 = 24", or "Answer: <final answer>" to finish.

        Returns:
            What the environment says: the step was accepted, rejected (and why), or the episode ended.
        """
        if self._done:
            return "The episode is over; no more steps are taken."
        _, reward, terminated, truncated, info = self._env.step(str(step))
        self._rewards.append(float(reward))
        self._total += float(reward)
        if terminated or truncated:
            self._done = True
            return "Answer recorded; the episode is over." if terminated else "Out of steps."
        if not info["valid"]:
            return f"Rejected: {info['error']}"
        return "Accepted."

    def get_reward(self) -> float:
        """The env's summed reward of this rollout (0.0 when no step was taken)."""
        return self._total

    @property
    def rewards(self) -> list[float]:
        """The reward of each step taken in this rollout (for inspection and tests)."""
        return list(self._rewards)

    @property
    def env(self) -> Any:
        """The underlying :class:`~thinkgym.envs.base.ReasoningEnv`."""
        return self._env


def environment_factory(
    env_id: str, *, seed: int = 0, repeat: int = 1, **env_kwargs: Any
) -> Callable[[], ThinkgymEnvironment]:
    """A zero-argument factory of :class:`ThinkgymEnvironment` for ``GRPOTrainer``.

    Its instances share one :class:`ProblemStream` (``seed``, ``repeat``) for rows that carry no
    problem. Several factories in a dict route by name (TRL 1.x): every row's ``environment``
    field picks one, e.g. ``environment_factory={"game24": environment_factory("Game24"),
    "countdown": environment_factory("Countdown")}`` with a :func:`routing_dataset`.
    """
    _make(env_id, env_kwargs)  # fail here, not inside the trainer, on a bad id or argument
    return partial(ThinkgymEnvironment, env_id, stream=ProblemStream(seed, repeat), **env_kwargs)


def routing_dataset(environments: Sequence[str], n: int, *, seed: int = 0, prompt: str = "") -> Any:
    """A :class:`datasets.Dataset` routing ``n`` rows over named environments (TRL 1.x).

    Row ``i`` holds ``environment`` (the names in turn), ``seed`` (``seed + i``: the env poses
    that seed's problem of its split, so a GRPO group shares it) and a conversational
    ``prompt`` (``prompt``; empty means the env sends the instruction with the problem).
    Pass the same names as the keys of ``GRPOTrainer(environment_factory={...})``.
    """
    try:
        import datasets
    except ImportError:
        raise ImportError("routing_dataset needs datasets: pip install thinkgym[trl]") from None
    names = list(environments)
    if not names or not all(isinstance(x, str) and x for x in names):
        raise ValueError(f"environments={environments!r} must be a non-empty list of names")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} must be a positive integer")
    rows = [
        {
            "prompt": [{"role": "user", "content": prompt}],
            "environment": names[i % len(names)],
            "seed": seed + i,
        }
        for i in range(n)
    ]
    return datasets.Dataset.from_list(rows)


def tool_calling_tokenizer(tokenizer: Any) -> Any:
    """Give a tokenizer without a chat template one that renders tool calls and that TRL parses.

    thinkgym's char-level tokenizers (:func:`thinkgym.models.build_char_tokenizer`) have no chat
    template; TRL's tool calling needs one it knows how to parse. This sets the Qwen2.5 template
    that TRL ships (every character of it is in the char vocabulary). A tokenizer that already
    has a template is returned unchanged.
    """
    if getattr(tokenizer, "chat_template", None):
        return tokenizer
    try:
        from trl.chat_template_utils import qwen2_5_chat_template
    except ImportError:
        raise ImportError("tool calling with TRL needs trl: pip install thinkgym[trl]") from None
    tokenizer.chat_template = qwen2_5_chat_template
    return tokenizer
