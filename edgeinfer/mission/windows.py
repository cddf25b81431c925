"""A satellite group's events, in time order, cut into the windows the driver runs one call
at a time (and a group checkpoints after)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edgeinfer.mission.plan import MissionPlan
from edgeinfer.node.events import Capture, Event, Uplink


def group_events(plan: MissionPlan, rows: Sequence[int], uplinks: Sequence[Uplink]) -> list[Event]:
    """Captures, uplinks and passes of satellites ``rows`` in time order (at one instant: a
    capture, then an update received at the start of a contact, then the contact)."""
    keep = set(rows)
    items: list[Event] = [*plan.events(rows), *(u for u in uplinks if u.sat in keep)]
    rank = {Capture: 0, Uplink: 1}
    items.sort(key=lambda e: (e.t_s, rank.get(type(e), 2), e.sat))
    return items


def cut_windows(events: Sequence[Event], bounds: Any) -> list[tuple[float, list[Event]]]:
    """``(until_s, events)`` per window; an event at the very end goes to the last one."""
    out = []
    n = len(bounds) - 1
    for w in range(n):
        lo, hi = float(bounds[w]), float(bounds[w + 1])
        last = w == n - 1
        out.append((hi, [e for e in events if lo <= e.t_s < hi or (last and e.t_s == hi)]))
    return out
