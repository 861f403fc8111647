"""Plug your own agent into a thinkgym env: any object with ``act`` (and optionally ``propose``).

The agent below is a user's own Game-of-24 player. It reads only the observation text (the
transcript), searches the numbers that are left with a few lines of Python, and writes the next
step in the env's format. It needs no thinkgym base class: ``act(observation, info) -> str`` makes
it an :class:`~thinkgym.agents.base.Agent`, and ``propose(observations, n)`` makes it a
:class:`~thinkgym.agents.base.Policy` that batch evaluators and search planners can call.

Run: ``python examples/custom_agent.py`` (a few seconds).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import thinkgym
from thinkgym.agents import Agent, Policy, Proposal


@dataclass
class Args:
    env_id: str = "thinkgym/Game24-v0"
    """the task to play"""
    episodes: int = 5
    """episodes played step by step with act()"""
    seed: int = 0
    """first episode seed"""


def _show(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


def _plan(nums: tuple[Fraction, ...], target: Fraction) -> list[tuple] | None:
    """Depth-first search: a list of (a, op, b, result) steps that reaches the target."""
    if len(nums) == 1:
        return [] if nums[0] == target else None
    for i in range(len(nums)):
        for j in range(len(nums)):
            if i == j:
                continue
            a, b = nums[i], nums[j]
            rest = [v for k, v in enumerate(nums) if k not in (i, j)]
            for op, r in (("+", a + b), ("-", a - b), ("*", a * b), ("/", a / b if b else None)):
                if r is None:
                    continue
                tail = _plan((*rest, r), target)
                if tail is not None:
                    return [(a, op, b, r), *tail]
    return None


class MySolverAgent:
    """Reads the numbers left from the transcript and plays the first step of a found solution."""

    def __init__(self) -> None:
        self.calls = 0

    def act(self, observation: str, info: dict) -> str:
        """The next step for the transcript ``observation``."""
        self.calls += 1
        lines = observation.split("\n")
        target = Fraction(int(lines[0].rsplit(":", 1)[1]))
        if len(lines) == 1:
            left = lines[0].split("|")[0].split(":")[1].split()
        else:
            left = re.search(r"\(left: ([^)]*)\)", lines[-1]).group(1).split()
        nums = tuple(Fraction(v) for v in left)
        if len(nums) == 1:  # rebuild the expression from the steps taken so far
            exprs = [(Fraction(v), v) for v in lines[0].split("|")[0].split(":")[1].split()]
            for line in lines[1:]:
                a, op, b, _, r = line.split(" (left")[0].split()
                ia = next(k for k, (v, _) in enumerate(exprs) if v == Fraction(a))
                ea = exprs.pop(ia)[1]
                ib = next(k for k, (v, _) in enumerate(exprs) if v == Fraction(b))
                eb = exprs.pop(ib)[1]
                exprs.append((Fraction(r), f"({ea} {op} {eb})"))
            return f"Answer: {exprs[0][1]} = {_show(target)}"
        plan = _plan(nums, target)
        if not plan:
            return "Answer: no solution"
        a, op, b, r = plan[0]
        return f"{_show(a)} {op} {_show(b)} = {_show(r)}"

    def propose(self, observations: Sequence[str], n: int = 1, **kwargs) -> list[list[Proposal]]:
        """``n`` copies of the agent's step for each observation (a deterministic policy)."""
        return [[Proposal(self.act(obs, {}))] * n for obs in observations]


def main(args: Args) -> None:
    agent = MySolverAgent()
    assert isinstance(agent, Agent) and isinstance(agent, Policy)
    env = thinkgym.make(args.env_id, render_mode="ansi")
    solved = 0
    for ep in range(args.episodes):
        obs, info = env.reset(seed=args.seed + ep)
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
            done = terminated or truncated
        solved += bool(info.get("correct"))
        print(env.render())
    print(f"act(): solved {solved}/{args.episodes}")

    # The same agent as a batch policy: greedy episodes on ten of the 100 test puzzles at once.
    from thinkgym.envs import eval_problems
    from thinkgym.learning.evaluation import pass_at, run_episodes

    results = run_episodes(agent, args.env_id, eval_problems(args.env_id, 10))
    print(f"propose(): pass@1 on 10 test puzzles = {pass_at(results):.0%}")


if __name__ == "__main__":
    main(Args())
