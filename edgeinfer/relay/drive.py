"""The mission loop with crosslinks: windows end at relay ticks, where the driver carries
packets between satellite groups (processes), and the bookkeeping of every relayed packet.

Without crosslinks the driver queues every window of every group at once and groups run ahead
independently (docs/design.md). A relay needs both ends at the same simulated instant, so with
crosslinks some windows end at relay ticks, and the driver waits for every group there.

Which ticks (:meth:`RelayRun.barrier_ticks`, fixed before the run, since groups receive their
windows once): the alerts of a capture are raised within ``relay_horizon_s`` of it (the
accelerator's backlog); a packet on board satellite s at tick k then follows the relay
schedule (:func:`edgeinfer.relay.routing.relay_schedule`) until a pass takes it down. The ticks
at which such a packet moves, for every capture and every tick of its horizon, are the
barriers. An alert raised later than the horizon (a backlog held for hours by the power budget)
still moves at any barrier it meets, else goes down through its own satellite.

At run time a barrier is skipped when none of its forwarding satellites can hold an alert
(none captured since the last barrier, had tiles waiting, held pending packets or received
relayed ones): the groups then run through it in their next call.

At a barrier at tick t every group runs its events up to t and hands over the packets of its
forwarding satellites; the driver sends each batch along its path to the receiver's group,
which stores it at the start of its next step (still at time t, before any later event), and
the receivers' custody acknowledgements go back to the senders one step later
(:mod:`edgeinfer.relay.transfer`). Energy of every hop is charged to both ends.

A group that dies for good (its restarts spent) is lost as without crosslinks
(:mod:`edgeinfer.mission.lost`): each group's call is waited for on its own, the others go on,
and the lost group is called no more (later barriers, the tail, ``finish``). From the barrier
where the loss shows, the relays follow a schedule recomputed from the contact plan without
the lost satellites (no crosslink touches them, no pass of theirs counts), taken at the
planned barriers only: a forward of the new schedule at a tick that is no barrier is not made
(the packet stays aboard and goes down through its own satellite's pass, or moves at a later
barrier). Packets the driver had handed toward a lost satellite whose custody was never
reported (it died before its store reached the driver), and packets taken at this barrier
whose path now has no forward, go back to their sender's pending queue at the next step
(``RelayIn.returns``; ``RelayLog.returned``): the sender kept them in flight all along, so
none is lost. Packets a lost satellite had already taken into custody died with it, like its
own unsent alerts; those never delivered are counted
(``crosslinks.relayed_alerts_lost_with_groups`` in metrics.json, from ``RelayLog.lost_custody``).
"""

from __future__ import annotations

import bisect as _bisect
import itertools
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeinfer.link import PacketKey, decode_packet
from edgeinfer.mission.lost import LostGroup, lost_satellites, wait_each
from edgeinfer.mission.plan import MissionPlan
from edgeinfer.orbit.constellation import Constellation
from edgeinfer.orbit.crosslinks import SPEED_OF_LIGHT_KM_S
from edgeinfer.relay.config import CrosslinksConfig
from edgeinfer.relay.routing import ContactPlan, RelaySchedule, relay_schedule
from edgeinfer.relay.transfer import RelayIn

FloatArray = NDArray[np.float64]

logger = logging.getLogger(__name__)

Progress = Callable[[float, float], None]


