"""The object detectors on a capture's completed tiles, a chunk at a time.

:meth:`SatelliteNode.flush <edgeinfer.node.satellite.SatelliteNode.flush>` groups the tiles
the accelerator completed by capture. For each group it takes a chunk of tiles (from the tile
cache, else read again from the scene), runs the detectors on them, turns their outputs into
alerts and lets the pixels go before the next chunk, so that memory does not grow with the
size of the capture (docs/performance.md, ``rss_ratio_4x``). What it keeps from chunk to
chunk is small, and makes the result exactly that of one call on all the group's tiles:

* the alerts, in the order one call produced them (detector by detector, then tile by tile):
  :class:`FoundAlerts` keeps one list per detector and concatenates them at the end;
* the image chips of the alerts that are, so far, among the group's top
  ``max_chips_per_capture`` by priority (ties: the earlier alert), cut while their tile is
  still in memory (:class:`ChipPicker`). An alert in the final top k was in the top k of the
  alerts seen up to its own chunk (later alerts can only push it out), so the chips of the
  final picks are all there.

A chunk holds a multiple of the detector batch size, so the detectors see the same batches
as in one call over the whole group.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from functools import partial

from edgeinfer.detect import Alert
from edgeinfer.node.chips import make_chip
from edgeinfer.node.settings import DownlinkSettings
from edgeinfer.scene import Tile

#: Tiles per chunk [measured: a 7-band 512 px tile is 7.25 MiB of float32; 8 tiles and their
#: outputs keep a satellite actor's peak RSS flat from 48 to 221 tiles per capture,
#: docs/performance.md "rss_ratio_4x"], rounded to a multiple of the batch size.
CHUNK_TILES = 8

#: Order of an alert among a group's alerts for the chip ranking: (-priority, detector rank,
#: position in that detector's list); sorting by it is the stable sort by priority of the
#: alerts in the order one call produces them.
RankKey = tuple[int, int, int]


def chunk_tiles(batch_size: int, target: int = CHUNK_TILES) -> int:
    """Tiles per chunk: the multiple of ``batch_size`` nearest ``target`` (at least one batch)."""
    return batch_size * max(1, round(target / batch_size))


class ChipPicker:
    """The chips of the best ``limit`` alerts offered so far (smallest :data:`RankKey`)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._keys: list[RankKey] = []
        self._chips: list[bytes] = []

    def offer(self, key: RankKey, cut: Callable[[], bytes]) -> None:
        """Keep the chip ``cut()`` of the alert ranked ``key`` if it is among the best so far."""
        if self.limit <= 0 or (len(self._keys) >= self.limit and key >= self._keys[-1]):
            return
        at = bisect.bisect(self._keys, key)
        self._keys.insert(at, key)
        self._chips.insert(at, cut())
        del self._keys[self.limit :], self._chips[self.limit :]

    def picked(self) -> list[tuple[RankKey, bytes]]:
        """The kept (key, chip) pairs, best first."""
        return list(zip(self._keys, self._chips, strict=True))


class FoundAlerts:
    """The alerts of one capture group gathered chunk by chunk (see the module docstring)."""

    def __init__(self, detectors: int, downlink: DownlinkSettings) -> None:
        self.downlink = downlink
        self.per_detector: list[list[tuple[Alert, int]]] = [[] for _ in range(detectors)]
        self.picker = ChipPicker(downlink.max_chips_per_capture) if downlink.chips else None

    def add(self, per_detector: Sequence[Sequence[Alert]], tiles: Mapping[str, Tile]) -> None:
        """The alerts of one chunk, one list per detector; ``tiles``: its tiles by id."""
        dl = self.downlink
        for rank, alerts in enumerate(per_detector):
            kept = self.per_detector[rank]
            for alert in alerts:
                prio = dl.priority_of(alert.detector, alert.confidence)
                if self.picker is not None and prio >= dl.min_chip_priority:
                    cut = partial(make_chip, tiles[alert.tile_id], alert, dl.chip_size_px)
                    self.picker.offer((-prio, rank, len(kept)), cut)
                kept.append((alert, prio))

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
