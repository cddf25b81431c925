"""The ground end of the link: check, de-duplicate, persist and acknowledge packets.

``GroundStation`` is a plain class (a Ray wrapper lives in ``edgeinfer.mission``). For each
batch of packets it: drops those failing their CRC-16 (counted, never acknowledged: the
satellite resends them), drops duplicates by packet key (APID, wrap epoch, 14-bit count),
acknowledging them again since the first acknowledgement may have been lost, stores new
alerts, reassembles image chips, commits, and only then returns the acknowledgements: an
acknowledged packet is always on disk. Several stations may share one database file (WAL,
one machine): de-duplication then spans them all.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeinfer.link.packets import (
    LinkPacket,
    MalformedPacketError,
    PacketCrcError,
    PacketKey,
    PacketKind,
    as_seconds,
    decode_packet,
)
from edgeinfer.link.store import StoreConfig, add_stats, connect, read_stats, transaction

__all__ = ["DeliveredAlert", "DeliveredChip", "GroundStation"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stats (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS received (
    apid INTEGER NOT NULL, epoch INTEGER NOT NULL, seq_count INTEGER NOT NULL,
    kind INTEGER NOT NULL, crc16 INTEGER NOT NULL, downlink_s REAL NOT NULL,
    PRIMARY KEY (apid, epoch, seq_count)
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    sat_index INTEGER NOT NULL, detector INTEGER NOT NULL, priority INTEGER NOT NULL,
    alert_id INTEGER NOT NULL, apid INTEGER NOT NULL, epoch INTEGER NOT NULL,
    seq_count INTEGER NOT NULL, capture_s REAL NOT NULL, downlink_s REAL NOT NULL,
    latency_s REAL NOT NULL, station TEXT NOT NULL, payload BLOB NOT NULL,
    UNIQUE (sat_index, alert_id)
);
CREATE TABLE IF NOT EXISTS chip_segments (
    sat_index INTEGER NOT NULL, alert_id INTEGER NOT NULL, segment_index INTEGER NOT NULL,
    segment_count INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (sat_index, alert_id, segment_index)
);
CREATE TABLE IF NOT EXISTS chips (
    id INTEGER PRIMARY KEY,
    sat_index INTEGER NOT NULL, detector INTEGER NOT NULL, priority INTEGER NOT NULL,
    alert_id INTEGER NOT NULL, segments INTEGER NOT NULL, capture_s REAL NOT NULL,
    downlink_s REAL NOT NULL, latency_s REAL NOT NULL, station TEXT NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (sat_index, alert_id)
);
"""


@dataclass(frozen=True, slots=True)
class DeliveredAlert:
    """An alert persisted on the ground. Times in seconds on the link's time scale (POSIX
    seconds when datetimes were used); capture time carries the packet's 2**-16 s quantum."""

    sat_index: int
    detector: int
    priority: int
    alert_id: int
    key: PacketKey
    capture_time_s: float
    downlink_time_s: float
    latency_s: float
    station: str
    payload: bytes

    @property
    def capture_time(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.capture_time_s, dt.UTC)

    @property
    def downlink_time(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.downlink_time_s, dt.UTC)


@dataclass(frozen=True, slots=True)
class DeliveredChip:
    """A reassembled image chip; ``downlink_time_s`` is when its last segment arrived."""

    sat_index: int
    detector: int
    priority: int
    alert_id: int
    segments: int
    capture_time_s: float
    downlink_time_s: float
    latency_s: float
    station: str
    data: bytes


_ALERT_COLS = (
    "sat_index, detector, priority, alert_id, apid, epoch, seq_count, capture_s, downlink_s, "
    "latency_s, station, payload"
)
_CHIP_COLS = (
    "sat_index, detector, priority, alert_id, segments, capture_s, downlink_s, latency_s, "
    "station, data"
)


def _alert(r: tuple[Any, ...]) -> DeliveredAlert:
    return DeliveredAlert(
        r[0], r[1], r[2], r[3], PacketKey(r[4], r[5], r[6]), r[7], r[8], r[9], r[10], bytes(r[11])
    )


def _chip(r: tuple[Any, ...]) -> DeliveredChip:
    return DeliveredChip(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], bytes(r[9]))


