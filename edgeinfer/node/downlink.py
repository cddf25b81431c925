"""One pass of a satellite over a ground station: alert packets first, by priority, into the
pass's byte capacity; image chips only with capacity to spare (and at most
``max_chip_bytes_per_pass``); each batch handed to the ground at its arrival time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from edgeinfer.link import ContactReport, Downlink, OnboardQueue, PacketKey
from edgeinfer.node.settings import DownlinkSettings

Deliver = Callable[[list[bytes], float, str], Sequence[PacketKey | Sequence[int]]]
"""``(packets, downlink time in POSIX seconds, station name) -> acknowledged keys``."""


def run_pass(
    queue: OnboardQueue,
    links: tuple[Downlink, Downlink],
    downlink: DownlinkSettings,
    station: str,
    aos_posix_s: float,
    duration_s: float,
    capacity_bytes: int,
    deliver: Deliver,
) -> dict[str, Any]:
    """Send through ``links`` = (alerts, chips); a batch arrives at AOS plus the bytes sent so
    far over the pass's user rate. Returns bytes, packets sent and acknowledged."""
    bytes_per_s = capacity_bytes / max(duration_s, 1e-9)

    def send(link: Downlink, capacity: int, offset: int) -> ContactReport:
        c = link.open_contact(queue, capacity, aos_posix_s)
        while (batch := c.next_batch()) is not None:
            arrival = aos_posix_s + (offset + c.report.bytes_sent) / bytes_per_s
            c.acknowledge(deliver(batch, arrival, station) if batch else [])
        return c.close()

    first = send(links[0], capacity_bytes, 0)
    sent, packets, acked = first.bytes_sent, first.packets_sent, first.packets_acked
    if downlink.chips and capacity_bytes - sent > 0 and queue.status().pending_packets:
        room = capacity_bytes - sent
        if downlink.max_chip_bytes_per_pass is not None:
            room = min(room, downlink.max_chip_bytes_per_pass)
        second = send(links[1], room, sent)
        sent += second.bytes_sent
        packets += second.packets_sent
        acked += second.packets_acked
    return {"bytes_sent": int(sent), "packets_sent": int(packets), "packets_acked": int(acked)}
