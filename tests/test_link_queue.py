"""The durable onboard queue (edgeinfer.link.queue / store): ordering, capacity, counters,
persistence across reopening, stored-record CRC-32."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeinfer.errors import ConfigError
from edgeinfer.link import (
    Downlink,
    GroundStation,
    OnboardQueue,
    PacketKey,
    PacketState,
    QueueConfig,
    decode_packet,
    store_path,
)
from edgeinfer.link.packets import OVERHEAD_BYTES, SEQ_MODULUS


def test_sequence_counters_and_alert_ids_survive_reopen(tmp_path: Path) -> None:
    q = OnboardQueue(tmp_path, 4)
    first = q.enqueue_alerts(
        [("fire", 1, 10.0, b"a"), ("fire", 1, 11.0, b"b"), ("ship", 1, 12.0, b"c")]
    )
    q.close()
    q = OnboardQueue(tmp_path, 4)
    later = q.enqueue_alerts([("fire", 1, 13.0, b"d"), ("ship", 1, 14.0, b"e")])
    assert [h.alert_id for h in first + later] == [0, 1, 2, 3, 4]
    keys = [decode_packet(p.data).key for p in q.packets()]
    assert keys == [
        PacketKey(33, 0, 0),
        PacketKey(33, 0, 1),
        PacketKey(34, 0, 0),
        PacketKey(33, 0, 2),
        PacketKey(34, 0, 1),
    ]
    assert q.seq_counters() == {33: 3, 34: 2}
    assert q.stats()["alerts_enqueued"] == 5
    q.close()


def test_store_is_one_wal_file_per_satellite(tmp_path: Path) -> None:
    with OnboardQueue(tmp_path, 2) as q:
        q.enqueue_alert("cloud", 1, 0.0, b"r")
        assert q.path == store_path(tmp_path, 2) == tmp_path / "sat002.link.sqlite"
    con = sqlite3.connect(tmp_path / "sat002.link.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_reopening_with_another_satellite_index_is_refused(tmp_path: Path) -> None:
    OnboardQueue(tmp_path, 1).close()
    store_path(tmp_path, 1).rename(store_path(tmp_path, 9))
    with pytest.raises(ConfigError, match="belongs to satellite 1"):
        OnboardQueue(tmp_path, 9)


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="NORMAL"):
        QueueConfig.coerce({"store": {"synchronous": "sometimes"}})
    with pytest.raises(ConfigError, match="max_packet_bytes"):
        QueueConfig(max_packet_bytes=10)
    assert QueueConfig.coerce({"store": {"synchronous": "full"}}).store.synchronous == "FULL"
    with pytest.raises(ConfigError, match="satellite index"):
        OnboardQueue(None, 300)


def test_in_flight_packets_return_to_pending_on_reopen(tmp_path: Path) -> None:
    q = OnboardQueue(tmp_path, 0)
    q.enqueue_alerts([("fire", 5, float(i), b"x" * 10) for i in range(6)])
    take = q.take(10_000, 4, 100.0)
    assert len(take.packets) == 4 and q.status().in_flight_packets == 4
    q.acknowledge([take.packets[0].key], 100.0)
    del q  # crash: no close, no end of contact
    q = OnboardQueue(tmp_path, 0)
    s = q.status()
    assert (s.pending_packets, s.in_flight_packets, s.acked_packets) == (5, 0, 1)
    again = q.take(10_000, 10, 200.0)
    assert take.packets[0].key not in {p.key for p in again.packets}
    assert {p.attempts for p in again.packets} == {0, 1}
    q.close()


@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 20)), min_size=1, max_size=40),
    st.integers(0, 40),
)
@settings(max_examples=40, deadline=None)
def test_priority_order_and_capacity(items: list[tuple[int, int]], k: int) -> None:
    """One contact with room for exactly k packets sends the k first in (priority desc,
    capture time asc, enqueue order) and stops, even if later packets are smaller."""
    size = OVERHEAD_BYTES + 8
    with OnboardQueue(None, 1) as q, GroundStation(None) as g:
        headers = q.enqueue_alerts([("ship", p, float(t), b"12345678") for p, t in items])
        q.enqueue_alert("ship", 0, 100.0, b"")  # smaller, least urgent: must not overtake
        capacity = k * size + size - 1
        report = Downlink().run_contact(q, g.receive, capacity, 1000.0)
        expected = sorted(headers, key=lambda h: (-h.priority, h.capture_time_s, h.alert_id))
        sent_all = k >= len(items)  # then the small one fits in what is left
        want = [h.alert_id for h in expected[:k]] + ([len(items)] if sent_all else [])
        assert report.bytes_sent <= capacity
        assert report.bytes_sent == min(k, len(items)) * size + sent_all * OVERHEAD_BYTES
        assert [a.alert_id for a in g.alerts()] == want
        assert [
            decode_packet(p.data).header.alert_id for p in q.packets(PacketState.ACKED)
        ] == sorted(want)
        assert report.capacity_exhausted == (not sent_all)


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=30), st.integers(0, 4000))
@settings(max_examples=40, deadline=None)
def test_capacity_is_respected_per_pass(records: list[bytes], capacity: int) -> None:
    with OnboardQueue(None, 1) as q, GroundStation(None) as g:
        q.enqueue_alerts([("fire", 1, float(i), r) for i, r in enumerate(records)])
        report = Downlink(batch_packets=3).run_contact(q, g.receive, capacity, 5000.0)
        assert report.bytes_sent <= capacity
        assert report.bytes_sent == sum(len(p.data) for p in q.packets(PacketState.ACKED))
        pending = q.packets(PacketState.PENDING)
        if pending:  # the next packet in order did not fit in what was left
            assert len(pending[0].data) > capacity - report.bytes_sent


def test_chips_only_use_spare_capacity(tmp_path: Path) -> None:
    with OnboardQueue(tmp_path, 3, {"max_packet_bytes": 300}) as q, GroundStation(None) as g:
        hdrs = q.enqueue_alerts([("fire", 9, 1.0, b"r" * 40), ("fire", 2, 2.0, b"s" * 40)])
        chip = bytes(random.Random(1).randbytes(1000))
        keys = q.enqueue_chip(hdrs[0], chip)
        assert len(keys) == 4  # 1000 bytes in pieces of 300 - 30
        with pytest.raises(ConfigError, match="already has an image chip"):
            q.enqueue_chip(hdrs[0], b"again")
        q.enqueue_alert("ship", 1, 3.0, b"t" * 40)  # enqueued after the chip, still first
        alert_size = OVERHEAD_BYTES + 40
        r1 = Downlink().run_contact(q, g.receive, 3 * alert_size + 299, 10.0)
        assert r1.packets_sent == 3 and not g.chips()
        r2 = Downlink().run_contact(q, g.receive, 10_000, 20.0)
        assert r2.packets_sent == 4
        (c,) = g.chips()
        assert c.data == chip and c.alert_id == hdrs[0].alert_id and c.segments == 4


def test_stored_record_crc_catches_upsets(tmp_path: Path) -> None:
    with OnboardQueue(tmp_path, 5) as q, GroundStation(None) as g:
        q.enqueue_alerts([("fire", 3, float(i), b"record-%d" % i) for i in range(5)])
        victim = q.packets()[2]
        q.store.flip_bit(victim.row_id, 100)
        report = Downlink().run_contact(q, g.receive, 10_000, 50.0)
        assert report.store_crc_failures == 1 and report.packets_sent == 4
        assert q.status().corrupt_packets == 1
        assert q.stats()["store_crc_failures"] == 1
        assert victim.alert_id not in {a.alert_id for a in g.alerts()}
        assert g.counters()["crc_failures"] == 0  # garbage never left the satellite


def test_unverified_corrupt_record_is_rejected_by_ground_then_expires(tmp_path: Path) -> None:
    cfg = {"max_attempts": 3, "store": {"verify_crc": False}}
    with OnboardQueue(tmp_path, 5, cfg) as q, GroundStation(None) as g:
        q.enqueue_alerts([("fire", 3, float(i), b"record-%d" % i) for i in range(3)])
        flips = q.inject_bit_flips(random.Random(3), 1)
        assert len(flips) == 1
        assert not next(p for p in q.packets() if p.row_id == flips[0][0]).crc_ok
        for n in range(5):
            Downlink().run_contact(q, g.receive, 10_000, 100.0 * (n + 1))
        assert g.counters()["crc_failures"] == 3
        assert len(g.alerts()) == 2
        assert q.status().expired_packets == 1 and q.status().empty


def test_stats_accumulate_durably(tmp_path: Path) -> None:
    q = OnboardQueue(tmp_path, 6)
    g = GroundStation(tmp_path / "g.sqlite")
    q.enqueue_alerts([("fire", 1, 0.0, b"z" * 20) for _ in range(50)])
    dl = Downlink({"packet_loss_prob": 0.3, "seed": 4}, batch_packets=8)
    r1 = dl.run_contact(q, g.receive, 2000, 10.0)
    q.close()
    q = OnboardQueue(tmp_path, 6)
    r2 = dl.run_contact(q, g.receive, 2000, 20.0)
    s = q.stats()
    for name in ("packets_sent", "bytes_sent", "packets_lost", "retransmissions", "packets_acked"):
        assert s[name] == getattr(r1, name) + getattr(r2, name), name
    assert s["contacts"] == 2 and r2.retransmissions > 0 and r1.packets_lost > 0
    assert s["packets_sent"] == s["packets_acked"] + s["packets_lost"]
    q.close()
    g.close()


def test_sequence_count_wraps_with_epoch(tmp_path: Path) -> None:
    with OnboardQueue(None, 0) as q:
        q.store.reserve_seq(1, SEQ_MODULUS - 1)
        h = q.enqueue_alerts([("fire", 1, 0.0, b"a"), ("fire", 1, 0.0, b"b")])
        assert len(h) == 2
        keys = [decode_packet(p.data).key for p in q.packets()]
        assert keys == [PacketKey(1, 0, SEQ_MODULUS - 1), PacketKey(1, 1, 0)]
