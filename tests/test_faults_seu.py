"""SEU injection: the Poisson rate law, the single/multi-bit split, uniform positions, bit
numbering checked by hand on IEEE-754 values, determinism, and upsets in stored records."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from test_detect_helpers import make_tile

from edgeinfer.errors import ConfigError
from edgeinfer.faults.seu import (
    REFERENCE_SEU_PER_BIT_DAY,
    SINGLE_BIT_FRACTION,
    SEUModel,
    flip_bits,
    upset_array,
    upset_bytes,
    upset_queue,
    upset_tile,
)
from edgeinfer.link import Downlink, GroundStation, OnboardQueue, QueueConfig, StoreConfig


def test_reference_rate_and_expected_count() -> None:
    seu = SEUModel(factor=1000.0)
    assert REFERENCE_SEU_PER_BIT_DAY == 4.04e-7 and SINGLE_BIT_FRACTION == 0.986
    # 1 MiB for one day at 1000x: 4.04e-4 * 8,388,608 bits = 3,388.997 upsets (hand computed)
    assert seu.expected_upsets(8 * 2**20, 1.0) == pytest.approx(3388.997632)
    assert seu.expected_upsets(1000, 0.0) == 0.0
    assert SEUModel(factor=0.0).draw(np.random.default_rng(0), 10**9, 10.0).events == 0


def test_event_counts_follow_poisson() -> None:
    """Mean and variance of the counts match a Poisson law with the expected mean."""
    seu = SEUModel(factor=1000.0, single_bit_fraction=1.0)
    rng = np.random.default_rng(1)
    bits, days = 5000, 2.0  # mean 4.04
    mean = seu.expected_upsets(bits, days)
    counts = np.array([seu.draw(rng, bits, days).events for _ in range(4000)])
    assert abs(counts.mean() - mean) < 4 * np.sqrt(mean / len(counts))
    assert counts.var() == pytest.approx(mean, rel=0.1)  # Poisson: variance = mean


def test_multi_bit_share_and_adjacency() -> None:
    seu = SEUModel(factor=1e6)
    rng = np.random.default_rng(2)
    events = extra = 0
    for _ in range(200):
        u = seu.draw(rng, 100_000, 1.0)  # ~40 events each
        events += u.events
        extra += u.bits - u.events  # each 2-bit upset adds one position
    share = extra / events
    sd = np.sqrt(0.014 * 0.986 / events)
    assert abs(share - (1 - SINGLE_BIT_FRACTION)) < 4 * sd
    pairs = SEUModel(factor=1e3, single_bit_fraction=0.0).draw(rng, 10**6, 1.0)
    starts = pairs.positions.reshape(-1)
    # every multi-bit upset is 2 adjacent bits: pairs (p, p + 1) after sorting by start
    assert pairs.bits == 2 * pairs.events
    gaps = np.diff(np.sort(starts))
    assert np.count_nonzero(gaps == 1) >= pairs.events - 1


def test_positions_are_uniform_and_deterministic() -> None:
    seu = SEUModel(factor=1e7, single_bit_fraction=1.0)
    a = seu.draw(np.random.default_rng(7), 64_000, 1.0)
    b = seu.draw(np.random.default_rng(7), 64_000, 1.0)
    c = seu.draw(np.random.default_rng(8), 64_000, 1.0)
    assert np.array_equal(a.positions, b.positions) and not np.array_equal(a.positions, c.positions)
    counts = np.bincount(a.positions // 1000, minlength=64)
    assert stats.chisquare(counts).pvalue > 1e-4
    assert a.positions.min() >= 0 and a.positions.max() < 64_000


def test_bit_numbering_on_float32_by_hand() -> None:
    """1.0f is 0x3F800000: bit 31 is the sign, bit 30 the top exponent bit (-> inf), bit 23
    the lowest exponent bit (-> 0.5, exponent 127 -> 126)."""
    x = np.array([1.0, 1.0, 1.0, 3.0], dtype=np.float32)
    buf = x.view(np.uint8)
    flip_bits(buf, np.array([31, 32 + 30, 64 + 23], dtype=np.int64))
    assert x[0] == -1.0 and np.isinf(x[1]) and x[2] == 0.5 and x[3] == 3.0
    flip_bits(buf, np.array([31, 31], dtype=np.int64))  # two upsets of one cell cancel
    assert x[0] == -1.0
    with pytest.raises(ConfigError, match="outside a buffer of 128 bits"):
        flip_bits(buf, np.array([128], dtype=np.int64))


def test_upsets_leave_inputs_alone_and_flip_exactly_the_drawn_bits() -> None:
    seu = SEUModel(factor=1e5, single_bit_fraction=1.0)
    data = bytes(range(256)) * 4
    out, u = upset_bytes(data, seu, 1.0, np.random.default_rng(3))
    assert data == bytes(range(256)) * 4
    distance = sum(bin(a ^ b).count("1") for a, b in zip(data, out, strict=True))
    unique, counts = np.unique(u.positions, return_counts=True)
    assert distance == int(np.count_nonzero(counts % 2)) and len(unique) > 0
    arr = np.zeros((3, 4), dtype=np.float64)
    faulted, u2 = upset_array(arr, seu, 1.0, np.random.default_rng(4))
    assert not arr.any() and faulted.shape == arr.shape and u2.events > 0 and faulted.any()


def test_upset_tile_changes_data_not_validity() -> None:
    tile = make_tile(np.full((2, 8, 8), 0.25), bands=("B11", "B12"))
    same, none = upset_tile(tile, SEUModel(factor=0.0), 600.0, np.random.default_rng(0))
    assert same is tile and none.events == 0
    hit, u = upset_tile(tile, SEUModel(factor=1e8), 600.0, np.random.default_rng(0))
    assert u.events > 0 and hit is not tile
    assert np.array_equal(hit.valid, tile.valid) and np.all(tile.data == np.float32(0.25))
    assert np.count_nonzero(hit.data != tile.data) > 0


def _queue_with_records(verify_crc: bool, n: int = 40) -> OnboardQueue:
    queue = OnboardQueue(None, 3, QueueConfig(store=StoreConfig(verify_crc=verify_crc)))
    queue.enqueue_alerts([("fire", 1, float(i), bytes([i]) * 48) for i in range(n)])
    return queue


@pytest.mark.parametrize("verify_crc", [True, False])
def test_store_upsets_are_caught_by_crc32_or_by_the_ground(verify_crc: bool) -> None:
    queue = _queue_with_records(verify_crc)
    before = {p.row_id: p.data for p in queue.packets()}
    upsets = upset_queue(queue, SEUModel(factor=1000.0), 1.0, np.random.default_rng(5))
    after = {p.row_id: p.data for p in queue.packets()}
    damaged = sum(before[r] != after[r] for r in before)
    assert upsets.events > 0 and 0 < damaged < len(before)
    with GroundStation(None) as ground:
        Downlink().run_contact(queue, ground.receive, 1e6, 100.0)
        stats, counters = queue.stats(), ground.counters()
        payloads = {a.alert_id: a.payload for a in ground.alerts()}
    assert counters["delivered"] == len(before) - damaged
    assert all(p == bytes([i]) * 48 for i, p in payloads.items())  # nothing corrupt accepted
    if verify_crc:
        assert stats["store_crc_failures"] == damaged and counters["crc_failures"] == 0
    else:
        assert stats["store_crc_failures"] == 0 and counters["crc_failures"] == damaged
    queue.close()


def test_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="factor"):
        SEUModel(factor=-1.0)
    with pytest.raises(ConfigError, match="single_bit_fraction"):
        SEUModel(single_bit_fraction=1.5)
    with pytest.raises(ConfigError, match="unknown SEU setting 'rate'; known settings"):
        SEUModel.coerce({"rate": 1.0})
    assert SEUModel.coerce({"factor": 10}).rate == pytest.approx(4.04e-6)
