"""Class masks of ``edgeinfer detect --mask-out``: the seam between the detection pipeline
and the GeoTIFF writer (:class:`edgeinfer.scene.writers.ClassMaskWriter`), so a caller (or
a test) can pass its own writer to :func:`edgeinfer.detect.pipeline.detect_scene`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from edgeinfer.detect.metadata import ModelInfo
from edgeinfer.scene.types import Scene, Tile

MaskOut = Mapping[str, str | Path] | str | Path | None
"""Where class masks go: ``{detector: path}``, or one path (see :func:`mask_targets`)."""


def mask_targets(mask_out: MaskOut, detectors: Sequence[str]) -> dict[str, Path]:
    """``{detector: path}`` for the ``detectors`` that run. A mapping is kept as given; one
    path is that path when a single detector runs, else the path with ``_<detector>``
    inserted before its suffix for each (``m.tif`` -> ``m_fire.tif``, ``m_cloud.tif``)."""
    if mask_out is None:
        return {}
    if isinstance(mask_out, Mapping):
        return {d: Path(p) for d, p in mask_out.items()}
    path = Path(mask_out)
    if len(detectors) == 1:
        return {detectors[0]: path}
    return {d: path.with_name(f"{path.stem}_{d}{path.suffix or '.tif'}") for d in detectors}


class MaskWriter(Protocol):
    """Receives each inferred tile's class mask (``edgeinfer.scene.writers.ClassMaskWriter``
    implements it: it writes the tile's core; pixels no tile wrote stay 255, invalid)."""

    def write_tile(self, tile: Tile, classes: np.ndarray) -> None: ...

    def close(self) -> None: ...


MaskWriterFactory = Callable[[Path, Scene, str], MaskWriter]
"""``(path, scene, detector) -> MaskWriter``; the default writes the detector's model's class
names (its ``outputs`` metadata) as the GeoTIFF's legend."""


def open_writers(
    writers: dict[str, MaskWriter],
    mask_out: dict[str, Path],
    models: dict[str, ModelInfo],
    scene: Scene,
    factory: MaskWriterFactory | None,
) -> None:
    """Open one mask writer per detector into ``writers`` (filled as they open, so the
    caller closes those already open if a later one fails)."""
    for detector, path in mask_out.items():
        if detector not in models:  # a skipped detector writes no mask
            continue
        if factory is not None:
            writers[detector] = factory(Path(path), scene, detector)
        else:
            writers[detector] = _default_mask_writer(Path(path), scene, models[detector])


def _default_mask_writer(path: Path, scene: Scene, model: ModelInfo) -> MaskWriter:
    from edgeinfer.scene.writers import ClassMaskWriter

    return ClassMaskWriter(path, scene, detector=model.detector, classes=model.outputs)
