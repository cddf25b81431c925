"""The mission's orbit plan: duty rows by hand, one radio per satellite, captures over the
scenes, and the sample mission's plan checked against independent geometry."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from edgeinfer.mission import load_mission, plan_mission
from edgeinfer.mission.build import build_constellation, build_stations
from edgeinfer.mission.plan import _one_radio, interval_fraction
from edgeinfer.mission.scenes import ensure_sample_data, open_mission_scenes
from edgeinfer.node import Capture, Pass
from edgeinfer.orbit import SunEphemeris, TimeGrid, sunlit


def test_interval_fraction_by_hand() -> None:
    edges = np.array([0.0, 10.0, 20.0, 30.0, 40.0, 45.0])
    out = interval_fraction(2, [(0, 5.0, 25.0), (0, 30.0, 32.0), (1, 44.0, 60.0)], edges)
    np.testing.assert_allclose(out[0], [0.5, 1.0, 0.5, 0.2, 0.0])
    np.testing.assert_allclose(out[1], [0.0, 0.0, 0.0, 0.0, 0.2])


def test_one_radio_clips_overlaps_and_splits_passes_at_captures() -> None:
    raw = [
        (0, 100.0, 200.0, "A", 30.0),
        (0, 150.0, 300.0, "B", 20.0),  # overlaps A: starts when A ends
        (0, 120.0, 180.0, "C", 10.0),  # inside A: dropped
        (1, 100.0, 200.0, "B", 40.0),
    ]
    cap = Capture(t_s=155.0, sat=0, scene="s", start_s=150.0, end_s=160.0)
    passes = _one_radio(raw, [cap], {"A": 8e6, "B": 16e6, "C": 8e6}, 0.5)
    mine = [(p.station, p.t_s, p.los_s) for p in passes if p.sat == 0]
    assert mine == [("A", 100.0, 160.0), ("A", 160.0, 200.0), ("B", 200.0, 300.0)]
    first = next(p for p in passes if p.sat == 0)
    assert first.capacity_bytes == int(8e6 * 60.0 * 0.5 / 8)  # rate x duration x eff / 8
    assert [p.station for p in passes if p.sat == 1] == ["B"]


@pytest.fixture(scope="module")
def sample_plan() -> Iterator[tuple[Any, ...]]:
    config = load_mission()
    ensure_sample_data(config)
    scenes = open_mission_scenes(config)
    constellation = build_constellation(config)
    plan = plan_mission(
        constellation,
        build_stations(config),
        [s.site for s in scenes],
        config.mission.start,
        config.mission.duration_s,
        config.mission.time_step_s,
        config.constellation.swath_km,
        link_efficiency=config.budgets.link_efficiency,
    )
    yield config, plan, scenes, constellation
    for s in scenes:
        s.scene.close()


def test_sample_plan_captures_every_scene_optical_in_daylight(sample_plan: tuple[Any, ...]) -> None:
    config, plan, scenes, constellation = sample_plan
    assert {c.scene for c in plan.captures} == {s.key for s in scenes}
    for c in plan.captures:
        if c.scene == "s2_coast":
            assert c.sun_elevation_deg is not None and c.sun_elevation_deg > 0
        # independent check: the sub-satellite point at capture is within half a swath (+ the
        # scene's half-diagonal, ~7 km) of the scene centre, by the haversine formula
        scene = next(s for s in scenes if s.key == c.scene)
        lon0 = np.mean([p[0] for p in scene.site.footprint_lonlat])
        lat0 = np.mean([p[1] for p in scene.site.footprint_lonlat])
        track = constellation.propagate(TimeGrid.from_offsets(plan.start, [c.t_s]))
        lat, lon = track.subsatellite_points()
        d = _haversine_km(lat0, lon0, float(lat[c.sat, 0]), float(lon[c.sat, 0]))
        assert d <= config.constellation.swath_km / 2 + 8.0


def test_sample_plan_passes_are_one_at_a_time_with_capacity(sample_plan: tuple[Any, ...]) -> None:
    _, plan, _, _ = sample_plan
    for sat in range(len(plan.satellites)):
        mine = sorted((p for p in plan.passes if p.sat == sat), key=lambda p: p.t_s)
        assert mine, "every satellite sees Svalbard"
        assert all(a.los_s <= b.t_s + 1e-9 for a, b in itertools.pairwise(mine))
    for p in plan.passes:
        assert p.capacity_bytes == int(p.rate_bps * (p.los_s - p.t_s) * 0.85 / 8)
    tx = plan.transmitting.sum(axis=1) * plan.step_s
    want = [sum(p.duration_s for p in plan.passes if p.sat == s) for s in range(4)]
    np.testing.assert_allclose(tx, want, rtol=1e-9)


def test_sample_plan_sunlit_rows_agree_with_the_shadow_function(
    sample_plan: tuple[Any, ...],
) -> None:
    _, plan, _, constellation = sample_plan
    mids = (np.arange(plan.n_steps) + 0.5) * plan.step_s
    lit = sunlit(constellation.propagate(TimeGrid.from_offsets(plan.start, mids)), SunEphemeris())
    whole = (plan.sunlit == 0.0) | (plan.sunlit == 1.0)  # steps without a shadow boundary
    assert whole.mean() > 0.99
    np.testing.assert_array_equal(plan.sunlit[whole] == 1.0, lit[whole])
    # REFERENCE.md: ~33.5 % eclipse at 786 km (10:30 SSO); the sample is in October
    assert 0.28 < 1.0 - plan.sunlit.mean() < 0.37


def test_events_are_in_time_order_with_captures_first(sample_plan: tuple[Any, ...]) -> None:
    _, plan, _, _ = sample_plan
    events = plan.events()
    assert len(events) == len(plan.captures) + len(plan.passes)
    keys = [(e.t_s, 0 if isinstance(e, Capture) else 1) for e in events]
    assert keys == sorted(keys)
    assert all(isinstance(e, Pass) for e in plan.events([0]) if e.sat != 0) is True
    assert {e.sat for e in plan.events([1, 2])} <= {1, 2}


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))
