"""Scene -> tiles -> cloud screen -> detectors -> alerts, with the numbers that matter on board.

:func:`detect_scene` is what ``edgeinfer detect`` and :mod:`edgeinfer.api` call.

Cloud screening (Phi-sat-1 CloudScout: tiles more than 70 % cloudy are dropped, saving ~30 %
of the downlink; ../shared/REFERENCE.md "Clouds"): when ``cloud`` is among the detectors, the
cloud model runs first on every tile that has valid pixels; a tile's cloud fraction is the
share of its valid pixels with ``class > 0``; tiles above ``cloud_threshold`` skip the other
detectors and are counted in ``tiles_cloudy``. The cloud model yields per-tile fractions
(``DetectionResult.cloud_fractions``), not object alerts, and optionally a cloud mask.
Tiles without a single valid pixel (nodata areas, padding) run no model (``tiles_empty``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.detect.alerts import Alert, objects_from_output
from edgeinfer.detect.lanes import build_lanes, ordered_parallel, prefetched
from edgeinfer.detect.masks import (
    MaskOut,
    MaskWriter,
    MaskWriterFactory,
    mask_targets,
    open_writers,
)
from edgeinfer.detect.metadata import DETECTORS, ModelInfo
from edgeinfer.detect.records import RECORD_SIZE
from edgeinfer.detect.registry import ModelRegistry, choose_models
from edgeinfer.detect.runtime import (
    Detector,
    DetectorOutput,
    RuntimeOptions,
    check_pixel_size,
    warn_short_context,
)
from edgeinfer.errors import ConfigError, unknown_name
from edgeinfer.scene.types import Scene, Tile

logger = logging.getLogger(__name__)

# Phi-sat-1 CloudScout drops images more than 70 % cloudy (../shared/REFERENCE.md, "Clouds").
DEFAULT_CLOUD_THRESHOLD = 0.7
# Cores split each overlap in half (edgeinfer.scene.tiling), so a core pixel has at least
# overlap // 2 px of its tile beyond it. 64 gives 32 px >= 30 px, half the 61x61 contextual
# window of the Schroeder et al. 2016 fire test (REFERENCE.md): exact context in every core.
DEFAULT_OVERLAP = 64
#: Batches read ahead by the reader thread while the models run on the current one.
DEFAULT_PREFETCH = 2

Progress = Callable[[int, int | None], None]
"""Called after each batch with (tiles done, tiles in total or None if unknown)."""

Tiler = Callable[[Scene, int, int, tuple[str, ...]], Iterable[Tile]]
"""``iter_tiles(scene, tile_size, overlap, bands)`` from edgeinfer.scene."""


@dataclass
class DetectionResult:
    """Alerts of one scene and what it took to find them.

    ``alerts_per_class`` maps detector -> class name -> count. ``inference_s`` is the wall
    time inside each model's session.run, by model name; ``providers`` the provider that
    actually ran each model. ``ratio`` is raw bytes / alert bytes (None without alerts).
    """

    scene_id: str
    alerts: list[Alert]
    models: dict[str, ModelInfo]
    providers: dict[str, str]
    tiles_total: int = 0
    tiles_empty: int = 0
    tiles_cloudy: int = 0
    tiles_inferred: int = 0
    cloud_threshold: float = DEFAULT_CLOUD_THRESHOLD
    cloud_fractions: dict[str, float] = field(default_factory=dict)
    alerts_per_class: dict[str, dict[str, int]] = field(default_factory=dict)
    raw_bytes: int = 0
    alert_bytes: int = 0
    inference_s: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    skipped: dict[str, str] = field(default_factory=dict)
    masks: dict[str, Path] = field(default_factory=dict)
    lanes: int = 1
    threads_per_lane: int | None = None
    batch_size: int = 0  # tiles per session.run (0: no detector ran)

    @property
    def ratio(self) -> float | None:
        return self.raw_bytes / self.alert_bytes if self.alert_bytes else None

    @property
    def provider(self) -> str:
        """The provider all models ran on (``mixed`` if they differ, ``none`` if no model)."""
        used = set(self.providers.values())
        return used.pop() if len(used) == 1 else ("mixed" if used else "none")

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (no alerts)."""
        return {
            "scene_id": self.scene_id,
            "detectors": {d: f"{m.name}@{m.version}" for d, m in self.models.items()},
            "provider": self.provider,
            "providers": dict(self.providers),
            "tiles_total": self.tiles_total,
            "tiles_empty": self.tiles_empty,
            "tiles_cloudy": self.tiles_cloudy,
            "tiles_inferred": self.tiles_inferred,
            "cloud_threshold": self.cloud_threshold,
            "cloud_fraction_mean": (
                round(sum(self.cloud_fractions.values()) / len(self.cloud_fractions), 4)
                if self.cloud_fractions
                else None
            ),
            "alerts": len(self.alerts),
            "alerts_per_class": self.alerts_per_class,
            "raw_bytes": self.raw_bytes,
            "alert_bytes": self.alert_bytes,
            "ratio": self.ratio,
            "inference_s": {k: round(v, 4) for k, v in self.inference_s.items()},
            "wall_s": round(self.wall_s, 4),
            "lanes": self.lanes,
            "threads_per_lane": self.threads_per_lane,
            "batch_size": self.batch_size,
            "skipped": dict(self.skipped),
            "masks": {k: str(v) for k, v in self.masks.items()},
        }


