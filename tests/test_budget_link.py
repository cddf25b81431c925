"""Downlink capacity and the priority queue."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from edgeinfer.budget import DownlinkQueue, LinkModel, pass_capacity_bytes
from edgeinfer.errors import ConfigError
from edgeinfer.orbit import (
    Constellation,
    TimeGrid,
    find_contacts,
    slant_range_km,
    station_from_spec,
)


def test_pass_capacity_matches_planet_dove_numbers() -> None:
    # REFERENCE.md: Planet Dove X-band 220 Mbit/s peak, 12-15 GB per 7-10 min pass
    full = pass_capacity_bytes(220e6, 600.0)
    assert full == pytest.approx(16.5e9)
    assert 12e9 <= pass_capacity_bytes(220e6, 600.0, 0.85) <= 15e9
    assert 12e9 <= LinkModel(220e6).capacity_bytes(540.0) <= 15e9
    # UHF cubesat, 9.6 kbit/s (REFERENCE.md): a 10 min pass carries 720 kB
    assert pass_capacity_bytes(9600.0, 600.0) == pytest.approx(720_000.0)
    with pytest.raises(ConfigError):
        pass_capacity_bytes(1.0, 1.0, 1.5)


def test_rate_falls_with_the_square_of_range() -> None:
    link = LinkModel(100e6, elevation_dependent=True, reference_range_km=800.0)
    r = link.rate_bps(np.array([500.0, 800.0, 1600.0, 3200.0]))
    assert np.allclose(r, [100e6, 100e6, 25e6, 6.25e6])
    assert np.allclose(LinkModel(100e6).rate_bps([800.0, 3200.0]), 100e6)


def test_elevation_dependent_capacity_of_a_real_pass_is_below_the_flat_one() -> None:
    start = datetime(2024, 6, 1, tzinfo=UTC)
    c = Constellation.sun_synchronous(start, 1, 786.0)
    station = station_from_spec("Svalbard")
    contact = find_contacts(c, [station], start, 86400.0)[3]
    grid = TimeGrid.regular(contact.aos, contact.duration_s, 1.0)
    ranges = slant_range_km(c.propagate(grid), station)[0]
    flat = LinkModel(220e6, efficiency=1.0)
    shaped = LinkModel(
        220e6, efficiency=1.0, elevation_dependent=True, reference_range_km=ranges.min()
    )
    cap_flat = flat.capacity_bytes(contact.duration_s, ranges)
    cap_shaped = shaped.capacity_bytes(contact.duration_s, ranges)
    # hand check: the mean of (d_min/d)^2 over the pass, times the flat capacity
    expected = cap_flat * float(np.mean(np.minimum(1.0, (ranges.min() / ranges) ** 2)))
    assert cap_shaped == pytest.approx(expected)
    assert 0.1 * cap_flat < cap_shaped < cap_flat


def test_queue_sends_by_priority_then_age() -> None:
    q = DownlinkQueue()
    q.push("raw-old", 500, priority=0, created_s=0.0)
    q.push("alert-new", 100, priority=2, created_s=50.0)
    q.push("alert-old", 100, priority=2, created_s=10.0)
    q.push("summary", 200, priority=1, created_s=5.0)
    sent = q.drain(10_000)
    assert [i.item_id for i in sent] == ["alert-old", "alert-new", "summary", "raw-old"]
    assert len(q) == 0


def test_queue_drains_within_capacity_and_keeps_the_rest() -> None:
    q = DownlinkQueue()
    q.push("a", 300, priority=3)
    q.push("big", 600, priority=2)
    q.push("c", 200, priority=1)
    q.push("d", 100, priority=0)
    sent = q.drain(650)
    assert [i.item_id for i in sent] == ["a", "c", "d"]  # big waits, smaller fill the pass
    assert sum(i.size_bytes for i in sent) <= 650
    assert [q.peek().item_id] == ["big"] and q.queued_bytes == 600  # type: ignore[union-attr]
    q.push("e", 10, priority=0)
    assert [i.item_id for i in q.drain(100, fill=False)] == []  # head-of-line: big blocks
    assert len(q) == 2
    assert [i.item_id for i in q.drain(610)] == ["big", "e"]
