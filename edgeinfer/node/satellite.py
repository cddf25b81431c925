"""``SatelliteNode``: one satellite as a plain class (no Ray; ``edgeinfer.mission.actors``
wraps groups of them as actors).

A node holds its onboard storage, its durable link queue (``edgeinfer.link.OnboardQueue``,
one SQLite file per satellite), its backlog of tiles waiting for the accelerator, and a slot
in a :class:`~edgeinfer.node.fleet.Fleet` (its battery and temperature, stepped with the
other satellites of its process). Detector sessions belong to the process's
:class:`~edgeinfer.node.engine.InferenceEngine` and are loaded once.

Simulated time is always passed in (seconds from the mission start); nothing reads a clock
except to MEASURE inference wall time. The flow:

* :meth:`capture` reads the scene's tiles through rasterio, screens clouds for real, stores
  each tile's raw bytes and queues it for the accelerator;
* the fleet grants accelerator seconds when power and thermal allow; completed clear tiles
  run the fire and ship detectors for real (:meth:`flush`), and each alert becomes a CCSDS
  packet in the durable queue (priority: detector base + confidence), with an image chip of
  the top alerts when the downlink policy asks for chips;
* :meth:`contact` sends packets during a pass through a ``deliver(packets, t, station)``
  callable (the ground station, possibly a Ray actor) and applies its acknowledgements.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from edgeinfer.budget import OnboardStorage
from edgeinfer.detect import Detector
from edgeinfer.errors import EdgeInferError
from edgeinfer.link import AlertItem, Downlink, OnboardQueue, QueueConfig, StoreConfig
from edgeinfer.node.backlog import Backlog, Job
from edgeinfer.node.counters import COUNTERS
from edgeinfer.node.downlink import Deliver, run_pass
from edgeinfer.node.engine import InferenceEngine, Pick
from edgeinfer.node.fleet import Fleet
from edgeinfer.node.flush import Detections, Done
from edgeinfer.node.found import FoundAlerts
from edgeinfer.node.hazards import NodeHazards
from edgeinfer.node.settings import NodeSettings, SceneRef
from edgeinfer.node.uplinks import ModelSlots, UplinkedModel

logger = logging.getLogger(__name__)


class SatelliteNode:
    """One satellite (see the module docstring). ``index`` is its mission index (its APIDs)."""

    def __init__(
        self,
        index: int,
        name: str,
        settings: NodeSettings,
        engine: InferenceEngine,
        scenes: Mapping[str, SceneRef],
        fleet: Fleet,
        slot: int = 0,
    ) -> None:
        self.index = index
        self.name = name
        self.settings = settings
        self.engine = engine
        self.scenes = dict(scenes)
        self.fleet = fleet
        self.slot = slot
        self.counters: Counter[str] = Counter(dict.fromkeys(COUNTERS, 0))
        self.measured_s: dict[str, float] = {"cloud_screen": 0.0, "detectors": 0.0}
        h = settings.hazards
        # new, or a checkpoint image: its in-flight packets await a relay's custody ack
        config = QueueConfig(store=StoreConfig(verify_crc=h.record_crc), requeue_on_open=False)
        self.queue = OnboardQueue(settings.state_dir, index, config)
        faults = dataclasses.replace(h.link, seed=settings.seed)
        batch = settings.downlink.batch_packets
        rounds = h.retransmit_rounds
        self._alert_link = Downlink(
            faults, batch_packets=batch, send_chips=False, retransmit_rounds=rounds
        )
        self._chip_link = Downlink(
            faults, batch_packets=batch, send_chips=True, retransmit_rounds=rounds
        )
        # a satellite's own models (guarded copies, updates) run in one lane: all the threads
        self.hazards = NodeHazards(h, settings.seed, index, engine.solo_options)
        self.slots = ModelSlots(engine.solo_options, engine, h.trusted_keys)
        self.raised: dict[int, bytes] = {}
        self.failures: list[dict[str, Any]] = []
        self.storage = OnboardStorage(settings.budgets.storage_bytes)
        b = settings.budgets
        self.backlog = Backlog(
            self._job_done, self._job_dropped, self.counters, b.on_refusal, b.max_defer_s
        )
        self._done: list[tuple[Job, float]] = []
        self.detections = Detections(engine, self.hazards, settings, self._release)
        self._jobs = 0
        self._cached_bytes = 0
        self._alert_seq = self.queue.stats()["alerts_enqueued"]
        self.capture_log: list[dict[str, Any]] = []
        self.pass_log: list[dict[str, Any]] = []
        fleet.join(slot, self)

    # -- the fleet's side (Worker protocol) ------------------------------------------------

    def backlog_s(self) -> float:
        return self.backlog.backlog_s()

    def work(self, granted_s: float, start_s: float, end_s: float) -> None:
        self.backlog.work(granted_s, start_s, end_s)

    def refused(self, reason: str, start_s: float, end_s: float) -> None:
        self.backlog.refused(reason, start_s, end_s)

    # -- time ------------------------------------------------------------------------------

    def advance(self, t_s: float) -> None:
        """Step the budgets (of the whole fleet) to ``t_s`` and raise the alerts of the tiles
        completed on the way."""
        self.fleet.advance(t_s)
        self.flush()

    def posix(self, t_s: float) -> float:
        return self.settings.start_posix_s + t_s

    # -- capture ---------------------------------------------------------------------------

    def capture(self, scene: str, t_s: float) -> dict[str, Any]:
        """Image scene ``scene`` at ``t_s``: read its tiles, screen clouds, queue the tiles."""
        self.advance(t_s)
        log: dict[str, Any] = {"t_s": t_s, "scene": scene, "tiles": 0, "empty": 0}
        try:
            prepared = self.engine.prepare(self.scenes[scene])
        except EdgeInferError as exc:
            self.counters["captures_failed"] += 1
            self._fail(scene, t_s, "capture", exc)
            log["error"] = str(exc)
            self.capture_log.append(log)
            return log
        d = self.settings.detection
        threshold = d.cloud_threshold
        cloudy: list[str] = []
        pick = self._pick(t_s)
        stopped: list[EdgeInferError] = []

        def screen(tiles: list[Any]) -> list[tuple[Job, Any]]:
            """Screen a batch for clouds and queue its tiles: the clear ones kept."""
            fractions, secs = self.engine.cloud_fractions(prepared, tiles, pick)
            self.measured_s["cloud_screen"] += secs
            queued: list[tuple[Job, Any]] = []
            for tile, fraction in zip(tiles, fractions, strict=True):
                clear = fraction <= threshold
                if not clear:
                    cloudy.append(tile.tile_id)
                job = self._queue_tile(prepared, tile, t_s, clear)
                if job is not None and clear:
                    queued.append((job, tile))
            # a tile's job may have been evicted from storage by the next tile's
            return [(j, t) for j, t in queued if j.storage_id in self.storage]

        def screened() -> Iterator[list[tuple[Job, Any]]]:
            batch: list[Any] = []
            try:
                for tile in self.engine.tiles(prepared, self.settings.on_tile_error):
                    log["tiles"] += 1
                    if "error" in tile.meta:
                        self.counters["tiles_unreadable"] += 1
                        if "error" not in log:
                            log["error"] = str(tile.meta["error"])
                            self._fail(scene, t_s, "tiles", str(tile.meta["error"]))
                    if not tile.valid.any():
                        log["empty"] += 1
                        continue
                    batch.append(tile)
                    if len(batch) >= self.engine.batch_size:
                        yield screen(batch)
                        batch = []
                if batch:
                    yield screen(batch)
            except EdgeInferError as exc:  # raised below, once the batches before it are in
                stopped.append(exc)

        try:
            # the detectors run on each batch's clear tiles (at capture, in the engine's lanes)
            # while the next batches are read and screened here
            self.detections.captured(prepared, screened(), pick, self.storage.__contains__)
            if stopped:
                raise stopped[0]
        except EdgeInferError as exc:  # a scene that breaks mid-capture: keep what was read
            self.counters["captures_failed"] += 1
            self._fail(scene, t_s, "capture", exc)
            log["error"] = str(exc)
        self.counters["scenes_captured"] += 1
        self.counters["tiles_captured"] += log["tiles"]
        self.counters["tiles_empty"] += log["empty"]
        self.counters["raw_bytes_captured"] += prepared.scene.raw_bytes
        log["cloudy_tiles"] = cloudy
        log["skipped_detectors"] = sorted(prepared.skipped)
        self.capture_log.append(log)
        return log

    def _queue_tile(self, prepared: Any, tile: Any, t_s: float, clear: bool) -> Job | None:
        """Queue a captured tile for the accelerator (None: no room in storage)."""
        core = tile.core
        raw = round(float(core.width) * float(core.height) * prepared.bytes_per_pixel)
        self._jobs += 1
        job = Job(
            job_id=self._jobs,
            scene=prepared.ref.key,
            window=tile.window,
            core=core,
            capture_s=t_s,
            clear=clear,
            cost_s=(prepared.screen_s + (prepared.detect_s if clear else 0.0))
            * self.hazards.copies,
            raw_bytes=raw,
        )
        dropped = self.storage.add(job.storage_id, raw, "raw", t_s)
        for item in dropped:
            if item.item_id == job.storage_id:
                self.counters["tiles_skipped_storage"] += 1
                return None
            old = self.backlog.remove(int(item.item_id.split(":")[1]))
            if old is not None:
                self._release(old)
                self.counters["tiles_skipped_storage"] += 1
        if clear and prepared.detectors and not self.detections.at_capture:
            size = tile.data.nbytes + tile.valid.nbytes
            if self._cached_bytes + size <= self.settings.max_cached_tile_bytes:
                job.tile = tile
                self._cached_bytes += size
        self.backlog.push(job, t_s)
        return job

    def _release(self, job: Job) -> None:
        self.detections.forget(job)
        if job.tile is not None:
            self._cached_bytes -= job.tile.data.nbytes + job.tile.valid.nbytes
            job.tile = None

    def _job_done(self, job: Job, t_s: float) -> None:
        if job.storage_id in self.storage:
            self.storage.remove(job.storage_id)
        if job.clear:
            self._done.append((job, t_s))
        else:
            self.counters["tiles_cloudy"] += 1

    def _job_dropped(self, job: Job, reason: str) -> None:
        if job.storage_id in self.storage:
            self.storage.remove(job.storage_id)
        self._release(job)
        self.counters[f"tiles_skipped_{reason}"] += 1

    # -- detection and alerts --------------------------------------------------------------

    def flush(self) -> int:
        """Run the detectors on the tiles the accelerator completed, capture by capture and
        a chunk of tiles at a time (:mod:`edgeinfer.node.flush`); returns alerts raised."""
        if not self._done:
            return 0
        done, self._done = self._done, []
        groups: dict[tuple[str, float], list[tuple[Job, float]]] = {}
        for job, t_done in done:
            groups.setdefault((job.scene, job.capture_s), []).append((job, t_done))
        pick = self._pick(self.fleet.t_s)
        return sum(self._detect_group(s, c, jobs, pick) for (s, c), jobs in groups.items())

    def _detect_group(self, scene: str, capture_s: float, jobs: Done, pick: Pick) -> int:
        """The detectors on one capture's completed ``jobs``; on an error none of their
        alerts is raised and every job counts as failed, as in one call over all of them."""
        try:
            prepared = self.engine.prepare(self.scenes[scene])
            if not prepared.detectors:
                self.counters["tiles_without_detector"] += len(jobs)
                return 0
            found, secs = self.detections.run(prepared, jobs, pick)
        except EdgeInferError as exc:
            self.counters["tiles_failed"] += len(jobs)
            self._fail(scene, capture_s, "detect", exc)
            return 0
        finally:
            for job, _ in jobs:
                self._release(job)
        self.measured_s["detectors"] += secs
        self.counters["tiles_inferred"] += len(jobs)
        return self._raise(found, capture_s)

    def _raise(self, found: FoundAlerts, capture_s: float) -> int:
        alerts = found.alerts()
        if not alerts:
            return 0
        when = dt.datetime.fromtimestamp(self.posix(capture_s), dt.UTC)
        items: list[AlertItem] = []
        for alert, prio in alerts:
            alert = dataclasses.replace(alert, capture_time=when)
            record = alert.to_record(self._alert_seq % 2**32).pack()
            self._alert_seq += 1
            items.append(AlertItem(alert.detector, prio, self.posix(capture_s), record))
        headers = self.queue.enqueue_alerts(items)
        for header, item in zip(headers, items, strict=True):
            self.raised[header.alert_id] = item.record
        self.counters["alerts_raised"] += len(headers)
        for index, chip in found.chips():
            self.queue.enqueue_chip(headers[index], chip)
            self.counters["chips_raised"] += 1
        return len(headers)

    # -- downlink --------------------------------------------------------------------------

    def contact(
        self, station: str, aos_s: float, los_s: float, capacity_bytes: int, deliver: Deliver
    ) -> dict[str, Any]:
        """A pass over ``station`` from ``aos_s`` to ``los_s`` carrying at most
        ``capacity_bytes``: alerts first, then (policy permitting) chips; returns its log."""
        self.advance(aos_s)
        self.hazards.records(self.queue, aos_s)
        links = (self._alert_link, self._chip_link)
        sent = run_pass(
            self.queue,
            links,
            self.settings.downlink,
            station,
            self.posix(aos_s),
            los_s - aos_s,
            capacity_bytes,
            deliver,
        )
        self.counters["passes"] += 1
        log = {
            "station": station,
            "aos_s": aos_s,
            "los_s": los_s,
            "capacity_bytes": int(capacity_bytes),
            **sent,
            "pending_after": self.queue.status().pending_packets,
        }
        self.pass_log.append(log)
        return log

    # -- faults, failures and uplinks --------------------------------------------------------

    def _pick(self, t_s: float) -> Pick:
        """What this satellite runs for a process-wide detector at ``t_s``: its accepted
        update, else its own (upset-prone, guarded) copy, else the detector."""

        def pick(golden: Detector) -> Any:
            chosen, updated = self.slots.pick(golden)
            return chosen if updated else self.hazards.runner(chosen, t_s)

        return pick

    def _fail(self, scene: str, t_s: float, stage: str, error: Exception | str) -> None:
        text = str(error)
        logger.warning(
            "%s: scene %s failed at t=%.0f s (%s): %s", self.name, scene, t_s, stage, text
        )
        self.failures.append({"scene": scene, "t_s": t_s, "stage": stage, "error": text})

    def uplink(self, update: UplinkedModel, t_s: float) -> bool:
        """A model update arrives at ``t_s`` (during a contact); accepted only with a valid
        signature by a trusted key, else the previous model stays (logged, counted)."""
        self.advance(t_s)
        ok = self.slots.receive(update, self.engine.model_info(update.name), t_s, self.name)
        self.counters["model_updates_accepted" if ok else "model_updates_refused"] += 1
        return ok

    # -- end of mission --------------------------------------------------------------------

    def finish(self, end_s: float) -> None:
        """Advance to the end; tiles still waiting count as skipped (for the reason that held
        them) or unfinished."""
        self.advance(end_s)
        for job in self.backlog.drain():
            if job.storage_id in self.storage:
                self.storage.remove(job.storage_id)
            self._release(job)
            reason = "power" if "power" in job.waited else "thermal" if job.waited else None
            self.counters[f"tiles_skipped_{reason}" if reason else "tiles_unfinished"] += 1

    def report(self) -> dict[str, Any]:
        """Counters, budget figures, measured and modelled inference time, link counters."""
        out: dict[str, Any] = {"satellite": self.name, "index": self.index}
        out.update({k: int(v) for k, v in self.counters.items()})
        budget = self.fleet.state(self.slot)
        out.update(budget)
        out["inference_modelled_s"] = budget["accelerator_s"]
        out["inference_measured_s"] = sum(self.measured_s.values())
        out["inference_measured_by_stage_s"] = dict(self.measured_s)
        out["link"] = self.queue.stats()
        status = self.queue.status()
        out["packets_pending_at_end"] = status.pending_packets + status.in_flight_packets
        out["storage_used_bytes"] = self.storage.used_bytes
        out["storage_dropped_raw_bytes"] = self.storage.counters.dropped_raw_bytes
        out["hazards"] = self.hazards.report()
        out["failures"] = [dict(f) for f in self.failures]
        out["model_updates"] = self.slots.snapshot()
        return out

    def close(self) -> None:
        self.queue.close()
