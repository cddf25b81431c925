"""Eclipses against skyfield's is_sunlit with DE421 from skyfield-data (offline)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from skyfield.api import EarthSatellite, Loader, load

from edgeinfer.errors import ConfigError, OrbitError
from edgeinfer.orbit import (
    Constellation,
    SunEphemeris,
    TimeGrid,
    eclipse_fraction,
    find_eclipses,
    shadow_function,
    sunlit,
)


@pytest.fixture(scope="module")
def sun() -> SunEphemeris:
    return SunEphemeris()


@pytest.fixture(scope="module")
def sky():  # type: ignore[no-untyped-def]
    from skyfield_data import get_skyfield_data_path

    ts = load.timescale(builtin=True)
    return ts, Loader(get_skyfield_data_path(), verbose=False)("de421.bsp")


def _skyfield_fraction(
    sky, tle, start: datetime, step_s: float = 20.0
) -> tuple[float, np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    ts, eph = sky
    sat = EarthSatellite(tle.line1, tle.line2, ts=ts)
    offsets = np.arange(0.0, 86400.0, step_s)
    t = ts.utc(start.year, start.month, start.day, start.hour, start.minute, offsets)
    lit = sat.at(t).is_sunlit(eph)
    return 1.0 - float(lit.mean()), offsets, lit


@pytest.mark.parametrize(
    "altitude_km,published",
    [(786.0, 0.335), (500.0, 0.37)],  # REFERENCE.md: 10:30 LTDN SSO eclipse fractions
)
@pytest.mark.parametrize("month", [3, 6, 12])
def test_eclipse_fraction_within_half_a_percent_of_skyfield(
    sky, sun, altitude_km: float, published: float, month: int
) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2024, month, 21, tzinfo=UTC)
    c = Constellation.sun_synchronous(start, 1, altitude_km, ltdn_hours=10.5)
    ecl = find_eclipses(c, sun, start, 86400.0)
    mine = eclipse_fraction(ecl, c.names[0], start, start + timedelta(days=1))
    truth, _, _ = _skyfield_fraction(sky, c.tles[0], start)
    assert abs(mine - truth) < 0.005
    assert abs(mine - published) < 0.015  # seasonal beta-angle spread around the published value
    # below the beta = 0 bound asin(Re / (Re + h)) / pi (REFERENCE.md [derived])
    assert mine <= math.asin(6378.137 / (6378.137 + altitude_km)) / math.pi


def test_eclipse_entry_and_exit_match_skyfield_transitions(sky, sun) -> None:  # type: ignore[no-untyped-def]
    ts, eph = sky
    start = datetime(2024, 10, 5, tzinfo=UTC)
    c = Constellation.sun_synchronous(start, 2, 700.0)
    ecl = find_eclipses(c, sun, start, 86400.0, tol_s=1e-3)
    for k, tle in enumerate(c.tles):
        mine = [e for e in ecl if e.satellite == c.names[k] and not e.truncated]
        assert len(mine) >= 14
        sat = EarthSatellite(tle.line1, tle.line2, ts=ts)
        edges = [e.start for e in mine] + [e.end for e in mine]
        before = sat.at(ts.from_datetimes([t - timedelta(seconds=0.05) for t in edges])).is_sunlit(
            eph
        )
        after = sat.at(ts.from_datetimes([t + timedelta(seconds=0.05) for t in edges])).is_sunlit(
            eph
        )
        n = len(mine)
        # skyfield flips from lit to dark within 0.05 s of each entry, and back at each exit
        assert before[:n].all() and not after[:n].any()
        assert not before[n:].any() and after[n:].all()


def test_sunlit_grid_flags_agree_with_skyfield(sky, sun) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2024, 6, 21, tzinfo=UTC)
    c = Constellation.sun_synchronous(start, 1, 786.0)
    grid = TimeGrid.regular(start, 86400.0 - 20.0, 20.0)
    flags = sunlit(c.propagate(grid), sun)
    _, _, lit = _skyfield_fraction(sky, c.tles[0], start)
    assert np.mean(flags[0] != lit) < 0.001  # at most a sample at a few transitions


def test_umbra_is_shorter_than_penumbra(sun) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2024, 3, 21, tzinfo=UTC)
    c = Constellation.sun_synchronous(start, 1, 786.0)
    d = {}
    for model in ("umbra", "center", "penumbra"):
        ecl = find_eclipses(c, sun, start, 86400.0, model=model)  # type: ignore[arg-type]
        d[model] = sum(e.duration_s for e in ecl)
    # the Sun's 0.27 deg radius against the ~1.1 deg/min orbital sweep: ~15 s per transition
    assert d["umbra"] < d["center"] < d["penumbra"]
    per_transition = (d["penumbra"] - d["umbra"]) / (2 * 2 * 14)
    assert 5.0 < per_transition < 30.0


def test_shadow_function_simple_geometry() -> None:
    sun_far = np.array([1.496e8, 0.0, 0.0])
    behind = np.array([-7000.0, 0.0, 0.0])
    beside = np.array([0.0, 7000.0, 0.0])
    assert shadow_function(behind, sun_far) < 0 < shadow_function(beside, sun_far)
    with pytest.raises(ConfigError, match="center, umbra or penumbra"):
        shadow_function(behind, sun_far, "partial")  # type: ignore[arg-type]


def test_missing_ephemeris_folder_is_an_orbit_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OrbitError, match=r"de421\.bsp"):
        SunEphemeris(str(tmp_path))
