"""Ground pixel size: how many metres on the Earth one pixel of a grid covers.

A projected CRS measures in map metres, which are ground metres only where the projection's
point scale factor is 1: Web Mercator (EPSG:3857) stretches both axes by 1/cos(latitude), so
its 10 m pixel at 37 deg N is 8 m on the ground; UTM's scale is 0.9996-1.0004. The ground size
is therefore measured, not read from the transform: the centre pixel's two edge vectors are
taken to WGS84 longitude/latitude (PROJ, through rasterio) and converted to east/north metres
with the WGS84 length of a degree at that latitude. That is the projection's local (areal)
scale factor for any CRS, conformal or not, and plain degrees for a geographic CRS.
"""

from __future__ import annotations

import logging
import math

from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.warp import transform as warp_transform

from edgeinfer.scene.sources import Grid

log = logging.getLogger(__name__)

_WGS84 = CRS.from_epsg(4326)


def metres_per_degree(lat_deg: float) -> tuple[float, float]:
    """(east metres per degree of longitude, north metres per degree of latitude) at
    ``lat_deg`` on the WGS84 ellipsoid (lat: 111132.92 - 559.82 cos 2p + 1.175 cos 4p m; lon:
    111412.84 cos p - 93.5 cos 3p m: the usual series, e.g.
    en.wikipedia.org/wiki/Geographic_coordinate_system#Length_of_a_degree)."""
    p = math.radians(max(-90.0, min(90.0, lat_deg)))
    m_lat = 111132.92 - 559.82 * math.cos(2 * p) + 1.175 * math.cos(4 * p)
    m_lon = 111412.84 * math.cos(p) - 93.5 * math.cos(3 * p)
    return max(m_lon, 0.0), m_lat


def grid_pixel_size_m(grid: Grid) -> float | None:
    """Ground pixel size in metres at the grid's centre: the square root of the ground area
    of one pixel (so ``count * size**2`` is an object's area and, for a conformal projection
    such as Mercator or UTM, ``pixels * size`` a length). None without a transform or CRS, or
    for a CRS with neither a geographic relation nor linear units."""
    if grid.transform is None or grid.crs is None:
        return None
    t = grid.transform
    cx, cy = grid.width / 2.0, grid.height / 2.0
    # centre +- half a pixel along the columns, then along the rows (central differences)
    cols_rows = [(cx - 0.5, cy), (cx + 0.5, cy), (cx, cy - 0.5), (cx, cy + 0.5), (cx, cy)]
    xs, ys = zip(*(t @ cr for cr in cols_rows), strict=True)
    lonlat = _to_lonlat(grid.crs, list(xs), list(ys))
    if lonlat is None:
        return _linear_units_size(grid)
    lons, lats = lonlat
    m_lon, m_lat = metres_per_degree(lats[4])

    def east_north(i: int, j: int) -> tuple[float, float]:
        dlon = (lons[j] - lons[i] + 180.0) % 360.0 - 180.0  # across the antimeridian
        return dlon * m_lon, (lats[j] - lats[i]) * m_lat

    (e_col, n_col), (e_row, n_row) = east_north(0, 1), east_north(2, 3)
    return math.sqrt(abs(e_col * n_row - n_col * e_row))


def _to_lonlat(
    crs: CRS, xs: list[float], ys: list[float]
) -> tuple[list[float], list[float]] | None:
    if crs.is_geographic:
        return xs, ys  # rasterio keeps longitude first (traditional GIS order)
    try:
        lons, lats = warp_transform(crs, _WGS84, xs, ys)
    except (RasterioError, ValueError) as exc:
        log.debug("%s has no transformation to WGS84 (%s); using its linear units", crs, exc)
        return None
    if not all(math.isfinite(v) for v in (*lons, *lats)):
        log.debug("%s: the scene centre does not map to WGS84; using its linear units", crs)
        return None
    return list(lons), list(lats)


def _linear_units_size(grid: Grid) -> float | None:
    """A CRS without a relation to the Earth (engineering CRS): its metres are ground
    metres."""
    assert grid.transform is not None and grid.crs is not None
    try:
        factor = float(grid.crs.linear_units_factor[1])
    except Exception:  # CRS without linear units
        return None
    t = grid.transform
    return math.sqrt(math.hypot(t.a, t.d) * math.hypot(t.b, t.e)) * factor
