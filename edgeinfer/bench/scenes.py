"""Benchmark scenes: the sample's Sentinel-2 coast, mirror-tiled to any size.

The throughput benchmarks need a scene of many 512 x 512 tiles (issue 7's Ray Data reference
used 384) that looks like real imagery: the generated sample (``make sample``,
``sample_data/generated/s2_coast.tif``: 7 bands, land, sea, fires, ships, a cloud deck, a
nodata wedge) is repeated by reflection (``numpy.pad`` mode ``symmetric``, so there are no
seams) to ``width`` x ``height`` pixels and written with the sample's own layout (uncompressed,
tiled 256 x 256, band-interleaved, same tags, scales and georeference), one strip of rows at a
time, so memory stays bounded whatever the size.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edgeinfer.errors import ConfigError, SceneError

logger = logging.getLogger(__name__)

#: The sample scene the benchmark scenes are made of (written by ``make sample``).
SAMPLE_SCENE = "s2_coast.tif"
_STRIP_ROWS = 512


def sample_dir() -> Path:
    """``sample_data/generated`` of this checkout (it may not exist)."""
    return Path(__file__).resolve().parents[2] / "sample_data" / "generated"


def tiled_size(cols: int, rows: int, tile_size: int = 512, overlap: int = 64) -> tuple[int, int]:
    """Width and height (px) of a scene that tiles into exactly ``cols`` x ``rows`` tiles
    of ``tile_size`` with ``overlap`` (edgeinfer.scene.tiling's stride grid)."""
    if cols < 1 or rows < 1:
        raise ConfigError(f"tile grid {cols} x {rows}: expected at least 1 x 1 tiles")
    stride = tile_size - overlap
    return stride * (cols - 1) + tile_size, stride * (rows - 1) + tile_size


@dataclass(frozen=True)
class BenchScene:
    """A generated benchmark scene on disk."""

    path: Path
    width: int
    height: int
    bands: int
    source: Path

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


def _reflect_index(n_out: int, n_in: int, start: int = 0) -> npt.NDArray[np.intp]:
    """Source indices of a symmetric (mirror) repetition of ``n_in`` samples."""
    i = (np.arange(n_out, dtype=np.intp) + start) % (2 * n_in)
    return np.where(i < n_in, i, 2 * n_in - 1 - i)


def make_scene(
    out: Path | str, width: int, height: int, source: Path | str | None = None
) -> BenchScene:
    """Write a ``width`` x ``height`` mirror-tiled copy of ``source`` (default: the sample's
    coast scene) to ``out``; reuses ``out`` when it already has that size."""
    import rasterio
    from rasterio.windows import Window

    src_path = Path(source) if source is not None else sample_dir() / SAMPLE_SCENE
    if not src_path.exists():
        raise SceneError(
            f"benchmark source scene {src_path} does not exist; run `make sample` "
            "(python sample_data/generate.py) first"
        )
    if width < 1 or height < 1:
        raise ConfigError(f"benchmark scene size {width} x {height}: expected >= 1 x 1 px")
    out = Path(out)
    with rasterio.open(src_path) as src:
        if out.exists():
            with rasterio.open(out) as have:
                if (have.width, have.height, have.count) == (width, height, src.count):
                    return BenchScene(out, width, height, src.count, src_path)
        data = src.read()
        profile = src.profile.copy()
        tags = src.tags()
        descriptions = src.descriptions
        scales, offsets = src.scales, src.offsets
    profile.update(width=width, height=height, BIGTIFF="IF_SAFER")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    cols = _reflect_index(width, data.shape[2])
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.update_tags(**tags)
        for b, desc in enumerate(descriptions, start=1):
            if desc:
                dst.set_band_description(b, desc)
        dst.scales, dst.offsets = scales, offsets
        for row in range(0, height, _STRIP_ROWS):
            h = min(_STRIP_ROWS, height - row)
            rows = _reflect_index(h, data.shape[1], row)
            strip = data[:, rows][:, :, cols]
            dst.write(strip, window=Window(0, row, width, h))
    tmp.replace(out)
    logger.info("benchmark scene %s: %d x %d px from %s", out, width, height, src_path)
    return BenchScene(out, width, height, int(profile["count"]), src_path)
