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
"""

from __future__ import annotations

import bisect as _bisect
import itertools
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeinfer.link import PacketKey, decode_packet
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
    ) -> list[dict[str, Any]]:
        """Run the configured groups through every window (their windows end at ``bounds``),
        stopping at relay barriers; then finish. Returns the groups' final reports."""
        schedule, config, log, plan = self.schedule, self.config, self.log, self.plan
        group_of = {sat: g for g, sats in enumerate(members) for sat, _ in sats}
        ticks = schedule.plan.ticks_s
        tick_of = {float(ticks[k]): k for k in schedule.ticks_with_forwards}
        captures = sorted((c.t_s, c.sat) for c in plan.captures)
        incoming = [RelayIn() for _ in groups]
        in_transit: dict[PacketKey, int] = {}
        hot: set[int] = set()
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
            calls = [
                executor.call(
                    h,
                    "relay_step",
                    incoming[g],
                    w,
                    {s: b for s, b in senders.items() if group_of[s] == g},
                )
                for g, h in enumerate(groups)
            ]
            results = executor.get(calls)
            log.barriers += int(w != last)
            if progress is not None:
                progress(until, plan.duration_s)
            incoming = [RelayIn(t_s=until) for _ in groups]
            hot = self._collect(results, incoming, in_transit, group_of)
            if senders and k is not None:
                hot |= self._route(k, results, incoming, in_transit, group_of)
            t = until
        tail = [
            executor.call(h, "relay_step", incoming[g], last, {})
            for g, h in enumerate(groups)
            if incoming[g].acks or incoming[g].deliveries or incoming[g].energy_wh
        ]
        for res in executor.get(tail):
            for keys in res["stored"].values():
                for key in map(PacketKey._make, keys):
                    in_transit.pop(key, None)
        if in_transit:
            logger.warning("%d relayed packets await custody at the end", len(in_transit))
        logger.info(
            "relays: %d barriers, %d transfers, %d packets moved",
            log.barriers,
            log.transfers,
            sum(log.packets_sent.values()),
        )
        return list(executor.get([executor.call(h, "finish", plan.duration_s) for h in groups]))

    def _collect(
        self,
        results: Sequence[Mapping[str, Any]],
        incoming: list[RelayIn],
        in_transit: dict[PacketKey, int],
        group_of: Mapping[int, int],
    ) -> set[int]:
        """Custody acks for the senders of the last barrier; who may hold alerts now."""
        hot: set[int] = set()
        for res in results:
            self.log.crc_failures += int(res.get("relay_crc_failures", 0))
            hot.update(s for s, n in res["pending"].items() if n > 0)
            hot.update(res["busy"])
            for keys in res["stored"].values():
                for key in map(PacketKey._make, keys):
                    sender = in_transit.pop(key, None)
                    if sender is not None:
                        acks = incoming[group_of[sender]].acks.setdefault(sender, [])
                        acks.append((key.apid, key.epoch, key.seq_count))
        return hot

    def _route(
        self,
        k: int,
        results: Sequence[Mapping[str, Any]],
        incoming: list[RelayIn],
        in_transit: dict[PacketKey, int],
        group_of: Mapping[int, int],
    ) -> set[int]:
        """Carry the senders' packets along their paths; charge every hop's energy."""
        forwards = {f.sender: f for f in self.schedule.forwards[k]}
        receivers: set[int] = set()
        for res in results:
            for sender, packets in res["outgoing"].items():
                f = forwards[sender]
                energy = self.log.record(self.schedule, self.config, k, f.path, packets)
                incoming[group_of[f.receiver]].deliveries.setdefault(f.receiver, []).extend(packets)
                receivers.add(f.receiver)
                for raw in packets:
                    in_transit[decode_packet(raw).key] = sender
                for sat, wh in energy.items():
                    box = incoming[group_of[sat]].energy_wh
                    box[sat] = box.get(sat, 0.0) + wh
        return receivers
