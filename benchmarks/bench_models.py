"""Benchmark: each detector model's cost per 512 x 512 tile on this machine (CPU provider).

    .venv/bin/python benchmarks/bench_models.py [--models-dir models] [--threads 1]
        [--batch 1] [--repeat 10] [--json OUT]

Every model in the models directory (found through edgeinfer.detect.registry, so new models
are included automatically) runs through the runtime's own :class:`Detector` on tiles whose
values look like the model's inputs, by unit: reflectance of calm vegetated land (0.1 with
5 % noise, so context-based detectors see few candidates, as on most real tiles), sigma0 of
sea clutter (exponential, mean 0.02), amplitude (Rayleigh), DN (uniform 0-255). Reported:
median and best milliseconds per tile over ``repeat`` runs after two warm-up runs, with the
provider that actually ran and the thread setting.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from edgeinfer.bench.inputs import synthetic_tiles
from edgeinfer.detect.metadata import ModelInfo
from edgeinfer.detect.registry import ModelRegistry
from edgeinfer.detect.runtime import Detector, RuntimeOptions
from edgeinfer.scene.types import Tile

TILE = 512


def tiles_for(info: ModelInfo, n: int, seed: int = 0) -> list[Tile]:
    """``n`` synthetic tiles of the model's bands (values by unit: module docstring)."""
    return synthetic_tiles(info, TILE, n, seed)


def bench_model(
    info: ModelInfo, options: RuntimeOptions, batch: int, repeat: int
) -> dict[str, Any]:
    detector = Detector(info, options, batch_size=batch)
    tiles = tiles_for(info, batch)
    for _ in range(2):
        detector.run(tiles)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        detector.run(tiles)
        times.append((time.perf_counter() - t0) / batch * 1000.0)
    return {
        "model": info.name,
        "detector": info.detector,
        "bands": len(info.bands),
        "provider": detector.provider,
        "ms_per_tile_median": round(statistics.median(times), 2),
        "ms_per_tile_best": round(min(times), 2),
        "tiles_per_s": round(1000.0 / statistics.median(times), 1),
        "model_bytes": info.path.stat().st_size,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument(
        "--threads", type=int, default=None, help="intra-op threads (default: onnxruntime's)"
    )
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--only", default="", help="comma-separated model names")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    registry = ModelRegistry(args.models_dir)
    wanted = {n for n in args.only.split(",") if n}
    options = RuntimeOptions(provider="cpu", intra_op_threads=args.threads)
    rows = [
        bench_model(info, options, args.batch, args.repeat)
        for info in registry.list_models()
        if not wanted or info.name in wanted
    ]
    print(f"{'model':<24}{'ms/tile':>10}{'best':>10}{'tiles/s':>10}  provider")
    for r in rows:
        print(
            f"{r['model']:<24}{r['ms_per_tile_median']:>10.1f}{r['ms_per_tile_best']:>10.1f}"
            f"{r['tiles_per_s']:>10.1f}  {r['provider']}"
        )
    if args.json:
        report = {
            "tile_px": TILE,
            "batch": args.batch,
            "threads": args.threads,
            "repeat": args.repeat,
            "machine": {
                "cpu": platform.processor() or platform.machine(),
                "python": platform.python_version(),
            },
            "models": rows,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
