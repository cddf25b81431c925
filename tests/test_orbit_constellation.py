"""Generated constellations (sgp4init), SSO geometry, and propagation against skyfield."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from conftest import shared_path
from sgp4.api import Satrec
from skyfield.api import EarthSatellite, load, wgs84
from skyfield.framelib import itrs

from edgeinfer.errors import ConfigError, OrbitError, UnknownNameError
from edgeinfer.orbit import (
    Constellation,
    OrbitalElements,
    TimeGrid,
    parse_tle_text,
    raan_for_ltan_deg,
    sso_inclination_deg,
)

EPOCH = datetime(2024, 10, 5, 0, 0, tzinfo=UTC)
TLE_2024 = ("tle_earth_observation", "raw", "celestrak_resource_2024-10-05_SatView.txt")


@pytest.fixture(scope="module")
def ts():  # type: ignore[no-untyped-def]
    return load.timescale(builtin=True)


def test_sso_inclination_matches_flying_sun_synchronous_satellites() -> None:
    # TLE mean inclinations (CelesTrak 2024-10-05): Sentinel-2A 98.5691 deg at mean motion
    # 14.3083 rev/day (~786 km), Landsat 8 98.2184 deg at 14.5711 rev/day (~705 km).
    # J2 alone (Vallado eq. 9-41) lands within 0.05 deg of both.
    assert sso_inclination_deg(786.0) == pytest.approx(98.5691, abs=0.05)
    assert sso_inclination_deg(705.0) == pytest.approx(98.2184, abs=0.05)
    # closed form of Wertz: cos i = -(a / 12352 km)^3.5
    a = 6378.135 + 500.0
    assert sso_inclination_deg(500.0) == pytest.approx(
        math.degrees(math.acos(-((a / 12352.0) ** 3.5))), abs=0.02
    )
    with pytest.raises(OrbitError, match="no sun-synchronous orbit"):
        sso_inclination_deg(8000.0)


def test_generated_sso_precesses_with_the_sun_in_sgp4() -> None:
    c = Constellation.sun_synchronous(EPOCH, 1, 786.0)
    sun_rate = 2 * math.pi / (365.2421897 * 1440.0)  # rad/min
    # sgp4's own secular node rate (J2 + J4) agrees with the J2 design to 0.5 %
    assert c.satrecs[0].nodedot == pytest.approx(sun_rate, rel=0.005)


@pytest.mark.parametrize("altitude_km", [500.0, 786.0])
def test_generated_altitude_is_the_sgp4_mean_semi_major_axis(altitude_km: float) -> None:
    sat = Constellation.sun_synchronous(EPOCH, 1, altitude_km).satrecs[0]
    assert sat.a * sat.radiusearthkm - sat.radiusearthkm == pytest.approx(altitude_km, abs=0.01)


def test_ltdn_1030_descends_at_half_past_ten_local_mean_time(ts) -> None:  # type: ignore[no-untyped-def]
    c = Constellation.sun_synchronous(EPOCH, 1, 786.0, ltdn_hours=10.5)
    tle = c.tles[0]
    sat = EarthSatellite(tle.line1, tle.line2, ts=ts)
    t = ts.utc(2024, 10, 5, 0, 0, np.arange(0, 86400, 20.0))
    sub = wgs84.subpoint_of(sat.at(t))
    lat, lon = sub.latitude.degrees, sub.longitude.degrees
    idx = np.nonzero((lat[:-1] > 0) & (lat[1:] <= 0))[0]  # descending node crossings
    assert len(idx) >= 14
    ut_h = np.arange(0, 86400, 20.0)[idx] / 3600.0
    lmt = (ut_h + lon[idx] / 15.0) % 24.0
    assert np.all(np.abs(lmt - 10.5) < 2.0 / 60.0)  # within 2 minutes over a day


def test_raan_for_ltan_is_consistent_for_any_epoch() -> None:
    a = raan_for_ltan_deg(datetime(2024, 3, 21, 0, tzinfo=UTC), 22.5)
    b = raan_for_ltan_deg(datetime(2024, 3, 21, 6, tzinfo=UTC), 22.5)
    # the same inertial node: GMST advances 1.0027379 x 90 deg in 6 h, UT by 90 deg
    assert (b - a) % 360.0 == pytest.approx(90.0 * 0.0027379093, abs=1e-4)


def test_walker_delta_pattern() -> None:
    c = Constellation.walker_delta(
        EPOCH, total=24, planes=3, phasing=1, altitude_km=550.0, inclination_deg=53.0
    )
    assert len(c) == 24 and c.names[0] == "WALKER-P1-S1" and c.names[-1] == "WALKER-P3-S8"
    raan = np.degrees([s.nodeo for s in c.satrecs])
    mo = np.degrees([s.mo for s in c.satrecs])
    assert np.allclose(np.unique(np.round(raan, 6)), [0.0, 120.0, 240.0])
    assert np.allclose(mo[:8], np.arange(8) * 45.0)
    assert np.allclose(mo[8:16] % 360, (np.arange(8) * 45.0 + 15.0) % 360)  # f * 360 / t
    assert np.allclose(np.degrees([s.inclo for s in c.satrecs]), 53.0)
    with pytest.raises(ConfigError, match="divisible"):
        Constellation.walker_delta(EPOCH, 25, 3, 0, 550.0, 53.0)


def test_generated_tles_are_valid_text_and_propagate_like_the_sgp4init_record() -> None:
    c = Constellation.walker_delta(
        EPOCH, total=6, planes=2, phasing=1, altitude_km=600.0, inclination_deg=97.8
    )
    back = parse_tle_text(c.to_tle_text())
    assert [t.name for t in back] == list(c.names)
    for t, rec in zip(back, c.satrecs, strict=True):
        parsed = Satrec.twoline2rv(t.line1, t.line2)
        for day in (0.0, 0.5, 1.0):
            _, r1, _ = rec.sgp4(rec.jdsatepoch + day, rec.jdsatepochF)
            _, r2, _ = parsed.sgp4(rec.jdsatepoch + day, rec.jdsatepochF)
            # TLE text keeps 4 decimals of degrees (~12 m at 7000 km) and 8 of mean motion
            assert np.linalg.norm(np.subtract(r1, r2)) < 0.1


def test_elements_are_validated() -> None:
    with pytest.raises(OrbitError, match="eccentricity"):
        OrbitalElements(EPOCH, 98.0, 0.0, 1.2, 0.0, 0.0, 14.0).to_satrec()
    with pytest.raises(OrbitError, match="inclination"):
        OrbitalElements(EPOCH, 190.0, 0.0, 0.0, 0.0, 0.0, 14.0).to_satrec()


def test_select_by_name_or_catalog_number_and_unknown_lists_known() -> None:
    c = Constellation.from_file(shared_path(*TLE_2024))
    sub = c.select(["sentinel-2a", "49260"])
    assert sub.names == ("SENTINEL-2A", "LANDSAT 9")
    with pytest.raises(UnknownNameError, match=r"known satellites: .*SENTINEL-2B"):
        c.select(["SENTINEL-1B"])


def test_propagation_matches_skyfield_in_earth_fixed_and_geodetic(ts) -> None:  # type: ignore[no-untyped-def]
    c = Constellation.from_file(shared_path(*TLE_2024), ["SENTINEL-2A", "LANDSAT 9", "SENTINEL-1A"])
    start = c.tles[0].epoch
    grid = TimeGrid.regular(start, 86400.0, 300.0)
    track = c.propagate(grid)
    assert track.r_teme_km.shape == (3, len(grid), 3) and track.valid.all()
    lat, lon, h = track.geodetic()
    t = ts.from_datetimes(grid.datetimes())
    for k, tle in enumerate(c.tles):
        pos = EarthSatellite(tle.line1, tle.line2, ts=ts).at(t)
        xyz = pos.frame_xyz(itrs).km.T
        # skyfield uses UT1 and polar motion; edgeinfer UT1 = UTC and no polar motion: < 100 m
        assert np.max(np.linalg.norm(xyz - track.r_ecef_km[k], axis=1)) < 0.1
        sub = wgs84.geographic_position_of(pos)
        assert np.max(np.abs(sub.latitude.degrees - lat[k])) < 1e-3
        assert np.max(np.abs((sub.longitude.degrees - lon[k] + 180) % 360 - 180)) < 2e-3
        assert np.max(np.abs(sub.elevation.km - h[k])) < 0.01


def test_swath_edges_are_half_a_swath_from_nadir_across_track() -> None:
    c = Constellation.sun_synchronous(EPOCH, 2, 786.0)
    track = c.propagate(TimeGrid.regular(EPOCH, 6000.0, 60.0))
    lat, lon = track.subsatellite_points()
    la_l, lo_l, la_r, lo_r = track.swath_edges(290.0)
    r = 6371.0088

    def dist(a1, o1, a2, o2):  # type: ignore[no-untyped-def]
        a1, o1, a2, o2 = map(np.radians, (a1, o1, a2, o2))
        return r * np.arccos(
            np.clip(np.sin(a1) * np.sin(a2) + np.cos(a1) * np.cos(a2) * np.cos(o1 - o2), -1, 1)
        )

    assert np.allclose(dist(lat, lon, la_l, lo_l), 145.0, atol=0.01)
    assert np.allclose(dist(la_l, lo_l, la_r, lo_r), 290.0, atol=0.01)
    # perpendicular to the track: the next nadir point is equally far from both edges
    d_l = dist(lat[:, 1:], lon[:, 1:], la_l[:, :-1], lo_l[:, :-1])
    d_r = dist(lat[:, 1:], lon[:, 1:], la_r[:, :-1], lo_r[:, :-1])
    assert np.max(np.abs(d_l - d_r)) < 2.0  # km, out of ~475 km
    with pytest.raises(ConfigError):
        track.swath_edges(0.0)


def test_time_grid_rejects_bad_steps_and_parses_iso() -> None:
    from edgeinfer.orbit import parse_utc

    with pytest.raises(ConfigError):
        TimeGrid.regular(EPOCH, 10.0, 0.0)
    assert parse_utc("2024-10-05T02:00:00+02:00") == EPOCH
    assert parse_utc("2024-10-05T00:00:00") == EPOCH
    with pytest.raises(ConfigError, match="bad ISO-8601 time 'yesterday'"):
        parse_utc("yesterday")
    assert len(TimeGrid.regular(EPOCH, 25.0, 10.0)) == 4  # 0, 10, 20, 25
    assert TimeGrid.regular(EPOCH, 25.0, 10.0).datetime_at(25.0) == EPOCH + timedelta(seconds=25)
