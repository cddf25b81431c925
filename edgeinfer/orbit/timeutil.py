"""UTC times for orbit work: ISO-8601 parsing, Julian dates for sgp4, and time grids.

Every orbit computation in edgeinfer runs on a :class:`TimeGrid`: one UTC start instant plus
float offsets in seconds. sgp4 takes a Julian date split in a whole part and a fraction
(``jd``, ``fr``) so that sub-millisecond resolution survives; the grid keeps the start's split
and adds ``offset_s / 86400`` to the fraction.

UT1 is taken equal to UTC (the sgp4 convention for TLE work, Vallado et al. 2006, AIAA
2006-6753, sec. on time). |UT1 - UTC| < 0.9 s by IERS definition, which turns the Earth by at
most 0.42 km at the equator; the pass-time tests bound the effect on contact times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray
from sgp4.api import jday

from edgeinfer.errors import ConfigError

SECONDS_PER_DAY = 86400.0

_ISO_EXAMPLE = "2024-10-05T12:00:00Z"


def parse_utc(text: str) -> datetime:
    """Parse an ISO-8601 time; a naive time is read as UTC. Returns an aware UTC datetime.

    Raises :class:`ConfigError` naming the text and an example of the expected form.
    """
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ConfigError(
            f"bad ISO-8601 time {text!r}; use e.g. {_ISO_EXAMPLE} (UTC) "
            "or 2024-10-05T14:00:00+02:00"
        ) from None
    return as_utc(value)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (naive values are taken to be UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_utc(value: datetime) -> str:
    """ISO-8601 UTC with millisecond resolution and a ``Z`` suffix."""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def julian_date(value: datetime) -> tuple[float, float]:
    """Split Julian date ``(jd, fr)`` of a UTC instant, as sgp4's ``jday`` returns it."""
    v = as_utc(value)
    seconds = v.second + v.microsecond * 1e-6
    jd, fr = jday(v.year, v.month, v.day, v.hour, v.minute, seconds)
    return float(jd), float(fr)


@dataclass(frozen=True)
class TimeGrid:
    """UTC instants as ``start`` plus ``offsets_s`` (float seconds, sorted ascending)."""

    start: datetime
    offsets_s: NDArray[np.float64]

    @classmethod
    def regular(cls, start: datetime, duration_s: float, step_s: float) -> TimeGrid:
        """Instants from ``start`` to ``start + duration_s`` inclusive every ``step_s``."""
        if step_s <= 0 or duration_s < 0:
            raise ConfigError(
                f"time grid needs step_s > 0 and duration_s >= 0, got step_s={step_s}, "
                f"duration_s={duration_s}"
            )
        n = int(np.floor(duration_s / step_s + 1e-9)) + 1
        offsets = np.arange(n, dtype=np.float64) * step_s
        if offsets[-1] < duration_s - 1e-9:
            offsets = np.append(offsets, duration_s)
        return cls(as_utc(start), offsets)

    @classmethod
    def from_offsets(
        cls, start: datetime, offsets_s: Sequence[float] | NDArray[np.float64]
    ) -> TimeGrid:
        """Grid of arbitrary offsets (seconds) from ``start``."""
        return cls(as_utc(start), np.asarray(offsets_s, dtype=np.float64))

    def __len__(self) -> int:
        return int(self.offsets_s.size)

    @property
    def duration_s(self) -> float:
        """Span from the first to the last instant, in seconds."""
        return float(self.offsets_s[-1] - self.offsets_s[0]) if len(self) else 0.0

    def jd_fr(
        self, offsets_s: NDArray[np.float64] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """sgp4 split Julian dates for ``offsets_s`` (defaults to the grid's own)."""
        off = self.offsets_s if offsets_s is None else np.asarray(offsets_s, dtype=np.float64)
        jd0, fr0 = julian_date(self.start)
        return np.full(off.shape, jd0), fr0 + off / SECONDS_PER_DAY

    def datetime_at(self, offset_s: float) -> datetime:
        """The UTC datetime ``offset_s`` seconds after the start (microsecond resolution)."""
        return self.start + timedelta(seconds=float(offset_s))

    def datetimes(self) -> list[datetime]:
        """All grid instants as UTC datetimes."""
        return [self.datetime_at(o) for o in self.offsets_s]

    def offset_of(self, value: datetime) -> float:
        """Seconds from the grid start to ``value``."""
        return (as_utc(value) - self.start).total_seconds()
