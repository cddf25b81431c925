"""Onboard storage: oldest raw first, alerts never, explicit counters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeinfer.budget import OnboardStorage
from edgeinfer.errors import ConfigError


def test_oldest_raw_is_dropped_first_and_alerts_are_kept() -> None:
    s = OnboardStorage(1000)
    s.add("raw0", 400, "raw", 0.0)
    s.add("alert0", 100, "alert", 1.0)
    s.add("raw1", 400, "raw", 2.0)
    dropped = s.add("raw2", 300, "raw", 3.0)  # needs 200 more bytes: raw0 goes
    assert [d.item_id for d in dropped] == ["raw0"]
    assert "alert0" in s and "raw1" in s and "raw2" in s
    assert s.used_bytes == 800 and s.free_bytes == 200
    dropped = s.add("alert1", 500, "alert", 4.0)  # raw1 (older) goes before raw2
    assert [d.item_id for d in dropped] == ["raw1"]
    assert s.counters.dropped_raw_items == 2 and s.counters.dropped_raw_bytes == 800
    assert s.bytes_of("alert") == 600 and s.bytes_of("raw") == 300


def test_alert_that_cannot_fit_is_refused_not_evicting_alerts() -> None:
    s = OnboardStorage(300)
    s.add("a", 200, "alert", 0.0)
    s.add("r", 100, "raw", 1.0)
    refused = s.add("b", 200, "alert", 2.0)
    assert [r.item_id for r in refused] == ["b"]
    assert "a" in s and "r" in s  # nothing was evicted in vain
    assert s.counters.refused_alert_items == 1 and s.counters.refused_alert_bytes == 200
    assert s.counters.dropped_raw_items == 0


def test_raw_larger_than_what_could_be_freed_is_dropped_on_arrival() -> None:
    s = OnboardStorage(100)
    s.add("a", 60, "alert", 0.0)
    dropped = s.add("big", 50, "raw", 1.0)
    assert [d.item_id for d in dropped] == ["big"] and "big" not in s
    assert s.counters.dropped_raw_bytes == 50


def test_remove_after_downlink_and_errors() -> None:
    s = OnboardStorage(100)
    s.add("x", 10, "raw", 0.0)
    assert s.remove("x").size_bytes == 10 and s.used_bytes == 0
    with pytest.raises(ConfigError, match="not in storage"):
        s.remove("x")
    s.add("y", 10, "alert", 0.0)
    with pytest.raises(ConfigError, match="already stored"):
        s.add("y", 10, "alert", 0.0)
    with pytest.raises(ConfigError, match="raw, alert"):
        s.add("z", 10, "tile", 0.0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        OnboardStorage(0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.booleans()), min_size=1, max_size=60))
def test_capacity_holds_and_no_alert_is_ever_evicted(items: list[tuple[int, bool]]) -> None:
    s = OnboardStorage(1000)
    kept_alerts: set[str] = set()
    offered_raw = 0
    for n, (size, is_alert) in enumerate(items):
        name = f"i{n}"
        out = s.add(name, size, "alert" if is_alert else "raw", float(n))
        assert all(d.kind == "raw" or d.item_id == name for d in out)
        if is_alert and name in s:
            kept_alerts.add(name)
        offered_raw += 0 if is_alert else size
        assert 0 <= s.used_bytes <= s.capacity_bytes
        assert kept_alerts <= {i.item_id for i in s.items()}
    # raw bytes are either held or counted as dropped
    assert s.bytes_of("raw") + s.counters.dropped_raw_bytes == offered_raw
