"""The orbit plan of a whole mission, computed once and vectorised before any satellite runs.

One propagation of every satellite on one time grid (sgp4 ``SatrecArray``) feeds all of it:
ground contacts (:func:`edgeinfer.orbit.find_contacts`), eclipses
(:func:`edgeinfer.orbit.find_eclipses`, DE421 Sun) and the imaging opportunities of every
scene footprint (:func:`edgeinfer.orbit.imaging_opportunities`). The plan then turns them into

* events: :class:`Capture` (a swath overflight that images a scene) and :class:`Pass` (a
  downlink contact with its byte capacity), each in seconds from the mission start;
* per-step duty rows on the budget grid (satellites x steps, fractions of each step):
  ``sunlit``, ``imaging`` and ``transmitting``, which the budgets step through.

A satellite has one downlink radio: where two stations see it at once it keeps the first until
LOS, then switches (the later pass is clipped). A pass during which the satellite captures a
scene is split at the capture's end, so alerts raised in view of a station can still go down
in the same pass.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from edgeinfer.budget import pass_capacity_bytes
from edgeinfer.node.events import Capture, Event, Pass
from edgeinfer.orbit import (
    Constellation,
    GroundStation,
    SunEphemeris,
    TimeGrid,
    find_contacts,
    find_eclipses,
    imaging_opportunities,
)
from edgeinfer.orbit.tle import tle_epoch_ages

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class SceneSite:
    """Where a scene lies and whether imaging it needs daylight."""

    key: str
    footprint_lonlat: tuple[tuple[float, float], ...]
    daylight_only: bool


@dataclass
class MissionPlan:
    """Everything orbital about a mission, precomputed (see the module docstring)."""

    start: dt.datetime
    duration_s: float
    step_s: float
    satellites: tuple[str, ...]
    captures: list[Capture]
    passes: list[Pass]
    eclipses: list[tuple[int, float, float]]
    sunlit: FloatArray
    imaging: FloatArray
    transmitting: FloatArray
    timings_s: dict[str, float] = field(default_factory=dict)
    # days from each satellite's TLE epoch to the window (0 inside; edgeinfer.orbit.tle)
    tle_epoch_age_days: dict[str, float] = field(default_factory=dict)

    @property
    def n_steps(self) -> int:
        return int(self.sunlit.shape[1])

    def events(self, sats: Sequence[int] | None = None) -> list[Event]:
        """Captures and passes (of ``sats``), in time order; a capture before a pass at the
        same instant."""
        keep = None if sats is None else set(sats)
        pool: list[Event] = [*self.captures, *self.passes]
        items = [e for e in pool if keep is None or e.sat in keep]
        items.sort(key=lambda e: (e.t_s, 0 if isinstance(e, Capture) else 1, e.sat))
        return items

    def step_edges_s(self) -> FloatArray:
        """Budget grid instants (n_steps + 1), seconds from the start; the last one is the end."""
        edges = np.arange(self.n_steps + 1, dtype=np.float64) * self.step_s
        edges[-1] = self.duration_s
        return edges


def plan_mission(
    constellation: Constellation,
    stations: Sequence[GroundStation],
    scenes: Sequence[SceneSite],
    start: dt.datetime,
    duration_s: float,
    step_s: float,
    swath_km: float,
    *,
    link_efficiency: float,
    min_sun_elevation_deg: float = 0.0,
    min_coverage: float = 1.0,
    search_step_s: float = 10.0,
    sun: SunEphemeris | None = None,
) -> MissionPlan:
    """Compute the plan (one propagation for contacts, eclipses and imaging)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    sun = sun or SunEphemeris()
    track = constellation.propagate(TimeGrid.regular(start, duration_s, search_step_s))
    names = constellation.names
    index = {n: i for i, n in enumerate(names)}
    t1 = time.perf_counter()
    timings["propagate"] = t1 - t0

    captures: list[Capture] = []
    for site in scenes:
        opps = imaging_opportunities(
            constellation,
            list(site.footprint_lonlat),
            start,
            duration_s,
            swath_km,
            track=track,
            sun=sun,
            min_sun_elevation_deg=min_sun_elevation_deg if site.daylight_only else None,
        )
        for o in opps:
            if o.covered_fraction + 1e-9 < min_coverage:
                continue
            captures.append(
                Capture(
                    t_s=_offset(start, o.capture_time),
                    sat=index[o.satellite],
                    scene=site.key,
                    start_s=_offset(start, o.start),
                    end_s=_offset(start, o.end),
                    sun_elevation_deg=o.sun_elevation_deg,
                    covered_fraction=o.covered_fraction,
                )
            )
    captures.sort()
    t2 = time.perf_counter()
    timings["imaging"] = t2 - t1

    contacts = find_contacts(constellation, stations, start, duration_s, track=track)
    rates = {s.name: s.downlink_rate_bps for s in stations}
    raw = [
        (
            index[c.satellite],
            _offset(start, c.aos),
            _offset(start, c.los),
            c.station,
            c.max_elevation_deg,
        )
        for c in contacts
    ]
    passes = _one_radio(raw, captures, rates, link_efficiency)
    t3 = time.perf_counter()
    timings["contacts"] = t3 - t2

    ecl = find_eclipses(constellation, sun, start, duration_s, track=track)
    eclipses = [(index[e.satellite], _offset(start, e.start), _offset(start, e.end)) for e in ecl]
    t4 = time.perf_counter()
    timings["eclipses"] = t4 - t3

    n = len(names)
    n_steps = max(1, int(np.ceil(duration_s / step_s - 1e-9)))
    edges = np.arange(n_steps + 1, dtype=np.float64) * step_s
    edges[-1] = duration_s
    dark = interval_fraction(n, [(s, a, b) for s, a, b in eclipses], edges)
    imaging = interval_fraction(n, [(c.sat, c.start_s, c.end_s) for c in captures], edges)
    tx = interval_fraction(n, [(p.sat, p.t_s, p.los_s) for p in passes], edges)
    timings["duty_rows"] = time.perf_counter() - t4
    logger.info(
        "plan: %d satellites, %d captures, %d passes, %d eclipses in %.2f s",
        n,
        len(captures),
        len(passes),
        len(eclipses),
        time.perf_counter() - t0,
    )
    return MissionPlan(
        start=start,
        duration_s=float(duration_s),
        step_s=float(step_s),
        satellites=tuple(names),
        captures=captures,
        passes=passes,
        eclipses=eclipses,
        sunlit=1.0 - dark,
        imaging=imaging,
        transmitting=tx,
        timings_s=timings,
        tle_epoch_age_days=tle_epoch_ages(
            constellation, start, start + dt.timedelta(seconds=duration_s)
        ),
    )


