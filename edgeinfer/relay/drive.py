"""The mission loop with crosslinks: windows end at relay ticks, where the driver carries
packets between satellite groups (processes), and the bookkeeping of every relayed packet.

Without crosslinks the driver queues every window of every group at once and groups run ahead
independently (docs/design.md). A relay needs both ends at the same simulated instant, so here
a window ends at each relay tick that matters, and the driver waits for every group there. A
tick matters when the relay schedule (:func:`edgeinfer.relay.routing.relay_schedule`) makes a
satellite forward then AND that satellite may hold alerts: it captured a scene since the last
barrier, still had tiles waiting for its accelerator, held pending packets, or received relayed
ones. A satellite that is none of these cannot have an alert to forward, so quiet stretches of
a mission cost no barrier.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeinfer.link import PacketKey, decode_packet
from edgeinfer.mission.plan import MissionPlan
from edgeinfer.orbit.crosslinks import SPEED_OF_LIGHT_KM_S
from edgeinfer.relay.config import CrosslinksConfig
from edgeinfer.relay.routing import RelaySchedule
from edgeinfer.relay.transfer import RelayIn

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


def simulate_with_relays(
    executor: Any,
    groups: list[Any],
    members: Sequence[Sequence[tuple[int, str]]],
    plan: MissionPlan,
    progress: Progress | None,
    schedule: RelaySchedule,
    config: CrosslinksConfig,
) -> tuple[list[dict[str, Any]], RelayLog]:
    """Configure the groups, run the mission with relay barriers, finish; returns the groups'
    final reports (as the driver's own loop does) and the relay log."""
    configs = []
    for handle, sats in zip(groups, members, strict=True):
        rows = [i for i, _ in sats]
        configs.append(
            executor.call(
                handle,
                "configure",
                plan.step_s,
                plan.duration_s,
                plan.sunlit[rows],
                plan.imaging[rows],
                plan.transmitting[rows],
            )
        )
    executor.get(configs)
    group_of = {sat: g for g, sats in enumerate(members) for sat, _ in sats}
    events = [plan.events([i for i, _ in sats]) for sats in members]
    cursor = [0] * len(groups)
    captures = sorted((c.t_s, c.sat) for c in plan.captures)
    ticks = schedule.plan.ticks_s
    todo = schedule.ticks_with_forwards
    log = RelayLog()
    incoming = [RelayIn() for _ in groups]
    in_transit: dict[PacketKey, int] = {}  # packet -> sender awaiting its custody ack
    hot: set[int] = set()
    t = 0.0
    pos = 0
    limit = config.bytes_per_tick()
    while True:
        k, pos = _next_barrier(schedule, todo, pos, t, hot, captures)
        until = plan.duration_s if k is None else float(ticks[k])
        senders = {} if k is None else {s: limit for s in schedule.senders(k)}
        calls = []
        for g, handle in enumerate(groups):
            evs, cursor[g] = _window(events[g], cursor[g], until, last=k is None)
            mine = {s: b for s, b in senders.items() if group_of[s] == g}
            calls.append(executor.call(handle, "relay_step", incoming[g], evs, until, mine))
        results = executor.get(calls)
        log.barriers += k is not None
        if progress is not None:
            progress(until, plan.duration_s)
        incoming = [RelayIn(t_s=until) for _ in groups]
        hot = set()
        for res in results:
            log.crc_failures += int(res.get("relay_crc_failures", 0))
            hot.update(s for s, n in res["pending"].items() if n > 0)
            hot.update(res["busy"])
            for keys in res["stored"].values():
                for key in map(PacketKey._make, keys):
                    sender = in_transit.pop(key, None)
                    if sender is not None:
                        acks = incoming[group_of[sender]].acks.setdefault(sender, [])
                        acks.append((key.apid, key.epoch, key.seq_count))
        if k is not None:
            forwards = {f.sender: f for f in schedule.forwards[k]}
            for res in results:
                for sender, packets in res["outgoing"].items():
                    f = forwards[sender]
                    energy = log.record(schedule, config, k, f.path, packets)
                    target = incoming[group_of[f.receiver]]
                    target.deliveries.setdefault(f.receiver, []).extend(packets)
                    hot.add(f.receiver)
                    for raw in packets:
                        in_transit[decode_packet(raw).key] = sender
                    for sat, wh in energy.items():
                        box = incoming[group_of[sat]].energy_wh
                        box[sat] = box.get(sat, 0.0) + wh
        t = until
        if k is None:
            break
    # the last custody acknowledgements and energy (no events left)
    tail = [
        executor.call(h, "relay_step", incoming[g], [], plan.duration_s, {})
        for g, h in enumerate(groups)
        if incoming[g].acks or incoming[g].deliveries or incoming[g].energy_wh
    ]
    for res in executor.get(tail):
        for keys in res["stored"].values():
            for key in map(PacketKey._make, keys):
                in_transit.pop(key, None)
    if in_transit:
        logger.warning("%d relayed packets await custody at the end", len(in_transit))
    finished = executor.get([executor.call(h, "finish", plan.duration_s) for h in groups])
    logger.info(
        "relays: %d barriers, %d transfers, %d packets moved",
        log.barriers,
        log.transfers,
        sum(log.packets_sent.values()),
    )
    return list(finished), log


def _next_barrier(
    schedule: RelaySchedule,
    todo: list[int],
    pos: int,
    t: float,
    hot: set[int],
    captures: list[tuple[float, int]],
) -> tuple[int | None, int]:
    """The next tick after ``t`` at which a forwarding satellite may hold alerts."""
    ticks = schedule.plan.ticks_s
    while pos < len(todo) and ticks[todo[pos]] <= t:
        pos += 1
    lo = _bisect.bisect_right(captures, (t, np.inf))
    for p in range(pos, len(todo)):
        k = todo[p]
        hi = _bisect.bisect_right(captures, (float(ticks[k]), np.inf))
        maybe = hot | {sat for _, sat in captures[lo:hi]}
        if maybe.intersection(schedule.senders(k)):
            return k, p + 1
    return None, len(todo)


def _window(evs: Sequence[Any], start: int, until: float, last: bool) -> tuple[list[Any], int]:
    """Events from ``start`` with t_s < until (<= on the last window); the new cursor."""
    end = start
    while end < len(evs) and (evs[end].t_s < until or (last and evs[end].t_s <= until)):
        end += 1
    return list(evs[start:end]), end
