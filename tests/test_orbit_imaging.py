"""Imaging opportunities: swath sweeps over footprints, checked against the nadir track."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from edgeinfer.errors import ConfigError
from edgeinfer.orbit import Constellation, SunEphemeris, TimeGrid, imaging_opportunities
from edgeinfer.orbit.frames import destination

START = datetime(2024, 6, 1, tzinfo=UTC)
SWATH_KM = 290.0  # Sentinel-2 MSI swath


@pytest.fixture(scope="module")
def setup():  # type: ignore[no-untyped-def]
    c = Constellation.sun_synchronous(START, 1, 786.0)
    grid = TimeGrid.regular(START, 86400.0, 10.0)
    track = c.propagate(grid)
    lat, lon = track.subsatellite_points()
    heading = track.ground_track_heading_deg()
    return c, grid, track, lat[0], lon[0], heading[0]


def _square(lat: float, lon: float, half_deg: float) -> list[tuple[float, float]]:
    return [
        (lon - half_deg, lat - half_deg),
        (lon + half_deg, lat - half_deg),
        (lon + half_deg, lat + half_deg),
        (lon - half_deg, lat + half_deg),
    ]


@pytest.mark.parametrize("i", [1000, 4321, 7777])
def test_small_target_under_the_track_is_captured_when_overflown(setup, i: int) -> None:  # type: ignore[no-untyped-def]
    c, grid, track, lat, lon, _ = setup
    ops = imaging_opportunities(
        c, _square(lat[i], lon[i], 0.05), START, 86400.0, SWATH_KM, track=track
    )
    t_nadir = grid.datetime_at(grid.offsets_s[i])
    hits = [o for o in ops if abs((o.capture_time - t_nadir).total_seconds()) < 60]
    assert len(hits) == 1
    o = hits[0]
    # the nadir point is at the target centre at grid time i: capture within 0.5 s of it
    assert abs((o.capture_time - t_nadir).total_seconds()) < 0.5
    assert o.subsatellite_lat_deg == pytest.approx(lat[i], abs=0.02)
    assert o.covered_fraction == 1.0
    assert o.start <= o.capture_time <= o.end


@pytest.mark.parametrize("offset_km,expected", [(120.0, 1), (170.0, 0)])
def test_cross_track_offset_inside_or_outside_half_swath(
    setup, offset_km: float, expected: int
) -> None:  # type: ignore[no-untyped-def]
    c, grid, track, lat, lon, heading = setup
    i = 3000
    la, lo = destination(np.array(lat[i]), np.array(lon[i]), np.array(heading[i] + 90.0), offset_km)
    ops = imaging_opportunities(
        c, _square(float(la), float(lo), 0.02), START, 86400.0, SWATH_KM, track=track
    )
    t_nadir = grid.datetime_at(grid.offsets_s[i])
    near = [o for o in ops if abs((o.capture_time - t_nadir).total_seconds()) < 120]
    assert len(near) == expected


def test_large_polygon_with_all_vertices_outside_the_swath_is_seen(setup) -> None:  # type: ignore[no-untyped-def]
    c, grid, track, lat, lon, _ = setup
    i = 2000
    big = _square(lat[i], lon[i], 4.0)  # ~900 km wide, vertices ~450 km off track
    ops = imaging_opportunities(c, big, START, 86400.0, SWATH_KM, track=track)
    t_nadir = grid.datetime_at(grid.offsets_s[i])
    hit = [o for o in ops if o.start <= t_nadir <= o.end]
    assert len(hit) == 1
    # the swath crosses ~8 deg of latitude (~900 km at ~6.8 km/s ground speed: ~130 s)
    assert 100.0 < (hit[0].end - hit[0].start).total_seconds() < 200.0
    assert 0.0 < hit[0].covered_fraction < 0.5


def test_daylight_filter_keeps_only_sunlit_captures(setup) -> None:  # type: ignore[no-untyped-def]
    c, grid, track, lat, lon, _ = setup
    sun = SunEphemeris()
    # a 10:30 LTDN orbit: the descending (southbound) half is in daylight, the other at night
    south = int(np.nonzero(np.diff(lat) < 0)[0][100])
    north = int(np.nonzero(np.diff(lat) > 0)[0][100])
    targets = [_square(lat[k], lon[k], 0.05) for k in (south, north)]
    day = [
        imaging_opportunities(
            c, t, START, 86400.0, SWATH_KM, track=track, sun=sun, min_sun_elevation_deg=10.0
        )
        for t in targets
    ]
    assert any(
        abs((o.capture_time - grid.datetime_at(grid.offsets_s[south])).total_seconds()) < 1
        for o in day[0]
    )
    assert not any(
        abs((o.capture_time - grid.datetime_at(grid.offsets_s[north])).total_seconds()) < 1
        for o in day[1]
    )


def test_bad_inputs() -> None:
    c = Constellation.sun_synchronous(START, 1, 786.0)
    with pytest.raises(ConfigError, match="at least 3"):
        imaging_opportunities(c, [(0.0, 0.0), (1.0, 1.0)], START, 3600.0, SWATH_KM)
    with pytest.raises(ConfigError, match="swath_width_km"):
        imaging_opportunities(c, _square(0, 0, 1), START, 3600.0, 0.0)
    with pytest.raises(ConfigError, match="SunEphemeris"):
        imaging_opportunities(c, _square(0, 0, 1), START, 3600.0, 100.0, min_sun_elevation_deg=5.0)
