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

from edgeinfer.errors import GeoreferenceError
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

    # -- georeference helpers (added by the scene ingestion work; additive) --------------

    @property
    def is_georeferenced(self) -> bool:
        """True when the scene has both a CRS and a transform (lon/lat can be computed)."""
        return self.crs is not None and self.transform is not None

    def _require_georeference(self) -> tuple[Affine, CRS]:
        if self.transform is None or self.crs is None:
            missing = "CRS" if self.crs is None else "transform"
            raise GeoreferenceError(
                f"scene {self.scene_id!r} ({self.source}) has no {missing}, so pixel positions "
                "cannot be mapped to lon/lat; use a georeferenced product (GeoTIFF with a CRS) "
                "or work in pixel coordinates (bbox_px)"
            )
        return self.transform, self.crs

    def pixel_to_lonlat(
        self, cols: npt.ArrayLike, rows: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Fractional pixel (col, row) to WGS84 lon/lat in degrees (a pixel's centre is
        ``col + 0.5``). Raises :class:`GeoreferenceError` if the scene is not georeferenced."""
        from edgeinfer.scene import geo

        transform, crs = self._require_georeference()
        lon, lat = geo.pixel_to_lonlat(
            transform, crs, np.asarray(cols, dtype=np.float64), np.asarray(rows, dtype=np.float64)
        )
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)

    def lonlat_to_pixel(
        self, lons: npt.ArrayLike, lats: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """WGS84 lon/lat in degrees to fractional pixel (col, row) in this scene's grid."""
        from edgeinfer.scene import geo

        transform, crs = self._require_georeference()
        cols, rows = geo.lonlat_to_pixel(
            transform, crs, np.asarray(lons, dtype=np.float64), np.asarray(lats, dtype=np.float64)
        )
        return np.asarray(cols, dtype=np.float64), np.asarray(rows, dtype=np.float64)

    def footprint_lonlat(self) -> list[tuple[float, float]]:
        """The scene's four outer corners (upper-left, upper-right, lower-right, lower-left)
        as WGS84 ``(lon, lat)``; the ring is not closed. Raises :class:`GeoreferenceError`
        if the scene is not georeferenced."""
        cols = np.array([0.0, self.width, self.width, 0.0])
        rows = np.array([0.0, 0.0, self.height, self.height])
        lon, lat = self.pixel_to_lonlat(cols, rows)
        return [(float(x), float(y)) for x, y in zip(lon, lat, strict=True)]

    def __enter__(self) -> Scene:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
