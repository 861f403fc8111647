"""Prompt templates: how an env observation (the transcript so far) becomes model input.

* ``plain``: the transcript followed by a newline. Models trained here read the transcript lines
  and write the next line; this is their format.
* ``chat``: for instruction-tuned models, the observation goes through
  ``tokenizer.apply_chat_template`` with a system instruction describing the step format,
  optional instructions for problem analysis and task decomposition, and few-shot examples drawn
  from the task's reference solver (:meth:`PromptTemplate.few_shot`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

__all__ = ["PromptTemplate", "DEFAULT_SYSTEM", "ANALYSIS_HINT", "DECOMPOSITION_HINT"]

DEFAULT_SYSTEM = (
    "You solve a problem one reasoning step at a time. You are shown the problem and the steps "
    "taken so far, one per line. Reply with exactly one line: the next step. When you know the "
    "final answer, reply with a line that starts with 'Answer:'."
)
ANALYSIS_HINT = (
    "Before choosing a step, think about what the problem asks and which quantities matter, "
    "but write only the step itself."
)
DECOMPOSITION_HINT = (
    "Break the problem into small sub-problems and solve one of them per step, so that each "
    "line does a single operation."
)


@dataclass(frozen=True)
class PromptTemplate:
    """Turns a transcript into the text a causal LM continues with the next step.

    Attributes:
        kind: ``"plain"`` (transcript + newline) or ``"chat"`` (``apply_chat_template``).
        system: the system instruction of chat prompts.
        analysis: add :data:`ANALYSIS_HINT` (problem analysis) to the system instruction.
        decomposition: add :data:`DECOMPOSITION_HINT` (task decomposition) to it.
        examples: few-shot examples, each a full solved transcript (problem line(s), steps).
    """

    kind: str = "plain"
    system: str = DEFAULT_SYSTEM
    analysis: bool = False
    decomposition: bool = False
    examples: tuple[str, ...] = field(default_factory=tuple)

    KINDS: ClassVar[tuple[str, ...]] = ("plain", "chat")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"kind={self.kind!r} is not one of {self.KINDS}")

    @classmethod
    def plain(cls) -> PromptTemplate:
        """The format of the models trained here: the transcript, then a newline."""
        return cls("plain")

    @classmethod
    def chat(
        cls,
        *,
        system: str = DEFAULT_SYSTEM,
        analysis: bool = False,
        decomposition: bool = False,
        examples: Sequence[str] = (),
    ) -> PromptTemplate:
        """A chat template for instruction-tuned models (see the class attributes)."""
        return cls("chat", system, analysis, decomposition, tuple(examples))

    @classmethod
    def few_shot(
        cls,
        env: Any,
        k: int,
        seed: int = 0,
        *,
        analysis: bool = False,
        decomposition: bool = False,
    ) -> PromptTemplate:
        """A chat template with ``k`` examples solved by the task's reference solver.

        Args:
            env: an env (id, ``gym.Env`` or :class:`~thinkgym.envs.base.ReasoningEnv`).
            k: number of examples.
            seed: seeds the example problems. They are drawn from seeds
                ``seed * 1000 + i``; keep them away from the task's evaluation seeds.
            analysis: add the problem-analysis instruction.
            decomposition: add the task-decomposition instruction.
        """
        if k < 0:
            raise ValueError(f"k={k} must be >= 0")
        from thinkgym.agents.base import unwrap_env
        from thinkgym.envs import make

        inner = unwrap_env(make(env) if isinstance(env, str) else env)
        examples = []
        for i in range(k):
            inner.reset(seed=seed * 1000 + i)
            state = inner.get_state()
            steps = inner.solve_with_rng(state.problem, np.random.default_rng(seed * 1000 + i))
            examples.append("\n".join([inner.format_problem(state.problem), *steps]))
        return cls.chat(examples=examples, analysis=analysis, decomposition=decomposition)

    def with_examples(self, examples: Sequence[str]) -> PromptTemplate:
        """A copy with other few-shot examples."""
        return replace(self, examples=tuple(examples))

    def system_text(self) -> str:
        """The full system instruction (with the optional hints)."""
        parts = [self.system]
        if self.analysis:
            parts.append(ANALYSIS_HINT)
        if self.decomposition:
            parts.append(DECOMPOSITION_HINT)
        return " ".join(parts)

    def messages(self, observation: str) -> list[dict[str, str]]:
        """Chat messages for an observation; each example becomes user/assistant turns.

        An example transcript ``problem, s1, s2`` yields the turns (``problem`` -> ``s1``),
        (``problem\\ns1`` -> ``s2``): the same one-step-per-reply format as the real query.
        """
        msgs = [{"role": "system", "content": self.system_text()}]
        for ex in self.examples:
            lines = ex.split("\n")
            # the first line is the problem; show the first two steps of each example
            for k in range(1, min(len(lines), 3)):
                msgs.append({"role": "user", "content": "\n".join(lines[:k])})
                msgs.append({"role": "assistant", "content": lines[k]})
        msgs.append({"role": "user", "content": observation})
        return msgs

    def render(self, observation: str, tokenizer: Any = None) -> str:
        """The model input for ``observation``.

        Args:
            observation: the transcript so far.
            tokenizer: needed for ``chat`` (its ``chat_template`` is applied).

        Raises:
            ValueError: a chat template without a tokenizer, or a tokenizer without a chat
                template.
        """
        if self.kind == "plain":
            return observation + "\n"
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ValueError(
                "PromptTemplate(kind='chat') needs a tokenizer with a chat_template; use "
                "PromptTemplate.plain() for models trained on plain transcripts"
            )
        return tokenizer.apply_chat_template(
            self.messages(observation), tokenize=False, add_generation_prompt=True
        )

    @property
    def adds_special_tokens(self) -> bool:
        """Whether the tokenizer should add its special tokens (chat templates add their own)."""
        return self.kind == "plain"
