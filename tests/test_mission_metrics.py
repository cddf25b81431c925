"""Truth matching, observability and the metrics arithmetic, on hand-made inputs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from edgeinfer.mission.metrics import mission_metrics
from edgeinfer.mission.outputs import GroundAlert, match_truth, unobservable
from edgeinfer.mission.plan import MissionPlan
from edgeinfer.mission.scenes import TruthObject
from edgeinfer.node import COUNTERS, Pass


def _alert(
    box: tuple[int, int, int, int],
    detector: str = "fire",
    scene: str = "s",
    sat: int = 0,
    latency: float = 60.0,
) -> GroundAlert:
    return GroundAlert(
        satellite=f"SAT-{sat}",
        sat_index=sat,
        station="X",
        detector=detector,
        cls=2,
        class_name="detected",
        confidence=0.9,
        priority=200,
        bbox_px=box,
        pixel_count=4,
        centroid_lonlat=None,
        scene=scene,
        capture_time_s=0.0,
        downlink_time_s=latency,
        latency_s=latency,
        onboard_id=1,
        apid=9,
        seq_count=0,
    )


def test_match_by_overlap_or_centre_within_ten_pixels_and_same_kind() -> None:
    truth = [
        TruthObject("s", 1, "fire", (100, 100, 101, 101)),
        TruthObject("s", 2, "fire", (200, 200, 202, 202)),
        TruthObject("s", 3, "ship", (300, 300, 310, 304)),
        TruthObject("t", 4, "fire", (100, 100, 101, 101)),
    ]
    alerts = [
        _alert((100, 100, 102, 102)),  # overlaps fire 1
        _alert((208, 205, 210, 207)),  # centre (209, 206) is 9.4 px from (201, 201)
        _alert((300, 300, 310, 304), detector="fire"),  # right place, wrong kind
        _alert((420, 420, 422, 422), detector="ship"),  # nothing there
    ]
    found = match_truth(alerts, truth)
    assert found == {("s", 1), ("s", 2)}
    assert [a.truth_id for a in alerts] == [1, 2, None, None]
    far = [_alert((212, 212, 214, 214))]  # centre 12.0 px away, no overlap
    assert match_truth(far, truth) == set()


class _Scene:
    """The parts of MissionScene that unobservable() and the metrics read."""

    def __init__(self, key: str, truth: list[TruthObject]) -> None:
        self.key = key
        self.truth = truth
        self.compressed_bytes = 500
        self.scene = type("S", (), {"width": 1024, "height": 1024})()

    def summary(self) -> dict[str, Any]:
        return {"scene_id": self.key}


def test_unobservable_needs_the_owner_tile_cloudy_in_every_capture() -> None:
    # 1024 px, tiles 512 / overlap 64: tile origins 0, 448, 896; cores split at 480 and 928
    truth = [
        TruthObject("s", 1, "ship", (700, 100, 704, 104)),  # core of tile r0_c448
        TruthObject("s", 2, "ship", (100, 100, 104, 104)),
    ]
    scene = _Scene("s", truth)
    one = {"scene": "s", "cloudy_tiles": ["r0_c448", "r448_c448"]}
    two = {"scene": "s", "cloudy_tiles": ["r0_c448"]}
    clear = {"scene": "s", "cloudy_tiles": []}
    assert unobservable([scene], [one, two], 512, 64) == {("s", 1)}  # type: ignore[list-item]
    assert unobservable([scene], [one, clear], 512, 64) == set()  # type: ignore[list-item]
    assert unobservable([scene], [], 512, 64) == set()  # type: ignore[list-item]


def _report(index: int, raw: int, sent: int, captures: int) -> dict[str, Any]:
    rep: dict[str, Any] = dict.fromkeys(COUNTERS, 0)
    rep.update(
        satellite=f"SAT-{index}",
        index=index,
        raw_bytes_captured=raw,
        alerts_raised=3,
        energy_used_wh=10.0 + index,
        inference_modelled_s=36.0,
        inference_measured_s=1.5,
        min_soc=0.5 + 0.1 * index,
        peak_temperature_c=30.0 + index,
        link={"bytes_sent": sent, "packets_sent": sent // 74, "retransmissions": 0},
        capture_log=[{"scene": "s"}] * captures,
    )
    return rep


def test_metrics_totals_bandwidth_latency_and_recall() -> None:
    start = dt.datetime(2023, 10, 25, tzinfo=dt.UTC)
    plan = MissionPlan(
        start=start,
        duration_s=100.0,
        step_s=10.0,
        satellites=("SAT-0", "SAT-1"),
        captures=[],
        passes=[Pass(0.0, 0, "X", 60.0, 1e6, 10), Pass(10.0, 1, "X", 40.0, 1e6, 10)],
        eclipses=[],
        sunlit=np.ones((2, 10)),
        imaging=np.zeros((2, 10)),
        transmitting=np.zeros((2, 10)),
        tle_epoch_age_days={"SAT-0": 0.0, "SAT-1": 373.0},
    )
    truth = [TruthObject("s", k, "fire", (k, k, k + 1, k + 1)) for k in range(4)]
    scene = _Scene("s", truth)
    alerts = [_alert((0, 0, 1, 1), latency=100.0), _alert((1, 1, 2, 2), latency=300.0, sat=1)]
    found = match_truth(alerts, truth)
    metrics = mission_metrics(
        {0: _report(0, 1_000_000, 148, 2), 1: _report(1, 3_000_000, 74, 1)},
        alerts,
        plan,
        [scene],  # type: ignore[list-item]
        active_w=15.0,
        chips_by_sat={},
        found=found,
        hidden={("s", 3)},
        ground_counters={"delivered": 2},
        run={"mission": "m"},
    )
    t = metrics["total"]
    assert t["bandwidth_saved"] == pytest.approx(1 - 222 / 4_000_000)
    assert t["bandwidth_saved_vs_compressed"] == pytest.approx(1 - 222 / 1500)
    assert metrics["satellites"]["SAT-1"]["bandwidth_saved"] == pytest.approx(1 - 74 / 3e6)
    assert t["alert_latency_p50_s"] == pytest.approx(200.0)
    assert t["alert_latency_p95_s"] == pytest.approx(np.percentile([100.0, 300.0], 95))
    assert t["truth_recall"] == pytest.approx(0.5) and t["truth_unobservable"] == 1
    assert t["truth_recall_observable"] == pytest.approx(2 / 3)
    assert t["truth_missed"] == ["s:fire:2", "s:fire:3"]
    assert t["min_soc"] == pytest.approx(0.5) and t["peak_temperature_c"] == pytest.approx(31.0)
    assert t["energy_used_wh"] == pytest.approx(21.0)
    assert t["inference_energy_wh"] == pytest.approx(2 * 15.0 * 36.0 / 3600)
    assert t["contact_minutes"] == pytest.approx(1.5)
    assert t["alerts_raised"] == 6 and t["alerts_delivered"] == 2
    # how far each TLE epoch is from the window; the total is the oldest
    assert [metrics["satellites"][s]["tle_epoch_age_days"] for s in ("SAT-0", "SAT-1")] == [
        0.0,
        373.0,
    ]
    assert t["tle_epoch_age_days"] == 373.0
