"""``GroundStationNode``: the ground segment as a plain class around
:class:`edgeinfer.link.GroundStation` (``edgeinfer.mission.actors`` wraps it as a Ray actor).

One node serves every station of a mission with ONE database, so de-duplication by packet key
spans all stations (a packet resent to another station after a lost acknowledgement is still
stored once), as a mission control centre behind its antennas would. It checks CRCs,
de-duplicates, persists alerts with capture time, downlink time and latency, and acknowledges.
The driver reads everything back through :meth:`export` and :meth:`snapshot`: outputs are
never left only on a worker's disk.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgeinfer.link import DeliveredAlert, DeliveredChip, GroundStation, PacketKey


class GroundStationNode:
    """Receives packets for the named ``stations``; ``path`` is its SQLite file (None: memory)."""

    def __init__(self, path: str | Path | None, stations: Sequence[str] = ("ground",)) -> None:
        self.path = None if path is None else Path(path)
        self.stations = tuple(stations)
        self._ground = GroundStation(self.path, name=self.stations[0] if stations else "ground")
        self.batches = 0

    def receive(
        self, packets: Sequence[bytes], t_s: float, station: str
    ) -> list[tuple[int, int, int]]:
        """Check, de-duplicate, persist; returns the keys to acknowledge (plain tuples)."""
        self.batches += 1
        keys: list[PacketKey] = self._ground.receive(list(packets), t_s, station=station)
        return [tuple(k) for k in keys]  # type: ignore[misc]

    def alerts(self) -> list[DeliveredAlert]:
        return self._ground.alerts()

    def chips(self) -> list[DeliveredChip]:
        return self._ground.chips()

    def counters(self) -> dict[str, int]:
        return self._ground.counters()

    def export(self) -> dict[str, Any]:
        """Delivered alerts and chips, and the counters, for the driver."""
        return {"alerts": self.alerts(), "chips": self.chips(), "counters": self.counters()}

    def snapshot(self) -> bytes:
        """The database as one SQLite file image (b"" when kept in memory)."""
        if self.path is None:
            return b""
        con = sqlite3.connect(self.path)
        try:
            return con.serialize()
        finally:
            con.close()

    def close(self) -> None:
        self._ground.close()
