"""A satellite's detector runs on its tiles: in chunks at flush, or at capture, with the
alerts always those, and in the order, of one call over all of a capture's completed tiles.

:meth:`SatelliteNode.flush <edgeinfer.node.satellite.SatelliteNode.flush>` groups the tiles
the accelerator completed by capture. For each group, :meth:`Detections.run` takes a chunk of
tiles (from the tile cache, else read again from the scene), runs the detectors, turns the
outputs into alerts and lets the pixels go before the next chunk, so that memory does not
grow with the size of the capture (docs/performance.md, ``rss_ratio_4x``). A chunk holds a
multiple of the detector batch size (:func:`chunk_tiles`).

**Detections made at capture.** The budgets decide WHEN a tile's detections count (its
modelled accelerator time, edgeinfer.node.costs), not what they are: the same tile through
the same detector gives the same alerts at capture as later. Where nothing can change a tile
or its detectors in between (no tile or weight upsets, no TMR) and the budgets defer refused
tiles rather than drop them (so that little is computed for nothing), the node runs the
detectors on each clear tile while it is in memory from the cloud screen
(:meth:`Detections.captured`), keeps only its alerts and the chips that could be picked
(:class:`~edgeinfer.node.found.Ahead`), and raises them when the budgets complete the tile:
the tile is neither cached nor read a second time. At flush the node checks that each
detector it would run is the one that ran (a model update accepted in between makes it run
the tile again). A tile whose detections were made at capture is not read again, so a scene
file that breaks between the capture and the flush no longer fails it.

What a group keeps from chunk to chunk is small (edgeinfer.node.found):

* the alerts, in the order one call produced them (detector by detector, then tile by
  tile): one list per detector, concatenated at the end;
* the image chips of the alerts that are, so far, among the group's top
  ``max_chips_per_capture`` by priority (ties: the earlier alert), cut before their tile is
  let go. An alert in the final top k was in the top k of the alerts seen up to its own
  chunk (later alerts can only push it out), and in the top k of its own tile's alerts (they
  are among the group's, in the same order): a tile detected at capture keeps the chips of
  its own top k only.
"""

from __future__ import annotations

import contextlib
import logging
import operator
from collections.abc import Callable, Iterable
from typing import Any, Literal

from edgeinfer.errors import EdgeInferError
from edgeinfer.faults import FaultedDetector
from edgeinfer.node.backlog import Job
from edgeinfer.node.engine import InferenceEngine, Pick, PreparedScene
from edgeinfer.node.found import Ahead, FoundAlerts, detections_by_tile, tile_chips
from edgeinfer.node.hazards import NodeHazards
from edgeinfer.node.settings import NodeSettings
from edgeinfer.scene import Tile

logger = logging.getLogger(__name__)

#: Tiles per chunk, rounded to a multiple of the batch size [measured: a 7-band 512 px tile
#: is 7.25 MiB of float32; with chunks of 8 a satellite actor's peak RSS went from 998 to
#: 1,036 MiB for 48 to 221 tiles per capture (before: 1,206 to 3,258), docs/performance.md].
CHUNK_TILES = 8

Done = list[tuple[Job, float]]
"""Completed jobs of one capture and when the accelerator completed each."""


def chunk_tiles(batch_size: int, target: int = CHUNK_TILES) -> int:
    """Tiles per chunk: the multiple of ``batch_size`` nearest ``target`` (at least one batch)."""
    return batch_size * max(1, round(target / batch_size))


