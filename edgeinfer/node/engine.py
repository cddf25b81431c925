"""The detector sessions of one process, loaded once and shared by every satellite in it.

A satellite node asks the engine to :meth:`~InferenceEngine.prepare` a scene (open it, pick
the models that fit its bands and product, create their onnxruntime sessions the first time a
model is needed), then to screen clouds on captured tiles and to run the object detectors on
the tiles its budgets allowed. The stages are those of :func:`edgeinfer.detect.detect_scene`
(cloud model first; a tile above ``cloud_threshold`` skips the detectors), split so that the
budgets can decide in between. Wall time inside ``session.run`` is measured per call.

**Lanes.** An actor with more than one thread (fewer satellites than cores, or ``--no-ray``)
splits them into lanes, as ``edgeinfer detect`` does (:mod:`edgeinfer.detect.lanes`): each
lane holds its own copy of the object detectors' sessions, and
:meth:`InferenceEngine.detect_in_lanes` hands a capture's batches of clear tiles to whichever
lane is free while the satellite reads and screens the next ones; the alerts are made from the
lanes' outputs in the calling thread (georeferencing goes through GDAL), in the batches'
order, so the satellite keeps them exactly as it would one lane's; at flush,
:meth:`InferenceEngine.detect_each` spreads a chunk's batches over the lanes the same way. A
satellite that runs its own version of a model (an accepted update, a fault-guarded copy)
uses one lane, with all the threads (:attr:`InferenceEngine.solo_options`). Lanes planned
for a GPU (one) are planned again for the CPU when the first session falls back to it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rasterio.windows import Window

from edgeinfer.detect import (
    Alert,
    Detector,
    ModelInfo,
    ModelRegistry,
    RuntimeOptions,
    objects_from_output,
)
from edgeinfer.detect.lanes import fallback_choices, ordered_parallel, plan_lanes, planned_batch
from edgeinfer.detect.pipeline import cloud_fraction
from edgeinfer.detect.runtime import DetectorOutput, gpu_requested
from edgeinfer.errors import EdgeInferError, ModelError
from edgeinfer.node.costs import CostModel
from edgeinfer.node.settings import DetectionSettings, SceneRef
from edgeinfer.scene import RasterScene, Tile, iter_tiles, read_tile, tile_windows

logger = logging.getLogger(__name__)

Key = TypeVar("Key")

Pick = Callable[[Detector], Any]
"""Maps a process-wide detector to what one satellite runs for it (an accepted update, a
fault-guarded copy, or the detector itself); anything with ``info`` and ``run(tiles)``."""


@dataclass
class PreparedScene:
    """A scene opened by this process with the detectors that fit it.

    ``screen_s`` / ``detect_s``: modelled accelerator seconds per tile of the cloud screen and
    of all object detectors together (:class:`~edgeinfer.node.costs.CostModel`).
    """

    ref: SceneRef
    scene: RasterScene
    cloud: Detector | None
    detectors: dict[str, Detector]
    skipped: dict[str, str]
    bands: tuple[str, ...]
    bytes_per_pixel: float
    screen_s: float
    detect_s: float
    n_tiles: int = 0
    models: dict[str, str] = field(default_factory=dict)


class InferenceEngine:
    """Sessions by model name (created once), prepared scenes by key, measured seconds."""

    def __init__(self, detection: DetectionSettings, cost: CostModel) -> None:
        self.detection = detection
        self.cost = cost
        self._registry = ModelRegistry(detection.models_dir)
        on_gpu = gpu_requested(detection.provider)
        #: lanes and each lane's intra-op threads (one lane: ``detection.threads``)
        self.lanes, self.threads_per_lane = plan_lanes(detection.threads, detection.lanes, on_gpu)
        self._options = RuntimeOptions(
            provider=detection.provider,
            intra_op_threads=self.threads_per_lane,
            require_signature=detection.require_signature,
            trusted_keys=detection.trusted_keys,
        )
        #: tiles per ``session.run``: the setting, or by the provider asked for (``None``),
        #: made again for the CPU if a GPU's sessions fall back (:meth:`_runner_for`)
        self.batch_size = planned_batch(detection.batch_size, on_gpu)
        # planned for a GPU that may not be usable here: checked at the first session
        self._check_fallback = on_gpu
        self._runners: dict[str, Detector] = {}
        self._copies: dict[str, list[Detector]] = {}  # model -> its runners in lanes 2..n
        self._scenes: dict[str, PreparedScene] = {}

    # -- scenes and models ---------------------------------------------------------------

    def prepare(self, ref: SceneRef) -> PreparedScene:
        """Open ``ref`` and load the sessions of its models (once per process)."""
        found = self._scenes.get(ref.key)
        if found is not None:
            return found
        scene = ref.open()
        d = self.detection
        chosen: dict[str, Detector] = {}
        skipped: dict[str, str] = {}
        for name in d.detectors:
            try:
                info = self._registry.select(name, scene.band_names, scene.product, d.models)
            except ModelError as exc:
                skipped[name] = str(exc)
                logger.debug("scene %s: no %s detector (%s)", ref.key, name, exc)
                continue
            chosen[name] = self._runner_for(info)
        cloud = chosen.pop("cloud", None)
        used = [*([cloud] if cloud else []), *chosen.values()]
        bands = tuple(b for b in scene.band_names if any(b in r.info.bands for r in used))
        pixels = max(1, scene.width * scene.height)
        screen_s = self.cost.tile_seconds(cloud.info) if cloud else 0.0
        detect_s = sum(self.cost.tile_seconds(r.info) for r in chosen.values())
        prepared = PreparedScene(
            ref=ref,
            scene=scene,
            cloud=cloud,
            detectors=chosen,
            skipped=skipped,
            bands=bands,
            bytes_per_pixel=scene.raw_bytes / pixels,
            screen_s=screen_s,
            detect_s=detect_s,
            n_tiles=len(tile_windows(scene.width, scene.height, d.tile_size, d.overlap)),
            models={r.info.detector: f"{r.info.name}@{r.info.version}" for r in used},
        )
        self._scenes[ref.key] = prepared
        return prepared

    @property
    def options(self) -> RuntimeOptions:
        """The sessions' options (intra-op threads: one lane's share)."""
        return self._options

    @property
    def solo_options(self) -> RuntimeOptions:
        """Options for sessions that run in one lane only (a satellite's own copy of a model):
        every thread of the actor."""
        return dataclasses.replace(self._options, intra_op_threads=self.detection.threads)

    def runner(self, name: str) -> Detector:
        """The process's detector of model ``name`` (loaded on first use)."""
        found = self._runners.get(name)
        return found if found is not None else self._runner_for(self._registry.get_model(name))

    def _runner_for(self, info: ModelInfo) -> Detector:
        """The process's detector of ``info`` (loaded on first use). The first session
        loaded checks the lanes' plan: where a GPU provider was planned for (two lanes) but
        the session fell back to the CPU (onnxruntime-gpu lists CUDA on a machine without a
        usable GPU), the automatic choices of lanes and batch are made again for the CPU
        (:func:`~edgeinfer.detect.lanes.fallback_choices`, as ``edgeinfer detect`` does)."""
        found = self._runners.get(info.name)
        if found is not None:
            return found
        runner = Detector(info, self._options, self.batch_size)
        if self._check_fallback:
            self._check_fallback = False
            d = self.detection
            plan = (self.lanes, self.threads_per_lane)
            choice = fallback_choices(
                d.threads, d.lanes, d.batch_size, True, [runner.provider], plan, self.batch_size
            )
            if choice is not None:
                (self.lanes, self.threads_per_lane), self.batch_size = choice
                self._options = dataclasses.replace(
                    self._options, intra_op_threads=self.threads_per_lane
                )
                # the fallback was logged by the first try
                runner = Detector(info, self._options, self.batch_size, announce=False)
        self._runners[info.name] = runner
        return runner

    def model_info(self, name: str) -> ModelInfo | None:
        """The installed model called ``name``, or None when the models folder has none."""
        try:
            return self._registry.get_model(name)
        except EdgeInferError:
            return None

    @property
    def session_s(self) -> float:
        """Wall seconds spent inside ``session.run`` so far by the process's detectors, in
        every lane."""
        return float(sum(r.inference_s for r in self._every_runner()))

    @property
    def session_cpu_s(self) -> float:
        """CPU seconds of the calling threads inside ``session.run`` so far, in every lane:
        the sessions' own CPU where they run one intra-op thread (the calling thread);
        ``session_s`` minus this is time the threads waited for a core."""
        return float(sum(r.inference_cpu_s for r in self._every_runner()))

    def _every_runner(self) -> list[Detector]:
        lanes = [c for copies in self._copies.values() for c in copies]
        return [*self._runners.values(), *lanes]

    def models_loaded(self) -> list[str]:
        return sorted(self._runners)

    def providers(self) -> dict[str, str]:
        return {name: r.provider for name, r in sorted(self._runners.items())}

    # -- stages ----------------------------------------------------------------------------

    def tiles(self, prepared: PreparedScene, on_error: str = "raise") -> Iterator[Tile]:
        """The scene's tiles (streamed), in the bands its models need; ``on_error="invalid"``
        turns an unreadable window into a tile without valid pixels (``meta["error"]``)."""
        d = self.detection
        return iter_tiles(
            prepared.scene, d.tile_size, d.overlap, prepared.bands or None, on_error=on_error
        )

    def read_tile(self, prepared: PreparedScene, window: Window, core: Window) -> Tile:
        """One tile again (the same values :meth:`tiles` yields), for a tile whose data was
        let go while it waited."""
        scene = prepared.scene
        names = prepared.bands or scene.band_names
        by_name = {b.name: b for b in scene.bands}
        bands = tuple(by_name[n] for n in names)
        return read_tile(scene, window, core, self.detection.tile_size, bands)

    def cloud_fractions(
        self, prepared: PreparedScene, tiles: Sequence[Tile], pick: Pick | None = None
    ) -> tuple[list[float], float]:
        """Cloud fraction of each tile (0 without a cloud model) and the measured seconds;
        ``pick``: what this satellite runs for the cloud model."""
        if prepared.cloud is None or not tiles:
            return [0.0] * len(tiles), 0.0
        cloud = pick(prepared.cloud) if pick is not None else prepared.cloud
        t0 = time.perf_counter()
        outs = cloud.run(tiles)
        fractions = [cloud_fraction(o, t.valid) for o, t in zip(outs, tiles, strict=True)]
        return fractions, time.perf_counter() - t0

    def detect(
        self, prepared: PreparedScene, tiles: Sequence[Tile], pick: Pick | None = None
    ) -> tuple[list[Alert], float]:
        """Alerts of the object detectors on ``tiles`` (detector by detector, tile by tile)
        and the measured seconds; ``pick``: what this satellite runs for each model."""
        per_detector, secs = self.detect_each(prepared, tiles, pick)
        return [a for alerts in per_detector for a in alerts], secs

    def detect_each(
        self, prepared: PreparedScene, tiles: Sequence[Tile], pick: Pick | None = None
    ) -> tuple[list[list[Alert]], float]:
        """As :meth:`detect`, one list of alerts per detector of ``prepared.detectors`` (in
        its order); each model's outputs are let go once its alerts are made."""
        per_detector: list[list[Alert]] = [[] for _ in prepared.detectors]
        if not tiles or not prepared.detectors:
            return per_detector, 0.0
        golden = list(prepared.detectors.values())
        runners = [pick(g) if pick is not None else g for g in golden]
        b = self.batch_size
        crews = self._crews(golden, runners)
        if len(crews) == 1 or len(tiles) <= b:
            return _detect_each_with(runners, tiles)
        # in the lanes: one item per (detector, batch), in the order one call runs them, so
        # the alerts and the first error raised are those of one call; the alerts are made
        # here, in the calling thread (georeferencing goes through GDAL)
        items = [(d, tiles[k : k + b]) for d in range(len(golden)) for k in range(0, len(tiles), b)]

        def work(
            item: tuple[int, Sequence[Tile]], crew: list[Any]
        ) -> tuple[int, Sequence[Tile], list[DetectorOutput]]:
            d, part = item
            return d, part, crew[d].run(part)

        t0 = time.perf_counter()
        for d, part, outs in ordered_parallel(items, work, crews):
            per_detector[d].extend(_alerts(runners[d].info, part, outs))
        return per_detector, time.perf_counter() - t0

    def _crews(self, golden: list[Detector], own: list[Any]) -> list[list[Any]]:
        """What each lane runs for ``golden``: ``own`` (what the satellite picked) in the
        first; more lanes only when the satellite runs the process's detectors themselves."""
        if self.lanes == 1 or any(r is not g for r, g in zip(own, golden, strict=True)):
            return [own]
        return [own, *([self._lane_copies(g)[k] for g in golden] for k in range(self.lanes - 1))]

    def detect_in_lanes(
        self,
        prepared: PreparedScene,
        batches: Iterable[tuple[Key, Sequence[Tile]]],
        pick: Pick,
    ) -> Iterator[tuple[Key, list[list[Alert]] | None, float]]:
        """:meth:`detect_each` on each ``(key, tiles)`` of ``batches``, in the lanes (module
        docstring), yielded in order as ``(key, alerts per detector, measured seconds)``;
        alerts None where the detectors failed on those tiles (logged at DEBUG). ``batches``
        is consumed in the calling thread, at most one more than there are lanes ahead."""
        golden = list(prepared.detectors.values())
        crews = self._crews(golden, [pick(g) for g in golden])

        def work(
            item: tuple[Key, Sequence[Tile]], runners: list[Any]
        ) -> tuple[Key, Sequence[Tile], list[list[DetectorOutput]] | None, float]:
            key, tiles = item
            if not tiles or not runners:
                return key, tiles, None, 0.0
            t0 = time.perf_counter()
            try:
                outs = [r.run(tiles) for r in runners]
            except EdgeInferError:
                logger.debug("scene %s: detection failed", prepared.ref.key, exc_info=True)
                return key, tiles, None, 0.0
            return key, tiles, outs, time.perf_counter() - t0

        # the alerts are made here, in the calling thread, in the batches' order
        for key, tiles, outs, secs in ordered_parallel(batches, work, crews):
            if outs is None:
                yield key, None, 0.0
                continue
            t0 = time.perf_counter()
            try:
                per_detector = [
                    _alerts(r.info, tiles, o) for r, o in zip(crews[0], outs, strict=True)
                ]
            except EdgeInferError:
                logger.debug("scene %s: detection failed", prepared.ref.key, exc_info=True)
                yield key, None, 0.0
                continue
            yield key, per_detector, secs + time.perf_counter() - t0

    def _lane_copies(self, golden: Detector) -> list[Detector]:
        """``golden``'s copies for lanes 2..n (created the first time)."""
        copies = self._copies.get(golden.info.name)
        if copies is None:
            copies = [
                Detector(golden.info, self._options, self.batch_size, announce=False)
                for _ in range(self.lanes - 1)
            ]
            self._copies[golden.info.name] = copies
        return copies

    def close(self) -> None:
        for prepared in self._scenes.values():
            prepared.scene.close()
        self._scenes.clear()
        self._runners.clear()
        self._copies.clear()


def _detect_each_with(
    runners: Sequence[Any], tiles: Sequence[Tile]
) -> tuple[list[list[Alert]], float]:
    """Each runner on ``tiles`` (detector by detector, tile by tile): alerts per runner, and
    the measured seconds; each model's outputs are let go once its alerts are made."""
    t0 = time.perf_counter()
    per_detector = [_alerts(r.info, tiles, r.run(tiles)) for r in runners]
    return per_detector, time.perf_counter() - t0


def _alerts(info: ModelInfo, tiles: Sequence[Tile], outs: Sequence[DetectorOutput]) -> list[Alert]:
    """The alerts of one model's outputs on ``tiles``, tile by tile."""
    alerts: list[Alert] = []
    for tile, out in zip(tiles, outs, strict=True):
        alerts.extend(objects_from_output(tile, out, info))
    return alerts
