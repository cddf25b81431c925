"""Streaming tiling: fixed-size windows read one at a time, so memory does not grow with the
scene. Tile origins sit on multiples of ``tile_size - overlap`` from the scene origin, which
are block boundaries whenever that stride is a multiple of the file's block size (e.g. 512
tiles on a 512- or 256-pixel-tiled COG), so each block is decoded once.

Ownership: with overlap, neighbouring windows share ``overlap`` pixels; the boundary between
two tiles' ``core`` s lies ``overlap // 2`` pixels into the shared strip, so every scene
pixel belongs to exactly one core (the property the alert stage relies on to avoid double
counting).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import numpy as np
from affine import Affine
from rasterio.windows import Window

from edgeinfer.errors import ConfigError, SceneError
from edgeinfer.scene.bands import Band
from edgeinfer.scene.raster import RasterScene
from edgeinfer.scene.types import Scene, Tile

log = logging.getLogger(__name__)

ON_ERROR = ("raise", "invalid")


def _check(tile_size: int, overlap: int) -> None:
    if isinstance(tile_size, bool) or not isinstance(tile_size, int | np.integer) or tile_size <= 0:
        raise ConfigError(
            f"tile_size must be a positive integer number of pixels, got {tile_size!r}"
        )
    if isinstance(overlap, bool) or not isinstance(overlap, int | np.integer) or overlap < 0:
        raise ConfigError(f"overlap must be an integer >= 0 pixels, got {overlap!r}")
    if overlap >= tile_size:
        raise ConfigError(
            f"overlap ({overlap}) must be smaller than tile_size ({tile_size}); e.g. overlap "
            f"{tile_size // 8} for tile_size {tile_size}"
        )


def _axis(length: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(window start, window length, core start, core end) along one axis."""
    if length <= 0:
        return []
    stride = tile - overlap
    count = 1 + max(0, -(-(length - tile) // stride))  # ceil division
    starts = [i * stride for i in range(count)]
    bounds = [0] + [s + overlap // 2 for s in starts[1:]] + [length]
    return [(s, min(tile, length - s), bounds[i], bounds[i + 1]) for i, s in enumerate(starts)]


def tile_windows(
    width: int, height: int, tile_size: int, overlap: int = 0
) -> list[tuple[Window, Window]]:
    """``(window, core)`` pairs covering a ``width`` x ``height`` scene in row-major order.

    ``window`` is the part of the scene a tile reads (clipped to the scene; a tile is padded
    to ``tile_size`` past the right/bottom edge); ``core`` (scene pixels, inside ``window``)
    is the part it owns: the cores partition the scene. Consecutive windows overlap by
    exactly ``overlap`` pixels; the last window of a row or column is clipped (shorter) rather
    than shifted back, so every tile origin stays on the stride grid.
    """
    _check(tile_size, overlap)
    if width < 0 or height < 0:
        raise ConfigError(f"scene size must be >= 0, got {width}x{height}")
    cols = _axis(int(width), int(tile_size), int(overlap))
    rows = _axis(int(height), int(tile_size), int(overlap))
    out = []
    for r0, rh, rc0, rc1 in rows:
        for c0, cw, cc0, cc1 in cols:
            out.append((Window(c0, r0, cw, rh), Window(cc0, rc0, cc1 - cc0, rc1 - rc0)))
    return out


def iter_tiles(
    scene: Scene,
    tile_size: int = 512,
    overlap: int = 0,
    bands: Sequence[str] | None = None,
    *,
    on_error: str = "raise",
) -> Iterator[Tile]:
    """Yield the scene's tiles, reading one window at a time (never the whole scene).

    Each :class:`Tile` holds float32 ``(bands, tile_size, tile_size)`` data in physical units,
    padded with ``valid=False`` past the scene edge, its clipped ``window``, its ``core``, its
    own ``transform`` (scene transform x translation to the window origin), CRS, bands,
    capture time, pixel size and ``tile_id`` ``"r{row_off}_c{col_off}"``. ``meta`` holds
    ``valid_pixels`` and, for products with a saturation DN (Landsat, Sentinel-2),
    ``saturated``: bool ``(bands, tile_size, tile_size)``.

    ``on_error="invalid"`` turns an unreadable window (a damaged block) into a tile with no
    valid pixel and ``meta["error"]`` set, instead of raising :class:`SceneError`.
    """
    _check(tile_size, overlap)
    if on_error not in ON_ERROR:
        raise ConfigError(f"on_error {on_error!r} is unknown; choose one of {', '.join(ON_ERROR)}")
    names = tuple(bands) if bands is not None else scene.band_names
    missing = [n for n in names if n not in scene.band_names]
    if missing:
        from edgeinfer.errors import BandError

        raise BandError(
            f"scene {scene.scene_id!r} has no band(s) {', '.join(missing)}; its bands are "
            f"{', '.join(scene.band_names)}"
        )
    by_name = {b.name: b for b in scene.bands}
    tile_bands = tuple(by_name[n] for n in names)
    block = scene.meta.get("block_shape") if isinstance(scene.meta, dict) else None
    if block and overlap == 0 and (tile_size % block[1] or tile_size % block[0]):
        log.debug(
            "tile_size %d is not a multiple of the %s block; reads are not block-aligned",
            tile_size,
            block,
        )
    any_valid = False
    for window, core in tile_windows(scene.width, scene.height, tile_size, overlap):
        tile = read_tile(scene, window, core, tile_size, tile_bands, on_error=on_error)
        any_valid = any_valid or tile.meta["valid_pixels"] != 0
        yield tile
    if not any_valid and scene.width * scene.height > 0:
        log.warning(
            "scene %r (%s) has no valid pixel in bands %s: nothing to detect",
            scene.scene_id,
            scene.source,
            ", ".join(names),
        )


def read_tile(
    scene: Scene,
    window: Window,
    core: Window,
    tile_size: int,
    bands: tuple[Band, ...],
    *,
    on_error: str = "raise",
) -> Tile:
    """The tile of ``scene`` at ``window`` (with ``core``), in ``bands``: what
    :func:`iter_tiles` yields for that window, for callers that read a window again."""
    names = tuple(b.name for b in bands)
    padded = Window(window.col_off, window.row_off, tile_size, tile_size)
    meta: dict[str, object] = {}
    try:
        if isinstance(scene, RasterScene):
            result = scene.read_arrays(padded, names)
            data, valid = result.data, result.valid
            if result.saturated is not None:
                meta["saturated"] = result.saturated
        else:
            data, valid = scene.read(padded, names)
    except SceneError as exc:
        if on_error == "raise":
            raise
        log.warning(
            "tile r%d_c%d unreadable, marked invalid: %s", window.row_off, window.col_off, exc
        )
        data = np.zeros((len(names), tile_size, tile_size), dtype=np.float32)
        valid = np.zeros((tile_size, tile_size), dtype=bool)
        meta["error"] = str(exc)
    meta["valid_pixels"] = int(valid.sum())
    transform = (
        scene.transform @ Affine.translation(window.col_off, window.row_off)
        if scene.transform is not None
        else None
    )
    return Tile(
        scene_id=scene.scene_id,
        tile_id=f"r{int(window.row_off)}_c{int(window.col_off)}",
        data=data,
        valid=valid,
        window=window,
        core=core,
        bands=bands,
        transform=transform,
        crs=scene.crs,
        capture_time=scene.capture_time,
        pixel_size_m=scene.pixel_size_m,
        meta=meta,
    )


def core_slices(tile: Tile) -> tuple[slice, slice]:
    """(rows, cols) slices of ``tile.data`` / ``tile.valid`` that hold the tile's core."""
    r0 = int(tile.core.row_off - tile.window.row_off)
    c0 = int(tile.core.col_off - tile.window.col_off)
    return slice(r0, r0 + int(tile.core.height)), slice(c0, c0 + int(tile.core.width))
