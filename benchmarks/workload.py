"""The workload every pipeline benchmark of ``run_all.py`` runs: the same tiles, models and
threads for the pipeline, bare onnxruntime, Ray Data and the naive loop.

A benchmark scene (``edgeinfer.bench.make_scene``: the sample's 7-band Sentinel-2 coast,
mirror-tiled to ``cols`` x ``rows`` tiles of 512 px with the pipeline's 64 px overlap) is
captured ``captures`` times, once per satellite actor (one per core: the mission's ``auto``
placement on this machine), so the work is ``captures`` x the scene's tiles. Every path runs
the mission's stages on each tile: the cloud screen (Phi-sat-1 CloudScout: tiles more than
70 % cloudy skip the rest; REFERENCE.md "Clouds"), then the fire and ship models on the clear
tiles, then the alerts; tiles without a valid pixel run nothing.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from edgeinfer.bench import BenchScene, make_scene, tiled_size
from edgeinfer.detect import ModelInfo, ModelRegistry
from edgeinfer.detect.lanes import CPU_BATCH_SIZE
from edgeinfer.detect.pipeline import DEFAULT_CLOUD_THRESHOLD, DEFAULT_OVERLAP
from edgeinfer.scene import open_scene, tile_windows

DETECTORS = ("cloud", "fire", "ship")
#: The mission's default batch on CPU.
BATCH_SIZE = CPU_BATCH_SIZE


@dataclass
class Workload:
    """What every path processes (module docstring)."""

    scene: BenchScene
    captures: int
    threads_total: int
    tile_size: int = 512
    overlap: int = DEFAULT_OVERLAP
    batch_size: int = BATCH_SIZE
    cloud_threshold: float = DEFAULT_CLOUD_THRESHOLD
    models: dict[str, ModelInfo] = field(default_factory=dict)
    bands: tuple[str, ...] = ()

    @property
    def tiles_per_capture(self) -> int:
        return len(tile_windows(self.scene.width, self.scene.height, self.tile_size, self.overlap))

    @property
    def tiles(self) -> int:
        return self.captures * self.tiles_per_capture

    def describe(self) -> dict[str, object]:
        return {
            "scene": str(self.scene.path),
            "scene_px": [self.scene.width, self.scene.height],
            "bands": list(self.bands),
            "tile_px": self.tile_size,
            "overlap_px": self.overlap,
            "tiles_per_capture": self.tiles_per_capture,
            "captures": self.captures,
            "tiles": self.tiles,
            "megapixels": round(self.captures * self.scene.megapixels, 2),
            "models": {d: f"{m.name}@{m.version}" for d, m in self.models.items()},
            "batch_size": self.batch_size,
            "threads_total": self.threads_total,
            "cloud_threshold": self.cloud_threshold,
        }


@contextlib.contextmanager
def work_folder(keep: Path | None, prefix: str) -> Iterator[Path]:
    """Where a benchmark makes its scenes: ``keep`` (``--work DIR``: made if missing, its
    scenes reused and left there), else a temporary folder removed however the run ends (the
    scenes are hundreds of MB)."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True) as tmp:
        yield Path(tmp)


def make_workload(
    work_dir: Path,
    cols: int,
    rows: int,
    captures: int | None = None,
    threads_total: int | None = None,
    name: str = "bench",
) -> Workload:
    """Generate (or reuse) the benchmark scene of ``cols`` x ``rows`` tiles in ``work_dir``
    and choose the models that fit it."""
    cores = os.cpu_count() or 1
    threads = threads_total or cores
    width, height = tiled_size(cols, rows, 512, DEFAULT_OVERLAP)
    scene = make_scene(work_dir / f"{name}_{cols}x{rows}.tif", width, height)
    registry = ModelRegistry()
    with open_scene(scene.path) as opened:
        models = {d: registry.select(d, opened.band_names, opened.product) for d in DETECTORS}
        bands = tuple(b for b in opened.band_names if any(b in m.bands for m in models.values()))
    return Workload(scene, captures or threads, threads, models=models, bands=bands)
