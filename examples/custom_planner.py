"""Register your own search planner with one call and run it like the built-in ones.

    python examples/custom_planner.py

The planner below is "greedy with retries": at each step it asks the policy for a few proposals
and takes the first one the environment accepts. It is written as a generator that yields requests
(``self.propose`` batches them across problems), so ``plan_many`` searches many problems at once.
After registration it also runs in the bench:
``thinkgym bench --plugin examples/custom_planner.py --planners retry_greedy``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import thinkgym
from thinkgym.agents import RandomAgent
from thinkgym.search import (
    Outcome,
    Planner,
    SearchContext,
    make_planner,
    register_planner,
    score_result,
)


class RetryGreedy(Planner):
    """Take the first accepted proposal at each step (``tries`` proposals per step)."""

    name = "retry_greedy"

    def __init__(self, policy: Any, *, tries: int = 3, **kwargs: Any) -> None:
        super().__init__(policy, **kwargs)
        self.tries = tries

    @classmethod
    def sizing(cls, policy_calls: int, depth: int) -> dict[str, Any]:
        """How ``thinkgym bench`` sizes it for a budget: the tries of one trajectory fit."""
        return {"tries": max(1, min(4, policy_calls // depth))}

    def search(self, ctx: SearchContext) -> Generator[Any, Any, Outcome]:
        state = ctx.root
        while not state.done and not ctx.out_of_steps(state) and not ctx.meter.exhausted:
            (props,) = yield from self.propose(ctx, [ctx.env.transcript(state)], self.tries)
            for p in props:
                new, ok, _ = ctx.apply(state, p.text)
                if ok:
                    state = new
                    break
            else:
                state = new  # all rejected: the actions still count toward the limit
        return Outcome(steps=list(state.steps), state=state if state.done else None)


register_planner("retry_greedy", RetryGreedy, override=True)

if __name__ == "__main__":
    env = thinkgym.make("Countdown")
    planner = make_planner("retry_greedy", RandomAgent(env, seed=0), budget=30)
    results = planner.plan_many(env, seeds=list(range(20)))
    solved = sum(bool(score_result(env, r).correct) for r in results)
    calls = sum(r.cost.policy_calls for r in results)
    print(
        f"retry_greedy with a random policy: {solved}/20 Countdown problems, {calls} policy calls"
    )
