"""``run_episodes`` seeds the sampling as its docstring says."""

from __future__ import annotations

from typing import Any

from thinkgym.agents.base import OracleAgent
from thinkgym.envs import make
from thinkgym.learning.evaluation import run_episodes

ENV = "thinkgym/Arithmetic-v0"


class _SeedRecorder:
    """An oracle by the Policy protocol alone (no ``stats``) that logs the seeds it is given."""

    def __init__(self) -> None:
        self.oracle = OracleAgent(make(ENV, difficulty=1).unwrapped)
        self.calls: list[tuple[int | None, int]] = []

    def propose(
        self,
        texts: list[str],
        n: int = 1,
        *,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 48,
        seed: int | None = None,
    ) -> Any:
        self.calls.append((seed, n))
        return self.oracle.propose(texts, n, temperature=temperature, top_p=top_p)


def test_round_r_with_groups_of_c_uses_seed_plus_7919_r_plus_c() -> None:
    policy = _SeedRecorder()
    problems = [{"seed": 0}, {"seed": 1}]
    verdicts = run_episodes(policy, ENV, problems, samples=2, seed=5, env_kwargs={"difficulty": 1})
    assert verdicts == [[True, True], [True, True]]
    # the oracle is deterministic, so every round has one call with groups of c = 2 copies
    assert len(policy.calls) >= 2
    assert all(n == 2 for _, n in policy.calls)
    assert [s for s, _ in policy.calls] == [5 + 7919 * r + 2 for r in range(len(policy.calls))]
    assert "seed + 7919 r + c" in (run_episodes.__doc__ or "")
    assert "stats" not in (run_episodes.__doc__ or "")
