"""Byte-deterministic writers for the sample scenes: GeoTIFF rasters and GeoJSON truth.

Determinism: the GeoTIFFs are written uncompressed (a DEFLATE stream may differ between zlib and
libdeflate builds of GDAL), tiled 256 x 256 with band interleave, with no timestamp tags and no
statistics; the GeoJSON is written with sorted keys and rounded numbers, so the bytes depend only
on the data. Files are written to a temporary name and renamed into place, so a reader never sees
half a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform

WGS84 = CRS.from_epsg(4326)

# GDAL GTiff creation options chosen for reproducible bytes (see module doc).
CREATION_OPTIONS: dict[str, str] = {
    "TILED": "YES",
    "BLOCKXSIZE": "256",
    "BLOCKYSIZE": "256",
    "COMPRESS": "NONE",
    "INTERLEAVE": "BAND",
}
LONLAT_DECIMALS = 8  # ~1 mm: hides last-digit differences between PROJ builds


@dataclass(frozen=True)
class RasterSpec:
    """Georeference and band metadata of one GeoTIFF."""

    crs: CRS
    transform: Affine
    descriptions: tuple[str, ...]
    nodata: float | None = None
    scales: tuple[float, ...] | None = None
    offsets: tuple[float, ...] | None = None
    units: tuple[str, ...] | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TruthObject:
    """One true object in a scene: kind, pixel box (max exclusive) and its properties."""

    kind: str
    bbox_px: tuple[int, int, int, int]
    props: dict[str, Any]


def write_geotiff(path: Path, data: npt.NDArray[Any], spec: RasterSpec) -> None:
    """Write ``data`` (bands, rows, cols) as a GeoTIFF at ``path``, atomically."""
    count, height, width = data.shape
    tmp = path.with_name(f"{path.name}.{os.getpid()}.part")
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": data.dtype.name,
        "crs": spec.crs,
        "transform": spec.transform,
        "nodata": spec.nodata,
        **CREATION_OPTIONS,
    }
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = spec.descriptions
        if spec.scales is not None:
            dst.scales = spec.scales
        if spec.offsets is not None:
            dst.offsets = spec.offsets
        if spec.units is not None:
            dst.units = spec.units
        if spec.tags:
            dst.update_tags(**spec.tags)
    os.replace(tmp, path)


def pixel_box_lonlat(
    bbox_px: Sequence[int], transform: Affine, crs: CRS
) -> tuple[list[list[float]], list[float]]:
    """Corner ring (closed, counter-clockwise in lon/lat for a north-up grid) and centre."""
    c0, r0, c1, r1 = bbox_px
    cols = [c0, c0, c1, c1, c0, (c0 + c1) / 2]
    rows = [r0, r1, r1, r0, r0, (r0 + r1) / 2]
    xs, ys = zip(*(transform @ (c, r) for c, r in zip(cols, rows, strict=True)), strict=True)
    lons, lats = warp_transform(crs, WGS84, list(xs), list(ys))
    pts = [
        [round(float(lo), LONLAT_DECIMALS), round(float(la), LONLAT_DECIMALS)]
        for lo, la in zip(lons, lats, strict=True)
    ]
    return pts[:5], pts[5]


def _clean(value: Any) -> Any:
    """JSON-safe, reproducible values: numpy scalars to Python, floats to 6 significant digits."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def write_truth(
    path: Path,
    objects: Sequence[TruthObject],
    transform: Affine,
    crs: CRS,
    scene_props: dict[str, Any],
) -> None:
    """Write the truth as a GeoJSON FeatureCollection (WGS84 lon/lat), atomically.

    Each feature's geometry is the pixel box's footprint as a polygon; ``centroid_lonlat`` is the
    box centre. ``scene_props`` (file name, size, CRS, ...) go into the collection's
    ``properties`` member, which GeoJSON readers ignore.
    """
    features = []
    for i, obj in enumerate(objects):
        ring, centre = pixel_box_lonlat(obj.bbox_px, transform, crs)
        props = _clean({"id": i, "kind": obj.kind, "bbox_px": list(obj.bbox_px), **obj.props})
        props["centroid_lonlat"] = centre  # already rounded to LONLAT_DECIMALS
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": props,
            }
        )
    doc = {"type": "FeatureCollection", "properties": _clean(scene_props), "features": features}
    tmp = path.with_name(f"{path.name}.{os.getpid()}.part")
    tmp.write_text(json.dumps(doc, sort_keys=True, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
