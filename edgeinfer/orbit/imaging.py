"""Imaging opportunities: when a satellite's swath sweeps over a footprint polygon.

Model: a nadir-pointing push-broom imager whose swath is a line ``swath_width_km`` long,
perpendicular to the ground track and centred on the sub-satellite point; the line sweeps the
ground as the satellite moves. The footprint boundary is densified to points no further apart
than a quarter swath (so a swath crossing the polygon always sweeps one of them, even when
every vertex lies outside it), plus the centroid. For every point, the along-track coordinate
relative to the sub-satellite point changes sign when the swath line passes it; that crossing
time is interpolated on the grid and kept if the point's cross-track distance is within half a
swath. Crossings of one satellite closer than ``max_gap_s`` form one opportunity. Ground
geometry is spherical (mean Earth radius), which is good to well under 1 % of a swath.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from edgeinfer.errors import ConfigError
from edgeinfer.orbit.constellation import Constellation, Track
from edgeinfer.orbit.eclipse import SunEphemeris
from edgeinfer.orbit.frames import (
    EARTH_MEAN_RADIUS_KM,
    FloatArray,
    ecef_to_geodetic,
    gmst_rad,
    teme_to_ecef,
)
from edgeinfer.orbit.timeutil import TimeGrid

# Ground speed of a LEO nadir point is below 7.5 km/s (v_orbit * R / (R + h)); used to bound
# how far a sub-satellite point can move between grid samples.
_MAX_GROUND_SPEED_KM_S = 7.5


@dataclass(frozen=True)
class ImagingOpportunity:
    """One overflight of a footprint: when the swath first and last covers it, and a capture
    time (midpoint) with the sub-satellite point then. ``covered_fraction`` is the share of
    the footprint's sample points the swath swept."""

    satellite: str
    start: datetime
    end: datetime
    capture_time: datetime
    subsatellite_lat_deg: float
    subsatellite_lon_deg: float
    covered_fraction: float
    sun_elevation_deg: float | None = None


def _unit(lat_deg: FloatArray, lon_deg: FloatArray) -> FloatArray:
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    return np.stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)), axis=-1)


