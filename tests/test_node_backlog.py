"""The accelerator backlog: FIFO completion times by hand, deferral counts, skip and
max-defer policies."""

from __future__ import annotations

from collections import Counter

import pytest
from rasterio.windows import Window

from edgeinfer.errors import ConfigError
from edgeinfer.node.backlog import Backlog, Job


def _job(k: int, cost: float, capture_s: float = 0.0, clear: bool = True) -> Job:
    w = Window(0, 0, 8, 8)
    return Job(k, "scene", w, w, capture_s, clear, cost, 64)


class _Sink:
    def __init__(self) -> None:
        self.done: list[tuple[int, float]] = []
        self.dropped: list[tuple[int, str]] = []
        self.counters: Counter[str] = Counter()

    def backlog(self, **kw: object) -> Backlog:
        return Backlog(
            lambda j, t: self.done.append((j.job_id, t)),
            lambda j, r: self.dropped.append((j.job_id, r)),
            self.counters,
            **kw,  # type: ignore[arg-type]
        )


def test_jobs_complete_in_order_at_the_times_the_granted_seconds_reach() -> None:
    sink = _Sink()
    b = sink.backlog()
    for k, cost in enumerate((0.4, 1.0, 2.5)):
        b.push(_job(k, cost), 0.0)
    assert b.backlog_s() == pytest.approx(3.9)
    b.work(1.0, 100.0, 110.0)  # 0.4 finishes at 100.4; 0.6 of the second job is done
    assert sink.done == [(0, pytest.approx(100.4))]
    assert b.backlog_s() == pytest.approx(2.9)
    b.work(10.0, 110.0, 120.0)  # second needs 0.4 more -> 110.4; third 2.5 -> 112.9
    assert sink.done[1:] == [(1, pytest.approx(110.4)), (2, pytest.approx(112.9))]
    assert b.backlog_s() == 0.0 and len(b) == 0


def test_a_job_without_cost_completes_when_pushed() -> None:
    sink = _Sink()
    b = sink.backlog()
    b.push(_job(7, 0.0), 42.0)
    assert sink.done == [(7, 42.0)] and len(b) == 0


def test_refusals_count_each_job_once_per_reason_and_defer_keeps_it() -> None:
    sink = _Sink()
    b = sink.backlog()
    b.push(_job(1, 1.0), 0.0)
    b.push(_job(2, 1.0), 0.0)
    for step in range(3):
        b.refused("power", 10.0 * step, 10.0 * step + 10)
    b.refused("thermal", 30.0, 40.0)
    assert sink.counters == Counter({"tiles_deferred_power": 2, "tiles_deferred_thermal": 2})
    assert len(b) == 2 and not sink.dropped


def test_skip_policy_drops_the_whole_backlog_for_the_reason() -> None:
    sink = _Sink()
    b = sink.backlog(on_refusal="skip")
    b.push(_job(1, 1.0), 0.0)
    b.push(_job(2, 1.0), 0.0)
    b.refused("thermal", 0.0, 10.0)
    assert sink.dropped == [(1, "thermal"), (2, "thermal")]
    assert b.backlog_s() == 0.0


def test_max_defer_drops_only_jobs_older_than_the_limit() -> None:
    sink = _Sink()
    b = sink.backlog(max_defer_s=100.0)
    b.push(_job(1, 1.0, capture_s=0.0), 0.0)
    b.push(_job(2, 1.0, capture_s=50.0), 50.0)
    b.refused("power", 90.0, 120.0)  # job 1 has waited 120 s > 100, job 2 only 70 s
    assert sink.dropped == [(1, "power")]
    assert b.backlog_s() == pytest.approx(1.0)


def test_remove_and_unknown_policy() -> None:
    sink = _Sink()
    b = sink.backlog()
    b.push(_job(1, 2.0), 0.0)
    assert b.remove(1) is not None and b.remove(1) is None and b.backlog_s() == 0.0
    with pytest.raises(ConfigError, match="defer, skip"):
        sink.backlog(on_refusal="later")
