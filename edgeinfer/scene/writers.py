"""Per-pixel class masks written on the scene's own grid (``edgeinfer detect --mask-out``).

A single-band uint8 GeoTIFF, tiled and DEFLATE-compressed, with the scene's transform and CRS
(neither for a scene without georeference: GDAL then reads the identity transform), in the form
Landsat and FIRMS active-fire products take: the model's class values (fire: 0 none,
1 candidate, 2 unambiguous) and 255 invalid. The ``EDGEINFER_CLASSES`` tag is the legend, e.g.
``0=clear,1=cloud,255=invalid`` for a cloud mask. Tiles write only their ``core``, so
overlapping tiles never overwrite each other.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.windows import Window

from edgeinfer.errors import ConfigError, SceneError
from edgeinfer.scene.tiling import core_slices
from edgeinfer.scene.types import Scene, Tile

log = logging.getLogger(__name__)

CLASS_NONE = 0
CLASS_CANDIDATE = 1
CLASS_UNAMBIGUOUS = 2
CLASS_INVALID = 255
CLASS_VALUES = {
    CLASS_NONE: "none",
    CLASS_CANDIDATE: "candidate",
    CLASS_UNAMBIGUOUS: "unambiguous",
    CLASS_INVALID: "invalid",
}
"""The fire classes (Landsat / FIRMS active-fire products); the legend of a mask written
without a model's own ``classes``."""


def mask_classes(outputs: Mapping[str, str] | Mapping[int, str] | None) -> dict[int, str]:
    """A mask's legend: class value -> name from a model's ``outputs`` metadata (keys ``"0"``
    or ``0``), plus 255 = invalid; :data:`CLASS_VALUES` (the fire classes) without one."""
    if outputs is None:
        return dict(CLASS_VALUES)
    legend: dict[int, str] = {}
    for key, name in outputs.items():
        value = int(key)
        if not 0 <= value < CLASS_INVALID:
            raise ConfigError(
                f"mask class value {key!r} ({name}) is outside 0-254; 255 is reserved for "
                "invalid pixels"
            )
        legend[value] = str(name)
    legend[CLASS_INVALID] = CLASS_VALUES[CLASS_INVALID]
    return dict(sorted(legend.items()))


class ClassMaskWriter:
    """Writes tile class masks into one GeoTIFF on a scene's grid.

    ``fill`` is the value of pixels no tile wrote (e.g. tiles dropped by the cloud screen);
    by default 255 (invalid: nothing was decided there), which is also the file's nodata
    value. ``classes`` is the legend written to the ``EDGEINFER_CLASSES`` tag: the model's
    ``outputs`` metadata (``{"0": "clear", "1": "cloud"}``), to which 255 = invalid is added;
    None: the fire classes. Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        path: str | Path,
        scene: Scene,
        *,
        fill: int = CLASS_INVALID,
        block_size: int = 256,
        detector: str | None = None,
        classes: Mapping[str, str] | Mapping[int, str] | None = None,
    ) -> None:
        self.classes = mask_classes(classes)
        if fill not in self.classes:
            raise ConfigError(
                f"mask fill {fill!r} is not a class value; use one of {list(self.classes)}"
            )
        if block_size <= 0 or block_size % 16:
            raise ConfigError(
                f"mask block_size must be a positive multiple of 16, got {block_size}"
            )
        self.path = Path(path)
        self.width, self.height = scene.width, scene.height
        self._fill = int(fill)
        profile: dict[str, Any] = {
            "driver": "GTiff",
            "width": scene.width,
            "height": scene.height,
            "count": 1,
            "dtype": "uint8",
            "compress": "deflate",
            "tiled": True,
            "blockxsize": block_size,
            "blockysize": block_size,
            "crs": scene.crs,
            "transform": scene.transform,
            # 255 (invalid) is the nodata value: GDAL fills blocks no tile wrote with it.
            "nodata": CLASS_INVALID,
        }
        if scene.width < block_size or scene.height < block_size:
            profile.update(tiled=False, blockxsize=None, blockysize=None)
            profile = {k: v for k, v in profile.items() if v is not None}
        if scene.transform is None:  # no georeference: no geotransform in the file either
            profile.pop("transform", None)
        if scene.crs is None:
            profile.pop("crs", None)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                self._ds: Any = rasterio.open(self.path, "w", **profile)
        except (RasterioError, OSError) as exc:
            raise SceneError(
                f"cannot create mask file {self.path} ({exc}); check the folder exists and is "
                "writable"
            ) from exc
        self._ds.update_tags(
            EDGEINFER_CLASSES=",".join(f"{k}={v}" for k, v in self.classes.items()),
            EDGEINFER_SCENE_ID=scene.scene_id,
            **({"EDGEINFER_DETECTOR": detector} if detector else {}),
        )
        if self._fill != CLASS_INVALID:
            self._prefill()

    def _prefill(self) -> None:
        """Write ``fill`` everywhere, block row by block row (bounded memory)."""
        step = 256
        for row in range(0, self.height, step):
            h = min(step, self.height - row)
            self._ds.write(
                np.full((1, h, self.width), self._fill, dtype=np.uint8),
                window=Window(0, row, self.width, h),
            )

    def write_tile(self, tile: Tile, classes: npt.ArrayLike) -> None:
        """Write ``classes`` (uint8 ``(size, size)`` or ``(1, size, size)``, in the tile's
        frame) into the tile's core; pixels the tile marks invalid become 255."""
        arr = np.asarray(classes)
        if arr.ndim == 3 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.shape != tile.valid.shape:
            raise ConfigError(
                f"class mask for tile {tile.tile_id} has shape {arr.shape}, expected "
                f"{tile.valid.shape} (the tile's size)"
            )
        out = arr.astype(np.uint8, copy=True)
        out[~tile.valid] = CLASS_INVALID
        rows, cols = core_slices(tile)
        self.write_window(tile.core, out[rows, cols])

    def write_window(self, window: Window, values: npt.ArrayLike) -> None:
        """Write uint8 ``values`` of shape ``(window.height, window.width)`` at ``window``
        (scene pixels)."""
        arr = np.asarray(values, dtype=np.uint8)
        h, w = int(window.height), int(window.width)
        if arr.shape != (h, w):
            raise ConfigError(f"mask values have shape {arr.shape}, window is {h}x{w}")
        if h == 0 or w == 0:
            return
        c0, r0 = int(window.col_off), int(window.row_off)
        if c0 < 0 or r0 < 0 or c0 + w > self.width or r0 + h > self.height:
            raise ConfigError(
                f"mask window col {c0} row {r0} {w}x{h} lies outside the "
                f"{self.width}x{self.height} scene"
            )
        self._ds.write(arr[np.newaxis], window=window)

    def close(self) -> None:
        if not self._ds.closed:
            self._ds.close()
            log.info("wrote class mask %s", self.path)

    def __enter__(self) -> ClassMaskWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
