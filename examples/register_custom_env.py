"""Register your own reasoning task with one call and use it like any Gymnasium env.

The task here: reach a target by repeatedly doubling or adding one ("Double-or-Add"). A step is
``double`` or ``add 1``; the transcript shows the running value; the answer is the number of moves.

Run: ``python examples/register_custom_env.py``
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env

import thinkgym
from thinkgym.agents import OracleAgent, RandomAgent
from thinkgym.envs import EnvState, ReasoningEnv, StepCheck


class DoubleOrAddEnv(ReasoningEnv):
    """Start at 1 and reach the target with as few 'double' / 'add 1' moves as you can."""

    default_max_steps = 30
    outcome_needs_reference = True  # the answer (fewest moves) needs the solver's reference
    option_keys = ("target", "problem")  # the reset(options=...) keys read; others are refused

    def generate_problem(self, rng: np.random.Generator) -> dict[str, Any]:
        return {"target": int(rng.integers(2, 8 * (self.difficulty + 1) ** 3))}

    def problem_from_options(self, options: dict[str, Any]) -> dict[str, Any] | None:
        if "target" in options:
            return {"target": int(options["target"])}
        return super().problem_from_options(options)

    def format_problem(self, problem: dict[str, Any]) -> str:
        return f"Reach {problem['target']} from 1 by 'double' or 'add 1'; answer the move count."

    def parse_problem(self, text: str) -> dict[str, Any]:
        words = text.split()
        if len(words) < 2 or words[0] != "Reach" or not words[1].isdigit():
            raise ValueError(f"{text!r} is not a Double-or-Add problem")
        return {"target": int(words[1])}

    def initial_data(self, problem: dict[str, Any]) -> int:
        return 1

    def check_step(self, state: EnvState, step: str) -> StepCheck:
        move = step.split("->")[0].strip()
        if move not in ("double", "add 1"):
            return StepCheck(False, f"unknown move {move!r}; write 'double' or 'add 1'")
        value = state.data * 2 if move == "double" else state.data + 1
        if value > state.problem["target"]:
            return StepCheck(False, f"{move} gives {value}, past the target")
        return StepCheck(True, data=value, text=f"{move} -> {value}")

    def reference_answer(self, problem: dict[str, Any]) -> str:
        return str(len(self._moves(problem["target"])))

    def check_answer(self, state: EnvState, answer: str) -> tuple[bool, str]:
        ok = answer.strip() == self.reference_answer(state.problem)
        return ok, "" if ok else "that is not the fewest number of moves"

    def solve(self, problem: dict[str, Any]) -> list[str]:
        steps, value = [], 1
        for move in self._moves(problem["target"]):
            value = value * 2 if move == "double" else value + 1
            steps.append(f"{move} -> {value}")
        return steps + [f"Answer: {len(steps)}"]

    @staticmethod
    def _moves(target: int) -> list[str]:
        moves = []
        while target > 1:
            if target % 2 == 0 and target >= 2:
                moves.append("double")
                target //= 2
            else:
                moves.append("add 1")
                target -= 1
        return moves[::-1]


@dataclass
class Args:
    episodes: int = 3
    """episodes to play with each agent"""
    seed: int = 0
    """first seed"""


def main(args: Args) -> None:
    env_id = thinkgym.register(DoubleOrAddEnv, override=True)  # -> "thinkgym/DoubleOrAdd-v0"
    env = gym.make(env_id, render_mode="ansi")
    check_env(env.unwrapped)
    for agent_cls in (OracleAgent, RandomAgent):
        agent = agent_cls(env)
        solved = 0
        for ep in range(args.episodes):
            obs, info = env.reset(seed=args.seed + ep)
            done = False
            while not done:
                obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
                done = terminated or truncated
            solved += bool(info.get("correct"))
        print(f"{env_id} {agent_cls.__name__}: solved {solved}/{args.episodes}")
    print(env.render())


if __name__ == "__main__":
    main(Args())