class Detections:
    """One satellite's detector runs on its tiles (see the module docstring).

    ``chunk_tiles``: tiles per detector call at flush (None: a capture's completed tiles in
    one call). With guarded weights the chunks of one capture run inside the guards'
    :meth:`~edgeinfer.faults.FaultedDetector.one_call`, so the weights are checked, and a
    failing copy counted, once per capture as one call would. ``at_capture``: whether clear
    tiles are detected at capture. ``release(job)``: the node's, called once a job's tile may
    go.
    """

    def __init__(
        self,
        engine: InferenceEngine,
        hazards: NodeHazards,
        settings: NodeSettings,
        release: Callable[[Job], None],
    ) -> None:
        h, b = settings.hazards, settings.budgets
        self.engine = engine
        self.hazards = hazards
        self.downlink = settings.downlink
        # None: a capture's completed tiles in one call; "auto": chunks of the engine's
        # batch, read when a flush runs (the batch is settled by the first session)
        self._chunk_tiles: int | Literal["auto"] | None = "auto"
        self.at_capture = not (h.guarded_weights or h.upsets("tiles")) and (
            b.on_refusal == "defer" and b.max_defer_s is None
        )
        self.ahead: dict[int, Ahead] = {}
        self._release = release

    @property
    def chunk_tiles(self) -> int | None:
        """Tiles per detector call at flush: a multiple of the engine's batch near
        :data:`CHUNK_TILES`, or what was set (None: one call per capture)."""
        return (
            chunk_tiles(self.engine.batch_size)
            if self._chunk_tiles == "auto"
            else self._chunk_tiles
        )

    @chunk_tiles.setter
    def chunk_tiles(self, value: int | None) -> None:
        self._chunk_tiles = value

    def captured(
        self,
        prepared: PreparedScene,
        batches: Iterable[list[tuple[Job, Tile]]],
        pick: Pick,
        alive: Callable[[str], bool],
    ) -> None:
        """Consume a capture's ``batches`` of freshly queued clear tiles and, with
        ``at_capture``, detect them now (in the engine's lanes, in order); their alerts wait
        for the accelerator. ``alive(storage_id)``: whether a job is still stored when its
        alerts come back. A failure is left for the flush to meet."""
        if not (self.at_capture and prepared.detectors):
            for _ in batches:
                pass
            return
        runners = tuple(pick(g) for g in prepared.detectors.values())
        items = ((queued, [tile for _, tile in queued]) for queued in batches)
        for queued, per_detector, secs in self.engine.detect_in_lanes(prepared, items, pick):
            if per_detector is None:
                continue
            tiles = [tile for _, tile in queued]
            found = detections_by_tile(tiles, per_detector, runners, secs, self.downlink)
            for job, tile in queued:
                if alive(job.storage_id):
                    self.ahead[job.job_id] = found[tile.tile_id]

    def forget(self, job: Job) -> None:
        self.ahead.pop(job.job_id, None)

    def run(self, prepared: PreparedScene, jobs: Done, pick: Pick) -> tuple[FoundAlerts, float]:
        """The alerts of one capture's completed ``jobs`` (in one call's order) and the
        measured seconds; raises the first error one call over all of them would raise."""
        with contextlib.ExitStack() as one_call:
            for g in prepared.detectors.values():
                guard = pick(g)
                if isinstance(guard, FaultedDetector):
                    one_call.enter_context(guard.one_call())
            return self._run(prepared, jobs, pick)

    def _run(self, prepared: PreparedScene, jobs: Done, pick: Pick) -> tuple[FoundAlerts, float]:
        step = self.chunk_tiles or len(jobs)
        found = FoundAlerts(len(prepared.detectors), self.downlink)
        runners: tuple[Any, ...] = ()
        if any(j.job_id in self.ahead for j, _ in jobs):  # never with guarded weights
            runners = tuple(pick(g) for g in prepared.detectors.values())
        secs = 0.0
        part: Done = []
        for k, (job, t_done) in enumerate(jobs):
            ahead = self.ahead.get(job.job_id)
            if ahead is not None and all(map(operator.is_, ahead.runners, runners)):
                secs += self._chunk(prepared, found, part, jobs[k:], pick) + ahead.seconds
                part = []
                found.add(ahead.alerts, ahead.chip)
                self._release(job)
                continue
            part.append((job, t_done))
            if len(part) >= step:
                secs += self._chunk(prepared, found, part, jobs[k + 1 :], pick)
                part = []
        return found, secs + self._chunk(prepared, found, part, [], pick)

    def _chunk(
        self, prepared: PreparedScene, found: FoundAlerts, part: Done, rest: Done, pick: Pick
    ) -> float:
        """Read, detect and gather the jobs ``part``, then let their tiles go; ``rest``: the
        group's jobs after it. Returns the measured seconds."""
        if not part:
            return 0.0
        tiles = self._tiles(prepared, part)
        try:
            per_detector, secs = self.engine.detect_each(prepared, tiles, pick)
        except EdgeInferError:
            self._tiles(prepared, rest)  # one call would have read (and upset) them all first
            raise
        found.add(per_detector, tile_chips(tiles, self.downlink.chip_size_px))
        for job, _ in part:
            self._release(job)
        return secs

    def _tiles(self, prepared: PreparedScene, jobs: Done) -> list[Tile]:
        """The jobs' tiles (cached or read again) after the upsets of their wait."""
        return [
            self.hazards.tile(
                j.tile or self.engine.read_tile(prepared, j.window, j.core),
                j.job_id,
                t_done - j.capture_s,
            )
            for j, t_done in jobs
        ]
