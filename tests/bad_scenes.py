"""Damaged and unusual rasters for the bad-input tests, written into a test's tmp_path.

Each builder writes one file (none for ``missing``) and returns its path. Most are small
GeoTIFFs on the SAR sample scene's grid (UTM 54N, 10 m, Sagami Bay), so a satellite of the
sample mission images them when it images that scene.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning

from edgeinfer.mission import sample_mission_path

SAR = sample_mission_path().parent.parent / "generated" / "sar_sea.tif"
CRS = "EPSG:32654"
ORIGIN = Affine(10.0, 0.0, 364_700.0, 0.0, -10.0, 3_901_280.0)  # the SAR sample scene's grid
SAR_TAGS = {"EDGEINFER_PRODUCT": "sar", "EDGEINFER_SCALE": "linear"}


def _write(
    path: Path, data: np.ndarray, tags: dict[str, str] | None = None, **profile: object
) -> Path:
    count, height, width = data.shape
    options = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": str(data.dtype),
        "crs": CRS,
        "transform": ORIGIN,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        **profile,
    }
    with rasterio.open(path, "w", **options) as ds:
        ds.write(data)
        ds.update_tags(**(SAR_TAGS if tags is None else tags))
    return path


def small_valid(path: Path, size: int = 512, compress: str | None = "deflate") -> Path:
    """A clean 1-band SAR-like GeoTIFF (exponential clutter with one bright ship-like blob),
    DEFLATE-compressed by default."""
    rng = np.random.default_rng(0)
    data = rng.exponential(0.05, (1, size, size)).astype(np.float32)
    data[0, size // 2 : size // 2 + 4, size // 3 : size // 3 + 8] = 5.0
    return _write(path, data, **({"compress": compress} if compress else {}))


def missing(path: Path) -> Path:
    return path


def garbage(path: Path) -> Path:
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path


def truncated(path: Path) -> Path:
    data = SAR.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def wrong_bands(path: Path) -> Path:
    """Two bands where the mission names three."""
    return _write(path, np.ones((2, 256, 256), np.float32))


def no_crs(path: Path, width: int = 256, height: int = 256) -> Path:
    """A plain float image of ones: no CRS, no geotransform (as PNG or OpenSARShip chips)."""
    data = np.ones((1, height, width), np.float32)
    with warnings.catch_warnings():  # rasterio warns that it has no georeference: the point
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(
            path, "w", driver="GTiff", width=width, height=height, count=1, dtype="float32"
        ) as ds:
            ds.write(data)
    return path


def all_nodata(path: Path) -> Path:
    return _write(path, np.full((1, 512, 512), -9999.0, np.float32), nodata=-9999.0)


def all_nan(path: Path) -> Path:
    return _write(path, np.full((1, 512, 512), np.nan, np.float32))


def some_nan(path: Path) -> Path:
    """Usable: a quarter NaN, a strip of +inf, the rest clutter."""
    data = np.random.default_rng(2).exponential(0.05, (1, 512, 512)).astype(np.float32)
    data[0, :256, :256] = np.nan
    data[0, 300:310, :] = np.inf
    return _write(path, data)


def huge(path: Path) -> Path:
    """200,000 x 200,000 px declared, nothing written (a sparse GeoTIFF of a few kB)."""
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=200_000,
        height=200_000,
        count=1,
        dtype="uint8",
        crs=CRS,
        transform=ORIGIN,
        tiled=True,
        sparse_ok=True,
        compress="deflate",
    ) as ds:
        ds.update_tags(**SAR_TAGS)
    return path


def damaged_block(path: Path) -> Path:
    """The SAR sample scene, DEFLATE-compressed, with one block (bottom left) overwritten:
    its header and its first and last blocks are fine; the block fails to decode."""
    with rasterio.open(SAR) as src:
        data = src.read()
        tags = src.tags()
    _write(path, data, tags, compress="deflate")
    with rasterio.open(path) as ds:
        offset = int(ds.get_tag_item("BLOCK_OFFSET_0_3", "TIFF", bidx=1))
        size = int(ds.get_tag_item("BLOCK_SIZE_0_3", "TIFF", bidx=1))
    raw = bytearray(path.read_bytes())
    raw[offset : offset + size] = b"\xff" * size
    path.write_bytes(bytes(raw))
    return path


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "missing": missing,
    "garbage": garbage,
    "truncated": truncated,
    "wrong_bands": wrong_bands,
    "no_crs": no_crs,
    "all_nodata": all_nodata,
    "all_nan": all_nan,
    "huge": huge,
    "damaged_block": damaged_block,
}
