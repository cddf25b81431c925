"""Crosslink geometry: hand cases, a closed form for an in-plane ring, and real TLEs checked
against an independent line-of-sight computation on skyfield's positions (a ray-sphere
intersection, not the clamped projection the library uses)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from conftest import shared_path
from skyfield.api import EarthSatellite, load

from edgeinfer.errors import ConfigError
from edgeinfer.orbit import Constellation, TimeGrid
from edgeinfer.orbit.crosslinks import (
    EARTH_RADIUS_KM,
    crosslink_visibility,
    find_crosslink_windows,
    line_of_sight,
    segment_clearance_km,
)

R = EARTH_RADIUS_KM
H = 100.0


def test_hand_geometry() -> None:
    side = np.array([[R + H + 1.0, -2000.0, 0.0]])
    other = np.array([[R + H + 1.0, 2000.0, 0.0]])
    assert segment_clearance_km(side, other)[0] == pytest.approx(R + H + 1.0)
    assert line_of_sight(side, other)[0]
    low = side - [2.0, 0.0, 0.0]
    assert not line_of_sight(low, other - [2.0, 0.0, 0.0])[0]
    # opposite sides of the Earth: blocked whatever the range
    assert not line_of_sight(np.array([7000.0, 0, 0]), np.array([-7000.0, 0, 0]))
    # one behind the other, radially: the closest point is the nearer endpoint
    a, b = np.array([7000.0, 0, 0]), np.array([9000.0, 0, 0])
    assert segment_clearance_km(a, b) == pytest.approx(7000.0)
    assert line_of_sight(a, b, max_range_km=2001.0) and not line_of_sight(a, b, max_range_km=1999.0)
    nan = np.array([np.nan, 0.0, 0.0])
    assert not line_of_sight(nan, a)


@pytest.mark.parametrize(("count", "linked"), [(7, False), (8, True), (12, True)])
def test_in_plane_ring_matches_the_closed_form(count: int, linked: bool) -> None:
    """Neighbours of a ring of ``count`` satellites at radius a see each other iff
    a cos(pi / count) > R + h (the chord's midpoint is its closest point to the centre)."""
    epoch = datetime(2024, 6, 1, tzinfo=UTC)
    c = Constellation.sun_synchronous(epoch, count, 786.0)
    track = c.propagate(TimeGrid.regular(epoch, 6000.0, 60.0))
    radius = np.linalg.norm(track.r_teme_km, axis=-1)
    vis = crosslink_visibility(track, max_range_km=10_000.0)
    neighbours = [k for k, (i, j) in enumerate(vis.pairs) if j - i in (1, count - 1)]
    chord_mid = radius.mean() * np.cos(np.pi / count)
    assert (chord_mid > R + H) == linked
    assert vis.visible[neighbours].all() == linked
    if linked:  # range is the chord 2 a sin(pi / count)
        chord = 2.0 * radius.mean() * np.sin(np.pi / count)
        assert vis.range_km[neighbours].mean() == pytest.approx(chord, rel=2e-3)


def _skyfield_los(ra: np.ndarray, rb: np.ndarray, max_range_km: float) -> np.ndarray:
    """Independent truth: the segment hits the sphere R + H iff the quadratic
    |ra + s d|^2 = (R + H)^2 has a root s in [0, 1]."""
    d = rb - ra
    a = np.einsum("ij,ij->i", d, d)
    b = np.einsum("ij,ij->i", ra, d)
    c = np.einsum("ij,ij->i", ra, ra) - (R + H) ** 2
    disc = b * b - a * c
    root = np.sqrt(np.maximum(disc, 0.0))
    s1, s2 = (-b - root) / a, (-b + root) / a
    hits = (disc >= 0) & (((s1 >= 0) & (s1 <= 1)) | ((s2 >= 0) & (s2 <= 1)))
    return ~hits & (np.sqrt(a) <= max_range_km)


@pytest.fixture(scope="module")
def ts():  # type: ignore[no-untyped-def]
    return load.timescale(builtin=True)


@pytest.mark.shared_data
def test_real_tles_agree_with_skyfield_line_of_sight(ts) -> None:  # type: ignore[no-untyped-def]
    path = shared_path("tle_earth_observation", "raw", "celestrak_resource_2024-10-05_SatView.txt")
    names = ["SENTINEL-2A", "SENTINEL-2B", "SENTINEL-2C", "LANDSAT 8", "LANDSAT 9"]
    names += ["SENTINEL-1A", "SENTINEL-3A", "TERRA", "AQUA"]
    c = Constellation.from_file(path, names)
    t0 = datetime(2024, 10, 5, tzinfo=UTC)
    max_range = 5000.0
    track = c.propagate(TimeGrid.regular(t0, 3 * 3600.0, 30.0))
    vis = crosslink_visibility(track, max_range)
    sky = [EarthSatellite(t.line1, t.line2, t.name, ts=ts) for t in c.tles]
    times = ts.from_datetimes(track.grid.datetimes())
    pos = np.stack([s.at(times).position.km.T for s in sky])  # (sats, times, 3), GCRS
    agree = 0
    for p, (i, j) in enumerate(vis.pairs):
        truth = _skyfield_los(pos[i], pos[j], max_range)
        certain = np.abs(vis.margin_km[p]) > 1.0  # not within 1 km of either limit
        assert np.array_equal(vis.visible[p][certain], truth[certain]), (c.names[i], c.names[j])
        agree += int(certain.sum())
    assert agree > 0.99 * vis.visible.size
    assert 0 < vis.visible.sum() < vis.visible.size  # both states occur
    windows = find_crosslink_windows(c, t0, 3 * 3600.0, max_range, track=track)
    inner = [w for w in windows if not w.truncated]
    assert len(inner) >= 5
    for w in inner:  # at our refined edges skyfield's geometry sits on a limit (to 100 m)
        for edge in (w.start, w.end):
            t = ts.from_datetime(edge)
            ra = sky[w.index_a].at(t).position.km
            rb = sky[w.index_b].at(t).position.km
            d = rb - ra
            s = np.clip(-ra @ d / (d @ d), 0.0, 1.0)
            clear = np.linalg.norm(ra + s * d) - (R + H)
            margin = min(clear, max_range - np.linalg.norm(d))
            assert abs(margin) < 0.1, (w.sat_a, w.sat_b, edge)
        mid = ts.from_datetime(w.start + timedelta(seconds=w.duration_s / 2))
        ra, rb = sky[w.index_a].at(mid).position.km, sky[w.index_b].at(mid).position.km
        assert _skyfield_los(ra[np.newaxis], rb[np.newaxis], max_range)[0]


def test_windows_of_a_walker_pattern_cover_the_sampled_visibility() -> None:
    epoch = datetime(2024, 6, 1, tzinfo=UTC)
    c = Constellation.walker_delta(epoch, 12, 3, 1, 550.0, 53.0)
    dur = 4 * 3600.0
    windows = find_crosslink_windows(c, epoch, dur, max_range_km=4000.0, step_s=20.0)
    fine = c.propagate(TimeGrid.regular(epoch, dur, 5.0))
    vis = crosslink_visibility(fine, 4000.0)
    t = fine.grid.offsets_s
    rebuilt = np.zeros_like(vis.visible)
    index = {(int(i), int(j)): k for k, (i, j) in enumerate(vis.pairs)}
    for w in windows:
        k = index[(w.index_a, w.index_b)]
        rebuilt[k] |= (t >= w.start_s) & (t <= w.end_s)
        assert w.end_s > w.start_s and w.min_range_km <= 4000.0
    # the 5 s truth differs from the windows only within a second of a refined edge
    differ = rebuilt != vis.visible
    assert differ.sum() <= 0.001 * differ.size
    assert any(not w.truncated for w in windows) and any(w.truncated for w in windows)


def test_bad_arguments_name_the_fix() -> None:
    epoch = datetime(2024, 6, 1, tzinfo=UTC)
    c = Constellation.sun_synchronous(epoch, 2, 700.0)
    with pytest.raises(ConfigError, match="max_range_km must be > 0"):
        find_crosslink_windows(c, epoch, 600.0, max_range_km=0.0)
    with pytest.raises(ConfigError, match="grazing_height_km"):
        find_crosslink_windows(c, epoch, 600.0, max_range_km=1000.0, grazing_height_km=-5.0)