class GroundStation:
    """Receives packets, persists each alert exactly once, returns acknowledgements.

    ``path``: SQLite file (None: in memory, for tests). ``on_alert`` / ``on_chip``: called
    with each newly delivered alert / completed chip after it is committed (an exception
    there is logged and counted as ``hook_errors``; the database stays the record, read it
    back with :meth:`alerts`). ``name``: recorded as the station of each delivery unless
    :meth:`receive` names another.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        name: str = "ground",
        config: StoreConfig | Mapping[str, Any] | None = None,
        on_alert: Callable[[DeliveredAlert], None] | None = None,
        on_chip: Callable[[DeliveredChip], None] | None = None,
    ) -> None:
        self.path = None if path is None else Path(path)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.on_alert = on_alert
        self.on_chip = on_chip
        self._con = connect(self.path, StoreConfig.coerce(config))
        self._con.executescript(_SCHEMA)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> GroundStation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def receive(
        self,
        packets: Sequence[bytes],
        downlink_time: float | dt.datetime,
        station: str | None = None,
    ) -> list[PacketKey]:
        """Process one batch; returns the keys to acknowledge (new and duplicate packets that
        passed their CRC). Everything acknowledged is committed before this returns."""
        t = as_seconds(downlink_time, name="downlink time")
        where = self.name if station is None else station
        counts = dict.fromkeys(
            ("packets_received", "crc_failures", "malformed", "duplicates_discarded",
             "key_conflicts", "delivered", "chip_segments", "chips_delivered"),
            0,
        )  # fmt: skip
        acks: list[PacketKey] = []
        new_alerts: list[DeliveredAlert] = []
        new_chips: list[DeliveredChip] = []
        with transaction(self._con) as con:
            for raw in packets:
                counts["packets_received"] += 1
                try:
                    p = decode_packet(raw)
                except PacketCrcError:
                    counts["crc_failures"] += 1
                    continue
                except MalformedPacketError as exc:
                    counts["malformed"] += 1
                    log.error("malformed packet discarded: %s", exc)
                    continue
                crc = int.from_bytes(raw[-2:], "big")  # the packet's own CRC-16 field
                seen = con.execute(
                    "SELECT crc16 FROM received WHERE apid = ? AND epoch = ? AND seq_count = ?",
                    p.key,
                ).fetchone()
                if seen is not None:
                    if int(seen[0]) == crc:
                        counts["duplicates_discarded"] += 1
                        acks.append(p.key)
                    else:
                        counts["key_conflicts"] += 1
                        log.error(
                            "packet %s differs from the one stored under the same key: the "
                            "satellite's store was reset; start the ground database afresh "
                            "together with the satellite stores",
                            tuple(p.key),
                        )
                    continue
                con.execute(
                    "INSERT INTO received VALUES (?, ?, ?, ?, ?, ?)",
                    (*p.key, int(p.kind), crc, t),
                )
                if p.kind is PacketKind.ALERT:
                    alert = self._store_alert(con, p, t, where)
                    if alert is None:
                        counts["key_conflicts"] += 1
                        continue
                    new_alerts.append(alert)
                    counts["delivered"] += 1
                else:
                    counts["chip_segments"] += 1
                    chip = self._store_segment(con, p, t, where)
                    if chip is not None:
                        new_chips.append(chip)
                        counts["chips_delivered"] += 1
                acks.append(p.key)
            add_stats(con, counts)
        self._run_hooks(new_alerts, new_chips)
        return acks

    def _store_alert(
        self, con: sqlite3.Connection, p: LinkPacket, t: float, station: str
    ) -> DeliveredAlert | None:
        h = p.header
        alert = DeliveredAlert(
            h.sat_index,
            h.detector,
            h.priority,
            h.alert_id,
            p.key,
            h.capture_time_s,
            t,
            t - h.capture_time_s,
            station,
            p.payload,
        )
        cur = con.execute(
            f"INSERT OR IGNORE INTO alerts ({_ALERT_COLS}) VALUES ({', '.join('?' * 12)})",
            _alert_row(alert),
        )
        if cur.rowcount == 0:
            con.execute(
                "DELETE FROM received WHERE apid = ? AND epoch = ? AND seq_count = ?", p.key
            )
            log.error(
                "satellite %d alert %d arrived again under a new key %s; kept the first",
                h.sat_index,
                h.alert_id,
                tuple(p.key),
            )
            return None
        return alert

    def _store_segment(
        self, con: sqlite3.Connection, p: LinkPacket, t: float, station: str
    ) -> DeliveredChip | None:
        h = p.header
        con.execute(
            "INSERT OR REPLACE INTO chip_segments VALUES (?, ?, ?, ?, ?)",
            (h.sat_index, h.alert_id, p.segment_index, p.segment_count, p.payload),
        )
        rows = con.execute(
            "SELECT segment_index, segment_count, data FROM chip_segments "
            "WHERE sat_index = ? AND alert_id = ? ORDER BY segment_index",
            (h.sat_index, h.alert_id),
        ).fetchall()
        if len(rows) < p.segment_count:
            return None
        if [r[0] for r in rows] != list(range(p.segment_count)) or any(
            r[1] != p.segment_count for r in rows
        ):
            log.error(
                "satellite %d alert %d: chip segments disagree on their count; chip dropped",
                h.sat_index,
                h.alert_id,
            )
            return None
        chip = DeliveredChip(
            h.sat_index,
            h.detector,
            h.priority,
            h.alert_id,
            p.segment_count,
            h.capture_time_s,
            t,
            t - h.capture_time_s,
            station,
            b"".join(bytes(r[2]) for r in rows),
        )
        con.execute(
            f"INSERT OR IGNORE INTO chips ({_CHIP_COLS}) VALUES ({', '.join('?' * 10)})",
            _chip_row(chip),
        )
        con.execute(
            "DELETE FROM chip_segments WHERE sat_index = ? AND alert_id = ?",
            (h.sat_index, h.alert_id),
        )
        return chip

    def _run_hooks(self, alerts: list[DeliveredAlert], chips: list[DeliveredChip]) -> None:
        errors = 0
        calls: list[tuple[Callable[[Any], None], DeliveredAlert | DeliveredChip]] = []
        if self.on_alert is not None:
            calls += [(self.on_alert, a) for a in alerts]
        if self.on_chip is not None:
            calls += [(self.on_chip, c) for c in chips]
        for hook, item in calls:
            try:
                hook(item)
            except Exception:
                errors += 1
                log.exception("delivery hook failed for alert %d", item.alert_id)
        if errors:
            with transaction(self._con) as con:
                add_stats(con, {"hook_errors": errors})

    # -- reading back ----------------------------------------------------------------------

    def alerts(self, sat_index: int | None = None) -> list[DeliveredAlert]:
        """Delivered alerts in order of delivery (optionally of one satellite)."""
        where, args = ("WHERE sat_index = ?", (sat_index,)) if sat_index is not None else ("", ())
        rows = self._con.execute(f"SELECT {_ALERT_COLS} FROM alerts {where} ORDER BY id", args)
        return [_alert(r) for r in rows.fetchall()]

    def chips(self, sat_index: int | None = None) -> list[DeliveredChip]:
        """Reassembled image chips in order of completion."""
        where, args = ("WHERE sat_index = ?", (sat_index,)) if sat_index is not None else ("", ())
        rows = self._con.execute(f"SELECT {_CHIP_COLS} FROM chips {where} ORDER BY id", args)
        return [_chip(r) for r in rows.fetchall()]

    def counters(self) -> dict[str, int]:
        """Durable counters: packets_received, delivered, duplicates_discarded, crc_failures,
        malformed, key_conflicts, chip_segments, chips_delivered, hook_errors (0 if never)."""
        out = dict.fromkeys(
            ("packets_received", "delivered", "duplicates_discarded", "crc_failures",
             "malformed", "key_conflicts", "chip_segments", "chips_delivered", "hook_errors"),
            0,
        )  # fmt: skip
        out.update(read_stats(self._con))
        return out


def _alert_row(a: DeliveredAlert) -> tuple[Any, ...]:
    return (
        a.sat_index,
        a.detector,
        a.priority,
        a.alert_id,
        *a.key,
        a.capture_time_s,
        a.downlink_time_s,
        a.latency_s,
        a.station,
        a.payload,
    )


def _chip_row(c: DeliveredChip) -> tuple[Any, ...]:
    return (
        c.sat_index,
        c.detector,
        c.priority,
        c.alert_id,
        c.segments,
        c.capture_time_s,
        c.downlink_time_s,
        c.latency_s,
        c.station,
        c.data,
    )
