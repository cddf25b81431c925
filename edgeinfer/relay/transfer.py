"""What a satellite group does at a relay tick: custody transfer of alert packets between
onboard queues, and the crosslink energy of both ends.

A relay is a two-phase custody transfer (the bundle protocol's custody idea, RFC 9171 and its
predecessor RFC 5050): at tick t the sender TAKES its pending alert packets (they go in flight
in its durable queue, exactly as for a ground contact); the driver carries the bytes to the
receiver's process, which checks each packet's CRC-16, stores it durably in its own queue
under the packet's ORIGIN key (APID, wrap epoch, sequence count: the bytes are not touched)
and returns the keys it holds; at the next step the sender acknowledges those keys. A packet
is thus always held by at least one durable queue, and the ground still de-duplicates end to
end (docs/link.md): should a sender meet a station before the custody acknowledgement arrives,
its in-flight packets go back to pending and may reach the ground twice, once through each
satellite, and the ground drops the second copy. Should the receiver's group be lost before
its store is reported, the driver hands the packets back (``RelayIn.returns``): the sender
puts them back to pending, for its own pass or a later relay (:mod:`edgeinfer.relay.drive`).

A group killed and restarted (its checkpoint replayed, edgeinfer.node.group) ends a step as it
would have without the kill: the state after the step's take is checkpointed, so packets in
flight stay in flight for their custody acknowledgement (not taken and relayed again), and what
a step applied is kept in the checkpoint (:class:`Applied`), so a step that Ray retries on the
restarted group is answered from it, not applied twice (crosslink energy charged twice).

Only alert packets are relayed; image chips stay with their satellite (they are sent with
spare pass capacity only, docs/missions.md).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from edgeinfer.budget.power import advance_stored
from edgeinfer.errors import LinkError
from edgeinfer.link import OnboardQueue, PacketKey, PacketKind, decode_packet

logger = logging.getLogger(__name__)

#: Most packets one satellite hands over at one tick (a bound on one SQLite transaction).
MAX_PACKETS_PER_TICK = 100_000


@dataclass
class RelayIn:
    """What the driver hands a group at the start of a step, at simulated time ``t_s``:
    custody acknowledgements for its senders, packets for its receivers, crosslink energy,
    and ``returns``: packets its senders handed over that no receiver took into custody (the
    receiver's group was lost, or a satellite on the path was), back to pending."""

    t_s: float = 0.0  # also names the step: a group applies each once (:class:`Applied`)
    acks: dict[int, list[tuple[int, int, int]]] = field(default_factory=dict)
    returns: dict[int, list[tuple[int, int, int]]] = field(default_factory=dict)
    deliveries: dict[int, list[bytes]] = field(default_factory=dict)
    energy_wh: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Applied:
    """What a group made of the :class:`RelayIn` of time ``t_s``: the keys each receiver holds
    (its custody report, for the senders' acks) and how many packets failed their CRC."""

    t_s: float
    stored: dict[int, list[tuple[int, int, int]]]
    crc_failures: int


class _Node(Protocol):
    queue: OnboardQueue
    slot: int

    def posix(self, t_s: float) -> float: ...

    def backlog_s(self) -> float: ...


class _Group(Protocol):
    relay_applied: Applied | None

    @property
    def nodes(self) -> Mapping[int, Any]: ...

    @property
    def fleet(self) -> Any: ...

    @property
    def windows(self) -> Sequence[tuple[float, Sequence[Any]]]: ...

    def run(self, window: int) -> dict[str, Any]: ...

    def checkpoint(self) -> None: ...


def store_relayed(queue: OnboardQueue, packets: Sequence[bytes]) -> tuple[list[PacketKey], int]:
    """Store packets received over a crosslink under their origin keys; returns the keys now
    held (to acknowledge to the sender, duplicates included) and how many failed their CRC
    (not acknowledged: the sender keeps them and tries again)."""
    held: list[PacketKey] = []
    bad = 0
    # A constraint error aborts only its statement (SQLite's default ABORT resolution), so one
    # duplicate leaves the rest of the transaction alone.
    with queue.store.transaction():
        for raw in packets:
            try:
                pkt = decode_packet(raw)
            except LinkError as exc:
                bad += 1
                logger.warning("satellite %d: relayed packet dropped: %s", queue.sat_index, exc)
                continue
            if pkt.kind is not PacketKind.ALERT:
                bad += 1
                continue
            h = pkt.header
            try:
                queue.store.insert(
                    PacketKind.ALERT, h.priority, h.capture_time_s, h.alert_id, [(pkt.key, raw)]
                )
            except sqlite3.IntegrityError:  # already held: acknowledge again, store once
                logger.debug("satellite %d already holds %s", queue.sat_index, tuple(pkt.key))
            held.append(pkt.key)
    return held, bad


def take_for_relay(queue: OnboardQueue, max_bytes: int, t_posix: float) -> list[bytes]:
    """Take the pending alert packets (priority order, as for a pass) up to ``max_bytes``;
    they stay in flight until the receiver's custody acknowledgement."""
    taken = queue.take(max_bytes, MAX_PACKETS_PER_TICK, t_posix, include_chips=False)
    return [p.data for p in taken.packets]


def charge_energy(fleet: Any, slot: int, energy_wh: float) -> None:
    """Draw ``energy_wh`` from satellite ``slot``'s battery now (clamped at empty, like every
    load) and count it in its energy used."""
    if energy_wh <= 0.0:
        return
    power = fleet.power
    stored = np.asarray(power.stored_wh[slot : slot + 1], dtype=np.float64)
    power.stored_wh[slot] = advance_stored(stored, np.array([-energy_wh]), power.config)[0]
    fleet.energy_used_wh[slot] += energy_wh


def apply_incoming(group: _Group, incoming: RelayIn) -> Applied:
    """Apply ``incoming`` where the group stands: custody acks, returned packets, received
    packets (stored under their origin keys), crosslink energy."""
    nodes = group.nodes
    for sat, keys in incoming.acks.items():
        node = nodes[sat]
        node.queue.acknowledge([PacketKey(*k) for k in keys], node.posix(incoming.t_s))
    for sat, keys in incoming.returns.items():
        nodes[sat].queue.store.requeue([PacketKey(*k) for k in keys])
    stored: dict[int, list[tuple[int, int, int]]] = {}
    crc_failures = 0
    for sat, packets in incoming.deliveries.items():
        held, bad = store_relayed(nodes[sat].queue, packets)
        stored[sat] = [tuple(k) for k in held]  # type: ignore[misc]
        crc_failures += bad
    for sat, wh in incoming.energy_wh.items():
        charge_energy(group.fleet, nodes[sat].slot, wh)
    return Applied(incoming.t_s, stored, crc_failures)


def relay_step(
    group: _Group, incoming: RelayIn, window: int, senders: Mapping[int, int]
) -> dict[str, Any]:
    """One step of a group in a mission with crosslinks: apply ``incoming`` (custody acks,
    returned packets, received packets, energy) where the group stands (the end of the last
    window it ran, the previous relay barrier), run its windows up to ``window``, then take
    the packets of ``senders`` ({satellite: max bytes}) at the end of that window for the
    driver to carry, and checkpoint.

    A step retried on a restarted group (Ray retries the call its process died in) applies
    ``incoming`` again only if the restored checkpoint predates it; otherwise the checkpoint
    holds its changes and the answer (:class:`Applied`) comes from there."""
    applied = group.relay_applied
    if applied is None or applied.t_s != incoming.t_s:
        applied = apply_incoming(group, incoming)
        group.relay_applied = applied
    out = group.run(window)
    nodes = group.nodes
    until_s = float(group.windows[window][0])
    outgoing = {
        sat: take_for_relay(nodes[sat].queue, limit, nodes[sat].posix(until_s))
        for sat, limit in senders.items()
    }
    group.checkpoint()  # the packets taken stay in flight across a restart
    out["stored"] = {sat: list(keys) for sat, keys in applied.stored.items()}
    out["outgoing"] = {s: p for s, p in outgoing.items() if p}
    out["relay_crc_failures"] = applied.crc_failures
    out["pending"] = {s: n.queue.status().pending_packets for s, n in nodes.items()}
    out["busy"] = [s for s, n in nodes.items() if n.backlog_s() > 0.0]
    return out
