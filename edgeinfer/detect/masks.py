"""Class masks of ``edgeinfer detect --mask-out``: the seam between the detection pipeline
and the GeoTIFF writer (:class:`edgeinfer.scene.writers.ClassMaskWriter`), so a caller (or
a test) can pass its own writer to :func:`edgeinfer.detect.pipeline.detect_scene`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from edgeinfer.detect.metadata import ModelInfo
from edgeinfer.scene.types import Scene, Tile


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
