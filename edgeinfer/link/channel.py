"""A contact (pass) on the downlink: drain the onboard queue by priority into a byte
capacity, through a lossy, bit-flipping link, to the ground, and apply its acknowledgements.

The byte capacity of a pass (rate x duration x efficiency) comes from the link budget; this
module only spends it. Faults are seeded per (seed, satellite, contact time), so a mission
replays identically, including after a satellite restart.

Two ways to drive a contact:

* in one process: ``Downlink(faults).run_contact(queue, ground.receive, capacity, t)``;
* across actors: ``c = Downlink(faults).open_contact(queue, capacity, t)``, then repeat
  ``batch = c.next_batch()`` (None when done), ``acks = ground.receive(batch, t)``,
  ``c.acknowledge(acks)``; finally ``c.close()``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from edgeinfer.errors import ConfigError, LinkError
from edgeinfer.link.packets import PacketKey, as_seconds
from edgeinfer.link.queue import OnboardQueue

__all__ = ["Contact", "ContactReport", "Deliver", "Downlink", "LinkFaults"]

log = logging.getLogger(__name__)

#: Hands packets to the ground at a downlink time; returns the acknowledged keys.
Deliver = Callable[[list[bytes], float], Sequence[PacketKey | Sequence[int]]]


@dataclass(frozen=True)
class LinkFaults:
    """Seeded link faults, each drawn independently per packet.

    ``packet_loss_prob``: a packet never reaches the ground. ``packet_corrupt_prob``: a packet
    that arrives has 1..``max_bit_flips`` distinct random bits flipped (the ground's CRC-16
    catches every such error for packets up to 4,095 octets when ``max_bit_flips`` <= 3).
    ``ack_loss_prob``: an acknowledgement never reaches the satellite.
    """

    packet_loss_prob: float = 0.0
    packet_corrupt_prob: float = 0.0
    ack_loss_prob: float = 0.0
    max_bit_flips: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("packet_loss_prob", "packet_corrupt_prob", "ack_loss_prob"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ConfigError(f"faults.{name} {p} is not a probability; use 0..1")
        if self.max_bit_flips < 1:
            raise ConfigError(f"faults.max_bit_flips {self.max_bit_flips} must be >= 1")

    @classmethod
    def coerce(cls, value: LinkFaults | Mapping[str, Any] | None) -> LinkFaults:
        if value is None:
            return cls()
        if isinstance(value, LinkFaults):
            return value
        return cls(**value)


@dataclass
class ContactReport:
    """What one contact did (the same names accumulate durably in ``queue.stats()``)."""

    sat_index: int
    time_s: float
    capacity_bytes: int
    bytes_sent: int = 0
    packets_sent: int = 0
    packets_lost: int = 0
    packets_corrupted: int = 0
    retransmissions: int = 0
    acks_received: int = 0
    acks_lost: int = 0
    packets_acked: int = 0
    store_crc_failures: int = 0
    packets_expired: int = 0
    batches: int = 0
    capacity_exhausted: bool = False
    pending_after: int = 0
    sent_keys: list[PacketKey] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["sent_keys"] = [tuple(k) for k in self.sent_keys]
        return out


class Contact:
    """One pass in progress; see the module docstring for the protocol."""

    def __init__(
        self,
        queue: OnboardQueue,
        capacity_bytes: float,
        time: float | dt.datetime,
        faults: LinkFaults,
        *,
        batch_packets: int,
        send_chips: bool,
        retransmit_rounds: int,
    ) -> None:
        if not capacity_bytes >= 0:
            raise ConfigError(f"contact capacity {capacity_bytes} bytes must be >= 0")
        self.queue = queue
        self.faults = faults
        self.time_s = as_seconds(time, name="contact time")
        self._batch_packets = batch_packets
        self._send_chips = send_chips
        self._rounds_left = retransmit_rounds
        self._rng = random.Random(
            f"edgeinfer.link:{faults.seed}:{queue.sat_index}:{round(self.time_s * 1e6)}"
        )
        self.report = ContactReport(queue.sat_index, self.time_s, math.floor(capacity_bytes))
        self._remaining = self.report.capacity_bytes
        self._done = False
        self._closed = False
        queue.requeue_in_flight()  # leftovers of a contact cut short by a crash

    @property
    def remaining_bytes(self) -> int:
        return self._remaining

    def next_batch(self) -> list[bytes] | None:
        """Send the next batch; returns the packets as they reach the ground (lost ones
        missing, corrupted ones with flipped bits), possibly empty, or None when the contact
        has nothing more to send or no capacity left."""
        if self._closed:
            raise LinkError("contact already closed; open a new one with Downlink.open_contact")
        if self._done:
            return None
        with self.queue.store.transaction():
            take = self.queue.take(
                self._remaining, self._batch_packets, self.time_s, include_chips=self._send_chips
            )
            corrupt, expired = take.corrupt, take.expired
            if not take.packets and not take.blocked and self._rounds_left > 0:
                self._rounds_left -= 1
                if self.queue.requeue_in_flight():
                    take = self.queue.take(
                        self._remaining,
                        self._batch_packets,
                        self.time_s,
                        include_chips=self._send_chips,
                    )
                    corrupt, expired = corrupt + take.corrupt, expired + take.expired
            counts = {
                "packets_sent": 0,
                "bytes_sent": 0,
                "retransmissions": 0,
                "packets_lost": 0,
                "packets_corrupted": 0,
            }
            arrived = []
            for p in take.packets:
                counts["packets_sent"] += 1
                counts["bytes_sent"] += p.size
                counts["retransmissions"] += p.attempts > 0
                self.report.sent_keys.append(p.key)
                if self._rng.random() < self.faults.packet_loss_prob:
                    counts["packets_lost"] += 1
                elif self._rng.random() < self.faults.packet_corrupt_prob:
                    counts["packets_corrupted"] += 1
                    arrived.append(self._flip_bits(p.data))
                else:
                    arrived.append(p.data)
            self.queue.add_stats(counts)
        counts |= {"store_crc_failures": corrupt, "packets_expired": expired}
        for name, value in counts.items():  # take() has already counted the last two
            setattr(self.report, name, getattr(self.report, name) + value)
        self._remaining -= counts["bytes_sent"]
        if take.blocked:
            self.report.capacity_exhausted = True
        if not take.packets:
            self._done = True
            return None
        self.report.batches += 1
        return arrived

    def _flip_bits(self, data: bytes) -> bytes:
        out = bytearray(data)
        n = self._rng.randint(1, min(self.faults.max_bit_flips, 8 * len(out)))
        for bit in self._rng.sample(range(8 * len(out)), n):
            out[bit // 8] ^= 0x80 >> (bit % 8)
        return bytes(out)

    def acknowledge(self, acks: Iterable[PacketKey | Sequence[int]]) -> int:
        """Apply the ground's acknowledgements of the last batch (some may be lost on the
        uplink); returns how many packets became acknowledged."""
        received = lost = 0
        kept: list[PacketKey] = []
        for ack in acks:
            if self._rng.random() < self.faults.ack_loss_prob:
                lost += 1
            else:
                received += 1
                kept.append(PacketKey(*ack))
        with self.queue.store.transaction():
            acked = self.queue.acknowledge(kept, self.time_s)
            self.queue.add_stats(
                {"acks_received": received, "acks_lost": lost, "packets_acked": acked}
            )
        self.report.acks_received += received
        self.report.acks_lost += lost
        self.report.packets_acked += acked
        return acked

    def close(self) -> ContactReport:
        """End the pass: unacknowledged packets go back to pending (ARQ)."""
        if not self._closed:
            self._closed = True
            with self.queue.store.transaction():
                self.queue.requeue_in_flight()
                self.queue.add_stats({"contacts": 1})
            self.report.pending_after = self.queue.status().pending_packets
            r = self.report
            log.debug(
                "satellite %d contact at %.1f s: %d/%d bytes, %d sent, %d lost, %d corrupted, "
                "%d acked, %d pending",
                r.sat_index,
                r.time_s,
                r.bytes_sent,
                r.capacity_bytes,
                r.packets_sent,
                r.packets_lost,
                r.packets_corrupted,
                r.packets_acked,
                r.pending_after,
            )
        return self.report

    def run(self, deliver: Deliver) -> ContactReport:
        """Drive the whole contact through ``deliver`` (e.g. ``GroundStation.receive``)."""
        while (batch := self.next_batch()) is not None:
            self.acknowledge(deliver(batch, self.time_s) if batch else [])
        return self.close()


class Downlink:
    """The downlink of a mission: fault model and how contacts spend their capacity.

    ``batch_packets``: packets per batch (one commit for sending, one for the acks: the
    larger, the faster; a crash loses at most one batch of acknowledgements, whose packets are
    then resent and dropped as duplicates on the ground). ``send_chips``: use spare capacity
    for image chips. ``retransmit_rounds``: when the queue runs dry, resend the pass's
    unacknowledged packets, up to this many times, while capacity remains (default 0: they
    wait for the next contact).
    """

    def __init__(
        self,
        faults: LinkFaults | Mapping[str, Any] | None = None,
        *,
        batch_packets: int = 256,
        send_chips: bool = True,
        retransmit_rounds: int = 0,
    ) -> None:
        if batch_packets < 1:
            raise ConfigError(f"batch_packets {batch_packets} must be >= 1")
        self.faults = LinkFaults.coerce(faults)
        self.batch_packets = batch_packets
        self.send_chips = send_chips
        if retransmit_rounds < 0:
            raise ConfigError(f"retransmit_rounds {retransmit_rounds} must be >= 0")
        self.retransmit_rounds = retransmit_rounds

    def open_contact(
        self, queue: OnboardQueue, capacity_bytes: float, time: float | dt.datetime
    ) -> Contact:
        return Contact(
            queue,
            capacity_bytes,
            time,
            self.faults,
            batch_packets=self.batch_packets,
            send_chips=self.send_chips,
            retransmit_rounds=self.retransmit_rounds,
        )

    def run_contact(
        self,
        queue: OnboardQueue,
        deliver: Deliver,
        capacity_bytes: float,
        time: float | dt.datetime,
    ) -> ContactReport:
        """One whole pass of ``capacity_bytes`` at ``time`` through ``deliver``."""
        return self.open_contact(queue, capacity_bytes, time).run(deliver)
