"""MetricLogger: a JSON record of every metric, TensorBoard scalars when installed."""

from __future__ import annotations

import json

import pytest

from thinkgym.learning.logging import MetricLogger


def test_metrics_go_to_jsonl_and_a_summary(tmp_path) -> None:
    with MetricLogger(tmp_path / "logs", config={"lr": 0.1}, tensorboard=False) as logger:
        logger.log(1, {"loss": 2.0, "lr": 0.1})
        logger.log(2, {"loss": float("nan"), "note": "skipped"})
    rows = [json.loads(x) for x in (tmp_path / "logs" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and rows[0]["loss"] == 2.0
    assert rows[1]["loss"] == "nan" and "note" not in rows[1]
    summary = json.loads((tmp_path / "logs" / "metrics.json").read_text())
    assert summary["config"] == {"lr": 0.1}
    assert summary["history"]["loss"][0] == [1, 2.0] and summary["last"]["lr"] == 0.1


def test_no_log_dir_logs_nothing(tmp_path) -> None:
    logger = MetricLogger(None)
    logger.log(1, {"loss": 1.0})
    logger.close()
    assert not logger.tensorboard


def test_tensorboard_scalars(tmp_path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with MetricLogger(tmp_path, tensorboard=True) as logger:
        for step in (1, 2, 3):
            logger.log(step, {"losses/loss": 1.0 / step})
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    values = [e.value for e in events.Scalars("losses/loss")]
    assert values == pytest.approx([1.0, 0.5, 1 / 3])
