"""Contact windows (AOS, TCA, LOS, maximum elevation) between satellites and ground stations.

Own vectorised search, in the spirit of skyfield's ``find_events`` (which the tests use as the
independent truth): elevation is sampled on the propagation grid for all satellites at once;
every local maximum that could reach the mask is refined by golden-section search (TCA and
maximum elevation); around each maximum that clears the mask, the last sample below the mask
before it and the first after it bracket AOS and LOS, which bisection refines to ``tol_s``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from edgeinfer.errors import ConfigError
from edgeinfer.orbit.constellation import Constellation, Track
from edgeinfer.orbit.frames import FloatArray, look_angles
from edgeinfer.orbit.roots import bisect, golden_max
from edgeinfer.orbit.stations import GroundStation
from edgeinfer.orbit.timeutil import TimeGrid

# Fastest elevation change a LEO satellite shows a station: ~v/h = 7.5 km/s / 500 km ~ 0.86 deg/s
# at zenith; 1 deg/s bounds how far a true maximum can exceed the best sample of a grid.
_MAX_ELEVATION_RATE_DEG_S = 1.0


@dataclass(frozen=True)
class Contact:
    """One pass of a satellite over a station, times in UTC.

    ``truncated`` is True when the satellite was already above the mask at the start of the
    search window (then ``aos`` is the window start) or still above it at the end (``los``).
    """

    satellite: str
    station: str
    aos: datetime
    tca: datetime
    los: datetime
    max_elevation_deg: float
    truncated: bool = False

    @property
    def duration_s(self) -> float:
        """LOS - AOS in seconds."""
        return (self.los - self.aos).total_seconds()


def elevation_deg(track: Track, station: GroundStation) -> FloatArray:
    """Elevation (deg) of every satellite at every grid time; NaN samples read as -90."""
    el, _, _ = look_angles(track.r_ecef_km, station.ecef_km, station.enu)
    out: FloatArray = np.where(np.isfinite(el), el, -90.0)
    return out


def slant_range_km(track: Track, station: GroundStation) -> FloatArray:
    """Distance (km) from the station to every satellite at every grid time."""
    _, _, rng = look_angles(track.r_ecef_km, station.ecef_km, station.enu)
    return rng


def _local_maxima(el: FloatArray, floor_deg: float) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(sat, time index) of sampled local maxima above ``floor_deg``, ends included."""
    left = np.concatenate((np.full((el.shape[0], 1), -np.inf), el[:, :-1]), axis=1)
    right = np.concatenate((el[:, 1:], np.full((el.shape[0], 1), -np.inf)), axis=1)
    is_max = (el >= left) & (el > right) & (el > floor_deg)
    s, i = np.nonzero(is_max)
    return s.astype(np.intp), i.astype(np.intp)


def find_contacts(
    constellation: Constellation,
    stations: Sequence[GroundStation],
    start: datetime,
    duration_s: float,
    step_s: float = 30.0,
    tol_s: float = 1e-3,
    track: Track | None = None,
) -> list[Contact]:
    """All passes above each station's ``min_elevation_deg`` in [start, start + duration_s].

    ``step_s`` is the coarse sampling (30 s finds every LEO pass whose maximum clears the mask:
    a pass above 5 deg lasts minutes); events are refined to ``tol_s``. Give ``track`` to reuse
    a propagation (its grid is then the coarse grid). Sorted by AOS.
    """
    if duration_s <= 0:
        raise ConfigError(f"duration must be > 0 s, got {duration_s}")
    if track is None:
        track = constellation.propagate(TimeGrid.regular(start, duration_s, step_s))
    grid = track.grid
    t = grid.offsets_s
    step = float(np.max(np.diff(t))) if t.size > 1 else step_s
    out: list[Contact] = []
    for station in stations:
        out.extend(_station_contacts(constellation, track, station, step, tol_s))
    out.sort(key=lambda c: (c.aos, c.satellite, c.station))
    return out


