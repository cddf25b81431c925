"""The alerts of one capture group, gathered a chunk (or a tile) at a time, in the order one
detector call over the whole group produces them, with the image chips that could be picked
(see :mod:`edgeinfer.node.flush` for why the result is exactly one call's)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from edgeinfer.detect import Alert
from edgeinfer.node.chips import make_chip
from edgeinfer.node.settings import DownlinkSettings
from edgeinfer.scene import Tile

#: Order of an alert among a group's alerts for the chip ranking: (-priority, detector rank,
#: position in that detector's list); sorting by it is the stable sort by priority of the
#: alerts in the order one call produces them.
RankKey = tuple[int, int, int]

#: Cuts the chip of ``alert``, the ``index``-th of detector ``rank`` in one ``add`` call.
ChipCutter = Callable[[int, int, Alert], bytes]


class ChipPicker:
    """The best ``limit`` alerts offered so far (smallest :data:`RankKey`) and their chips,
    cut at :meth:`settle` for the alerts still kept then."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._keys: list[RankKey] = []
        self._chips: list[bytes | Callable[[], bytes]] = []

    def offer(self, key: RankKey, cut: Callable[[], bytes]) -> None:
        """Keep the alert ranked ``key`` (and how to cut its chip) if among the best so far."""
        if self.limit <= 0 or (len(self._keys) >= self.limit and key >= self._keys[-1]):
            return
        at = bisect.bisect(self._keys, key)
        self._keys.insert(at, key)
        self._chips.insert(at, cut)
        del self._keys[self.limit :], self._chips[self.limit :]

    def settle(self) -> None:
        """Cut the chips of the kept alerts not cut yet (while their tiles are in memory)."""
        self._chips = [c if isinstance(c, bytes) else c() for c in self._chips]

    def picked(self) -> list[tuple[RankKey, bytes]]:
        """The kept (key, chip) pairs, best first."""
        self.settle()
        return [
            (k, c) for k, c in zip(self._keys, self._chips, strict=True) if isinstance(c, bytes)
        ]


class FoundAlerts:
    """The alerts of one capture group gathered chunk by chunk (see the module docstring)."""

    def __init__(self, detectors: int, downlink: DownlinkSettings) -> None:
        self.downlink = downlink
        self.per_detector: list[list[tuple[Alert, int]]] = [[] for _ in range(detectors)]
        self.picker = ChipPicker(downlink.max_chips_per_capture) if downlink.chips else None

    def add(self, per_detector: Sequence[Sequence[Alert]], chip: ChipCutter) -> None:
        """The alerts of the next tiles, one list per detector; ``chip`` cuts a chip."""
        dl = self.downlink
        for rank, alerts in enumerate(per_detector):
            kept = self.per_detector[rank]
            for index, alert in enumerate(alerts):
                prio = dl.priority_of(alert.detector, alert.confidence)
                if self.picker is not None and prio >= dl.min_chip_priority:
                    self.picker.offer((-prio, rank, len(kept)), partial(chip, rank, index, alert))
                kept.append((alert, prio))
        if self.picker is not None:
            self.picker.settle()

    def alerts(self) -> list[tuple[Alert, int]]:
        """Every (alert, priority), detector by detector."""
        return [found for alerts in self.per_detector for found in alerts]

    def chips(self) -> list[tuple[int, bytes]]:
        """(index in :meth:`alerts`, chip) of the picked alerts, best first."""
        offsets = [0]
        for alerts in self.per_detector:
            offsets.append(offsets[-1] + len(alerts))
        if self.picker is None:
            return []
        return [(offsets[rank] + pos, chip) for (_, rank, pos), chip in self.picker.picked()]


def tile_chips(tiles: Sequence[Tile], chip_size_px: int) -> ChipCutter:
    """Cuts chips from ``tiles`` (by tile id)."""
    by_id = {t.tile_id: t for t in tiles}
    return lambda _rank, _index, alert: make_chip(by_id[alert.tile_id], alert, chip_size_px)


@dataclass
class Ahead:
    """A clear tile's detections made at its capture: what ran for each detector (checked at
    flush), its alerts per detector, the chips of its own top alerts by (rank, index), and
    the measured seconds."""

    runners: tuple[Any, ...]
    alerts: list[list[Alert]]
    chips: dict[tuple[int, int], bytes]
    seconds: float

    def chip(self, rank: int, index: int, _alert: Alert) -> bytes:
        return self.chips[(rank, index)]


def detections_by_tile(
    tiles: Sequence[Tile],
    per_detector: Sequence[Sequence[Alert]],
    runners: tuple[Any, ...],
    seconds: float,
    downlink: DownlinkSettings,
) -> dict[str, Ahead]:
    """Split one detector call on ``tiles`` into each tile's :class:`Ahead` (by tile id),
    with the chips of each tile's top ``max_chips_per_capture`` alerts."""
    out = {
        t.tile_id: Ahead(runners, [[] for _ in per_detector], {}, seconds / len(tiles))
        for t in tiles
    }
    for rank, alerts in enumerate(per_detector):
        for alert in alerts:
            out[alert.tile_id].alerts[rank].append(alert)
    if not downlink.chips:
        return out
    cut = tile_chips(tiles, downlink.chip_size_px)
    for ahead in out.values():  # the tile's own ranking, as FoundAlerts.add ranks a group's
        picker = ChipPicker(downlink.max_chips_per_capture)
        for rank, alerts in enumerate(ahead.alerts):
            for index, alert in enumerate(alerts):
                prio = downlink.priority_of(alert.detector, alert.confidence)
                if prio >= downlink.min_chip_priority:
                    picker.offer((-prio, rank, index), partial(cut, rank, index, alert))
        ahead.chips = {(rank, index): chip for (_, rank, index), chip in picker.picked()}
    return out
