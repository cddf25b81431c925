"""Tiles to benchmark a model on: real-looking tiles cut from the generated sample scenes
(``make sample``: ``sample_data/generated``) when one of them has the model's bands and
product, else synthetic tiles whose values look like the model's inputs, by unit. Which one a
model got is recorded beside its numbers (a benchmark must say so; issue 7).

Synthetic values (as in ``benchmarks/bench_models.py``): reflectance of calm vegetated land
(0.1 with 5 % noise, so context-based detectors see few candidates, as on most real tiles),
sigma0 and intensity of sea clutter (exponential, mean 0.02), amplitude (Rayleigh, 0.1),
brightness temperature 295 K +- 1 K, DN uniform in 0-255.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from affine import Affine
from rasterio.windows import Window

from edgeinfer.bench.scenes import sample_dir
from edgeinfer.detect.metadata import ModelInfo
from edgeinfer.errors import EdgeInferError
from edgeinfer.scene import Band, Tile, iter_tiles, open_scene

logger = logging.getLogger(__name__)

#: Pixel size given to synthetic tiles (models with a ``pixel_size_m`` input need one).
SYNTHETIC_PIXEL_SIZE_M = 10.0


@dataclass(frozen=True)
class BenchInput:
    """The tiles of one model's benchmark and where they came from: ``kind`` is ``sample``
    (``source`` = the scene file) or ``synthetic`` (``source`` = why no sample fitted)."""

    tiles: list[Tile]
    kind: str
    source: str

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "source": self.source, "tiles": len(self.tiles)}


def synthetic_band(
    unit: str, shape: tuple[int, int], rng: np.random.Generator
) -> npt.NDArray[np.float32]:
    """One band of values typical of ``unit`` (module docstring)."""
    if unit == "reflectance":
        values = 0.1 * (1.0 + 0.05 * rng.standard_normal(shape))
    elif unit in ("sigma0", "intensity"):
        values = rng.exponential(0.02, shape)
    elif unit == "amplitude":
        values = rng.rayleigh(0.1, shape)
    elif unit == "brightness_temperature_k":
        values = 295.0 + rng.standard_normal(shape)
    else:
        values = rng.uniform(0.0, 255.0, shape)
    return np.asarray(values, dtype=np.float32)


def synthetic_tiles(info: ModelInfo, tile_size: int, count: int, seed: int = 0) -> list[Tile]:
    """``count`` fully valid tiles of ``tile_size`` px in the model's bands and units."""
    rng = np.random.default_rng(seed)
    bands = tuple(Band(name, unit) for name, unit in zip(info.bands, info.units, strict=True))
    shape = (tile_size, tile_size)
    tiles = []
    for k in range(count):
        data = np.stack([synthetic_band(b.unit, shape, rng) for b in bands])
        window = Window(k * tile_size, 0, tile_size, tile_size)
        tiles.append(
            Tile(
                scene_id="synthetic",
                tile_id=f"t{k}",
                data=data,
                valid=np.ones(shape, dtype=bool),
                window=window,
                core=window,
                bands=bands,
                transform=Affine.identity(),
                crs=None,
                pixel_size_m=SYNTHETIC_PIXEL_SIZE_M,
            )
        )
    return tiles


def sample_scenes(directory: Path) -> list[Path]:
    """The scene files of a sample folder (GeoTIFFs, not the cloud masks)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.tif") if ".cloudmask" not in p.name)


def sample_tiles(info: ModelInfo, tile_size: int, count: int, path: Path) -> list[Tile] | None:
    """``count`` tiles with valid pixels from the scene at ``path`` in the model's bands
    (cycled when the scene has fewer), or None if the scene does not fit the model."""
    try:
        scene = open_scene(path)
    except EdgeInferError as exc:
        logger.debug("sample scene %s unusable: %s", path, exc)
        return None
    with scene:
        if not info.fits_product(scene.product) or info.missing_bands(scene.band_names):
            return None
        tiles = [t for t in iter_tiles(scene, tile_size, 0, info.bands) if t.valid.any()]
    if not tiles:
        return None
    return [tiles[k % len(tiles)] for k in range(count)]


def bench_input(
    info: ModelInfo, tile_size: int, count: int, directory: Path | None = None
) -> BenchInput:
    """Tiles for benchmarking ``info``: from the first sample scene that fits it, else
    synthetic (module docstring)."""
    folder = directory if directory is not None else sample_dir()
    scenes = sample_scenes(folder)
    for path in scenes:
        tiles = sample_tiles(info, tile_size, count, path)
        if tiles is not None:
            return BenchInput(tiles, "sample", str(path))
    if scenes:
        why = (
            f"no sample scene in {folder} has bands {','.join(info.bands)} for product "
            f"{info.product}"
        )
    else:
        why = f"no sample scenes in {folder} (run `make sample`)"
    return BenchInput(synthetic_tiles(info, tile_size, count), "synthetic", why)