def _station_contacts(
    constellation: Constellation, track: Track, station: GroundStation, step: float, tol_s: float
) -> list[Contact]:
    grid = track.grid
    t = grid.offsets_s
    mask = station.min_elevation_deg
    el = elevation_deg(track, station)
    floor = mask - _MAX_ELEVATION_RATE_DEG_S * step / 2.0
    sat, idx = _local_maxima(el, floor)
    if sat.size == 0:
        return []
    st_ecef = station.ecef_km
    basis = station.enu

    def elev(s: NDArray[np.intp], off: FloatArray) -> FloatArray:
        r, ok = constellation.ecef_at(s, grid, off)
        e, _, _ = look_angles(r, st_ecef, basis)
        return np.where(ok, e, -90.0)

    lo = t[np.maximum(idx - 1, 0)]
    hi = t[np.minimum(idx + 1, t.size - 1)]
    t_max, el_max = golden_max(elev, sat, lo, hi, tol_s=min(tol_s * 10, 0.01))
    # A maximum at the window edge stays at the edge (the pass continues outside the window).
    at_start = (idx == 0) & (el[sat, np.minimum(1, t.size - 1)] < el[sat, 0])
    at_end = (idx == t.size - 1) & (el[sat, max(t.size - 2, 0)] < el[sat, -1])
    t_max = np.where(at_start, t[0], np.where(at_end, t[-1], t_max))
    el_max = np.where(at_start, el[sat, 0], np.where(at_end, el[sat, -1], el_max))
    keep = el_max >= mask
    sat, idx, t_max, el_max = sat[keep], idx[keep], t_max[keep], el_max[keep]
    if sat.size == 0:
        return []

    below = el < mask
    # last sample below the mask at or before each maximum, first one after it
    rise_i = np.full(sat.size, -1, dtype=np.intp)
    set_i = np.full(sat.size, -1, dtype=np.intp)
    for s in np.unique(sat):
        sel = np.nonzero(sat == s)[0]
        below_idx = np.nonzero(below[s])[0]
        if below_idx.size == 0:  # above the mask through the whole window: cut at both ends
            continue
        tb = t[below_idx]
        k_before = np.searchsorted(tb, t_max[sel], side="right") - 1
        k_after = np.searchsorted(tb, t_max[sel], side="left")
        rise_i[sel] = np.where(k_before >= 0, below_idx[np.clip(k_before, 0, None)], -1)
        set_i[sel] = np.where(k_after < tb.size, below_idx[np.clip(k_after, None, tb.size - 1)], -1)

    # merge maxima sharing one rise (a second culmination within one pass): keep the highest
    order = np.lexsort((-el_max, rise_i, sat))
    first = np.ones(order.size, dtype=bool)
    first[1:] = (sat[order][1:] != sat[order][:-1]) | (rise_i[order][1:] != rise_i[order][:-1])
    pick = order[first]
    sat, t_max, el_max, rise_i, set_i = (
        sat[pick],
        t_max[pick],
        el_max[pick],
        rise_i[pick],
        set_i[pick],
    )

    def above(s: NDArray[np.intp], off: FloatArray) -> FloatArray:
        return elev(s, off) - mask

    has_rise = rise_i >= 0
    has_set = set_i >= 0
    aos = np.full(sat.size, t[0])
    los = np.full(sat.size, t[-1])
    if np.any(has_rise):
        r_lo = t[rise_i[has_rise]]
        r_hi = np.minimum(t[np.minimum(rise_i[has_rise] + 1, t.size - 1)], t_max[has_rise])
        aos[has_rise] = bisect(above, sat[has_rise], r_lo, r_hi, tol_s)
    if np.any(has_set):
        s_hi = t[set_i[has_set]]
        s_lo = np.maximum(t[np.maximum(set_i[has_set] - 1, 0)], t_max[has_set])
        los[has_set] = bisect(above, sat[has_set], s_lo, s_hi, tol_s)
    names = track.names
    return [
        Contact(
            satellite=names[int(sat[k])],
            station=station.name,
            aos=grid.datetime_at(float(aos[k])),
            tca=grid.datetime_at(float(t_max[k])),
            los=grid.datetime_at(float(los[k])),
            max_elevation_deg=float(el_max[k]),
            truncated=not (bool(has_rise[k]) and bool(has_set[k])),
        )
        for k in range(sat.size)
    ]
