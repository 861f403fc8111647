"""Metric logging for training commands: a JSON record always, TensorBoard scalars when installed.

Use one :class:`MetricLogger` per run::

    with MetricLogger(log_dir, config={"lr": 1e-3}) as logger:
        for step in range(1, steps + 1):
            ...
            logger.log(step, {"loss": loss, "lr": lr})

It writes, under ``log_dir``:

* ``metrics.jsonl``: one line per :meth:`MetricLogger.log` call, ``{"step": k, "time": s, ...}``,
  flushed as it goes (a crashed run keeps what it logged);
* ``metrics.json`` on close: the config, every metric's history as ``[[step, value], ...]`` and
  the last value of each;
* TensorBoard event files (``tensorboard --logdir LOG_DIR``) when ``tensorboard`` is installed
  (``pip install thinkgym[tb]``); without it a one-line note says so and the JSON files are still
  written.

Keys are used as given; namespace them (``loss``, ``lr``, ``pass@1/thinkgym/Game24-v0``,
``reward/mean``) the way cleanrl does. A ``MetricLogger(None)`` logs nothing, so commands can
always create one.

Training loops that should not take a logger argument call :func:`log_metrics`, which writes to
the logger made active with :meth:`MetricLogger.activate` (``thinkgym train ... --log-dir`` does
this for every train command) and does nothing otherwise.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import math
import numbers
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["MetricLogger", "log_metrics"]

_ACTIVE: contextvars.ContextVar[MetricLogger | None] = contextvars.ContextVar(
    "thinkgym_metric_logger", default=None
)


def _flatten(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Numbers of ``metrics``; nested mappings become ``outer/inner`` keys."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "/"))
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def log_metrics(step: int, metrics: Mapping[str, Any]) -> None:
    """Log ``metrics`` at ``step`` to the active :class:`MetricLogger`, if there is one.

    Non-numbers are skipped and nested mappings flattened (``{"pass@1": {"Game24": 0.5}}`` ->
    ``pass@1/Game24``), so a loop can hand over its whole history row.
    """
    logger = _ACTIVE.get()
    if logger is not None:
        logger.log(step, _flatten(metrics))


class MetricLogger:
    """Write a run's scalar metrics to JSON (and TensorBoard).

    Args:
        log_dir: directory for the files (created); ``None``: log nothing.
        config: the run's settings, stored in ``metrics.json`` (and as TensorBoard text).
        tensorboard: ``True``: require TensorBoard (``ImportError`` naming the extra when it is
            missing); ``False``: JSON only; ``None``: TensorBoard when installed.
    """

    def __init__(
        self,
        log_dir: str | Path | None,
        *,
        config: dict[str, Any] | None = None,
        tensorboard: bool | None = None,
    ) -> None:
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.config = dict(config or {})
        self.history: dict[str, list[list[float]]] = {}
        self._t0 = time.perf_counter()
        self._jsonl = None
        self._tb = None
        if self.log_dir is None:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._jsonl = open(self.log_dir / "metrics.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        if tensorboard is False:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            if tensorboard:
                raise ImportError(
                    "TensorBoard logging needs tensorboard: pip install thinkgym[tb]"
                ) from None
            print(
                f"[log] tensorboard is not installed (pip install thinkgym[tb]); metrics go to "
                f"{self.log_dir / 'metrics.jsonl'} only",
                file=sys.stderr,
            )
            return
        self._tb = SummaryWriter(log_dir=str(self.log_dir))
        if self.config:
            self._tb.add_text("config", "```\n" + json.dumps(self.config, indent=2) + "\n```")

    @property
    def tensorboard(self) -> bool:
        """Whether TensorBoard event files are being written."""
        return self._tb is not None

    def log(self, step: int, metrics: dict[str, float]) -> None:
        """Record ``metrics`` (name -> number) at ``step``; non-numbers are skipped."""
        if self.log_dir is None:
            return
        if self._jsonl is None:
            raise RuntimeError("MetricLogger.log() called after close()")
        row: dict[str, Any] = {"step": int(step), "time": round(time.perf_counter() - self._t0, 3)}
        for key, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                continue
            v = float(value)
            row[key] = v if math.isfinite(v) else str(v)  # JSON has no nan/inf
            self.history.setdefault(key, []).append([int(step), v])
            if self._tb is not None:
                self._tb.add_scalar(key, v, int(step))
        self._jsonl.write(json.dumps(row) + "\n")
        self._jsonl.flush()

    def close(self) -> None:
        """Write ``metrics.json`` and close the files (safe to call twice)."""
        if self.log_dir is None or self._jsonl is None:
            return
        self._jsonl.close()
        self._jsonl = None
        if self._tb is not None:
            self._tb.flush()
            self._tb.close()
            self._tb = None

        def clean(v: float) -> float | str:
            return v if math.isfinite(v) else str(v)

        summary = {
            "config": self.config,
            "seconds": round(time.perf_counter() - self._t0, 3),
            "last": {k: clean(h[-1][1]) for k, h in self.history.items()},
            "history": {k: [[s, clean(v)] for s, v in h] for k, h in self.history.items()},
        }
        (self.log_dir / "metrics.json").write_text(json.dumps(summary, indent=1) + "\n")

    @contextlib.contextmanager
    def activate(self) -> Iterator[MetricLogger]:
        """Make this the logger :func:`log_metrics` writes to, inside the ``with`` block."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)

    def __enter__(self) -> MetricLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
