"""Scene ingestion: open products (GeoTIFF/COG/VRT/chips, Landsat + MTL, Sentinel-2, SAR,
URLs) as named bands in physical units, and tile them by streaming windowed reads.

The only package that imports rasterio (docs/design.md)."""

from __future__ import annotations

import logging

from edgeinfer.scene.bands import Band
from edgeinfer.scene.open import open_scene
from edgeinfer.scene.raster import RasterScene, ReadResult
from edgeinfer.scene.sizes import compressed_size_bytes
from edgeinfer.scene.sources import set_gdal_cache_mb
from edgeinfer.scene.tiling import core_slices, iter_tiles, read_tile, tile_windows
from edgeinfer.scene.types import Scene, Tile
from edgeinfer.scene.writers import ClassMaskWriter

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "Band",
    "ClassMaskWriter",
    "RasterScene",
    "ReadResult",
    "Scene",
    "Tile",
    "compressed_size_bytes",
    "core_slices",
    "iter_tiles",
    "open_scene",
    "read_tile",
    "set_gdal_cache_mb",
    "tile_windows",
]
