"""Register your own reasoning task with one call and use it like any Gymnasium env.

The task here: reach a target by repeatedly doubling or adding one ("Double-or-Add"). A step is
``double`` or ``add 1``; the transcript shows the running value; the answer is the number of moves.

The task registers itself when this file is imported, so every command takes it as a plugin::

    python examples/register_custom_env.py                      # checks and plays it
    thinkgym list --plugin examples/register_custom_env.py
    thinkgym play DoubleOrAdd --plugin examples/register_custom_env.py
    thinkgym bench --plugin examples/register_custom_env.py --envs DoubleOrAdd --policy random \\
        --planners greedy,best_of_n --budgets 8 --problems 5
    thinkgym export --plugin examples/register_custom_env.py --env DoubleOrAdd --problems 20 \\
        --out data/doa-sft.jsonl --format jsonl
    thinkgym train sft --plugin examples/register_custom_env.py --env DoubleOrAdd --out runs/doa

The hooks of :class:`thinkgym.envs.ReasoningEnv` a task defines, and what needs each one (a
command whose task lacks a hook it needs stops at once with one line naming the hook):

======================  =================================================================
hook                    needed by
======================  =================================================================
``generate_problem``    everything: draws a problem (``reset(seed=...)``)
``format_problem``      everything: the transcript's first line
``check_step``          everything: accepts or rejects a step (never raises)
``check_answer``        everything: grades the ``Answer:`` line
``initial_data``        the working state before any step (default ``None``)
``reference_answer``    the hidden answer that results and data files record
``problem_from_options``  ``reset(options=...)`` pins (with ``option_keys``); the bench pins
                        its held-out problems as ``{"problem": {...}}``, which the default reads
``parse_problem``       reading an observation back into a state: ``--policy random`` and
                        ``--policy oracle`` (bench, export ``--planner``), ``OracleAgent``,
                        ``RandomAgent``, ``env.state_from_transcript``
``solve``               ``play --agent oracle``, ``export`` of reference traces, ``train sft``
                        data, and sizing planners to a budget (``thinkgym bench``,
                        ``make_planner(..., budget=B)``: the solution length)
``candidate_steps``     ``train sb3`` (its candidate-step action space), ``RandomAgent``
``features``            ``train sb3``: a fixed-size vector describing a state (what each
                        candidate leads to); not needed with ``--wrapper tokens``
======================  =================================================================
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

    def candidate_steps(self, state: EnvState) -> list[str]:
        target, value = state.problem["target"], state.data
        steps = [m for m, v in (("double", value * 2), ("add 1", value + 1)) if v <= target]
        if value == target:
            steps.append(f"Answer: {len(state.steps)}")
        return steps

    def features(self, state: EnvState) -> np.ndarray:
        target = state.problem["target"]
        return np.array(
            [float(state.done), state.data / target, np.log1p(target) / 8, len(state.steps) / 30],
            dtype=np.float32,
        )

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


# registered at import: `--plugin examples/register_custom_env.py` makes it a valid --env
ENV_ID = thinkgym.register(DoubleOrAddEnv, override=True)  # -> "thinkgym/DoubleOrAdd-v0"


@dataclass
class Args:
    episodes: int = 3
    """episodes to play with each agent"""
    seed: int = 0
    """first seed"""


def main(args: Args) -> None:
    env_id = ENV_ID
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
