"""Coordinate helpers: scene CRS <-> WGS84 lon/lat, pixel <-> CRS (rasterio.warp)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform

WGS84 = CRS.from_epsg(4326)


def xy_to_lonlat(
    crs: CRS, xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Map coordinates in ``crs`` to WGS84 longitude/latitude in degrees."""
    xs_a = np.asarray(xs, dtype=np.float64).ravel()
    ys_a = np.asarray(ys, dtype=np.float64).ravel()
    if crs == WGS84 or (crs.is_geographic and crs.to_epsg() == 4326):
        return xs_a, ys_a
    lon, lat = warp_transform(crs, WGS84, xs_a.tolist(), ys_a.tolist())
    return np.asarray(lon), np.asarray(lat)


def lonlat_to_xy(
    crs: CRS, lons: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 longitude/latitude in degrees to map coordinates in ``crs``."""
    lo = np.asarray(lons, dtype=np.float64).ravel()
    la = np.asarray(lats, dtype=np.float64).ravel()
    if crs == WGS84:
        return lo, la
    x, y = warp_transform(WGS84, crs, lo.tolist(), la.tolist())
    return np.asarray(x), np.asarray(y)


def pixel_to_lonlat(
    transform: Affine, crs: CRS, cols: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (fractional; a pixel's centre is ``col + 0.5``) to lon/lat."""
    c = np.asarray(cols, dtype=np.float64)
    r = np.asarray(rows, dtype=np.float64)
    xs = transform.a * c + transform.b * r + transform.c
    ys = transform.d * c + transform.e * r + transform.f
    return xy_to_lonlat(crs, xs, ys)


def lonlat_to_pixel(
    transform: Affine, crs: CRS, lons: np.ndarray, lats: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """lon/lat to fractional pixel (col, row) in the grid of ``transform``."""
    xs, ys = lonlat_to_xy(crs, lons, lats)
    cols, rows = ~transform @ (xs, ys)
    return np.asarray(cols), np.asarray(rows)
