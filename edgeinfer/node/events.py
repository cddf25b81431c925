"""Mission events in simulated time: captures, passes and model uplinks (seconds from the
mission start).

Computed by :mod:`edgeinfer.mission.plan`, consumed by the satellite nodes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Capture:
    """Satellite ``sat`` images scene ``scene`` at ``t_s`` (swath over it from ``start_s``
    to ``end_s``); seconds from the mission start."""

    t_s: float
    sat: int
    scene: str
    start_s: float
    end_s: float
    sun_elevation_deg: float | None = None
    covered_fraction: float = 1.0

    kind = "capture"


@dataclass(frozen=True, order=True)
class Pass:
    """A downlink contact of satellite ``sat`` with ``station`` from ``t_s`` (AOS, or the
    switch-over time) to ``los_s``, carrying at most ``capacity_bytes``."""

    t_s: float
    sat: int
    station: str
    los_s: float
    rate_bps: float
    capacity_bytes: int
    max_elevation_deg: float = 0.0

    kind = "pass"

    @property
    def duration_s(self) -> float:
        return self.los_s - self.t_s


@dataclass(frozen=True, order=True)
class Uplink:
    """Model update number ``update`` of the mission reaches satellite ``sat`` at ``t_s``
    (the start of its first contact at or after the scheduled time)."""

    t_s: float
    sat: int
    update: int
    station: str = ""

    kind = "uplink"


Event = Capture | Pass | Uplink
