"""Constellations: TLE-backed sets of satellites, propagated over satellites x times.

Propagation goes through sgp4's ``SatrecArray`` (C++ SGP4, vectorised over satellites and
times; output frame TEME) and then :mod:`edgeinfer.orbit.frames` to Earth-fixed and geodetic
coordinates. A decayed or diverging element set is data, not a crash: its samples carry the
sgp4 error code and NaN positions (``Track.error``, ``Track.valid``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sgp4.api import SGP4_ERRORS, Satrec, SatrecArray

from edgeinfer.errors import ConfigError, unknown_name
from edgeinfer.orbit.elements import (
    OrbitalElements,
    raan_for_ltan_deg,
    sso_inclination_deg,
    tle_from_satrec,
)
from edgeinfer.orbit.frames import (
    FloatArray,
    destination,
    ecef_to_geodetic,
    enu_basis_many,
    gmst_rad,
    teme_to_ecef,
    teme_to_ecef_velocity,
)
from edgeinfer.orbit.timeutil import TimeGrid
from edgeinfer.orbit.tle import TLE, read_tle_file

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Track:
    """Propagated states on a time grid; arrays are (satellites, times[, 3]) in km and km/s."""

    names: tuple[str, ...]
    grid: TimeGrid
    r_teme_km: FloatArray
    v_teme_km_s: FloatArray
    r_ecef_km: FloatArray
    v_ecef_km_s: FloatArray
    error: NDArray[np.uint8]

    @property
    def valid(self) -> NDArray[np.bool_]:
        """True where sgp4 returned a state (error code 0)."""
        ok: NDArray[np.bool_] = self.error == 0
        return ok

    def geodetic(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """WGS84 latitude (deg), longitude (deg) and height (km) of the satellites."""
        return ecef_to_geodetic(self.r_ecef_km)

    def subsatellite_points(self) -> tuple[FloatArray, FloatArray]:
        """Geodetic nadir points (lat, lon in degrees), shape (satellites, times)."""
        lat, lon, _ = self.geodetic()
        return lat, lon

    def ground_track_heading_deg(self) -> FloatArray:
        """Azimuth of the ground track (deg clockwise from north) from Earth-fixed velocity."""
        lat, lon = self.subsatellite_points()
        basis = enu_basis_many(lat, lon)
        east = np.einsum("...k,...k->...", self.v_ecef_km_s, basis[..., 0, :])
        north = np.einsum("...k,...k->...", self.v_ecef_km_s, basis[..., 1, :])
        heading: FloatArray = np.degrees(np.arctan2(east, north)) % 360.0
        return heading

    def swath_edges(
        self, swath_width_km: float
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Left and right swath edge points (lat_l, lon_l, lat_r, lon_r) in degrees.

        The swath is centred on the nadir track and ``swath_width_km`` wide across track,
        measured on a sphere of the mean Earth radius (a nadir-pointing push-broom imager).
        """
        if swath_width_km <= 0:
            raise ConfigError(f"swath_width_km must be > 0, got {swath_width_km}")
        lat, lon = self.subsatellite_points()
        heading = self.ground_track_heading_deg()
        half = swath_width_km / 2.0
        lat_l, lon_l = destination(lat, lon, heading - 90.0, half)
        lat_r, lon_r = destination(lat, lon, heading + 90.0, half)
        return lat_l, lon_l, lat_r, lon_r


