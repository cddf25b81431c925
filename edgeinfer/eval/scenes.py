"""What every evaluation needs: where the labelled data lives, scenes held in memory (a real
background with synthetic fires injected), running one model over a scene through the
runtime (tiles -> :class:`~edgeinfer.detect.runtime.Detector` -> alerts and a class map),
and recording scores next to the model.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from affine import Affine
from rasterio.windows import Window

from edgeinfer.detect.alerts import Alert, objects_from_output
from edgeinfer.detect.pipeline import DEFAULT_OVERLAP
from edgeinfer.detect.runtime import Detector
from edgeinfer.errors import SceneError
from edgeinfer.output_files import write_text_file
from edgeinfer.scene.bands import Band
from edgeinfer.scene.raster import RasterScene
from edgeinfer.scene.tiling import core_slices, iter_tiles
from edgeinfer.scene.types import BoolArray, FloatArray, Scene

if TYPE_CHECKING:
    from rasterio.crs import CRS

logger = logging.getLogger(__name__)

DATA_ENV = "EDGEINFER_SHARED_DATA"
# The runtime's default tiling (edgeinfer.detect.pipeline): 512 px tiles whose overlap leaves
# every core pixel the 30 px context radius of the 61x61 fire windows.
TILE_SIZE = 512
OVERLAP = DEFAULT_OVERLAP


def default_data_dir() -> Path:
    """``$EDGEINFER_SHARED_DATA`` if set, else ``../shared/data`` beside the repository."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def find_data(data_dir: Path | None, relatives: Sequence[str], command: str) -> dict[str, Path]:
    """The folders among ``relatives`` present under the data folder (``--data``, else
    :func:`default_data_dir`), by relative path. Missing ones are skipped with a warning;
    none present -> :class:`SceneError` naming them all and ``--data``."""
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    found = {rel: root / rel for rel in relatives if (root / rel).exists()}
    if not found:
        raise SceneError(
            f"`edgeinfer eval {command}` found none of its data under {root} "
            f"({', '.join(relatives)}); pass --data DIR with a folder that holds them (or set "
            f"{DATA_ENV})"
        )
    for rel in relatives:
        if rel not in found:
            logger.warning("eval %s: %s is absent under %s; skipped", command, rel, root)
    return found


class ArrayScene(Scene):
    """A scene held in memory: float32 ``(bands, h, w)`` data in physical units and a
    ``(h, w)`` validity mask (e.g. a real background read once, with injected fires)."""

    def __init__(
        self,
        data: FloatArray,
        valid: BoolArray,
        bands: tuple[Band, ...],
        *,
        scene_id: str,
        product: str,
        transform: Affine | None = None,
        crs: CRS | None = None,
        pixel_size_m: float | None = None,
        capture_time: dt.datetime | None = None,
        source: str = "memory",
        meta: dict[str, Any] | None = None,
    ) -> None:
        if data.ndim != 3 or data.shape[0] != len(bands) or data.shape[1:] != valid.shape:
            raise SceneError(
                f"in-memory scene {scene_id!r}: data {data.shape} does not match "
                f"{len(bands)} bands and valid {valid.shape}"
            )
        self.data = np.where(valid, data, np.float32(0)).astype(np.float32)
        self.valid = valid.astype(bool)
        self.bands = bands
        self.scene_id = scene_id
        self.product = product
        self.height, self.width = valid.shape
        self.crs = crs
        self.transform = transform
        self.capture_time = capture_time
        self.pixel_size_m = pixel_size_m
        self.source = source
        self.meta = dict(meta or {})

    def read(
        self, window: Window, band_names: tuple[str, ...] | None = None
    ) -> tuple[FloatArray, BoolArray]:
        names = band_names or self.band_names
        index = [self.band_names.index(n) for n in names]
        r0, c0 = int(window.row_off), int(window.col_off)
        h, w = int(window.height), int(window.width)
        data = np.zeros((len(index), h, w), dtype=np.float32)
        valid = np.zeros((h, w), dtype=bool)
        rs, re_ = max(r0, 0), min(r0 + h, self.height)
        cs, ce = max(c0, 0), min(c0 + w, self.width)
        if rs < re_ and cs < ce:
            data[:, rs - r0 : re_ - r0, cs - c0 : ce - c0] = self.data[index, rs:re_, cs:ce]
            valid[rs - r0 : re_ - r0, cs - c0 : ce - c0] = self.valid[rs:re_, cs:ce]
        return data, valid

    @classmethod
    def like(
        cls, scene: Scene, data: FloatArray, valid: BoolArray, bands: tuple[Band, ...]
    ) -> ArrayScene:
        """An in-memory scene with ``scene``'s grid, product and times."""
        return cls(
            data,
            valid,
            bands,
            scene_id=scene.scene_id,
            product=scene.product,
            transform=scene.transform,
            crs=scene.crs,
            pixel_size_m=scene.pixel_size_m,
            capture_time=scene.capture_time,
            source=scene.source,
            meta={k: v for k, v in scene.meta.items() if k != "open_args"},
        )


