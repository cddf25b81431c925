"""Upsets in stored alert records, and what the store's CRC-32 does about them.

The link already frames each alert record as a CCSDS packet with a CRC-16 when it is
enqueued, and stores a CRC-32 of the stored bytes beside it (edgeinfer.link.store,
docs/link.md); with ``StoreConfig(verify_crc=True)`` a packet whose stored bytes no longer
match their CRC-32 is marked CORRUPT, counted in ``store_crc_failures`` and never sent. This
module reuses that mechanism (no second CRC): it fills an in-memory onboard queue with the
records of real alerts, lets the records sit in the store for a while under SEUs
(:func:`edgeinfer.faults.seu.upset_queue`), then drains the queue through lossless contacts
to a ground station and counts what arrived, what was reported lost, what was sent in vain
and what was accepted corrupted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from edgeinfer.detect.alerts import Alert
from edgeinfer.detect.records import AlertRecord
from edgeinfer.faults.seu import SEUModel, upset_queue
from edgeinfer.link import Downlink, GroundStation, OnboardQueue, QueueConfig, StoreConfig

logger = logging.getLogger(__name__)

CONTACT_CAPACITY_BYTES = 10_000_000  # every pending packet fits: the link is not the limit


@dataclass
class RecordReport:
    """Counts of one record campaign (summed over its trials)."""

    records: int = 0
    upset_events: int = 0
    packets_upset: int = 0
    delivered: int = 0
    reported_corrupt: int = 0
    ground_crc_failures: int = 0
    wasted_sends: int = 0
    corrupted_accepted: int = 0
    lost: int = 0

    def add(self, other: RecordReport) -> None:
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def store_and_send(
    captures: Sequence[Sequence[Alert]],
    seu: SEUModel,
    exposure_days: float,
    rng: np.random.Generator,
    verify_crc: bool,
    contacts: int = 3,
) -> tuple[RecordReport, list[bool]]:
    """Enqueue one record per alert (``captures``: the alerts of each capture, in order), let
    the store take ``exposure_days`` of upsets, then run ``contacts`` lossless contacts.

    Returns the counts and, per alert in enqueueing order, whether it reached the ground
    intact. Without ``verify_crc`` a damaged packet is sent, fails the ground's CRC-16, is
    not acknowledged and is sent again at every contact (``wasted_sends``)."""
    config = QueueConfig(store=StoreConfig(verify_crc=verify_crc))
    report = RecordReport()
    originals: list[bytes] = []
    with OnboardQueue(None, 0, config) as queue, GroundStation(None) as ground:
        items = []
        for k, alerts in enumerate(captures):
            for alert in alerts:
                record = AlertRecord.from_alert(alert, sequence=len(originals)).pack()
                originals.append(record)
                items.append((alert.detector, 0, float(k), record))
        queue.enqueue_alerts(items)
        before = {p.row_id: p.data for p in queue.packets()}
        upsets = upset_queue(queue, seu, exposure_days, rng)
        after = {p.row_id: p.data for p in queue.packets()}
        downlink = Downlink()
        for c in range(contacts):
            downlink.run_contact(queue, ground.receive, CONTACT_CAPACITY_BYTES, 1e6 + c)
        delivered = {a.alert_id: a.payload for a in ground.alerts()}
        stats, counters = queue.stats(), ground.counters()
    intact = [delivered.get(i) == rec for i, rec in enumerate(originals)]
    report.records = len(originals)
    report.upset_events = upsets.events
    report.packets_upset = sum(before[r] != after[r] for r in before)
    report.delivered = len(delivered)
    report.reported_corrupt = stats["store_crc_failures"]
    report.ground_crc_failures = counters["crc_failures"]
    report.wasted_sends = stats["packets_sent"] - counters["delivered"]
    report.corrupted_accepted = sum(
        i < len(originals) and payload != originals[i] for i, payload in delivered.items()
    )
    report.lost = report.records - sum(intact)
    return report, intact