@dataclass
class RelayLog:
    """Everything the driver saw move over crosslinks."""

    hops: Counter[PacketKey] = field(default_factory=Counter)
    crosslink_s: dict[PacketKey, float] = field(default_factory=lambda: defaultdict(float))
    holder: dict[PacketKey, int] = field(default_factory=dict)
    bytes_sent: Counter[int] = field(default_factory=Counter)
    bytes_received: Counter[int] = field(default_factory=Counter)
    packets_sent: Counter[int] = field(default_factory=Counter)
    packets_received: Counter[int] = field(default_factory=Counter)
    energy_wh: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    transfers: int = 0
    barriers: int = 0
    crc_failures: int = 0
    #: (tick time s, path) of every transfer, in order
    moves: list[tuple[float, tuple[int, ...]]] = field(default_factory=list)
    #: packets handed back to their sender with no custody taken (a lost group on the path)
    returned: int = 0
    #: relayed packets last held in custody by a satellite of a lost group: key -> satellite
    lost_custody: dict[PacketKey, int] = field(default_factory=dict)

    def record(
        self,
        schedule: RelaySchedule,
        config: CrosslinksConfig,
        tick: int,
        path: Sequence[int],
        packets: Sequence[bytes],
    ) -> dict[int, float]:
        """Account one batch moved along ``path`` at ``tick``; returns the energy per
        satellite (Wh) to charge."""
        energy: dict[int, float] = defaultdict(float)
        sizes = [len(p) for p in packets]
        total = sum(sizes)
        self.transfers += 1
        self.moves.append((float(schedule.plan.ticks_s[tick]), tuple(path)))
        for a, b in itertools.pairwise(path):
            e = config.energy_wh(total)
            energy[a] += e
            energy[b] += e
            self.bytes_sent[a] += total
            self.bytes_received[b] += total
            self.packets_sent[a] += len(packets)
            self.packets_received[b] += len(packets)
        offset = 0
        for raw, size in zip(packets, sizes, strict=True):
            offset += size
            key = decode_packet(raw).key
            for a, b in itertools.pairwise(path):
                light = schedule.plan.hop_range_km(tick, a, b) / SPEED_OF_LIGHT_KM_S
                self.crosslink_s[key] += config.setup_s + 8.0 * offset / config.rate_bps + light
            self.hops[key] += len(path) - 1
            self.holder[key] = path[-1]
        for sat, wh in energy.items():
            self.energy_wh[sat] += wh
        return energy


