"""Reference frames, vectorised: TEME -> ECEF (PEF) -> WGS84 geodetic, station vectors.

TEME -> ECEF is a rotation by the IAU-1982 Greenwich mean sidereal time about z (Vallado et
al. 2006, AIAA 2006-6753, appendix C); polar motion (< 15 m) is neglected and UT1 = UTC (see
:mod:`edgeinfer.orbit.timeutil`). Geodetic coordinates use the WGS84 ellipsoid (NIMA TR8350.2:
a = 6378.137 km, 1/f = 298.257223563).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# WGS84 ellipsoid (NIMA TR8350.2, 3rd ed., table 3.1).
WGS84_A_KM = 6378.137
WGS84_F = 1.0 / 298.257223563
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
# Earth rotation rate including precession (IERS Conventions 2010, 7.292115e-5 rad/s).
EARTH_ROTATION_RAD_S = 7.292115146706979e-5
# Mean Earth radius R1 = (2a + b)/3 (Moritz 2000, Geodetic Reference System 1980) for spherical
# ground geometry such as swath edges.
EARTH_MEAN_RADIUS_KM = 6371.0088


def gmst_rad(jd: FloatArray, fr: FloatArray) -> FloatArray:
    """IAU-1982 GMST (rad) for split Julian dates, the TEME -> PEF angle of AIAA 2006-6753."""
    t = (jd - 2451545.0 + fr) / 36525.0
    g = 67310.54841 + (8640184.812866 + (0.093104 + (-6.2e-6) * t) * t) * t
    theta: FloatArray = ((jd % 1.0 + fr + g / 86400.0 % 1.0) % 1.0) * (2.0 * np.pi)
    return theta


def teme_to_ecef(r_teme: FloatArray, theta: FloatArray) -> FloatArray:
    """Rotate TEME vectors (..., 3) into Earth-fixed ones by GMST ``theta`` (shape ...)."""
    c = np.cos(theta)
    s = np.sin(theta)
    x, y, z = r_teme[..., 0], r_teme[..., 1], r_teme[..., 2]
    return np.stack((c * x + s * y, -s * x + c * y, z), axis=-1)


def teme_to_ecef_velocity(r_ecef: FloatArray, v_teme: FloatArray, theta: FloatArray) -> FloatArray:
    """Earth-fixed velocity: rotated TEME velocity minus omega x r (AIAA 2006-6753 app. C)."""
    v = teme_to_ecef(v_teme, theta)
    w = EARTH_ROTATION_RAD_S
    out = v.copy()
    out[..., 0] += w * r_ecef[..., 1]
    out[..., 1] -= w * r_ecef[..., 0]
    return out


def ecef_to_geodetic(r_ecef: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """WGS84 latitude (deg), longitude (deg, -180..180) and height (km) of ECEF points.

    Bowring's iteration (Bowring 1976, Survey Review 23) with the height formula
    h = p cos(phi) + z sin(phi) - a sqrt(1 - e2 sin^2 phi), which is well behaved at the poles;
    four iterations reach sub-millimetre accuracy for LEO heights.
    """
    x, y, z = r_ecef[..., 0], r_ecef[..., 1], r_ecef[..., 2]
    p = np.hypot(x, y)
    lat = np.arctan2(z, p * (1.0 - WGS84_E2))
    for _ in range(4):
        s = np.sin(lat)
        n = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * s * s)
        h = p * np.cos(lat) + z * s - WGS84_A_KM * np.sqrt(1.0 - WGS84_E2 * s * s)
        lat = np.arctan2(z, p * (1.0 - WGS84_E2 * n / (n + h)))
    s = np.sin(lat)
    h = p * np.cos(lat) + z * s - WGS84_A_KM * np.sqrt(1.0 - WGS84_E2 * s * s)
    return np.degrees(lat), np.degrees(np.arctan2(y, x)), h


def geodetic_to_ecef(
    lat_deg: float | FloatArray, lon_deg: float | FloatArray, alt_km: float | FloatArray
) -> FloatArray:
    """ECEF position (km, last axis xyz) of WGS84 geodetic coordinates."""
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    s = np.sin(lat)
    n = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * s * s)
    return np.stack(
        (
            (n + alt_km) * np.cos(lat) * np.cos(lon),
            (n + alt_km) * np.cos(lat) * np.sin(lon),
            (n * (1.0 - WGS84_E2) + alt_km) * s,
        ),
        axis=-1,
    )


def enu_basis(lat_deg: float, lon_deg: float) -> FloatArray:
    """Rows east, north, up (unit ECEF vectors) of the local frame at a geodetic point."""
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    sl, cl = np.sin(lat), np.cos(lat)
    so, co = np.sin(lon), np.cos(lon)
    return np.array([[-so, co, 0.0], [-sl * co, -sl * so, cl], [cl * co, cl * so, sl]])


def enu_basis_many(lat_deg: FloatArray, lon_deg: FloatArray) -> FloatArray:
    """Like :func:`enu_basis` for arrays of points: shape (..., 3 rows e/n/u, 3 xyz)."""
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    sl, cl = np.sin(lat), np.cos(lat)
    so, co = np.sin(lon), np.cos(lon)
    zero = np.zeros_like(lat)
    east = np.stack((-so, co, zero), axis=-1)
    north = np.stack((-sl * co, -sl * so, cl), axis=-1)
    up = np.stack((cl * co, cl * so, sl), axis=-1)
    return np.stack((east, north, up), axis=-2)


def look_angles(
    r_ecef: FloatArray, station_ecef: FloatArray, basis: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Elevation (deg), azimuth (deg from north, clockwise) and slant range (km) of targets."""
    d = r_ecef - station_ecef
    e = d @ basis[0]
    n = d @ basis[1]
    u = d @ basis[2]
    rng = np.sqrt(e * e + n * n + u * u)
    el = np.degrees(np.arcsin(np.clip(u / rng, -1.0, 1.0)))
    az = np.degrees(np.arctan2(e, n)) % 360.0
    return el, az, rng


def destination(
    lat_deg: FloatArray,
    lon_deg: FloatArray,
    bearing_deg: FloatArray,
    distance_km: float | FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Great-circle destination on a sphere of the mean Earth radius (lat, lon in degrees)."""
    lat1 = np.radians(lat_deg)
    lon1 = np.radians(lon_deg)
    th = np.radians(bearing_deg)
    d = np.asarray(distance_km) / EARTH_MEAN_RADIUS_KM
    lat2 = np.arcsin(np.sin(lat1) * np.cos(d) + np.cos(lat1) * np.sin(d) * np.cos(th))
    lon2 = lon1 + np.arctan2(
        np.sin(th) * np.sin(d) * np.cos(lat1), np.cos(d) - np.sin(lat1) * np.sin(lat2)
    )
    return np.degrees(lat2), (np.degrees(lon2) + 180.0) % 360.0 - 180.0
