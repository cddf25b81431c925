"""Solar elevation from date, time and place, and the nominal overpass time of a
sun-synchronous imager. Used when a Landsat product arrives without its MTL file.

Solar position: the equations of the NOAA Global Monitoring Laboratory Solar Calculator
(https://gml.noaa.gov/grad/solcalc/calcdetails.html, NOAA_Solar_Calculations_day.xls), which
follow Meeus, "Astronomical Algorithms" (1991): accurate to about 0.01 deg for 1800-2100. We
do not use NOAA's shorter Spencer (1971) Fourier series (solareqns.PDF): its declination is
fitted to the 1950s calendar and is off by up to ~0.5 deg near today's equinoxes (measured
against skyfield in tests/test_scene_solar.py). The result is the geometric elevation (no
refraction), as USGS reports SUN_ELEVATION in Landsat MTL files.

Overpass time: Landsat 8/9 cross the equator on the descending node between 10:00 and
10:15 mean local time (USGS, "What are the orbit paths of the Landsat satellites?", and the
Landsat 8 Data Users Handbook LSDS-1574, 98.2 deg inclination). Away from the equator the
local time of a sun-synchronous ground track shifts by ``-asin(tan(lat) * cot(i)) / 15``
hours (spherical trigonometry of the ground track; e.g. Heinrich & Kumm, ISPRS Archives
XL-7/W3 (2015) 195, eq. 13).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

# Landsat 8/9 descending-node mean local time: 10:00-10:15 (USGS); we take the midpoint.
LANDSAT_LTDN_HOURS = 10.125
# Landsat 8/9 orbit inclination in degrees (USGS LSDS-1574, section 1).
LANDSAT_INCLINATION_DEG = 98.2


def solar_elevation_deg(
    when: dt.datetime,
    lon_deg: float | Sequence[float] | npt.NDArray[np.float64],
    lat_deg: float | Sequence[float] | npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Geometric solar elevation in degrees at UTC time ``when`` (naive = UTC) and WGS84
    ``lon_deg``/``lat_deg`` (scalars or arrays), by the NOAA Solar Calculator equations
    (Meeus, Astronomical Algorithms); no atmospheric refraction."""
    when_utc = _as_utc(when)
    lon = np.asarray(lon_deg, dtype=np.float64)
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    jd = _julian_day(when_utc)
    jc = (jd - 2451545.0) / 36525.0  # Julian centuries since J2000.0
    l0 = math.radians((280.46646 + jc * (36000.76983 + jc * 0.0003032)) % 360.0)
    m = math.radians(357.52911 + jc * (35999.05029 - 0.0001537 * jc))
    ecc = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc)
    centre = (
        math.sin(m) * (1.914602 - jc * (0.004817 + 0.000014 * jc))
        + math.sin(2 * m) * (0.019993 - 0.000101 * jc)
        + math.sin(3 * m) * 0.000289
    )
    omega = math.radians(125.04 - 1934.136 * jc)
    app_long = math.radians(math.degrees(l0) + centre - 0.00569 - 0.00478 * math.sin(omega))
    obliq0 = 23.0 + (26.0 + (21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))) / 60.0) / 60.0
    obliq = math.radians(obliq0 + 0.00256 * math.cos(omega))
    decl = math.asin(math.sin(obliq) * math.sin(app_long))
    var_y = math.tan(obliq / 2.0) ** 2
    eq_time_min = 4.0 * math.degrees(
        var_y * math.sin(2 * l0)
        - 2 * ecc * math.sin(m)
        + 4 * ecc * var_y * math.sin(m) * math.cos(2 * l0)
        - 0.5 * var_y**2 * math.sin(4 * l0)
        - 1.25 * ecc**2 * math.sin(2 * m)
    )
    minutes = (
        when_utc.hour * 60.0
        + when_utc.minute
        + (when_utc.second + when_utc.microsecond / 1e6) / 60.0
    )
    true_solar_min = minutes + eq_time_min + 4.0 * lon
    hour_angle = np.radians(true_solar_min / 4.0 - 180.0)
    cos_zenith = np.sin(lat) * math.sin(decl) + np.cos(lat) * math.cos(decl) * np.cos(hour_angle)
    zenith = np.arccos(np.clip(cos_zenith, -1.0, 1.0))
    return np.asarray(90.0 - np.degrees(zenith), dtype=np.float64)


def _julian_day(when_utc: dt.datetime) -> float:
    """Julian day of an aware UTC datetime (JD 2440587.5 = 1970-01-01T00:00Z)."""
    return when_utc.timestamp() / 86400.0 + 2440587.5


def nominal_overpass_utc(
    date: dt.date,
    lon_deg: float,
    lat_deg: float,
    ltdn_hours: float = LANDSAT_LTDN_HOURS,
    inclination_deg: float = LANDSAT_INCLINATION_DEG,
) -> dt.datetime:
    """UTC time on ``date`` (the UTC acquisition date) at which a sun-synchronous imager on
    its descending (daytime) pass sees ``lon_deg``/``lat_deg``.

    Local mean solar time at latitude ``lat`` is ``ltdn - asin(tan(lat) * cot(i)) / 15`` hours
    (module docstring); UTC is local mean time minus ``lon / 15`` hours, wrapped onto the
    given UTC date.
    """
    lat = math.radians(max(min(lat_deg, 81.0), -81.0))  # the ground track never goes past ~81.8
    cot_i = 1.0 / math.tan(math.radians(inclination_deg))
    shift_h = -math.degrees(math.asin(max(-1.0, min(1.0, math.tan(lat) * cot_i)))) / 15.0
    local_h = ltdn_hours + shift_h
    utc_h = (local_h - lon_deg / 15.0) % 24.0
    midnight = dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC)
    return midnight + dt.timedelta(hours=utc_h)


def _as_utc(when: dt.datetime) -> dt.datetime:
    if when.tzinfo is None:
        return when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)
