"""Eclipses: when the Earth hides the Sun from a satellite, from the JPL DE421 ephemeris.

Shadow model (documented choice): the Sun's centre is occulted by a spherical Earth of the
WGS84 equatorial radius, the same geometry as skyfield's ``is_sunlit`` (a line from satellite
to Sun centre meeting the sphere). It is written as an angle test so that the umbra (whole
disc hidden) and penumbra (any part hidden) are one parameter away: with theta the angle
between the Sun and Earth centres seen from the satellite, rho_e = asin(R_e/|r|) and
rho_s = asin(R_sun/|r_sun - r|) the apparent radii, the satellite is shadowed while
``theta < rho_e + k * rho_s`` with k = 0 (centre, default), -1 (umbra), +1 (penumbra)
(Montenbruck & Gill, Satellite Orbits, 2000, sec. 3.4.2). The Sun comes from DE421 (the
``de421.bsp`` that the skyfield-data package ships, read offline through skyfield), rotated into
TEME by skyfield, every 10 minutes and interpolated linearly (the Sun moves ~0.007 deg in 10 min).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from edgeinfer.errors import ConfigError, OrbitError
from edgeinfer.orbit.constellation import Constellation, Track
from edgeinfer.orbit.frames import WGS84_A_KM, FloatArray
from edgeinfer.orbit.roots import bisect
from edgeinfer.orbit.timeutil import TimeGrid

logger = logging.getLogger(__name__)

SUN_RADIUS_KM = 695_700.0  # IAU 2015 Resolution B3 nominal solar radius
_SUN_NODE_STEP_S = 600.0
ShadowModel = Literal["center", "umbra", "penumbra"]
_K = {"center": 0.0, "umbra": -1.0, "penumbra": 1.0}


class SunEphemeris:
    """Geocentric Sun positions in TEME from DE421 (skyfield + skyfield-data, offline)."""

    def __init__(self, bsp_dir: str | None = None) -> None:
        from skyfield.api import Loader, load

        with warnings.catch_warnings():
            # skyfield-data warns that its bundled finals2000A.all has expired; edgeinfer uses the
            # builtin timescale and only de421.bsp from it (ENVIRONMENT.md).
            warnings.simplefilter("ignore", RuntimeWarning)
            if bsp_dir is None:
                try:
                    from skyfield_data import get_skyfield_data_path
                except ImportError:
                    raise OrbitError(
                        "eclipses need de421.bsp from the skyfield-data package; "
                        "pip install skyfield-data"
                    ) from None
                bsp_dir = get_skyfield_data_path()
            if not (Path(bsp_dir) / "de421.bsp").is_file():
                raise OrbitError(
                    f"no de421.bsp in {bsp_dir}; install skyfield-data (which ships it) or point "
                    "bsp_dir at a folder holding de421.bsp"
                )
            self._ts: Any = load.timescale(builtin=True)
            try:
                self._eph: Any = Loader(bsp_dir, verbose=False)("de421.bsp")
            except (OSError, ValueError) as exc:
                raise OrbitError(
                    f"cannot read de421.bsp from {bsp_dir}: {exc}; install skyfield-data (which "
                    "ships it) or point bsp_dir at a folder holding de421.bsp"
                ) from None
        self._sun = self._eph["sun"] - self._eph["earth"]

    def table(self, grid: TimeGrid, margin_s: float = _SUN_NODE_STEP_S) -> SunTable:
        """Sun positions every 10 min over ``grid`` (plus ``margin_s``), for interpolation."""
        from skyfield.sgp4lib import TEME

        off = grid.offsets_s
        lo = float(np.floor((off.min() - margin_s) / _SUN_NODE_STEP_S) * _SUN_NODE_STEP_S)
        hi = float(np.ceil((off.max() + margin_s) / _SUN_NODE_STEP_S) * _SUN_NODE_STEP_S)
        nodes = np.arange(lo, hi + _SUN_NODE_STEP_S / 2, _SUN_NODE_STEP_S)
        s = grid.start
        t = self._ts.utc(
            s.year, s.month, s.day, s.hour, s.minute, s.second + s.microsecond * 1e-6 + nodes
        )
        xyz = np.asarray(self._sun.at(t).frame_xyz(TEME).km).reshape(3, -1)
        return SunTable(nodes, xyz)

    def sun_teme_km(self, grid: TimeGrid, offsets_s: FloatArray | None = None) -> FloatArray:
        """Geometric Sun position (km, TEME, shape (k, 3)) at offsets (default: the grid's)."""
        off = grid.offsets_s if offsets_s is None else np.asarray(offsets_s, dtype=np.float64)
        return self.table(TimeGrid(grid.start, off)).at(off)


@dataclass(frozen=True)
class SunTable:
    """Sun TEME positions at node offsets (s); linear interpolation between them."""

    nodes_s: FloatArray
    xyz_km: FloatArray  # (3, nodes)

    def at(self, offsets_s: FloatArray) -> FloatArray:
        off = np.asarray(offsets_s, dtype=np.float64)
        return np.stack([np.interp(off, self.nodes_s, self.xyz_km[k]) for k in range(3)], axis=-1)


def shadow_function(
    r_teme_km: FloatArray, sun_teme_km: FloatArray, model: ShadowModel = "center"
) -> FloatArray:
    """theta - (rho_e + k rho_s) in radians; negative in shadow (see module docstring)."""
    if model not in _K:
        raise ConfigError(f"unknown shadow model {model!r}; choose center, umbra or penumbra")
    to_sun = sun_teme_km - r_teme_km
    d_sun = np.linalg.norm(to_sun, axis=-1)
    d_earth = np.linalg.norm(r_teme_km, axis=-1)
    cos_theta = -np.einsum("...k,...k->...", to_sun, r_teme_km) / (d_sun * d_earth)
    theta = np.arccos(np.clip(cos_theta, -1.0, 1.0))
    rho_e = np.arcsin(np.clip(WGS84_A_KM / d_earth, -1.0, 1.0))
    rho_s = np.arcsin(SUN_RADIUS_KM / d_sun)
    g: FloatArray = theta - (rho_e + _K[model] * rho_s)
    return g


@dataclass(frozen=True)
class Eclipse:
    """One shadow interval of a satellite (UTC); ``truncated`` if it runs past the window."""

    satellite: str
    start: datetime
    end: datetime
    truncated: bool = False

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


def sunlit(track: Track, sun: SunEphemeris, model: ShadowModel = "center") -> NDArray[np.bool_]:
    """True where a satellite is in sunlight, shape (satellites, times)."""
    sun_xyz = sun.table(track.grid).at(track.grid.offsets_s)
    lit: NDArray[np.bool_] = shadow_function(track.r_teme_km, sun_xyz[np.newaxis], model) >= 0.0
    return lit


def find_eclipses(
    constellation: Constellation,
    sun: SunEphemeris,
    start: datetime,
    duration_s: float,
    step_s: float = 30.0,
    tol_s: float = 1e-2,
    model: ShadowModel = "center",
    track: Track | None = None,
) -> list[Eclipse]:
    """Shadow intervals of every satellite in [start, start + duration_s], refined to ``tol_s``.

    Bracketed on a ``step_s`` grid (LEO eclipses last over 20 minutes except near the beta angle
    where they vanish, so a grazing eclipse shorter than ``step_s`` can be missed).
    """
    if duration_s <= 0:
        raise ConfigError(f"duration must be > 0 s, got {duration_s}")
    if track is None:
        track = constellation.propagate(TimeGrid.regular(start, duration_s, step_s))
    grid = track.grid
    t = grid.offsets_s
    table = sun.table(grid)
    g = shadow_function(track.r_teme_km, table.at(t)[np.newaxis], model)
    dark = g < 0.0
    change_s, change_i = np.nonzero(dark[:, 1:] != dark[:, :-1])
    sat = change_s.astype(np.intp)

    def fn(s: NDArray[np.intp], off: FloatArray) -> FloatArray:
        r, ok = constellation.teme_at(s, grid, off)
        val = shadow_function(r, table.at(off), model)
        return np.where(ok, val, 1.0)

    times = bisect(fn, sat, t[change_i], t[change_i + 1], tol_s)
    entering = dark[change_s, change_i + 1]
    out: list[Eclipse] = []
    for s in range(len(constellation)):
        sel = sat == s
        ts_s, ent = times[sel], entering[sel]
        starts: list[tuple[float, bool]] = []
        if dark[s, 0]:
            starts.append((float(t[0]), True))
        cur: tuple[float, bool] | None = starts[0] if starts else None
        for tt, e in zip(ts_s, ent, strict=True):
            if e:
                cur = (float(tt), False)
            elif cur is not None:
                out.append(_eclipse(track, s, cur[0], float(tt), cur[1]))
                cur = None
        if cur is not None:
            out.append(_eclipse(track, s, cur[0], float(t[-1]), True))
    out.sort(key=lambda e: (e.start, e.satellite))
    return out


def _eclipse(track: Track, s: int, a: float, b: float, truncated: bool) -> Eclipse:
    return Eclipse(track.names[s], track.grid.datetime_at(a), track.grid.datetime_at(b), truncated)


def eclipse_fraction(
    eclipses: list[Eclipse], satellite: str, start: datetime, end: datetime
) -> float:
    """Fraction of [start, end] that ``satellite`` spends in shadow."""
    span = (end - start).total_seconds()
    if span <= 0:
        raise ConfigError("eclipse_fraction needs end after start")
    total = 0.0
    for e in eclipses:
        if e.satellite == satellite:
            a = max(e.start, start)
            b = min(e.end, end)
            total += max(0.0, (b - a).total_seconds())
    return total / span
