"""SQLite plumbing for the link's durable state: one WAL database per satellite (and one for
the ground), explicit transactions, a CRC-32 beside every stored packet.

Durability (docs/link.md): in WAL mode every committed transaction survives a crash of the
process (a Ray actor killed mid-contact); ``synchronous`` decides what survives a power loss
or OS crash: ``FULL``/``EXTRA`` fsync the WAL at every commit, ``NORMAL`` only at checkpoints
(the last commits may roll back), ``OFF`` never (the file may be corrupted). See
https://www.sqlite.org/pragma.html#pragma_synchronous and https://www.sqlite.org/wal.html.
"""

from __future__ import annotations

import enum
import logging
import sqlite3
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from edgeinfer.errors import ConfigError, LinkError
from edgeinfer.link.packets import PacketKey, PacketKind

__all__ = [
    "SYNCHRONOUS_LEVELS",
    "OnboardStore",
    "PacketState",
    "StoreConfig",
    "StoredPacket",
    "connect",
]

log = logging.getLogger(__name__)

SYNCHRONOUS_LEVELS: Final = ("OFF", "NORMAL", "FULL", "EXTRA")
SCHEMA_VERSION: Final = 1


class PacketState(enum.IntEnum):
    """Where a stored packet is in its life."""

    PENDING = 0  # waiting for a contact
    IN_FLIGHT = 1  # sent in the current contact, no acknowledgement yet
    ACKED = 2  # acknowledged by the ground: never sent again
    CORRUPT = 3  # its stored bytes fail their CRC-32: reported, never sent
    EXPIRED = 4  # sent max_attempts times without an acknowledgement


@dataclass(frozen=True)
class StoreConfig:
    """How a link database is opened.

    ``synchronous``: SQLite's synchronous level (``OFF``, ``NORMAL``, ``FULL``, ``EXTRA``).
    ``verify_crc``: check each stored packet's CRC-32 before sending it (the issue-6
    mitigation "CRC on stored alert records"); a failing record is marked CORRUPT and counted.
    ``busy_timeout_s``: how long a writer waits for another connection's lock.
    """

    synchronous: str = "NORMAL"
    verify_crc: bool = True
    busy_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        level = self.synchronous.upper()
        if level not in SYNCHRONOUS_LEVELS:
            raise ConfigError(
                f"synchronous {self.synchronous!r} is not a SQLite level; "
                f"use one of {', '.join(SYNCHRONOUS_LEVELS)}"
            )
        object.__setattr__(self, "synchronous", level)
        if self.busy_timeout_s < 0:
            raise ConfigError(f"busy_timeout_s {self.busy_timeout_s} must be >= 0")

    @classmethod
    def coerce(cls, value: StoreConfig | Mapping[str, Any] | None) -> StoreConfig:
        if value is None:
            return cls()
        if isinstance(value, StoreConfig):
            return value
        return cls(**value)


def connect(path: Path | None, config: StoreConfig) -> sqlite3.Connection:
    """Open ``path`` (None: in memory) in autocommit mode, WAL journal, the chosen sync level."""
    target = ":memory:" if path is None else str(path)
    try:
        con = sqlite3.connect(
            target,
            isolation_level=None,
            check_same_thread=False,
            timeout=config.busy_timeout_s,
        )
        if path is not None:
            mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise LinkError(f"{path}: SQLite refused WAL mode ({mode}); use a local disk")
        con.execute(f"PRAGMA synchronous={config.synchronous}")
        con.execute(f"PRAGMA busy_timeout={int(config.busy_timeout_s * 1000)}")
    except sqlite3.DatabaseError as exc:
        raise LinkError(
            f"{target}: cannot open the link database ({exc}); move the damaged file away"
        ) from exc
    return con


@contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; ``ROLLBACK`` if the body raises."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def add_stats(con: sqlite3.Connection, counts: Mapping[str, int]) -> None:
    """Add to named counters in the ``stats`` table (inside the caller's transaction)."""
    con.executemany(
        "INSERT INTO stats(name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
        [(k, int(v)) for k, v in counts.items() if v],
    )


