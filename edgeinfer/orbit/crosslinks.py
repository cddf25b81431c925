"""Inter-satellite links: line of sight, range, and contact windows between satellite pairs.

Two satellites can hold a crosslink (laser or RF) while

* their distance is at most ``max_range_km`` (the terminal's link budget), and
* the straight segment between them clears the Earth: its closest point to the Earth's centre
  lies more than ``R + grazing_height_km`` from it.

The Earth is a sphere of the WGS84 equatorial radius (6378.137 km, NIMA TR8350.2), the same
body as the eclipse model (docs/orbits.md), which is conservative by up to 21 km over the
poles. ``grazing_height_km`` keeps the beam above the dense atmosphere, where refraction,
absorption and turbulence would break a laser link: the default 100 km is the Kármán line (FAI
convention for the edge of space) and the top of the 80-100 km band usually quoted for the
mesopause [assumption: a convention, not a link-budget result]. Lower it to 80 km for an
optimistic bound, or to 0 for pure geometric visibility.

The closest point of the segment r1 + s (r2 - r1), s in [0, 1], to the origin is at
s* = clip(-r1.d / d.d, 0, 1): the textbook point-to-segment distance. Everything is vectorised
over satellite pairs x times from one propagation (:class:`~edgeinfer.orbit.Track`); windows
are bracketed on the track's grid and their ends refined by bisection on the link margin
min(clearance - (R + h), max_range - range), which is positive exactly while the link is up.
A window shorter than the grid step can be missed (cross-plane passes last minutes; in-plane
links are permanent). Distances are frame-independent, so TEME positions serve as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from edgeinfer.errors import ConfigError
from edgeinfer.orbit.constellation import Constellation, Track
from edgeinfer.orbit.frames import WGS84_A_KM, FloatArray
from edgeinfer.orbit.roots import bisect
from edgeinfer.orbit.timeutil import TimeGrid

#: Default height (km) the line of sight must clear above the Earth's sphere: the Kármán line.
DEFAULT_GRAZING_HEIGHT_KM = 100.0
#: Earth radius of the blockage sphere: WGS84 equatorial radius (NIMA TR8350.2, table 3.1).
EARTH_RADIUS_KM = WGS84_A_KM
#: Speed of light in vacuum (SI definition, BIPM 2019), km/s: one-way light time of a hop.
SPEED_OF_LIGHT_KM_S = 299_792.458


def segment_clearance_km(r1: FloatArray, r2: FloatArray) -> FloatArray:
    """Distance (km) from the Earth's centre to the closest point of each segment r1-r2.

    ``r1``, ``r2``: positions (..., 3) in any Earth-centred frame; returns shape (...).
    """
    d = r2 - r1
    dd = np.einsum("...k,...k->...", d, d)
    s = np.clip(-np.einsum("...k,...k->...", r1, d) / np.where(dd > 0.0, dd, 1.0), 0.0, 1.0)
    closest = r1 + s[..., np.newaxis] * d
    out: FloatArray = np.sqrt(np.einsum("...k,...k->...", closest, closest))
    return out


def link_margin_km(
    r1: FloatArray,
    r2: FloatArray,
    max_range_km: float,
    grazing_height_km: float = DEFAULT_GRAZING_HEIGHT_KM,
) -> FloatArray:
    """min(clearance - (R + h), max_range - range) in km: > 0 exactly where the link is up.

    NaN positions (a decayed element set) give NaN, which :func:`line_of_sight` reads as no link.
    """
    rng = np.linalg.norm(r2 - r1, axis=-1)
    clear = segment_clearance_km(r1, r2) - (EARTH_RADIUS_KM + grazing_height_km)
    out: FloatArray = np.minimum(clear, max_range_km - rng)
    return out


def line_of_sight(
    r1: FloatArray,
    r2: FloatArray,
    max_range_km: float = np.inf,
    grazing_height_km: float = DEFAULT_GRAZING_HEIGHT_KM,
) -> NDArray[np.bool_]:
    """True where satellites at ``r1`` and ``r2`` can hold a crosslink (see the module doc)."""
    margin = link_margin_km(r1, r2, max_range_km, grazing_height_km)
    up: NDArray[np.bool_] = np.isfinite(margin) & (margin > 0.0)
    return up


def all_pairs(n: int) -> NDArray[np.intp]:
    """Every unordered pair (i < j) of ``n`` satellites, shape (n(n-1)/2, 2)."""
    i, j = np.triu_indices(n, k=1)
    return np.stack((i, j), axis=1).astype(np.intp)


@dataclass(frozen=True)
class CrosslinkVisibility:
    """Sampled link state of satellite pairs on a track's grid: arrays are (pairs, times)."""

    pairs: NDArray[np.intp]
    grid: TimeGrid
    visible: NDArray[np.bool_]
    range_km: FloatArray
    margin_km: FloatArray

    def at(self, k: int) -> NDArray[np.bool_]:
        """Visible pairs (bool per pair) at grid index ``k``."""
        out: NDArray[np.bool_] = self.visible[:, k]
        return out


