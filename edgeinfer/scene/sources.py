"""Opening raster files and URLs through GDAL, and putting them on a common pixel grid.

GDAL picks the driver from the file's content (its magic bytes), never from the extension,
so a GeoTIFF named ``.jp2`` opens as GeoTIFF. URLs (http/https) go through GDAL's
``/vsicurl/`` virtual file system, which reads only the byte ranges a window needs from a
Cloud-Optimised GeoTIFF.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.env import set_gdal_config
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.io import DatasetReader
from rasterio.transform import from_gcps
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from edgeinfer.errors import ConfigError, SceneError

log = logging.getLogger(__name__)

# GDAL options for remote reads: no directory listing on open (one request saved per file),
# merge consecutive ranges into one request (GDAL configuration options documentation).
URL_GDAL_OPTIONS: dict[str, str] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
}

_FIX_CORRUPT = "re-download or re-export it and check it with `gdalinfo -checksum`"


def set_gdal_cache_mb(megabytes: int) -> None:
    """Cap GDAL's block cache for THIS PROCESS (GDAL configuration option GDAL_CACHEMAX,
    default 5 % of RAM). Streaming tiling decodes each block about once, so a small cap
    (e.g. 64) keeps memory flat whatever the scene size; call it once at start-up of each
    process that tiles (the CLI, every satellite actor). Process-wide by GDAL's design."""
    if isinstance(megabytes, bool) or not isinstance(megabytes, int) or megabytes <= 0:
        raise ConfigError(f"gdal_cache_mb must be a positive integer (MiB), got {megabytes!r}")
    # in bytes: a small number set at run time is not read as megabytes by every GDAL path
    set_gdal_config("GDAL_CACHEMAX", megabytes * 1024 * 1024)


def is_url(source: str | Path) -> bool:
    text = str(source)
    return text.startswith(("http://", "https://"))


def gdal_path(source: str | Path) -> str:
    """The path GDAL opens: ``/vsicurl/URL`` for http(s) URLs, else the file path."""
    text = str(source)
    return f"/vsicurl/{text}" if is_url(text) else text


@contextmanager
def quiet_georef() -> Iterator[None]:
    """Silence rasterio's NotGeoreferencedWarning: plain image chips legitimately have no
    georeference, and the scene records that as ``crs=None``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        yield


def open_dataset(source: str | Path) -> DatasetReader:
    """Open a raster by content. Errors become a one-line :class:`SceneError`."""
    name = str(source)
    if not is_url(name) and not Path(name).exists():
        raise SceneError(f"scene file {name} does not exist; check the path")
    try:
        with quiet_georef(), rasterio.Env(**(URL_GDAL_OPTIONS if is_url(name) else {})):
            ds = rasterio.open(gdal_path(name))
    except RasterioError as exc:
        reason = _reason(exc)
        raise SceneError(
            f"cannot open {name} as a raster ({reason}); it must be a GDAL-readable image "
            f"(GeoTIFF, COG, VRT, JPEG, PNG, JPEG 2000): {_FIX_CORRUPT}"
        ) from exc
    if ds.count < 1:
        ds.close()
        raise SceneError(f"{name} has no raster bands; pass an image file, not a container")
    return ds


def _reason(exc: BaseException) -> str:
    """The most specific one-line GDAL message: rasterio's "Read failed. See previous
    exception" hides GDAL's own error in ``__cause__``."""
    cause = exc.__cause__ or exc.__context__
    text = str(cause) if cause is not None and str(cause) else str(exc)
    lines = text.splitlines()
    return lines[0] if lines else type(exc).__name__


def probe_readable(ds: Any, name: str) -> None:
    """Decode the first and the last block of band 1, so a truncated or damaged file fails
    at open time with a clear message (most damage sits at the end of a file)."""
    block_h, block_w = ds.block_shapes[0]
    rows = max(1, math.ceil(ds.height / block_h))
    cols = max(1, math.ceil(ds.width / block_w))
    for r, c in {(0, 0), (rows - 1, cols - 1)}:
        win = Window(
            c * block_w,
            r * block_h,
            min(block_w, ds.width - c * block_w),
            min(block_h, ds.height - r * block_h),
        )
        guarded_read(name, win, lambda w=win: ds.read(1, window=w))