@dataclass
class RelayRun:
    """The relays of one mission: config, schedule, barrier ticks, and the log once run."""

    config: CrosslinksConfig
    schedule: RelaySchedule
    plan: MissionPlan
    log: RelayLog = field(default_factory=RelayLog)

    @classmethod
    def prepare(
        cls, config: CrosslinksConfig, constellation: Constellation, plan: MissionPlan
    ) -> RelayRun:
        """Contact plan and schedule of ``plan`` (crosslink windows of every pair)."""
        contacts = ContactPlan.build(
            constellation,
            plan.start,
            plan.duration_s,
            [(p.sat, p.t_s) for p in plan.passes],
            config,
        )
        return cls(config, relay_schedule(contacts, config.forward_if_no_contact_within_s), plan)

    def barrier_ticks(self) -> list[int]:
        """Ticks at which a packet raised within the horizon of a capture moves."""
        contacts = self.schedule.plan
        ticks = contacts.ticks_s
        forwards = {k: {f.sender: f for f in fs} for k, fs in self.schedule.forwards.items()}
        seen: set[tuple[int, int]] = set()
        out: set[int] = set()
        for c in self.plan.captures:
            k0 = int(np.searchsorted(ticks, c.t_s, side="left"))
            k1 = int(np.searchsorted(ticks, c.t_s + self.config.relay_horizon_s, side="right"))
            for start in range(k0, min(k1, ticks.size)):
                holder = c.sat
                for k in range(start, ticks.size):
                    if (holder, k) in seen:
                        break
                    seen.add((holder, k))
                    f = forwards.get(k, {}).get(holder)
                    if f is not None:
                        out.add(k)
                        holder = f.receiver
                    end = float(ticks[k + 1]) if k + 1 < ticks.size else contacts.duration_s
                    if contacts.next_pass(holder, float(ticks[k])) < end:
                        break
        return sorted(out)

    def bounds(self, base: FloatArray) -> FloatArray:
        """Window bounds: ``base`` (from 0 to the end) plus every barrier tick."""
        ticks = self.schedule.plan.ticks_s[self.barrier_ticks()]
        return np.unique(np.concatenate((np.asarray(base, dtype=np.float64), ticks)))

    def simulate(
        self,
        executor: Any,
        groups: list[Any],
        members: Sequence[Sequence[tuple[int, str]]],
        bounds: FloatArray,
        progress: Progress | None,
    ) -> tuple[list[dict[str, Any]], dict[int, LostGroup]]:
        """Run the configured groups through every window (their windows end at ``bounds``),
        stopping at relay barriers; then finish. Returns the final reports of the groups that
        finished and the groups lost for good (:mod:`edgeinfer.mission.lost`), which are
        called no more; from the barrier where a loss shows, relays follow a schedule
        recomputed without the lost satellites."""
        config, log, plan = self.config, self.log, self.plan
        schedule = self.schedule  # the one in force: rerouted after every loss
        group_of = {sat: g for g, sats in enumerate(members) for sat, _ in sats}
        ticks = schedule.plan.ticks_s
        tick_of = {float(ticks[k]): k for k in schedule.ticks_with_forwards}
        captures = sorted((c.t_s, c.sat) for c in plan.captures)
        incoming = [RelayIn() for _ in groups]
        in_transit: dict[PacketKey, tuple[int, int]] = {}  # key -> (sender, receiver)
        hot: set[int] = set()
        lost: dict[int, LostGroup] = {}
        limit = config.bytes_per_tick()
        last = len(bounds) - 2
        t = 0.0
        for w in range(last + 1):
            until = float(bounds[w + 1])
            k = tick_of.get(until)
            if w != last:
                if k is None:
                    continue
                lo = _bisect.bisect_right(captures, (t, np.inf))
                hi = _bisect.bisect_right(captures, (until, np.inf))
                maybe = hot | {sat for _, sat in captures[lo:hi]}
                if not maybe.intersection(schedule.senders(k)):
                    continue
            senders = {} if k is None or w == last else {s: limit for s in schedule.senders(k)}
            calls = {
                g: executor.call(
                    h,
                    "relay_step",
                    incoming[g],
                    w,
                    {s: b for s, b in senders.items() if group_of[s] == g},
                )
                for g, h in enumerate(groups)
                if g not in lost
            }
            n_lost = len(lost)
            results = list(wait_each(executor, calls, members, w, lost).values())
            log.barriers += int(w != last)
            if progress is not None:
                progress(until, plan.duration_s)
            if len(lost) > n_lost:
                schedule = self.reroute(lost_satellites(lost))
            incoming = [RelayIn(t_s=until) for _ in groups]
            hot = self._collect(results, incoming, in_transit, group_of, lost)
            if senders and k is not None:
                hot |= self._route(k, schedule, results, incoming, in_transit, group_of)
            _keep_resent(incoming, in_transit)
            t = until
        tail = {
            g: executor.call(h, "relay_step", incoming[g], last, {})
            for g, h in enumerate(groups)
            if g not in lost
            and (
                incoming[g].acks
                or incoming[g].deliveries
                or incoming[g].energy_wh
                or incoming[g].returns
            )
        }
        for res in wait_each(executor, tail, members, last, lost).values():
            for keys in res["stored"].values():
                for key in map(PacketKey._make, keys):
                    in_transit.pop(key, None)
        if in_transit:
            logger.warning("%d relayed packets await custody at the end", len(in_transit))
        logger.info(
            "relays: %d barriers, %d transfers, %d packets moved, %d handed back",
            log.barriers,
            log.transfers,
            sum(log.packets_sent.values()),
            log.returned,
        )
        finish = {
            g: executor.call(h, "finish", plan.duration_s)
            for g, h in enumerate(groups)
            if g not in lost
        }
        finished = list(wait_each(executor, finish, members, None, lost).values())
        gone = lost_satellites(lost)  # a group lost at its final report counts too
        log.lost_custody = {
            key: sat for key, sat in log.holder.items() if sat in gone and key not in in_transit
        }
        return finished, lost

    def reroute(self, gone: Collection[int]) -> RelaySchedule:
        """The relay schedule with satellites ``gone`` removed from the contact plan. Its
        forwards are taken at the planned barriers only (the groups' windows are fixed)."""
        logger.warning("relays route around lost satellite(s) %s from here on", sorted(gone))
        contacts = self.schedule.plan.without(gone)
        return relay_schedule(contacts, self.config.forward_if_no_contact_within_s)

    def _collect(
        self,
        results: Sequence[Mapping[str, Any]],
        incoming: list[RelayIn],
        in_transit: dict[PacketKey, tuple[int, int]],
        group_of: Mapping[int, int],
        lost: Mapping[int, LostGroup],
    ) -> set[int]:
        """Custody acks for the senders of the last barrier, packets sent to a lost group
        back to their senders; who may hold alerts now."""
        hot: set[int] = set()
        for res in results:
            self.log.crc_failures += int(res.get("relay_crc_failures", 0))
            hot.update(s for s, n in res["pending"].items() if n > 0)
            hot.update(res["busy"])
            for keys in res["stored"].values():
                for key in map(PacketKey._make, keys):
                    sender, _ = in_transit.pop(key, (None, None))
                    if sender is not None and group_of[sender] not in lost:
                        acks = incoming[group_of[sender]].acks.setdefault(sender, [])
                        acks.append((key.apid, key.epoch, key.seq_count))
        for key, (sender, receiver) in list(in_transit.items()):
            if group_of[receiver] in lost:  # it died before its store was reported
                del in_transit[key]
                if group_of[sender] not in lost:  # the sender still holds it, in flight
                    self._hand_back(sender, [key], incoming, group_of)
                    hot.add(sender)
        return hot

    def _route(
        self,
        k: int,
        schedule: RelaySchedule,
        results: Sequence[Mapping[str, Any]],
        incoming: list[RelayIn],
        in_transit: dict[PacketKey, tuple[int, int]],
        group_of: Mapping[int, int],
    ) -> set[int]:
        """Carry the senders' packets along their paths in ``schedule``; charge every hop's
        energy. A sender with no forward there any more (its path went through a satellite
        lost at this barrier) gets its packets back."""
        forwards = {f.sender: f for f in schedule.forwards.get(k, [])}
        hot: set[int] = set()
        for res in results:
            for sender, packets in res["outgoing"].items():
                f = forwards.get(sender)
                if f is None:
                    keys = [decode_packet(raw).key for raw in packets]
                    self._hand_back(sender, keys, incoming, group_of)
                    hot.add(sender)
                    continue
                energy = self.log.record(schedule, self.config, k, f.path, packets)
                incoming[group_of[f.receiver]].deliveries.setdefault(f.receiver, []).extend(packets)
                hot.add(f.receiver)
                for raw in packets:
                    in_transit[decode_packet(raw).key] = (sender, f.receiver)
                for sat, wh in energy.items():
                    box = incoming[group_of[sat]].energy_wh
                    box[sat] = box.get(sat, 0.0) + wh
        return hot

    def _hand_back(
        self,
        sender: int,
        keys: Sequence[PacketKey],
        incoming: list[RelayIn],
        group_of: Mapping[int, int],
    ) -> None:
        """Packets ``sender`` handed over that nobody took into custody: back to its pending
        queue at the next step (its own pass or a later relay takes them down)."""
        box = incoming[group_of[sender]].returns.setdefault(sender, [])
        box.extend((key.apid, key.epoch, key.seq_count) for key in keys)
        for key in keys:
            self.log.holder[key] = sender
        self.log.returned += len(keys)


def _keep_resent(incoming: list[RelayIn], in_transit: Mapping[PacketKey, tuple[int, int]]) -> None:
    """Drop from the returns a packet its sender has just handed over again (after a pass
    put it back to pending): it is in transit once more and waits for that custody."""
    for box in incoming:
        for sender, keys in list(box.returns.items()):
            kept = [
                k for k in keys if in_transit.get(PacketKey._make(k), (None, None))[0] != sender
            ]
            box.returns[sender] = kept
            if not kept:
                del box.returns[sender]