def read_stats(con: sqlite3.Connection) -> dict[str, int]:
    return {str(k): int(v) for k, v in con.execute("SELECT name, value FROM stats")}


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS stats (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS seq_counters (apid INTEGER PRIMARY KEY, next_full_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS packets (
    id INTEGER PRIMARY KEY,
    apid INTEGER NOT NULL,
    full_seq INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    capture_s REAL NOT NULL,
    alert_id INTEGER NOT NULL,
    state INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_sent_s REAL,
    acked_s REAL,
    data BLOB NOT NULL,
    crc32 INTEGER NOT NULL,
    UNIQUE (apid, full_seq)
);
CREATE INDEX IF NOT EXISTS packets_queue ON packets (state, kind, priority DESC, capture_s, id);
CREATE INDEX IF NOT EXISTS packets_chip ON packets (alert_id, kind);
"""


@dataclass(frozen=True, slots=True)
class StoredPacket:
    """One packet as stored on board."""

    row_id: int
    key: PacketKey
    kind: PacketKind
    priority: int
    capture_time_s: float
    alert_id: int
    state: PacketState
    attempts: int
    data: bytes
    crc32: int

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def crc_ok(self) -> bool:
        return zlib.crc32(self.data) == self.crc32


_COLUMNS = "id, apid, full_seq, kind, priority, capture_s, alert_id, state, attempts, data, crc32"


def _row(r: tuple[Any, ...]) -> StoredPacket:
    return StoredPacket(
        row_id=r[0],
        key=PacketKey.from_full_seq(r[1], r[2]),
        kind=PacketKind(r[3]),
        priority=r[4],
        capture_time_s=r[5],
        alert_id=r[6],
        state=PacketState(r[7]),
        attempts=r[8],
        data=bytes(r[9]),
        crc32=r[10],
    )


class OnboardStore:
    """The SQLite file of one satellite: packets, per-APID counters, counters of events.

    Low level: every method runs inside :meth:`transaction` if the caller opened one, else in
    its own. :class:`edgeinfer.link.queue.OnboardQueue` holds the queue semantics.
    """

    def __init__(self, path: Path | None, sat_index: int, config: StoreConfig) -> None:
        self.path = path
        self.sat_index = sat_index
        self.config = config
        self._con = connect(path, config)
        self._depth = 0
        self._con.executescript(_SCHEMA)
        with self.transaction() as con:
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
            if not meta:
                con.executemany(
                    "INSERT INTO meta(key, value) VALUES (?, ?)",
                    [("schema_version", SCHEMA_VERSION), ("sat_index", sat_index)],
                )
            elif meta.get("sat_index") != sat_index:
                raise ConfigError(
                    f"{path}: this store belongs to satellite {meta.get('sat_index')}, "
                    f"not {sat_index}; open it with sat_index={meta.get('sat_index')}"
                )
            elif meta.get("schema_version") != SCHEMA_VERSION:
                raise LinkError(
                    f"{path}: schema version {meta.get('schema_version')} is not "
                    f"{SCHEMA_VERSION}; start a fresh store folder"
                )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic, durable unit of work; nested calls join the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield self._con
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            with transaction(self._con) as con:
                yield con
        finally:
            self._depth = 0

    def close(self) -> None:
        self._con.close()

    # -- counters ------------------------------------------------------------------------

    def reserve_seq(self, apid: int, n: int) -> int:
        """Reserve ``n`` consecutive unwrapped sequence numbers of ``apid``; the first."""
        with self.transaction() as con:
            row = con.execute(
                "SELECT next_full_seq FROM seq_counters WHERE apid = ?", (apid,)
            ).fetchone()
            first = int(row[0]) if row else 0
            con.execute(
                "INSERT INTO seq_counters(apid, next_full_seq) VALUES (?, ?) "
                "ON CONFLICT(apid) DO UPDATE SET next_full_seq = excluded.next_full_seq",
                (apid, first + n),
            )
            return first

    def next_alert_id(self) -> int:
        with self.transaction() as con:
            row = con.execute("SELECT value FROM meta WHERE key = 'next_alert_id'").fetchone()
            value = int(row[0]) if row else 0
            con.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('next_alert_id', ?)",
                (value + 1,),
            )
            return value

    def seq_counters(self) -> dict[int, int]:
        """Next unwrapped sequence number per APID."""
        return {int(a): int(n) for a, n in self._con.execute("SELECT * FROM seq_counters")}

    def add_stats(self, counts: Mapping[str, int]) -> None:
        with self.transaction() as con:
            add_stats(con, counts)

    def stats(self) -> dict[str, int]:
        return read_stats(self._con)

    # -- packets -------------------------------------------------------------------------

    def insert(
        self,
        kind: PacketKind,
        priority: int,
        capture_time_s: float,
        alert_id: int,
        packets: Iterable[tuple[PacketKey, bytes]],
    ) -> None:
        with self.transaction() as con:
            con.executemany(
                "INSERT INTO packets(apid, full_seq, kind, priority, capture_s, alert_id, "
                "data, crc32) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        k.apid,
                        k.full_seq,
                        int(kind),
                        priority,
                        capture_time_s,
                        alert_id,
                        d,
                        zlib.crc32(d),
                    )
                    for k, d in packets
                ],
            )

    def has_chip(self, alert_id: int) -> bool:
        row = self._con.execute(
            "SELECT 1 FROM packets WHERE alert_id = ? AND kind = ? LIMIT 1",
            (alert_id, int(PacketKind.CHIP)),
        ).fetchone()
        return row is not None

    def pending(self, kind: PacketKind, limit: int, offset: int = 0) -> list[StoredPacket]:
        """Pending packets of one kind in sending order: priority (high first), then capture
        time (old first), then order of enqueueing."""
        rows = self._con.execute(
            f"SELECT {_COLUMNS} FROM packets WHERE state = 0 AND kind = ? "
            "ORDER BY priority DESC, capture_s, id LIMIT ? OFFSET ?",
            (int(kind), limit, offset),
        ).fetchall()
        return [_row(r) for r in rows]

    def packets(self, state: PacketState | None = None) -> list[StoredPacket]:
        where, args = ("WHERE state = ?", (int(state),)) if state is not None else ("", ())
        rows = self._con.execute(f"SELECT {_COLUMNS} FROM packets {where} ORDER BY id", args)
        return [_row(r) for r in rows.fetchall()]

    def set_state(self, row_ids: Iterable[int], state: PacketState) -> None:
        with self.transaction() as con:
            con.executemany(
                "UPDATE packets SET state = ? WHERE id = ?", [(int(state), i) for i in row_ids]
            )

    def mark_sent(self, row_ids: Iterable[int], time_s: float) -> None:
        with self.transaction() as con:
            con.executemany(
                "UPDATE packets SET state = 1, attempts = attempts + 1, last_sent_s = ? "
                "WHERE id = ?",
                [(time_s, i) for i in row_ids],
            )

    def acknowledge(self, keys: Iterable[PacketKey], time_s: float) -> int:
        """Mark packets acknowledged; returns how many changed state (repeats count 0)."""
        with self.transaction() as con:
            before = con.total_changes
            con.executemany(
                "UPDATE packets SET state = 2, acked_s = ? "
                "WHERE apid = ? AND full_seq = ? AND state IN (0, 1, 4)",
                [(time_s, k.apid, k.full_seq) for k in keys],
            )
            return con.total_changes - before

    def requeue_in_flight(self) -> int:
        """Send every in-flight packet back to pending (end of contact, or after a crash)."""
        with self.transaction() as con:
            return con.execute("UPDATE packets SET state = 0 WHERE state = 1").rowcount

    def requeue(self, keys: Iterable[PacketKey]) -> int:
        """Send these in-flight packets back to pending (a relay that got no custody)."""
        with self.transaction() as con:
            before = con.total_changes
            con.executemany(
                "UPDATE packets SET state = 0 WHERE apid = ? AND full_seq = ? AND state = 1",
                [(k.apid, k.full_seq) for k in keys],
            )
            return con.total_changes - before

    def counts(self) -> dict[PacketState, tuple[int, int]]:
        """``{state: (packets, bytes)}``."""
        rows = self._con.execute(
            "SELECT state, count(*), coalesce(sum(length(data)), 0) FROM packets GROUP BY state"
        )
        out = {s: (0, 0) for s in PacketState}
        for s, n, b in rows:
            out[PacketState(s)] = (int(n), int(b))
        return out

    def flip_bit(self, row_id: int, bit: int) -> None:
        """Flip one bit of a stored packet, leaving its CRC-32 alone (fault injection: a
        radiation upset in the store)."""
        with self.transaction() as con:
            row = con.execute("SELECT data FROM packets WHERE id = ?", (row_id,)).fetchone()
            if row is None:
                raise LinkError(f"no stored packet with row id {row_id}")
            data = bytearray(row[0])
            if not 0 <= bit < 8 * len(data):
                raise ConfigError(f"bit {bit} is outside packet {row_id} (0..{8 * len(data) - 1})")
            data[bit // 8] ^= 0x80 >> (bit % 8)
            con.execute("UPDATE packets SET data = ? WHERE id = ?", (bytes(data), row_id))
