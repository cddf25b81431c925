"""Solar elevation from date, time and place, and the nominal overpass time of a
sun-synchronous imager. Used when a Landsat product arrives without its MTL file.

Solar position: NOAA Global Monitoring Laboratory, "General Solar Position Calculations"
(https://gml.noaa.gov/grad/solcalc/solareqns.PDF), whose declination and equation-of-time
series are Spencer (1971), "Fourier series representation of the position of the Sun",
Search 2(5):172. Stated accuracy: about 0.1 deg in elevation away from the horizon; the
geometric elevation (no refraction), as USGS reports SUN_ELEVATION in Landsat MTL files.

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
    ``lon_deg``/``lat_deg`` (scalars or arrays), by the NOAA/Spencer formulas."""
    when_utc = _as_utc(when)
    lon = np.asarray(lon_deg, dtype=np.float64)
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    days_in_year = 366 if _is_leap(when_utc.year) else 365
    hour = (
        when_utc.hour
        + when_utc.minute / 60.0
        + (when_utc.second + when_utc.microsecond / 1e6) / 3600.0
    )
    doy = when_utc.timetuple().tm_yday
    # Fractional year in radians (NOAA eq. 1).
    gamma = 2.0 * math.pi / days_in_year * (doy - 1 + (hour - 12.0) / 24.0)
    # Equation of time in minutes and declination in radians (Spencer 1971, NOAA eqs. 2-3).
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )
    decl = (
        0.006918
        - 0.399912 * math.cos(gamma)
        + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma)
        + 0.000907 * math.sin(2 * gamma)
        - 0.002697 * math.cos(3 * gamma)
        + 0.00148 * math.sin(3 * gamma)
    )
    # True solar time in minutes (time zone 0: UTC) and hour angle (NOAA eqs. 4-6).
    true_solar_min = hour * 60.0 + eqtime + 4.0 * lon
    hour_angle = np.radians(true_solar_min / 4.0 - 180.0)
    cos_zenith = np.sin(lat) * math.sin(decl) + np.cos(lat) * math.cos(decl) * np.cos(hour_angle)
    zenith = np.arccos(np.clip(cos_zenith, -1.0, 1.0))
    return np.asarray(90.0 - np.degrees(zenith), dtype=np.float64)


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


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