def _offset(start: dt.datetime, when: dt.datetime) -> float:
    return (when - start).total_seconds()


def _one_radio(
    raw: list[tuple[int, float, float, str, float]],
    captures: list[Capture],
    rates: dict[str, float],
    efficiency: float,
) -> list[Pass]:
    """Clip overlapping passes of a satellite (one radio), split them at captures."""
    by_sat: dict[int, list[tuple[int, float, float, str, float]]] = {}
    for item in sorted(raw, key=lambda r: (r[0], r[1], r[3])):
        by_sat.setdefault(item[0], []).append(item)
    cap_ends: dict[int, list[float]] = {}
    for c in captures:
        cap_ends.setdefault(c.sat, []).append(c.end_s)
    out: list[Pass] = []
    for sat, items in by_sat.items():
        busy_until = -np.inf
        for _, aos, los, station, elev in items:
            aos = max(aos, busy_until)
            if los - aos <= 0.0:
                continue
            busy_until = los
            cuts = [t for t in cap_ends.get(sat, []) if aos < t < los]
            bounds = [aos, *sorted(cuts), los]
            for a, b in itertools.pairwise(bounds):
                rate = rates[station]
                cap = int(pass_capacity_bytes(rate, b - a, efficiency))
                out.append(Pass(a, sat, station, b, rate, cap, elev))
    out.sort()
    return out


def interval_fraction(
    n_sats: int, intervals: Sequence[tuple[int, float, float]], edges: FloatArray
) -> FloatArray:
    """Share of each step ``[edges[k], edges[k+1])`` covered by each satellite's intervals,
    shape (n_sats, len(edges) - 1); intervals of one satellite must not overlap."""
    out = np.zeros((n_sats, edges.size - 1))
    if not intervals:
        return out
    width = np.diff(edges)
    arr = np.asarray(intervals, dtype=np.float64)
    for s in np.unique(arr[:, 0]).astype(int):
        mine = arr[arr[:, 0] == s]
        a, b = mine[:, 1:2], mine[:, 2:3]
        # covered time up to each edge, summed over the intervals (vectorised)
        cum = np.clip(edges[np.newaxis, :] - a, 0.0, np.maximum(b - a, 0.0)).sum(axis=0)
        out[s] = np.clip(np.diff(cum) / np.where(width > 0, width, 1.0), 0.0, 1.0)
    return out
