"""Downlink budget: per-pass capacity and a priority queue deciding what goes down first.

Capacity of a pass = rate x duration x efficiency. With ``elevation_dependent``, the rate
follows the received power: by the Friis transmission equation (Friis 1946, Proc. IRE 34)
received power falls as 1/d^2 with slant range d, and with adaptive coding and modulation
(DVB-S2 ACM, ETSI EN 302 307) the achievable rate at fixed Eb/N0 scales with C/N0, so
``rate(d) = max_rate * min(1, (d_ref / d)^2)``, ``d_ref`` being the range at which the link
closes at full rate (e.g. the zenith range). Atmospheric and pointing losses are ignored.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from edgeinfer.errors import ConfigError

_BITS_PER_BYTE = 8.0


def pass_capacity_bytes(rate_bps: float, duration_s: float, efficiency: float = 1.0) -> float:
    """Bytes a pass can carry: rate x duration x efficiency / 8."""
    if rate_bps < 0 or duration_s < 0 or not 0.0 <= efficiency <= 1.0:
        raise ConfigError("need rate_bps >= 0, duration_s >= 0 and efficiency in [0, 1]")
    return rate_bps * duration_s * efficiency / _BITS_PER_BYTE


@dataclass(frozen=True)
class LinkModel:
    """A downlink: peak rate, framing/protocol efficiency, optional range dependence.

    ``efficiency`` is the share of the channel rate that carries user bytes (framing, coding
    overhead, ARQ) [assumption: 0.85, set from the actual link].
    """

    max_rate_bps: float
    efficiency: float = 0.85
    elevation_dependent: bool = False
    reference_range_km: float = 1000.0

    def __post_init__(self) -> None:
        if (
            self.max_rate_bps < 0
            or not 0.0 <= self.efficiency <= 1.0
            or self.reference_range_km <= 0
        ):
            raise ConfigError(
                "need max_rate_bps >= 0, efficiency in [0, 1], reference_range_km > 0"
            )

    def rate_bps(self, slant_range_km: ArrayLike) -> np.ndarray:
        """Channel rate at the given slant range(s)."""
        d = np.asarray(slant_range_km, dtype=np.float64)
        if not self.elevation_dependent:
            return np.full(d.shape, self.max_rate_bps)
        return self.max_rate_bps * np.minimum(1.0, (self.reference_range_km / d) ** 2)

    def capacity_bytes(self, duration_s: float, slant_range_km: ArrayLike | None = None) -> float:
        """User bytes over a pass of ``duration_s``; with range samples (evenly spaced over the
        pass) the rate is their mean."""
        if slant_range_km is None or not self.elevation_dependent:
            rate = self.max_rate_bps
        else:
            rate = float(np.mean(self.rate_bps(slant_range_km)))
        return pass_capacity_bytes(rate, duration_s, self.efficiency)


@dataclass(order=True, frozen=True)
class QueuedItem:
    """A queued downlink item; ordering = higher priority first, then older, then FIFO."""

    sort_key: tuple[float, float, int] = field(repr=False)
    item_id: str = field(compare=False)
    size_bytes: int = field(compare=False)
    priority: int = field(compare=False)
    created_s: float = field(compare=False)


class DownlinkQueue:
    """Priority queue of items with byte sizes, drained within a byte capacity per pass."""

    def __init__(self) -> None:
        self._heap: list[QueuedItem] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def queued_bytes(self) -> int:
        return sum(i.size_bytes for i in self._heap)

    def push(
        self, item_id: str, size_bytes: int, priority: int = 0, created_s: float = 0.0
    ) -> None:
        """Queue an item; larger ``priority`` goes first, then smaller ``created_s`` (older)."""
        if size_bytes < 0:
            raise ConfigError(f"size_bytes must be >= 0, got {size_bytes}")
        key = (-float(priority), float(created_s), next(self._seq))
        heapq.heappush(
            self._heap, QueuedItem(key, item_id, int(size_bytes), int(priority), float(created_s))
        )

    def peek(self) -> QueuedItem | None:
        return self._heap[0] if self._heap else None

    def drain(self, capacity_bytes: float, fill: bool = True) -> list[QueuedItem]:
        """Send items in order while they fit in ``capacity_bytes``; returns them in send order.

        With ``fill`` an item too big for what is left stays queued (it keeps its place for the
        next pass) and smaller later items may use the remaining bytes; without it, the first
        item that does not fit ends the pass.
        """
        left = float(capacity_bytes)
        sent: list[QueuedItem] = []
        kept: list[QueuedItem] = []
        while self._heap:
            item = heapq.heappop(self._heap)
            if item.size_bytes <= left:
                sent.append(item)
                left -= item.size_bytes
            else:
                kept.append(item)
                if not fill:
                    break
            if left <= 0:
                break
        for item in kept:
            heapq.heappush(self._heap, item)
        return sent
