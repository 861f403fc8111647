"""A progress bar for batched searches whose units are the work: policy calls.

Every search of :func:`~thinkgym.search.driver.drive` runs at once, so counting finished
problems gives a wrong estimate (cheap searches finish first, expensive ones all at the end). The
bar counts policy calls (generated candidate steps) instead, against the problems' budgets: a
search with a budget of B policy calls counts for B (what it leaves unspent is credited when it
ends); a search without a policy-call budget counts for its env's step limit until it ends, then
for what it spent. A background thread redraws the bar every ``heartbeat`` seconds, so a long
batched policy call still shows the elapsed time moving.

Within one batched policy call the count moves too: a policy with a ``progress_hook`` attribute
(:class:`~thinkgym.agents.llm.LLMPolicy` has one) gets it set to :meth:`SearchProgress.rows_done`
while the bar runs, and calls it with the rows of each forward chunk it finishes. A round of
thousands of rows (every problem, planner and budget of a bench at once) then shows its rows
arriving chunk by chunk instead of all at the end of the round. Your own policy can do the same:
give it ``self.progress_hook = None`` and call ``self.progress_hook(rows)`` when it is set.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["SearchProgress"]


class SearchProgress:
    """A tqdm bar over the policy calls of many searches.

    Args:
        contexts: one :class:`~thinkgym.search.context.SearchContext` per search (their
            meters are read for the budget and the calls spent).
        desc: the bar's label.
        heartbeat: seconds between redraws while nothing else updates the bar (``None``: none).
        policies: the policies the searches call; each one with a ``progress_hook`` attribute
            reports its finished rows to :meth:`rows_done` until :meth:`close`.
    """

    def __init__(
        self,
        contexts: Sequence[Any],
        desc: str = "search",
        heartbeat: float | None = 15.0,
        policies: Sequence[Any] = (),
    ) -> None:
        from tqdm.auto import tqdm

        self.contexts = list(contexts)
        self.estimates = [_estimate(ctx) for ctx in self.contexts]
        self.finished = [False] * len(self.contexts)
        self.value = 0
        self.counted = 0  # policy calls the meters hold at the last recount
        self.partial = 0  # rows the policies reported since then (inside this round's calls)
        self._hooked: list[tuple[Any, Any]] = []
        for policy in {id(p): p for p in policies}.values():
            if hasattr(policy, "progress_hook"):
                self._hooked.append((policy, policy.progress_hook))
                policy.progress_hook = self.rows_done
        self.bar = tqdm(
            total=sum(self.estimates),
            desc=desc,
            unit=" policy calls",
            unit_scale=True,
            smoothing=0.05,
            leave=False,
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if heartbeat is not None and heartbeat > 0:
            self._thread = threading.Thread(target=self._beat, args=(heartbeat,), daemon=True)
            self._thread.start()

    def _beat(self, every: float) -> None:
        while not self._stop.wait(every):
            self.bar.refresh()

    def finish(self, i: int) -> None:
        """Search ``i`` has ended."""
        self.finished[i] = True

    def rows_done(self, rows: int) -> None:
        """A policy finished ``rows`` more rows of the current call (its ``progress_hook``)."""
        self.partial += max(0, int(rows))
        self._show(self.counted + self.partial)

    def _show(self, value: int) -> None:
        """Move the bar up to ``value`` (never back: a recount may lag the rows reported)."""
        if value > self.value:
            if value > (self.bar.total or 0):
                self.bar.total = value
            self.bar.update(value - self.value)
            self.value = value
        else:
            self.bar.refresh()

    def update(self) -> None:
        """Recount the calls spent (once per round of batched requests)."""
        value = total = 0
        for i, ctx in enumerate(self.contexts):
            spent = int(ctx.meter.cost.policy_calls)
            est = self.estimates[i]
            if self.finished[i]:
                v = t = est if _budgeted(ctx) else spent
            else:
                v, t = spent, max(est, spent + 1)
            value, total = value + v, total + t
        self.bar.total = max(total, value, self.value)
        self.counted, self.partial = value, 0
        self._show(value)

    def close(self) -> None:
        """Stop the redraws, give the policies their hooks back, count the last calls, close."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for policy, hook in self._hooked:
            policy.progress_hook = hook
        self._hooked = []
        self.update()
        self.bar.close()


def _budgeted(ctx: Any) -> bool:
    return ctx.meter.budget.policy_calls is not None


def _estimate(ctx: Any) -> int:
    """The policy calls a search is expected to spend: its budget, else its env's step limit."""
    if _budgeted(ctx):
        return max(1, int(ctx.meter.budget.policy_calls))
    return max(1, int(getattr(ctx.env, "max_steps", 1) or 1))