def guarded_read(name: str, window: Window, read: Any) -> Any:
    """Run ``read()``; a GDAL read failure becomes a one-line :class:`SceneError`."""
    try:
        with quiet_georef():
            return read()
    except RasterioError as exc:
        reason = _reason(exc)
        raise SceneError(
            f"cannot read {name} at window col {int(window.col_off)} row {int(window.row_off)} "
            f"{int(window.width)}x{int(window.height)} ({reason}): the file is damaged or "
            f"truncated; {_FIX_CORRUPT}"
        ) from exc


@dataclass(frozen=True)
class Grid:
    """A pixel grid: size, affine transform (None when not georeferenced) and CRS."""

    width: int
    height: int
    transform: Affine | None
    crs: CRS | None

    @property
    def resolution(self) -> float | None:
        """Pixel size in CRS units (geometric mean of x and y), or None."""
        if self.transform is None:
            return None
        t = self.transform
        return math.sqrt(math.hypot(t.a, t.d) * math.hypot(t.b, t.e))

    def bounds(self) -> tuple[float, float, float, float] | None:
        """(left, bottom, right, top) of an axis-aligned grid, or None."""
        if self.transform is None:
            return None
        xs, ys = zip(
            *(self.transform @ (c, r) for c in (0, self.width) for r in (0, self.height)),
            strict=True,
        )
        return (min(xs), min(ys), max(xs), max(ys))

    def same_as(self, other: Grid, tolerance_px: float = 1e-6) -> bool:
        if (self.width, self.height) != (other.width, other.height):
            return False
        if self.transform is None or other.transform is None:
            return self.transform is None and other.transform is None
        if (self.crs is None) != (other.crs is None):
            return False
        if self.crs is not None and other.crs is not None and self.crs != other.crs:
            return False
        res = self.resolution or 1.0
        return bool(self.transform.almost_equals(other.transform, precision=tolerance_px * res))


def grid_of(ds: Any) -> Grid:
    """The grid of an open dataset. Identity transform without CRS -> not georeferenced;
    a GCP-only dataset gets the affine fitted to its GCPs (rasterio.transform.from_gcps)."""
    transform: Affine | None = ds.transform
    crs: CRS | None = ds.crs
    if transform is not None and transform.is_identity:
        gcps, gcp_crs = ds.gcps
        if gcps:
            transform = from_gcps(gcps)
            crs = gcp_crs or crs
            log.info(
                "%s has no geotransform; using the affine fitted to its %d GCPs", ds.name, len(gcps)
            )
        elif crs is None:
            transform = None
    return Grid(int(ds.width), int(ds.height), transform, crs)


def on_grid(ds: Any, grid: Grid, resampling: Resampling, src_nodata: float | None = None) -> Any:
    """``ds`` itself when it already lies on ``grid``, else a WarpedVRT that resamples it
    onto ``grid`` using the file's OWN transform and CRS (files of one product at 10, 20,
    60 m do not share bounds)."""
    own = grid_of(ds)
    if own.same_as(grid):
        return ds
    if own.transform is None or own.crs is None or grid.transform is None or grid.crs is None:
        raise SceneError(
            f"{ds.name} is on a different pixel grid from the rest of the product and has no "
            "georeference to resample it by; give files that share one grid or are georeferenced"
        )
    options: dict[str, Any] = {
        "crs": grid.crs,
        "transform": grid.transform,
        "width": grid.width,
        "height": grid.height,
        "resampling": resampling,
    }
    if src_nodata is not None:
        options["src_nodata"] = src_nodata
        options["nodata"] = src_nodata
    with quiet_georef():
        return WarpedVRT(ds, **options)


def grid_at_resolution(reference: Grid, resolution: float) -> Grid:
    """A north-up grid over ``reference``'s bounds with square pixels of ``resolution``."""
    bounds = reference.bounds()
    if bounds is None:
        raise SceneError("cannot resample a product that has no georeference")
    left, bottom, right, top = bounds
    width = max(1, round((right - left) / resolution))
    height = max(1, round((top - bottom) / resolution))
    transform = Affine(resolution, 0.0, left, 0.0, -resolution, top)
    return Grid(width, height, transform, reference.crs)