def crosslink_visibility(
    track: Track,
    max_range_km: float,
    grazing_height_km: float = DEFAULT_GRAZING_HEIGHT_KM,
    pairs: NDArray[np.intp] | None = None,
) -> CrosslinkVisibility:
    """Link state of ``pairs`` (default: all) at every instant of ``track`` (vectorised)."""
    _check(max_range_km, grazing_height_km)
    pp = all_pairs(len(track.names)) if pairs is None else np.asarray(pairs, dtype=np.intp)
    r = track.r_teme_km
    r1 = r[pp[:, 0]]
    r2 = r[pp[:, 1]]
    margin = link_margin_km(r1, r2, max_range_km, grazing_height_km)
    rng = np.linalg.norm(r2 - r1, axis=-1)
    visible = np.isfinite(margin) & (margin > 0.0)
    return CrosslinkVisibility(pp, track.grid, visible, rng, margin)


@dataclass(frozen=True)
class CrosslinkWindow:
    """One period during which satellites ``sat_a`` and ``sat_b`` can hold a crosslink.

    ``start_s``/``end_s`` are seconds from the search start; ``truncated`` is True when the
    link was already up at the start of the window (or still up at its end).
    """

    sat_a: str
    sat_b: str
    index_a: int
    index_b: int
    start: datetime
    end: datetime
    start_s: float
    end_s: float
    min_range_km: float
    max_range_km: float
    truncated: bool = False

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def find_crosslink_windows(
    constellation: Constellation,
    start: datetime,
    duration_s: float,
    max_range_km: float,
    grazing_height_km: float = DEFAULT_GRAZING_HEIGHT_KM,
    step_s: float = 10.0,
    tol_s: float = 1e-3,
    track: Track | None = None,
    pairs: Sequence[tuple[int, int]] | None = None,
) -> list[CrosslinkWindow]:
    """Contact windows of every satellite pair (or ``pairs``) in [start, start + duration_s].

    The link state is sampled on the grid of ``track`` (or a ``step_s`` grid), every change of
    state is refined by bisection to ``tol_s``. Sorted by start, then pair.
    """
    if duration_s <= 0:
        raise ConfigError(f"duration must be > 0 s, got {duration_s}")
    if track is None:
        track = constellation.propagate(TimeGrid.regular(start, duration_s, step_s))
    pp = None if pairs is None else np.asarray(list(pairs), dtype=np.intp).reshape(-1, 2)
    vis = crosslink_visibility(track, max_range_km, grazing_height_km, pp)
    grid = track.grid
    t = grid.offsets_s
    up = vis.visible
    if up.shape[1] == 0:
        return []
    # transitions between samples k and k+1: rises (False->True) and sets (True->False)
    rise_p, rise_k = np.nonzero(~up[:, :-1] & up[:, 1:])
    set_p, set_k = np.nonzero(up[:, :-1] & ~up[:, 1:])

    def margin(pair: NDArray[np.intp], off: FloatArray) -> FloatArray:
        a, _ = constellation.teme_at(vis.pairs[pair, 0], grid, off)
        b, _ = constellation.teme_at(vis.pairs[pair, 1], grid, off)
        m = link_margin_km(a, b, max_range_km, grazing_height_km)
        return np.where(np.isfinite(m), m, -1.0)

    rise_t = bisect(margin, rise_p.astype(np.intp), t[rise_k], t[rise_k + 1], tol_s)
    set_t = bisect(margin, set_p.astype(np.intp), t[set_k], t[set_k + 1], tol_s)
    out: list[CrosslinkWindow] = []
    names = track.names
    for p in range(vis.pairs.shape[0]):
        starts = sorted(rise_t[rise_p == p].tolist())
        ends = sorted(set_t[set_p == p].tolist())
        first_open = bool(up[p, 0])
        last_open = bool(up[p, -1])
        if first_open:
            starts.insert(0, float(t[0]))
        if last_open:
            ends.append(float(t[-1]))
        a, b = int(vis.pairs[p, 0]), int(vis.pairs[p, 1])
        for w, (s0, s1) in enumerate(zip(starts, ends, strict=True)):
            inside = (t >= s0) & (t <= s1)
            ranges = vis.range_km[p, inside]
            out.append(
                CrosslinkWindow(
                    sat_a=names[a],
                    sat_b=names[b],
                    index_a=a,
                    index_b=b,
                    start=grid.datetime_at(s0),
                    end=grid.datetime_at(s1),
                    start_s=s0,
                    end_s=s1,
                    min_range_km=float(ranges.min()) if ranges.size else float("nan"),
                    max_range_km=float(ranges.max()) if ranges.size else float("nan"),
                    truncated=(first_open and w == 0) or (last_open and w == len(starts) - 1),
                )
            )
    out.sort(key=lambda c: (c.start_s, c.index_a, c.index_b))
    return out


def _check(max_range_km: float, grazing_height_km: float) -> None:
    if not max_range_km > 0:
        raise ConfigError(f"crosslink max_range_km must be > 0, got {max_range_km}")
    if not 0 <= grazing_height_km < 2000:
        raise ConfigError(
            f"crosslink grazing_height_km must be in [0, 2000) km, got {grazing_height_km} "
            "(80-100 km keeps the beam above the dense atmosphere)"
        )
