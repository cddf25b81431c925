"""The two values that flow out of scene/: a :class:`Scene` (an opened product) and its
:class:`Tile` s. Everything downstream (detectors, alerts, satellites) sees only these."""

from __future__ import annotations

import abc
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from edgeinfer.scene.bands import Band

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Tile:
    """A fixed-size piece of a scene, ready for a detector.

    ``data`` is float32 ``(bands, size, size)`` in the bands' physical units; ``valid`` is
    ``(size, size)`` and False wherever the pixel is padding, nodata, masked, NaN or inf
    (``data`` holds 0 there, never NaN). ``window`` is the part of the scene the tile covers
    (``col_off, row_off, width, height`` in scene pixels; width/height may be smaller than
    ``size`` at the scene's right and bottom edges, the rest is padding). ``core`` is the part
    of ``window`` this tile owns when tiles overlap, so each scene pixel has exactly one owner.
    ``transform`` maps tile pixel (col, row) to the scene CRS (None if not georeferenced).
    """

    scene_id: str
    tile_id: str
    data: FloatArray
    valid: BoolArray
    window: Window
    core: Window
    bands: tuple[Band, ...]
    transform: Affine | None
    crs: CRS | None
    capture_time: dt.datetime | None = None
    pixel_size_m: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.data.shape[-1])

    @property
    def band_names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.bands)


class Scene(abc.ABC):
    """An opened raster product with named bands in physical units.

    Subclasses (one per product: GeoTIFF stack, Landsat, Sentinel-2, SAR) implement
    :meth:`read`. A scene is a context manager; :meth:`close` releases its datasets.
    """

    scene_id: str
    product: str
    width: int
    height: int
    bands: tuple[Band, ...]
    crs: CRS | None
    transform: Affine | None
    capture_time: dt.datetime | None
    pixel_size_m: float | None
    source: str

    @abc.abstractmethod
    def read(
        self, window: Window, band_names: tuple[str, ...] | None = None
    ) -> tuple[FloatArray, BoolArray]:
        """Read ``window`` (may extend past the scene; outside is invalid) as float32
        ``(bands, h, w)`` in physical units and a ``(h, w)`` validity mask."""

    @property
    def band_names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.bands)

    @property
    def raw_bytes(self) -> int:
        """Bytes of the raw product a satellite would otherwise downlink (all bands, native
        dtype, uncompressed)."""
        return int(self.meta.get("raw_bytes", 0))

    meta: dict[str, Any]

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release open datasets."""

    def __enter__(self) -> Scene:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