def cloud_fraction(output: DetectorOutput, valid: np.ndarray) -> float:
    """Share of a tile's valid pixels the cloud model marks ``class > 0`` (0 if none valid)."""
    n_valid = int(np.count_nonzero(valid))
    if n_valid == 0:
        return 0.0
    return int(np.count_nonzero((output.cls > 0) & valid)) / n_valid


def detect_scene(
    scene: Scene,
    detectors: Sequence[str],
    provider: str = "auto",
    tile_size: int = 512,
    overlap: int = DEFAULT_OVERLAP,
    batch_size: int | None = None,
    threads: int | None = None,
    cloud_threshold: float = DEFAULT_CLOUD_THRESHOLD,
    mask_out: MaskOut = None,
    progress: Progress | None = None,
    *,
    registry: ModelRegistry | None = None,
    skip_unfit: bool = False,
    tiler: Tiler | None = None,
    mask_writer: MaskWriterFactory | None = None,
    require_signature: bool = False,
    trusted_keys: Sequence[str | Path] = (),
    prefetch: int = DEFAULT_PREFETCH,
    prefer: Sequence[str] = (),
    lanes: int | None = None,
) -> DetectionResult:
    """Run ``detectors`` (names from ``fire, ship, cloud``) over ``scene``.

    Models are chosen by ``registry`` (default: the models directory) to fit the scene's
    bands and product; with ``skip_unfit`` a detector without a fitting model is skipped
    (reason in ``result.skipped``) instead of raising :class:`ModelError`, which is still
    raised when no detector at all fits, or the models folder is missing or has no usable
    model (unreadable model files are skipped with a warning). ``mask_out``: class masks,
    ``{detector: path}`` or one path (that path when one detector runs, else one file per
    detector with ``_<detector>`` inserted: :func:`~edgeinfer.detect.masks.mask_targets`).
    ``tiler`` and ``mask_writer`` default to the scene package's ``iter_tiles`` and mask
    writer. ``require_signature``: load only models whose ``.sig`` verifies against
    ``trusted_keys`` (see :class:`RuntimeOptions`).
    ``prefetch``: batches a reader thread reads ahead while the models run (rasterio and
    onnxruntime release the GIL, so reading overlaps inference); 0 reads in this thread.
    ``prefer``: model names to use instead of the registry's default where they fit the scene
    (e.g. ``ship_optical_union``); an unknown name raises :class:`UnknownNameError`.
    ``lanes``: copies of the models that run batches in parallel, ``threads`` shared between
    them (:mod:`edgeinfer.detect.lanes`); None: one per thread up to 4 on CPU, one on a GPU.
    ``batch_size``: tiles per ``session.run``; None: 1 on CPU, 2 on a GPU
    (:func:`~edgeinfer.detect.lanes.default_batch_size`; 1 where a GPU provider falls back
    to the CPU). The results depend on neither.
    """
    t_start = time.perf_counter()
    if not 0.0 <= cloud_threshold <= 1.0:
        raise ConfigError(f"cloud_threshold = {cloud_threshold}: expected a fraction in [0, 1]")
    if tile_size < 1 or not 0 <= overlap < tile_size:
        raise ConfigError(
            f"tile_size {tile_size} / overlap {overlap}: need tile_size >= 1 and "
            "0 <= overlap < tile_size"
        )
    wanted = list(dict.fromkeys(d.strip() for d in detectors if d.strip()))
    if not wanted:
        raise ConfigError("no detectors given; choose from " + ", ".join(DETECTORS))
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise ConfigError(
            f"batch_size = {batch_size!r}: expected an integer >= 1; leave it out for 1 tile "
            "per batch on CPU, 2 on a GPU"
        )
    options = RuntimeOptions(
        provider=provider,
        intra_op_threads=threads,
        require_signature=require_signature,
        trusted_keys=tuple(str(k) for k in trusted_keys),
    )
    registry = registry or ModelRegistry()
    registry.check_names(prefer)
    models, skipped = choose_models(registry, wanted, scene, skip_unfit, tuple(prefer))
    check_pixel_size(models.values(), scene)  # before a mask file is created
    warn_short_context(models.values(), overlap)
    if isinstance(mask_out, Mapping) and (unknown := sorted(set(mask_out) - set(wanted))):
        raise unknown_name("mask detector", unknown[0], wanted)
    bands = tuple(b for b in scene.band_names if any(b in m.bands for m in models.values()))
    result = DetectionResult(
        scene_id=scene.scene_id,
        alerts=[],
        models=models,
        providers={},
        cloud_threshold=cloud_threshold,
        raw_bytes=scene.raw_bytes,
        skipped=skipped,
    )
    if not models:
        result.wall_s = time.perf_counter() - t_start
        return result

    crews, n_lanes, per_lane, batch_size = build_lanes(models, options, batch_size, threads, lanes)
    result.providers = {r.info.name: r.provider for r in crews[0].values()}
    result.lanes, result.threads_per_lane = n_lanes, per_lane
    result.batch_size = batch_size
    targets = mask_targets(mask_out, list(models))
    writers: dict[str, MaskWriter] = {}
    closers: list[Callable[[], None]] = []
    try:
        open_writers(writers, targets, models, scene, mask_writer)
        if tiler is None:
            tiles: Iterable[Tile] = _default_tiler()(scene, tile_size, overlap, bands)
            total: int | None = _tile_count(scene, tile_size, overlap)
        else:
            tiles = tiler(scene, tile_size, overlap, bands)
            total = len(tiles) if isinstance(tiles, Sized) else None
        stream = prefetched(tiles, prefetch * batch_size)
        closers.append(stream.close)  # stops the reader thread if processing fails
        counts = [0, 0]  # tiles seen, empty tiles seen (the batches run ahead of the merge)

        def batches() -> Generator[tuple[list[Tile], int, int], None, None]:
            """Batches of non-empty tiles, each with the tiles (and empty ones) seen so far."""
            batch: list[Tile] = []
            for tile in stream:
                counts[0] += 1
                if not tile.valid.any():
                    counts[1] += 1
                else:
                    batch.append(tile)
                if len(batch) >= batch_size:
                    yield batch, counts[0], counts[1]
                    batch = []
            if batch:
                yield batch, counts[0], counts[1]

        masked = set(writers)

        def work(
            item: tuple[list[Tile], int, int], crew: dict[str, Detector]
        ) -> tuple[tuple[list[Tile], int, int], _Outcome]:
            return item, _detect_batch(item[0], crew, cloud_threshold, masked)

        done = ordered_parallel(batches(), work, crews)
        closers.insert(0, done.close)  # first: stop the lanes, then the reader
        for (batch, seen, empty), outcome in done:
            result.tiles_total, result.tiles_empty = seen, empty
            _merge(outcome, writers, result)
            if progress is not None and len(batch) >= batch_size:  # after each whole batch
                progress(result.tiles_total, total)
        result.tiles_total, result.tiles_empty = counts
        if progress is not None:
            progress(result.tiles_total, total)
    finally:
        for close in closers:
            close()
        for writer in writers.values():
            writer.close()
    result.masks = {d: targets[d] for d in writers}
    result.inference_s = {
        name: sum(r.inference_s for crew in crews for r in crew.values() if r.info.name == name)
        for name in result.providers
    }
    result.alert_bytes = len(result.alerts) * RECORD_SIZE
    for alert in result.alerts:
        per = result.alerts_per_class.setdefault(alert.detector, {})
        per[alert.class_name] = per.get(alert.class_name, 0) + 1
    result.wall_s = time.perf_counter() - t_start
    logger.info(
        "scene %s: %d tiles (%d empty, %d cloudy, %d inferred), %d alerts, %d raw bytes, "
        "%d alert bytes, provider %s",
        scene.scene_id,
        result.tiles_total,
        result.tiles_empty,
        result.tiles_cloudy,
        result.tiles_inferred,
        len(result.alerts),
        result.raw_bytes,
        result.alert_bytes,
        result.provider,
    )
    return result


