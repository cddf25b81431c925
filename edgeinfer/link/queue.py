"""The onboard priority queue of one satellite, durable in its own SQLite file.

A satellite enqueues each alert record as it is raised (the packet, its sequence number and
the APID's counter are committed together, so a crash can neither lose the alert nor reuse
the number). In a contact the channel takes packets in priority order, marks them in flight,
and applies the ground's acknowledgements; whatever is not acknowledged goes back to pending
for a later contact (ARQ). An acknowledged packet is never sent again. On reopening the file
after a crash, in-flight packets return to pending.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from edgeinfer.errors import ConfigError
from edgeinfer.link.packets import (
    CHIP_OVERHEAD_BYTES,
    MAX_PACKET_BYTES,
    AlertHeader,
    PacketKey,
    PacketKind,
    as_seconds,
    detector_code,
    encode_alert,
    encode_chip,
)
from edgeinfer.link.store import OnboardStore, PacketState, StoreConfig, StoredPacket

__all__ = [
    "STAT_NAMES",
    "AlertItem",
    "OnboardQueue",
    "QueueConfig",
    "QueueStatus",
    "TakeResult",
    "store_path",
]

log = logging.getLogger(__name__)


#: Counters kept durably in each satellite's store (all start at 0).
STAT_NAMES: tuple[str, ...] = (
    "alerts_enqueued",
    "chips_enqueued",
    "chip_packets_enqueued",
    "contacts",
    "packets_sent",
    "bytes_sent",
    "retransmissions",
    "packets_lost",
    "packets_corrupted",
    "acks_received",
    "acks_lost",
    "packets_acked",
    "store_crc_failures",
    "packets_expired",
)


def store_path(folder: str | Path, sat_index: int) -> Path:
    """The database file of a satellite in ``folder``: ``sat{index:03d}.link.sqlite``."""
    return Path(folder) / f"sat{sat_index:03d}.link.sqlite"


@dataclass(frozen=True)
class QueueConfig:
    """Onboard queue options.

    ``max_packet_bytes``: largest image-chip packet; larger chips are segmented. The default
    1,024 keeps every packet under 4,095 octets, the length up to which CRC-16/CCITT detects
    every error of 1 to 3 bits (Koopman, "Best CRC polynomials", poly 0x1021: HD=4 to 32,751
    data bits). ``max_attempts``: give up on a packet after this many unacknowledged
    transmissions (None: never give up, the default; nothing is lost). ``store``: see
    :class:`~edgeinfer.link.store.StoreConfig`. ``requeue_on_open``: in-flight packets found
    when the queue is opened go back to pending (the leftovers of a contact a crash cut short);
    False where the database is a checkpoint image taken between contacts, whose in-flight
    packets await a relay's custody acknowledgement (:mod:`edgeinfer.relay.transfer`).
    """

    max_packet_bytes: int = 1024
    max_attempts: int | None = None
    store: StoreConfig = field(default_factory=StoreConfig)
    requeue_on_open: bool = True

    def __post_init__(self) -> None:
        if not CHIP_OVERHEAD_BYTES < self.max_packet_bytes <= MAX_PACKET_BYTES:
            raise ConfigError(
                f"max_packet_bytes {self.max_packet_bytes} is out of range; use "
                f"{CHIP_OVERHEAD_BYTES + 1}..{MAX_PACKET_BYTES}"
            )
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ConfigError(f"max_attempts {self.max_attempts} must be >= 1 or None")
        object.__setattr__(self, "store", StoreConfig.coerce(self.store))

    @classmethod
    def coerce(cls, value: QueueConfig | Mapping[str, Any] | None) -> QueueConfig:
        if value is None:
            return cls()
        if isinstance(value, QueueConfig):
            return value
        return cls(**value)


class AlertItem(NamedTuple):
    """One alert to enqueue: detector name or code, priority 0..255 (high first), capture time
    (seconds or aware datetime), and the alert record bytes."""

    detector: int | str
    priority: int
    capture_time: float | dt.datetime
    record: bytes


@dataclass(frozen=True)
class QueueStatus:
    """Packets and bytes in each state."""

    pending_packets: int
    pending_bytes: int
    in_flight_packets: int
    in_flight_bytes: int
    acked_packets: int
    corrupt_packets: int
    expired_packets: int

    @property
    def empty(self) -> bool:
        """Nothing left to send (pending or in flight)."""
        return self.pending_packets == 0 and self.in_flight_packets == 0


@dataclass(frozen=True)
class TakeResult:
    """Packets taken for sending, in order, and whether capacity stopped the taking."""

    packets: list[StoredPacket]
    blocked: bool
    corrupt: int
    expired: int


class OnboardQueue:
    """Durable priority queue of one satellite's packets (``store_path(folder, sat_index)``).

    Not thread-safe: one caller at a time (a Ray actor runs one method at a time).
    """

    def __init__(
        self,
        folder: str | Path | None,
        sat_index: int,
        config: QueueConfig | Mapping[str, Any] | None = None,
    ) -> None:
        self.config = QueueConfig.coerce(config)
        self.sat_index = sat_index
        AlertHeader(sat_index, 0, 0, 0.0, 0)  # validates the index
        path = None
        if folder is not None:
            Path(folder).mkdir(parents=True, exist_ok=True)
            path = store_path(folder, sat_index)
        self.path = path
        self._store = OnboardStore(path, sat_index, self.config.store)
        back = self._store.requeue_in_flight() if self.config.requeue_on_open else 0
        if back:
            log.info("satellite %d: %d in-flight packets back to pending", sat_index, back)

    def __enter__(self) -> OnboardQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._store.close()

    @property
    def store(self) -> OnboardStore:
        return self._store

    # -- enqueueing ------------------------------------------------------------------------

    def enqueue_alert(
        self,
        detector: int | str,
        priority: int,
        capture_time: float | dt.datetime,
        record: bytes,
    ) -> AlertHeader:
        """Store one alert packet durably; returns its header (with the assigned alert id)."""
        return self.enqueue_alerts([AlertItem(detector, priority, capture_time, record)])[0]

    def enqueue_alerts(self, items: Iterable[AlertItem | Sequence[Any]]) -> list[AlertHeader]:
        """Store several alerts in one transaction (all or none)."""
        headers = []
        with self._store.transaction():
            for item in items:
                det, prio, t, record = AlertItem(*item)
                alert_id = self._store.next_alert_id()
                header = AlertHeader(
                    self.sat_index,
                    detector_code(det),
                    int(prio),
                    as_seconds(t, name="capture_time"),
                    alert_id,
                )
                seq = self._store.reserve_seq(header.apid, 1)
                packet = encode_alert(header, bytes(record), seq)
                key = PacketKey.from_full_seq(header.apid, seq)
                self._store.insert(
                    PacketKind.ALERT,
                    header.priority,
                    header.capture_time_s,
                    alert_id,
                    [(key, packet)],
                )
                headers.append(header)
            self._store.add_stats({"alerts_enqueued": len(headers)})
        return headers

    def enqueue_chip(self, alert: AlertHeader, chip: bytes) -> list[PacketKey]:
        """Store an image chip of an alert (segmented to ``max_packet_bytes``). Chips are sent
        only once every pending alert packet of the contact has gone; one chip per alert."""
        if alert.sat_index != self.sat_index:
            raise ConfigError(
                f"alert {alert.alert_id} is from satellite {alert.sat_index}; this queue is "
                f"satellite {self.sat_index}'s"
            )
        with self._store.transaction():
            if self._store.has_chip(alert.alert_id):
                raise ConfigError(
                    f"satellite {self.sat_index} alert {alert.alert_id} already has an image "
                    "chip queued; send one chip per alert"
                )
            n = max(1, -(-len(chip) // (self.config.max_packet_bytes - CHIP_OVERHEAD_BYTES)))
            first = self._store.reserve_seq(alert.apid, n)
            packets = encode_chip(alert, bytes(chip), first, self.config.max_packet_bytes)
            keys = [PacketKey.from_full_seq(alert.apid, first + i) for i in range(n)]
            self._store.insert(
                PacketKind.CHIP,
                alert.priority,
                alert.capture_time_s,
                alert.alert_id,
                zip(keys, packets, strict=True),
            )
            self._store.add_stats({"chips_enqueued": 1, "chip_packets_enqueued": n})
        return keys

    # -- contacts --------------------------------------------------------------------------

    def take(
        self,
        max_bytes: int,
        max_packets: int,
        time: float | dt.datetime,
        *,
        include_chips: bool = True,
    ) -> TakeResult:
        """Take pending packets in sending order (alerts by priority then age, then chips)
        while they fit in ``max_bytes``, at most ``max_packets``; mark them in flight.

        Taking stops at the first packet that does not fit (strict priority: a smaller,
        less urgent packet never overtakes). Packets whose stored CRC-32 fails are marked
        CORRUPT and skipped; packets past ``max_attempts`` are marked EXPIRED and skipped.
        """
        time_s = as_seconds(time, name="contact time")
        taken: list[StoredPacket] = []
        corrupt: list[int] = []
        expired: list[int] = []
        room = max_bytes
        blocked = False
        kinds = [PacketKind.ALERT, PacketKind.CHIP] if include_chips else [PacketKind.ALERT]
        with self._store.transaction():
            for kind in kinds:
                offset = 0
                while len(taken) < max_packets and not blocked:
                    rows = self._store.pending(kind, max_packets - len(taken), offset)
                    if not rows:
                        break
                    offset += len(rows)
                    for p in rows:
                        if self.config.store.verify_crc and not p.crc_ok:
                            log.error(
                                "satellite %d: stored packet %s fails its CRC-32; not sent",
                                self.sat_index,
                                tuple(p.key),
                            )
                            corrupt.append(p.row_id)
                        elif (
                            self.config.max_attempts is not None
                            and p.attempts >= self.config.max_attempts
                        ):
                            expired.append(p.row_id)
                        elif p.size > room:
                            blocked = True
                            break
                        else:
                            taken.append(p)
                            room -= p.size
                if blocked or len(taken) >= max_packets:
                    break
            self._store.set_state(corrupt, PacketState.CORRUPT)
            self._store.set_state(expired, PacketState.EXPIRED)
            self._store.mark_sent([p.row_id for p in taken], time_s)
            self._store.add_stats(
                {"store_crc_failures": len(corrupt), "packets_expired": len(expired)}
            )
        return TakeResult(taken, blocked, len(corrupt), len(expired))

    def acknowledge(
        self, keys: Iterable[PacketKey | Sequence[int]], time: float | dt.datetime
    ) -> int:
        """Apply acknowledgements (durably); returns how many packets became acknowledged."""
        return self._store.acknowledge(
            [PacketKey(*k) for k in keys], as_seconds(time, name="ack time")
        )

    def requeue_in_flight(self) -> int:
        """Unacknowledged in-flight packets back to pending (ARQ: resent in a later contact)."""
        return self._store.requeue_in_flight()

    def add_stats(self, counts: Mapping[str, int]) -> None:
        self._store.add_stats(counts)

    # -- inspection ------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Durable counters (survive restarts): alerts_enqueued, packets_sent, bytes_sent,
        retransmissions, packets_lost, packets_corrupted, acks_lost, packets_acked,
        store_crc_failures, packets_expired, contacts, ..."""
        return dict.fromkeys(STAT_NAMES, 0) | self._store.stats()

    def status(self) -> QueueStatus:
        c = self._store.counts()
        return QueueStatus(
            pending_packets=c[PacketState.PENDING][0],
            pending_bytes=c[PacketState.PENDING][1],
            in_flight_packets=c[PacketState.IN_FLIGHT][0],
            in_flight_bytes=c[PacketState.IN_FLIGHT][1],
            acked_packets=c[PacketState.ACKED][0],
            corrupt_packets=c[PacketState.CORRUPT][0],
            expired_packets=c[PacketState.EXPIRED][0],
        )

    def packets(self, state: PacketState | None = None) -> list[StoredPacket]:
        """Stored packets (optionally of one state), in order of enqueueing."""
        return self._store.packets(state)

    def seq_counters(self) -> dict[int, int]:
        """Next unwrapped sequence number per APID."""
        return self._store.seq_counters()

    def inject_bit_flips(self, rng: random.Random, n_bits: int) -> list[tuple[int, int]]:
        """Flip ``n_bits`` random bits in pending stored packets (fault injection: radiation
        upsets in the store; the rate model lives with the caller). Returns (row id, bit)."""
        rows = self._store.packets(PacketState.PENDING)
        total = sum(8 * p.size for p in rows)
        flips: list[tuple[int, int]] = []
        if not rows or n_bits <= 0:
            return flips
        with self._store.transaction():
            for _ in range(n_bits):
                bit = rng.randrange(total)
                for p in rows:
                    if bit < 8 * p.size:
                        self._store.flip_bit(p.row_id, bit)
                        flips.append((p.row_id, bit))
                        break
                    bit -= 8 * p.size
        return flips
