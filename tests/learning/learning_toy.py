"""A toy task for fast learning tests: ``Say: 384021`` is solved by the answer ``3`` (the first
digit). Every action is an answer, so an episode is one step. :func:`weak_policy` is a tiny model
taught only the answer format: it names a digit, right about one time in ten; learning to copy the
first digit solves the task."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from thinkgym.envs.base import ReasoningEnv, is_answer

TOY_ID = "thinkgym/ToyDigit-v0"


class ToyDigitEnv(ReasoningEnv):
    """``Say: <6 digits>``; the answer is the first digit (``rule="high"``: any digit >= 5)."""

    default_max_steps = 1

    def __init__(self, rule: str = "copy", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rule = rule

    def generate_problem(self, rng: np.random.Generator) -> dict[str, Any]:
        return {"digits": "".join(str(int(d)) for d in rng.integers(0, 10, size=6))}

    def problem_from_options(self, options: dict[str, Any]) -> dict[str, Any] | None:
        if "digits" in options:
            return {"digits": str(options["digits"])}
        return super().problem_from_options(options)

    def format_problem(self, problem: dict[str, Any]) -> str:
        return f"Say: {problem['digits']}"

    def parse_problem(self, text: str) -> dict[str, Any]:
        return {"digits": text.split(":", 1)[1].strip()}

    def initial_data(self, problem: dict[str, Any]) -> Any:
        return None

    def check_step(self, state, step):  # never reached: every action is an answer
        raise ValueError("only answers")

    def check_answer(self, state, answer: str) -> tuple[bool, str]:
        if self.rule == "high":
            ok = answer.strip() in {"5", "6", "7", "8", "9"}
        else:
            ok = answer.strip() == state.problem["digits"][0]
        return ok, "" if ok else "not the first digit"

    def solve(self, problem: dict[str, Any]) -> list[str]:
        return [f"Answer: {problem['digits'][0]}"]

    def _clean_action(self, action: Any) -> tuple[str, str]:
        step, error = super()._clean_action(action)
        if not error and not is_answer(step):
            step = f"Answer: {step}"
        return step, error


def register_toy() -> str:
    """Register the toy env once; returns its id."""
    if TOY_ID not in gym.registry:
        gym.register(id=TOY_ID, entry_point=ToyDigitEnv, max_episode_steps=1)
    return TOY_ID


def tiny_policy(seed: int = 0) -> Any:
    """A freshly initialised tiny char-level LLMPolicy (CPU)."""
    import torch

    from thinkgym.agents.llm import LLMPolicy
    from thinkgym.models import build_char_tokenizer, build_tiny_model

    torch.set_num_threads(1)
    tok = build_char_tokenizer()
    model = build_tiny_model(tok, seed=seed, hidden_size=32, layers=2, heads=2, max_positions=64)
    return LLMPolicy(model, tok, device="cpu")


def weak_policy(seed: int = 0, steps: int = 150) -> Any:
    """A tiny policy taught the answer format (one digit) with random digits: right 1 time in 10."""
    from thinkgym.learning.sft import sft
    from thinkgym.learning.traces import Trace

    policy = tiny_policy(seed)
    rng = np.random.default_rng(seed + 99)
    traces = []
    for _ in range(64):
        digits = "".join(str(int(d)) for d in rng.integers(0, 10, size=6))
        traces.append(Trace(TOY_ID, f"Say: {digits}", (f"Answer: {int(rng.integers(0, 10))}",)))
    sft(policy, traces, steps=steps, batch_size=16, lr=3e-3, progress=False, seed=seed)
    return policy
