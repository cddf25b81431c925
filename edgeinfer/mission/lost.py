"""Satellite groups that die for good during a mission.

Ray restarts a group's process up to its ``max_restarts`` times, and the restarted group
replays its checkpoint (edgeinfer.node.group). A crash beyond that (a process killed again and
again, an upset model that aborts onnxruntime on every replay) ends the group. The mission goes
on: the other groups finish their windows, the ground keeps every alert the lost group had
already downlinked, and ``metrics.json`` lists the group under ``lost_groups``. Its satellites
have no report (their budgets and counters died with the process), so the per-satellite
figures and totals cover the groups that finished.

With crosslinks the relay loop (:mod:`edgeinfer.relay.drive`) waits for the groups the same
way (:func:`wait_each`) and reports its lost groups alike; its relays then route around the
lost satellites, and packets handed toward them that they never acknowledged go back to
their senders.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edgeinfer.errors import GroupLost

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LostGroup:
    """A group that died for good: its satellites (index, name), the window whose call
    failed (None: its final report) and the error."""

    group: int
    satellites: tuple[tuple[int, str], ...]
    window: int | None
    error: str


def wait_each(
    executor: Any,
    calls: Mapping[int, Any],
    members: Sequence[Sequence[tuple[int, str]]],
    window: int | None,
    lost: dict[int, LostGroup],
) -> dict[int, Any]:
    """The results of one call per group (``calls``: group -> call), waited for one by one;
    a group whose process died for good goes into ``lost`` instead (logged as a warning)."""
    results: dict[int, Any] = {}
    for k, call in calls.items():
        try:
            results[k] = executor.get(call)
        except GroupLost as exc:
            lost[k] = LostGroup(k, tuple(members[k]), window, str(exc))
            names = ", ".join(name for _, name in members[k])
            when = "at its final report" if window is None else f"in window {window}"
            logger.warning(
                "satellite group %d (%s) was lost %s and the mission goes on without it: %s",
                k,
                names,
                when,
                exc,
            )
    return results


def lost_satellites(lost: Mapping[int, LostGroup]) -> set[int]:
    """The satellite indices of every lost group."""
    return {i for g in lost.values() for i, _ in g.satellites}


def add_lost_groups(
    metrics: dict[str, Any], lost: Mapping[int, LostGroup], delivered: Mapping[int, int]
) -> None:
    """``metrics["lost_groups"]`` and the totals ``satellites_lost`` and
    ``alerts_delivered_by_lost_satellites`` (``delivered``: alerts at the ground per
    satellite index)."""
    rows = []
    for g in sorted(lost.values(), key=lambda g: g.group):
        rows.append(
            {
                "group": g.group,
                "satellites": [name for _, name in g.satellites],
                "window": g.window,
                "error": g.error,
                "alerts_delivered": {name: delivered.get(i, 0) for i, name in g.satellites},
            }
        )
    metrics["lost_groups"] = rows
    total = metrics["total"]
    total["satellites_lost"] = sum(len(g.satellites) for g in lost.values())
    total["alerts_delivered_by_lost_satellites"] = sum(
        delivered.get(i, 0) for i in lost_satellites(lost)
    )
