"""The inference cost model: how long a tile keeps the accelerator busy, deterministically.

The budgets must not depend on how busy the simulation host happens to be, or the same
mission would raise different alerts on every run. So the MODELLED time of a tile is

    seconds = host_ms_per_tile[model] / 1000 * (tile_size / 512)**2 / profile.relative_speed

where ``host_ms_per_tile`` is the single-threaded onnxruntime CPU time of one 512 x 512 tile
of that model, measured once on the development machine (2-core x86 VM, onnxruntime 1.31,
batch 8, ``intra_op_num_threads=1``; :func:`measure_host_ms_per_tile` re-measures) and
``relative_speed`` is the accelerator profile's speed against that host
(edgeinfer/data/accelerators.toml). Energy is then the profile's active power over that time
(charged by the power budget: idle power always, active minus idle while inferring). The host's
MEASURED inference times are reported beside the modelled ones, never used by the budgets.

A mission may override any entry with ``[accelerator] host_ms_per_tile = {model = ms}``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from edgeinfer.budget import AcceleratorProfile
from edgeinfer.detect import Detector, ModelInfo, RuntimeOptions
from edgeinfer.scene.types import Tile

REFERENCE_TILE_PX = 512

#: Host CPU milliseconds per 512 x 512 tile, single thread, batch 8, measured with
#: :func:`measure_host_ms_per_tile` on the shared 2-core development VM (under load from
#: other work, so good to perhaps +-50 %; docs/missions.md).
HOST_MS_PER_TILE: dict[str, float] = {
    "cloud_landsat": 30.0,
    "cloud_sentinel2": 23.0,
    "cloud_vnir": 20.0,
    "fire_landsat": 600.0,
    "fire_sentinel2": 70.0,
}
#: Used for a model missing from the table: the costliest known model of its detector, or
#: this generic figure [assumption: of the order of the measured fire models].
FALLBACK_HOST_MS = 200.0


@dataclass(frozen=True)
class CostModel:
    """Modelled accelerator seconds per tile, per model name."""

    profile: AcceleratorProfile
    tile_size: int = REFERENCE_TILE_PX
    host_ms_per_tile: Mapping[str, float] = field(default_factory=dict)

    def host_ms(self, model: ModelInfo | str, detector: str | None = None) -> float:
        """Host ms of one reference tile of ``model`` (table, override, or fallback)."""
        name = model if isinstance(model, str) else model.name
        det = detector if detector is not None else getattr(model, "detector", None)
        table = {**HOST_MS_PER_TILE, **self.host_ms_per_tile}
        if name in table:
            return float(table[name])
        same = [v for k, v in table.items() if det is not None and k.startswith(f"{det}_")]
        return float(max(same)) if same else FALLBACK_HOST_MS

    def tile_seconds(self, model: ModelInfo | str, detector: str | None = None) -> float:
        """Modelled accelerator seconds for one tile of this mission's tile size."""
        scale = (self.tile_size / REFERENCE_TILE_PX) ** 2
        return self.host_ms(model, detector) / 1000.0 * scale / self.profile.relative_speed

    def energy_wh(self, seconds: float) -> float:
        """Active-power energy of ``seconds`` of inference (Wh)."""
        return self.profile.energy_wh(seconds)


def measure_host_ms_per_tile(
    info: ModelInfo, tile_size: int = REFERENCE_TILE_PX, batch: int = 8, repeats: int = 3
) -> float:
    """Median single-threaded CPU ms per tile of ``info`` on random valid data (to refresh
    :data:`HOST_MS_PER_TILE` on another host)."""
    detector = Detector(info, RuntimeOptions(provider="cpu", intra_op_threads=1), batch)
    from edgeinfer.scene.bands import Band

    rng = np.random.default_rng(0)
    bands = tuple(Band(name, unit) for name, unit in zip(info.bands, info.units, strict=True))
    tiles = [
        Tile(
            scene_id="cost",
            tile_id=f"t{k}",
            data=rng.random((len(bands), tile_size, tile_size), dtype=np.float32) * 0.3,
            valid=np.ones((tile_size, tile_size), dtype=bool),
            window=_window(tile_size),
            core=_window(tile_size),
            bands=bands,
            transform=None,
            crs=None,
            pixel_size_m=10.0,
        )
        for k in range(batch)
    ]
    detector.run(tiles)  # warm-up: first run allocates
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        detector.run(tiles)
        samples.append((time.perf_counter() - t0) * 1000.0 / batch)
    return float(np.median(samples))


def _window(size: int) -> object:
    from rasterio.windows import Window

    return Window(0, 0, size, size)