class Constellation:
    """An ordered set of named satellites, each an sgp4 record with its TLE."""

    def __init__(self, tles: Sequence[TLE], satrecs: Sequence[Satrec] | None = None) -> None:
        if not tles:
            raise ConfigError(
                "a constellation needs at least one satellite; give a TLE file or elements"
            )
        self.tles: tuple[TLE, ...] = tuple(tles)
        self.satrecs: tuple[Satrec, ...] = (
            tuple(satrecs) if satrecs is not None else tuple(t.satrec() for t in self.tles)
        )
        self._array = SatrecArray(list(self.satrecs))

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path, names: Sequence[str] | None = None) -> Constellation:
        """Satellites of a CelesTrak TLE file, optionally only those named (see :meth:`select`)."""
        c = cls(read_tle_file(path))
        return c.select(names) if names else c

    @classmethod
    def from_elements(
        cls, elements: Sequence[tuple[str, OrbitalElements]], first_catalog_number: int = 90000
    ) -> Constellation:
        """Satellites initialised by sgp4init from (name, elements); TLEs written from them."""
        satrecs = [el.to_satrec(first_catalog_number + k) for k, (_, el) in enumerate(elements)]
        tles = [tle_from_satrec(s, name) for s, (name, _) in zip(satrecs, elements, strict=True)]
        return cls(tles, satrecs)

    @classmethod
    def walker_delta(
        cls,
        epoch: datetime,
        total: int,
        planes: int,
        phasing: int,
        altitude_km: float,
        inclination_deg: float,
        raan0_deg: float = 0.0,
        name_prefix: str = "WALKER",
    ) -> Constellation:
        """Walker-delta i:t/p/f pattern (Walker 1984, JBIS 37): ``total`` satellites in
        ``planes`` equally spaced planes; in-plane spacing 360*p/t deg; adjacent planes offset
        by ``phasing`` * 360/t deg in argument of latitude."""
        if planes < 1 or total < 1 or total % planes:
            raise ConfigError(
                f"walker_delta needs total divisible by planes, got total={total}, planes={planes}"
            )
        if not 0 <= phasing < planes:
            raise ConfigError(f"walker_delta phasing must be in 0..planes-1, got {phasing}")
        per_plane = total // planes
        out = []
        for p in range(planes):
            raan = raan0_deg + 360.0 * p / planes
            for k in range(per_plane):
                u = 360.0 * k / per_plane + 360.0 * phasing * p / total
                el = OrbitalElements.circular(epoch, altitude_km, inclination_deg, raan, u)
                out.append((f"{name_prefix}-P{p + 1}-S{k + 1}", el))
        return cls.from_elements(out)

    @classmethod
    def sun_synchronous(
        cls,
        epoch: datetime,
        count: int,
        altitude_km: float,
        ltdn_hours: float = 10.5,
        name_prefix: str = "SSO",
    ) -> Constellation:
        """``count`` satellites equally spaced in one sun-synchronous plane at ``altitude_km``
        with the descending node at local mean solar time ``ltdn_hours`` (10.5 = 10:30, the
        Sentinel-2 and Landsat-class choice)."""
        if count < 1:
            raise ConfigError(f"sun_synchronous needs count >= 1, got {count}")
        inc = sso_inclination_deg(altitude_km)
        raan = raan_for_ltan_deg(epoch, (ltdn_hours + 12.0) % 24.0)
        els = [
            (
                f"{name_prefix}-{k + 1}",
                OrbitalElements.circular(epoch, altitude_km, inc, raan, 360.0 * k / count),
            )
            for k in range(count)
        ]
        return cls.from_elements(els)

    # -- access -----------------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tles)

    def __len__(self) -> int:
        return len(self.tles)

    def __iter__(self) -> Iterator[TLE]:
        return iter(self.tles)

    def select(self, names: Sequence[str]) -> Constellation:
        """Satellites by name or catalog number (case-insensitive), in the order asked."""
        index: dict[str, int] = {}
        for i, t in enumerate(self.tles):
            index.setdefault(t.name.upper(), i)
            index.setdefault(t.catalog_number.lstrip("0").upper(), i)
        picked = []
        for name in names:
            key = name.strip().upper()
            found = index.get(key, index.get(key.lstrip("0")))
            if found is None:
                raise unknown_name("satellite", name, list(self.names))
            picked.append(found)
        return Constellation([self.tles[i] for i in picked], [self.satrecs[i] for i in picked])

    def to_tle_text(self, three_line: bool = True) -> str:
        """All element sets as CelesTrak text."""
        return "".join(t.to_text(three_line) for t in self.tles)

    # -- propagation ------------------------------------------------------------------------
    def propagate(self, grid: TimeGrid) -> Track:
        """States of every satellite at every grid instant (sgp4 SatrecArray)."""
        jd, fr = grid.jd_fr()
        err, r, v = self._array.sgp4(jd, fr)
        if np.any(err):
            codes = sorted({int(c) for c in np.unique(err) if c})
            logger.warning(
                "sgp4 flagged %d of %d samples (%s); those samples are NaN",
                int(np.count_nonzero(err)),
                err.size,
                "; ".join(SGP4_ERRORS[c] for c in codes),
            )
        theta = gmst_rad(jd, fr)
        r_ecef = teme_to_ecef(r, theta[np.newaxis, :])
        v_ecef = teme_to_ecef_velocity(r_ecef, v, theta[np.newaxis, :])
        return Track(self.names, grid, r, v, r_ecef, v_ecef, err.astype(np.uint8))

    def ecef_at(
        self, sat_index: NDArray[np.intp], grid: TimeGrid, offsets_s: FloatArray
    ) -> tuple[FloatArray, NDArray[np.bool_]]:
        """Earth-fixed positions (k, 3) of satellite ``sat_index[j]`` at ``offsets_s[j]``.

        Used by the root finders, which refine many events of different satellites at once.
        """
        r_teme, ok = self.teme_at(sat_index, grid, offsets_s)
        jd, fr = grid.jd_fr(offsets_s)
        return teme_to_ecef(r_teme, gmst_rad(jd, fr)), ok

    def teme_at(
        self, sat_index: NDArray[np.intp], grid: TimeGrid, offsets_s: FloatArray
    ) -> tuple[FloatArray, NDArray[np.bool_]]:
        """TEME positions (k, 3) of satellite ``sat_index[j]`` at ``offsets_s[j]``."""
        jd, fr = grid.jd_fr(offsets_s)
        out = np.full((offsets_s.size, 3), np.nan)
        ok = np.zeros(offsets_s.size, dtype=bool)
        for s in np.unique(sat_index):
            sel = sat_index == s
            e, r, _ = self.satrecs[int(s)].sgp4_array(jd[sel], fr[sel])
            out[sel] = r
            ok[sel] = e == 0
        return out, ok
