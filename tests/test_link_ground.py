"""The ground station (edgeinfer.link.ground): CRC screening, de-duplication, acknowledgement,
persistence, chip reassembly, delivery hooks."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from edgeinfer.link import (
    AlertHeader,
    DeliveredAlert,
    DeliveredChip,
    Downlink,
    GroundStation,
    LinkFaults,
    OnboardQueue,
    PacketKey,
    crc16,
    encode_alert,
    encode_chip,
)


def packet(alert_id: int, seq: int, payload: bytes = b"rec", capture_s: float = 100.0) -> bytes:
    return encode_alert(AlertHeader(3, 1, 10, capture_s, alert_id), payload, seq)


def test_new_and_duplicate_packets_are_acked_corrupt_ones_not(tmp_path: Path) -> None:
    with GroundStation(tmp_path / "g.sqlite") as g:
        p0, p1 = packet(0, 0), packet(1, 1)
        bad = bytearray(packet(2, 2))
        bad[20] ^= 0x04
        acks = g.receive([p0, bytes(bad), p1, p0], 160.0)
        assert acks == [PacketKey(25, 0, 0), PacketKey(25, 0, 1), PacketKey(25, 0, 0)]
        assert g.receive([p1], 170.0) == [PacketKey(25, 0, 1)]  # ack again: first may be lost
        c = g.counters()
        assert (c["delivered"], c["duplicates_discarded"], c["crc_failures"]) == (2, 2, 1)
        assert c["packets_received"] == 5
        (a0, a1) = g.alerts()
        assert a0.payload == b"rec" and a0.latency_s == 60.0 and a0.downlink_time_s == 160.0
        assert a1.downlink_time_s == 160.0  # the first arrival counts, not the duplicate


def test_persisted_alerts_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "ground.sqlite"
    t = dt.datetime(2025, 8, 1, 10, 30, tzinfo=dt.UTC)
    with GroundStation(path, name="svalbard") as g:
        g.receive([packet(0, 0, capture_s=t.timestamp() - 90.5)], t)
    with GroundStation(path) as g:
        (a,) = g.alerts()
        assert a.station == "svalbard" and a.downlink_time == t
        assert a.latency_s == pytest.approx(90.5, abs=2e-5)
        assert g.receive([packet(0, 0, capture_s=t.timestamp() - 90.5)], t) == [a.key]
        assert g.counters()["duplicates_discarded"] == 1 and len(g.alerts()) == 1


def test_stations_sharing_a_database_deduplicate_across(tmp_path: Path) -> None:
    path = tmp_path / "ground.sqlite"
    with GroundStation(path, name="matera") as a, GroundStation(path, name="svalbard") as b:
        assert a.receive([packet(0, 0), packet(1, 1)], 10.0) != []
        assert b.receive([packet(1, 1), packet(2, 2)], 20.0) != []
        assert [x.station for x in b.alerts()] == ["matera", "matera", "svalbard"]
        assert b.counters()["duplicates_discarded"] == 1


def test_reset_satellite_store_is_a_key_conflict_not_a_duplicate() -> None:
    with GroundStation(None) as g:
        g.receive([packet(0, 0, b"first run")], 10.0)
        acks = g.receive([packet(0, 0, b"second run")], 20.0)
        assert acks == []  # not silently dropped as a duplicate, not acknowledged either
        assert g.counters()["key_conflicts"] == 1
        assert [a.payload for a in g.alerts()] == [b"first run"]


def test_malformed_packet_is_counted() -> None:
    raw = bytearray(packet(0, 0))
    raw[12] = 9  # unknown kind, CRC recomputed: a sender bug, not link noise
    raw[-2:] = crc16(raw[:-2]).to_bytes(2, "big")
    with GroundStation(None) as g:
        assert g.receive([bytes(raw)], 1.0) == []
        assert g.counters()["malformed"] == 1


def test_hooks_see_each_delivery_once_and_failures_are_counted() -> None:
    seen: list[DeliveredAlert] = []
    chips: list[DeliveredChip] = []

    def flaky(alert: DeliveredAlert) -> None:
        seen.append(alert)
        if alert.alert_id == 1:
            raise RuntimeError("GeoJSON writer broke")

    with GroundStation(None, on_alert=flaky, on_chip=chips.append) as g:
        header = AlertHeader(3, 1, 10, 5.0, 0)
        acks = g.receive([packet(0, 0), packet(1, 1), packet(0, 0)], 9.0)
        assert len(acks) == 3  # a failing hook does not withhold acknowledgements
        g.receive(encode_chip(header, b"c" * 500, 2, 200), 9.0)
        assert [a.alert_id for a in seen] == [0, 1]
        assert [c.data for c in chips] == [b"c" * 500]
        assert g.counters()["hook_errors"] == 1


def test_chip_reassembly_out_of_order_and_across_contacts() -> None:
    header = AlertHeader(4, 2, 200, 50.0, 7)
    chip = random.Random(2).randbytes(3000)
    segments = encode_chip(header, chip, 100, 256)
    order = list(range(len(segments)))
    random.Random(3).shuffle(order)
    with GroundStation(None) as g:
        g.receive([segments[i] for i in order[:5]], 60.0)
        assert g.chips() == []
        g.receive([segments[i] for i in order[3:]], 70.0)
        (c,) = g.chips()
        assert c.data == chip and c.segments == len(segments) == 14
        assert c.downlink_time_s == 70.0 and c.latency_s == 20.0
        assert g.counters()["chip_segments"] == 14 and g.counters()["duplicates_discarded"] == 2


def test_chips_through_a_lossy_link(tmp_path: Path) -> None:
    with OnboardQueue(tmp_path, 2, {"max_packet_bytes": 128}) as q, GroundStation(None) as g:
        headers = q.enqueue_alerts([("fire", 200 - i, 10.0 * i, b"r%d" % i) for i in range(4)])
        wanted = {h.alert_id: random.Random(h.alert_id).randbytes(700) for h in headers[:2]}
        for h in headers[:2]:
            q.enqueue_chip(h, wanted[h.alert_id])
        dl = Downlink(LinkFaults(0.3, 0.2, 0.2, max_bit_flips=3, seed=2), batch_packets=4)
        for i in range(1, 100):
            dl.run_contact(q, g.receive, 600, 5400.0 * i)
            if q.status().empty:
                break
        assert q.status().empty
        assert {c.alert_id: c.data for c in g.chips()} == wanted
        assert len(g.alerts()) == 4
