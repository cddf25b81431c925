"""Peak memory of streaming tiling does not grow with scene size.

Generates (in a temporary folder, block row by block row, never holding a scene in memory)
a 5,000 x 5,000 and a 20,000 x 20,000 tiled, DEFLATE-compressed uint16 GeoTIFF, then tiles
each one completely with :func:`edgeinfer.scene.iter_tiles` in a SEPARATE child process and
reads the child's peak resident set size (``resource.getrusage``). Prints the ratio of the
two peaks (issue 2's bar: <= 1.1) and of the growth above each child's post-import baseline.

GDAL keeps decoded blocks in a per-process block cache whose cap defaults to 5 % of RAM
(GDAL configuration option GDAL_CACHEMAX). The cap, not the scene, bounds that memory, but a
scene smaller than the cap never fills it, so the children run with an explicit cap
(``--cache-mb``, through :func:`edgeinfer.scene.set_gdal_cache_mb`, as the CLI and each
satellite process should);
``--default-cache`` also runs them with GDAL's default to show the difference.

    .venv/bin/python benchmarks/bench_tiling_memory.py [--bands 2] [--tile 512]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from child import run_json_child

SIZES = (5000, 20000)
BLOCK = 512


def generate(path: Path, size: int, bands: int) -> None:
    """A size x size uint16 scene written one block row at a time (bounded memory)."""
    import rasterio
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.windows import Window

    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": bands,
        "dtype": "uint16",
        "tiled": True,
        "blockxsize": BLOCK,
        "blockysize": BLOCK,
        "compress": "deflate",
        "zlevel": 1,
        "predictor": 2,
        "interleave": "band",
        "BIGTIFF": "IF_SAFER",
        "crs": CRS.from_epsg(32633),
        "transform": Affine(30.0, 0, 300000.0, 0, -30.0, 5e6),
    }
    rng = np.random.default_rng(0)
    # a smooth ramp plus low-amplitude noise: compresses like real imagery, decodes quickly
    ramp = (np.arange(size, dtype=np.uint32) * 4000 // size).astype(np.uint16)
    texture = ramp[np.newaxis, :] + rng.integers(0, 16, size=(BLOCK, size), dtype=np.uint16)
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, BLOCK):
            h = min(BLOCK, size - row)
            strip = texture[:h] + np.uint16(row % 5000)
            for b in range(1, bands + 1):
                dst.write(strip + np.uint16(1000 * b), b, window=Window(0, row, size, h))


def _current_rss_mib() -> float:
    """Resident set size now (Linux /proc), or the peak so far elsewhere."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(path: str, tile: int, cache_mb: int | None) -> None:
    """Tile the whole scene; print JSON with peak RSS (MiB) before and after tiling."""
    from edgeinfer.scene import iter_tiles, open_scene, set_gdal_cache_mb

    if cache_mb is not None:
        set_gdal_cache_mb(cache_mb)

    with open_scene(path) as scene:
        baseline = _current_rss_mib()
        start = time.perf_counter()
        tiles, valid, checksum, sampled = 0, 0, 0.0, baseline
        for t in iter_tiles(scene, tile_size=tile):
            tiles += 1
            if tiles % 16 == 0:
                sampled = max(sampled, _current_rss_mib())
            valid += int(t.valid.sum())
            checksum += float(t.data[:, t.valid].sum(dtype=np.float64))
        seconds = time.perf_counter() - start
        assert valid == scene.width * scene.height, (valid, scene.width * scene.height)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(
        json.dumps(
            {
                "tiles": tiles,
                "baseline_mib": baseline,
                "peak_mib": peak,
                "sampled_max_mib": sampled,
                "seconds": seconds,
                "checksum": checksum,
            }
        )
    )


def run_child(path: Path, tile: int, cache_mb: int | None) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("GDAL_CACHEMAX", None)
    cap = ["--cache-mb", str(cache_mb)] if cache_mb is not None else ["--cache-mb", "0"]
    return run_json_child(__file__, [str(path), "--tile", str(tile), *cap], env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bands", type=int, default=2, help="bands per scene (1-4)")
    parser.add_argument("--tile", type=int, default=512, help="tile size in pixels")
    parser.add_argument("--cache-mb", type=int, default=64, help="GDAL_CACHEMAX for children")
    parser.add_argument(
        "--default-cache", action="store_true", help="also run with GDAL's default block cache cap"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.tile, args.cache_mb or None)
        return 0
    with tempfile.TemporaryDirectory(prefix="edgeinfer-bench-") as tmp:
        paths = {}
        for size in SIZES:
            t0 = time.perf_counter()
            paths[size] = Path(tmp) / f"scene_{size}.tif"
            generate(paths[size], size, args.bands)
            print(
                f"generated {size} x {size} x {args.bands} uint16: "
                f"{paths[size].stat().st_size / 2**20:.0f} MiB on disk, "
                f"{time.perf_counter() - t0:.1f} s"
            )
        caps: list[int | None] = [args.cache_mb] + ([None] if args.default_cache else [])
        report: dict[str, object] = {"sizes_px": list(SIZES), "bands": args.bands, "runs": []}
        for cap in caps:
            label = f"GDAL_CACHEMAX={cap} MiB" if cap is not None else "GDAL default cache"
            res = {size: run_child(paths[size], args.tile, cap) for size in SIZES}
            small, big = res[SIZES[0]], res[SIZES[1]]
            for size in SIZES:
                r = res[size]
                print(
                    f"[{label}] {size:>6} px: {int(r['tiles']):>5} tiles in "
                    f"{r['seconds']:.1f} s, peak RSS {r['peak_mib']:.0f} MiB, "
                    f"RSS while tiling <= {r['sampled_max_mib']:.0f} MiB "
                    f"(RSS after open {r['baseline_mib']:.0f} MiB)"
                )
            ratio = big["peak_mib"] / small["peak_mib"]
            growth_small = small["peak_mib"] - small["baseline_mib"]
            growth_big = big["peak_mib"] - big["baseline_mib"]
            print(
                f"[{label}] peak RSS ratio 20000/5000 = {ratio:.3f} (bar <= 1.1); "
                f"growth above baseline ratio = {growth_big / max(growth_small, 1e-9):.2f}"
            )
            runs = report["runs"]
            assert isinstance(runs, list)
            runs.append(
                {
                    "gdal_cache_mb": cap,
                    "peak_rss_ratio": ratio,
                    "by_size": {str(k): res[k] for k in SIZES},
                }
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