@dataclass
class FullRead:
    """A whole scene read once: ``data`` (bands, h, w), ``valid``, ``saturated`` (bands, h, w;
    all False where the product has no saturation value) and each band's saturation level in
    physical units (``inf`` where none)."""

    bands: tuple[Band, ...]
    data: FloatArray
    valid: BoolArray
    saturated: npt.NDArray[np.bool_]
    saturation_level: npt.NDArray[np.float32]


def read_full(scene: Scene, band_names: tuple[str, ...]) -> FullRead:
    """Read ``band_names`` of the whole scene (evaluation scenes are small crops)."""
    window = Window(0, 0, scene.width, scene.height)
    by_name = {b.name: b for b in scene.bands}
    bands = tuple(by_name[n] for n in band_names)
    levels = np.full(len(bands), np.inf, dtype=np.float32)
    if isinstance(scene, RasterScene):
        result = scene.read_arrays(window, band_names)
        data, valid = result.data, result.valid
        saturated = result.saturated if result.saturated is not None else np.zeros(data.shape, bool)
        for i, name in enumerate(band_names):
            src = scene.band_source(name)
            if src.saturation_dn is not None:
                dn = np.array([src.saturation_dn], dtype=np.float64)
                levels[i] = float(src.calibration.apply(dn)[0])
    else:
        data, valid = scene.read(window, band_names)
        saturated = np.zeros(data.shape, dtype=bool)
    return FullRead(bands, data, valid, saturated, levels)


@dataclass
class ModelRun:
    """One model over one scene: its alerts and its class map on the scene grid (0 where
    invalid or never inferred)."""

    alerts: list[Alert]
    classes: npt.NDArray[np.uint8]
    tiles: int = 0
    inference_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def run_model(scene: Scene, detector: Detector) -> ModelRun:
    """Tile ``scene`` as the runtime does, run ``detector`` on every tile with valid pixels,
    and collect alerts (tile cores only) and the class map."""
    classes = np.zeros((scene.height, scene.width), dtype=np.uint8)
    alerts: list[Alert] = []
    start_s, tiles = detector.inference_s, 0
    bands = detector.info.bands
    batch = []
    for tile in iter_tiles(scene, TILE_SIZE, OVERLAP, bands):
        if tile.valid.any():
            batch.append(tile)
    for start in range(0, len(batch), detector.batch_size):
        chunk = batch[start : start + detector.batch_size]
        for tile, out in zip(chunk, detector.run(chunk), strict=True):
            tiles += 1
            alerts.extend(objects_from_output(tile, out, detector.info))
            rows, cols = core_slices(tile)
            r0, c0 = int(tile.core.row_off), int(tile.core.col_off)
            h, w = int(tile.core.height), int(tile.core.width)
            classes[r0 : r0 + h, c0 : c0 + w] = out.cls[rows, cols]
    return ModelRun(alerts, classes, tiles, detector.inference_s - start_s)


def record(models_dir: Path, name: str, section: str, result: dict[str, Any]) -> Path:
    """Store ``result`` as ``section`` of ``models/scores/NAME.json`` and re-render the
    model's card (``models/NAME.md``) with it; returns the scores path."""
    from edgeinfer.detect.metadata import load_model_info
    from edgeinfer.models_build.cards import load_scores, record_scores, render_card

    path = record_scores(models_dir, name, section, result)
    info = load_model_info(models_dir / f"{name}.onnx")
    props = {f"edgeinfer.{k}": v for k, v in info.metadata.items()}
    card = render_card(name, props, load_scores(models_dir, name))
    (models_dir / f"{name}.md").write_text(card)
    logger.info("recorded %s scores in %s and refreshed %s.md", section, path, name)
    return path


def record_all(results: dict[str, dict[str, Any]], models_dir: Path | None, section: str) -> None:
    """:func:`record` each model's result (keys are model names) in ``models_dir``."""
    from edgeinfer.detect.registry import default_models_dir

    root = Path(models_dir) if models_dir is not None else default_models_dir()
    for name, result in sorted(results.items()):
        if result.get("images") == 0:  # a learned model trained on every item: nothing scored
            logger.info("%s: nothing scored here, its card keeps what it had", name)
            continue
        record(root, name, section, result)


def save_results(
    results: dict[str, dict[str, Any]],
    json_out: Path | None,
    record: bool,
    models_dir: Path | None,
    section: str,
) -> None:
    """What every ``edgeinfer eval`` command does with its results: write them as JSON to
    ``json_out`` (when given) and, with ``record``, store them beside each model under
    ``section`` and refresh its card. A ``json_out`` that cannot be written raises
    :class:`~edgeinfer.errors.OutputError` (the CLI checks it before evaluating)."""
    if json_out is not None:
        text = json.dumps(results, indent=2, sort_keys=True) + "\n"
        write_text_file(json_out, text, "results file")
    if record:
        record_all(results, models_dir, section)
