"""Image chips: a small window of the captured pixels around an alert, sent after the alerts
when a pass has capacity to spare (``[downlink] policy = "alerts+chips"``).

Layout, big-endian (the payload that ``edgeinfer.link`` segments into chip packets)::

    offset size field
     0     4    magic b"EICH"
     4     1    version (1)
     5     1    sample type: 1 = IEEE float16 (the bands' physical units)
     6     2    rows
     8     2    columns
    10     2    bands
    12     4    column of the chip's top-left pixel in the scene (int32)
    16     4    row of the chip's top-left pixel in the scene (int32)
    20     1    length L of the band names
    21     L    band names, comma-separated ASCII
    21+L   ...  samples (bands, rows, columns); invalid pixels are NaN

float16 keeps reflectance to ~3 significant digits (11-bit significand) at half the bytes of
float32; SAR sigma0 down to 6e-8 (float16's smallest subnormal) still has a value.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edgeinfer.detect import Alert
from edgeinfer.errors import LinkError
from edgeinfer.scene import Tile

MAGIC = b"EICH"
VERSION = 1
_HEADER = struct.Struct(">4sBBHHHiiB")
_FLOAT16 = 1


@dataclass(frozen=True)
class Chip:
    """A decoded chip: pixels (bands, rows, cols) float32 and where they sit in the scene."""

    col0: int
    row0: int
    bands: tuple[str, ...]
    data: npt.NDArray[np.float32]


def make_chip(tile: Tile, alert: Alert, size_px: int, bands: Sequence[str] | None = None) -> bytes:
    """The chip of ``alert`` cut from ``tile`` (centred on the alert, clipped to the tile)."""
    names = tuple(bands) if bands else tile.band_names
    index = [tile.band_names.index(b) for b in names if b in tile.band_names]
    names = tuple(tile.band_names[i] for i in index)
    col0_tile, row0_tile = int(tile.window.col_off), int(tile.window.row_off)
    h, w = tile.valid.shape
    cx = int(alert.centroid_px[0]) - col0_tile
    cy = int(alert.centroid_px[1]) - row0_tile
    c0 = min(max(cx - size_px // 2, 0), max(w - size_px, 0))
    r0 = min(max(cy - size_px // 2, 0), max(h - size_px, 0))
    rows = slice(r0, min(r0 + size_px, h))
    cols = slice(c0, min(c0 + size_px, w))
    pixels = tile.data[index][:, rows, cols].astype(np.float32)
    pixels[:, ~tile.valid[rows, cols]] = np.nan
    text = ",".join(names).encode("ascii")
    header = _HEADER.pack(
        MAGIC,
        VERSION,
        _FLOAT16,
        pixels.shape[1],
        pixels.shape[2],
        pixels.shape[0],
        col0_tile + c0,
        row0_tile + r0,
        len(text),
    )
    return header + text + pixels.astype(">f2").tobytes()


def parse_chip(data: bytes) -> Chip:
    """Decode a chip; :class:`LinkError` if it is not one."""
    if len(data) < _HEADER.size or data[:4] != MAGIC:
        raise LinkError("image chip lacks the EICH header; it is not an edgeinfer chip")
    _, version, kind, rows, cols, nb, col0, row0, n = _HEADER.unpack_from(data)
    if version != VERSION or kind != _FLOAT16:
        raise LinkError(f"image chip version {version} / sample type {kind} is unknown")
    start = _HEADER.size + n
    names = tuple(data[_HEADER.size : start].decode("ascii").split(",")) if n else ()
    expected = start + 2 * rows * cols * nb
    if len(data) != expected:
        raise LinkError(f"image chip has {len(data)} bytes, its header says {expected}")
    pixels = np.frombuffer(data, dtype=">f2", offset=start).reshape(nb, rows, cols)
    return Chip(col0, row0, names, pixels.astype(np.float32))