def footprint_points(
    footprint_lonlat: Sequence[tuple[float, float]], spacing_km: float
) -> FloatArray:
    """Unit vectors of the densified boundary (spacing <= ``spacing_km``) and the centroid."""
    pts = np.asarray(footprint_lonlat, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3:
        raise ConfigError("footprint must be a list of at least 3 (lon, lat) pairs in degrees")
    if np.any(np.abs(pts[:, 1]) > 90.0) or np.any(np.abs(pts[:, 0]) > 360.0):
        raise ConfigError("footprint vertices must be (lon, lat) in degrees with |lat| <= 90")
    if np.allclose(pts[0], pts[-1]):
        pts = pts[:-1]
    verts = _unit(pts[:, 1], pts[:, 0])
    out = []
    for a, b in zip(verts, np.roll(verts, -1, axis=0), strict=True):
        ang = float(np.arccos(np.clip(a @ b, -1.0, 1.0)))
        n = max(1, int(np.ceil(ang * EARTH_MEAN_RADIUS_KM / spacing_km)))
        for k in range(n):  # slerp from a towards b
            f = k / n
            if ang < 1e-12:
                out.append(a)
                continue
            v = (np.sin((1 - f) * ang) * a + np.sin(f * ang) * b) / np.sin(ang)
            out.append(v)
    centroid = verts.mean(axis=0)
    out.append(centroid / np.linalg.norm(centroid))
    return np.asarray(out)


def imaging_opportunities(
    constellation: Constellation,
    footprint_lonlat: Sequence[tuple[float, float]],
    start: datetime,
    duration_s: float,
    swath_width_km: float,
    step_s: float = 10.0,
    max_gap_s: float = 600.0,
    track: Track | None = None,
    sun: SunEphemeris | None = None,
    min_sun_elevation_deg: float | None = None,
) -> list[ImagingOpportunity]:
    """Times each satellite's swath covers the polygon ``footprint_lonlat`` (lon, lat degrees).

    With ``sun`` given, each opportunity carries the Sun's elevation at the sub-satellite point
    and, if ``min_sun_elevation_deg`` is set, darker ones are dropped (optical imaging needs
    daylight). Sorted by capture time.
    """
    if swath_width_km <= 0:
        raise ConfigError(f"swath_width_km must be > 0, got {swath_width_km}")
    if min_sun_elevation_deg is not None and sun is None:
        raise ConfigError("min_sun_elevation_deg needs a SunEphemeris (sun=SunEphemeris())")
    if track is None:
        track = constellation.propagate(TimeGrid.regular(start, duration_s, step_s))
    grid = track.grid
    t = grid.offsets_s
    half = swath_width_km / 2.0
    pts = footprint_points(footprint_lonlat, swath_width_km / 4.0)
    lat, lon = track.subsatellite_points()
    heading = np.radians(track.ground_track_heading_deg())
    s_hat = _unit(lat, lon)  # (ns, nt, 3)
    la, lo = np.radians(lat), np.radians(lon)
    east = np.stack((-np.sin(lo), np.cos(lo), np.zeros_like(lo)), axis=-1)
    north = np.stack((-np.sin(la) * np.cos(lo), -np.sin(la) * np.sin(lo), np.cos(la)), axis=-1)
    d_hat = np.sin(heading)[..., None] * east + np.cos(heading)[..., None] * north
    n_hat = np.cross(s_hat, d_hat)

    # Only samples whose nadir is near the footprint can sweep it.
    radius = float(np.max(np.arccos(np.clip(pts @ pts[-1], -1.0, 1.0)))) * EARTH_MEAN_RADIUS_KM
    step = float(np.max(np.diff(t))) if t.size > 1 else step_s
    reach = radius + half + 2.0 * _MAX_GROUND_SPEED_KM_S * step
    near = np.arccos(np.clip(s_hat @ pts[-1], -1.0, 1.0)) * EARTH_MEAN_RADIUS_KM <= reach
    near[:, :-1] |= near[:, 1:]  # keep both ends of every interval
    si, ti = np.nonzero(near[:, :-1])
    along0 = np.arctan2(
        np.einsum("kc,pc->kp", d_hat[si, ti], pts), np.einsum("kc,pc->kp", s_hat[si, ti], pts)
    )
    along1 = np.arctan2(
        np.einsum("kc,pc->kp", d_hat[si, ti + 1], pts),
        np.einsum("kc,pc->kp", s_hat[si, ti + 1], pts),
    )
    cross0 = np.arcsin(np.clip(np.einsum("kc,pc->kp", n_hat[si, ti], pts), -1.0, 1.0))
    cross1 = np.arcsin(np.clip(np.einsum("kc,pc->kp", n_hat[si, ti + 1], pts), -1.0, 1.0))
    swept = (along0 > 0.0) & (along1 <= 0.0) & (np.abs(along0 - along1) < 0.5)
    frac = np.where(swept, along0 / np.where(swept, along0 - along1, 1.0), 0.0)
    cross_km = np.abs(cross0 + frac * (cross1 - cross0)) * EARTH_MEAN_RADIUS_KM
    hit = swept & (cross_km <= half)
    k_idx, p_idx = np.nonzero(hit)
    hit_sat = si[k_idx]
    hit_time = t[ti[k_idx]] + frac[k_idx, p_idx] * (t[ti[k_idx] + 1] - t[ti[k_idx]])
    return _group(
        constellation,
        track,
        hit_sat,
        hit_time,
        p_idx,
        len(pts),
        max_gap_s,
        sun,
        min_sun_elevation_deg,
    )


def _group(
    constellation: Constellation,
    track: Track,
    hit_sat: NDArray[np.intp],
    hit_time: FloatArray,
    p_idx: NDArray[np.intp],
    n_points: int,
    max_gap_s: float,
    sun: SunEphemeris | None,
    min_sun_elevation_deg: float | None,
) -> list[ImagingOpportunity]:
    groups: list[tuple[int, float, float, float]] = []  # sat, first, last, covered fraction
    for s in np.unique(hit_sat):
        sel = hit_sat == s
        order = np.argsort(hit_time[sel])
        times = hit_time[sel][order]
        points = p_idx[sel][order]
        breaks = np.nonzero(np.diff(times) > max_gap_s)[0] + 1
        for chunk_t, chunk_p in zip(np.split(times, breaks), np.split(points, breaks), strict=True):
            groups.append(
                (
                    int(s),
                    float(chunk_t[0]),
                    float(chunk_t[-1]),
                    len(set(chunk_p.tolist())) / n_points,
                )
            )
    if not groups:
        return []
    grid = track.grid
    sats = np.array([g[0] for g in groups], dtype=np.intp)
    mid = np.array([(g[1] + g[2]) / 2.0 for g in groups])
    r_ecef, _ = constellation.ecef_at(sats, grid, mid)
    lat, lon, _ = ecef_to_geodetic(r_ecef)
    sun_el: list[float | None] = [None] * len(groups)
    if sun is not None:
        jd, fr = grid.jd_fr(mid)
        sun_ecef = teme_to_ecef(sun.sun_teme_km(grid, mid), gmst_rad(jd, fr))
        up = _unit(lat, lon)
        cos_z = np.einsum("kc,kc->k", sun_ecef, up) / np.linalg.norm(sun_ecef, axis=-1)
        sun_el = [float(v) for v in np.degrees(np.arcsin(np.clip(cos_z, -1.0, 1.0)))]
    out = []
    for k, (s, a, b, cov) in enumerate(groups):
        el = sun_el[k]
        if min_sun_elevation_deg is not None and el is not None and el < min_sun_elevation_deg:
            continue
        out.append(
            ImagingOpportunity(
                satellite=track.names[s],
                start=grid.datetime_at(a),
                end=grid.datetime_at(b),
                capture_time=grid.datetime_at(float(mid[k])),
                subsatellite_lat_deg=float(lat[k]),
                subsatellite_lon_deg=float(lon[k]),
                covered_fraction=cov,
                sun_elevation_deg=el,
            )
        )
    out.sort(key=lambda o: (o.capture_time, o.satellite))
    return out