@dataclass
class _Outcome:
    """One batch, detected in a lane: what :func:`_merge` adds to the result in order."""

    cloud: list[tuple[Tile, np.ndarray | None, float]] = field(default_factory=list)
    inferred: int = 0
    alerts: list[Alert] = field(default_factory=list)
    masks: list[tuple[str, Tile, np.ndarray]] = field(default_factory=list)


def _detect_batch(
    batch: list[Tile],
    runners: dict[str, Detector],
    threshold: float,
    masks: set[str],
) -> _Outcome:
    """Cloud screen, then the other detectors on the kept tiles and their alerts; the class
    maps are kept only for detectors with a mask writer."""
    outcome = _Outcome()
    kept = batch
    if "cloud" in runners:
        kept = []
        for tile, out in zip(batch, runners["cloud"].run(batch), strict=True):
            fraction = cloud_fraction(out, tile.valid)
            outcome.cloud.append((tile, out.cls if "cloud" in masks else None, fraction))
            if fraction <= threshold:
                kept.append(tile)
    others = [d for d in runners if d != "cloud"]
    outcome.inferred = len(kept) if others else len(batch)
    if not kept:
        return outcome
    for detector in others:
        runner = runners[detector]
        for tile, out in zip(kept, runner.run(kept), strict=True):
            outcome.alerts.extend(objects_from_output(tile, out, runner.info))
            if detector in masks:
                outcome.masks.append((detector, tile, out.cls))
    return outcome


def _merge(outcome: _Outcome, writers: dict[str, MaskWriter], result: DetectionResult) -> None:
    """Add one batch's outcome to ``result`` and write its masks (in this thread: GDAL
    datasets are not shared between threads)."""
    for tile, classes, fraction in outcome.cloud:
        result.cloud_fractions[tile.tile_id] = fraction
        if classes is not None:
            writers["cloud"].write_tile(tile, classes)
        if fraction > result.cloud_threshold:
            result.tiles_cloudy += 1
    result.tiles_inferred += outcome.inferred
    result.alerts.extend(outcome.alerts)
    for detector, tile, classes in outcome.masks:
        writers[detector].write_tile(tile, classes)


def _default_tiler() -> Tiler:
    from edgeinfer.scene.tiling import iter_tiles

    return iter_tiles


def _tile_count(scene: Scene, tile_size: int, overlap: int) -> int:
    from edgeinfer.scene.tiling import tile_windows

    return len(tile_windows(scene.width, scene.height, tile_size, overlap))
