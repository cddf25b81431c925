"""Generate edgeinfer's sample scenes and their truth files, deterministically.

    python sample_data/generate.py [--out DIR] [--seed N] [--force] [--quiet]

Writes into ``DIR`` (default ``sample_data/generated``, git-ignored):

- ``s2_coast.tif``: Sentinel-2-like 7-band uint16 stack (reflectance = DN / 10000) at 10 m,
  ``s2_coast.truth.geojson`` (fires, ships, clouds) and ``s2_coast.cloudmask.tif`` (uint8 0/1);
- ``sar_sea.tif``: Sentinel-1-like VV sigma0 (float32, linear) at 10 m, ``sar_sea.truth.geojson``
  (ships);
- ``manifest.json``: the version stamp, seed and SHA-256 of every file.

The bytes depend only on the seed and on this code: fixed random streams
(``numpy.random.default_rng`` from one ``SeedSequence`` per scene), no timestamps, uncompressed
tiled GeoTIFFs. A run whose manifest already matches the version stamp and seed, with every file
present and unchanged, does nothing (``--force`` regenerates). See sample_data/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import _s2_coast
import _sar_sea
from _writers import RasterSpec, write_geotiff, write_truth

import edgeinfer.scene.bands
import edgeinfer.synth.planck

log = logging.getLogger("sample_data.generate")

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "generated"
DEFAULT_SEED = 20240611
SCHEMA = 1  # bump when the file layout changes; code edits change the stamp by themselves
MANIFEST = "manifest.json"
S2_TIF, S2_TRUTH, S2_CLOUDMASK = "s2_coast.tif", "s2_coast.truth.geojson", "s2_coast.cloudmask.tif"
SAR_TIF, SAR_TRUTH = "sar_sea.tif", "sar_sea.truth.geojson"
FILES = (S2_TIF, S2_TRUTH, S2_CLOUDMASK, SAR_TIF, SAR_TRUTH)
# Code whose edits change the output bytes: the stamp hashes it.
SOURCES = (
    HERE / "generate.py",
    HERE / "_textures.py",
    HERE / "_writers.py",
    HERE / "_s2_coast.py",
    HERE / "_s2_objects.py",
    HERE / "_sar_sea.py",
    Path(edgeinfer.synth.planck.__file__),
    Path(edgeinfer.scene.bands.__file__),
)


@dataclass(frozen=True)
class Result:
    """What a call to :func:`generate` did."""

    out_dir: Path
    skipped: bool
    seconds: float
    manifest: dict[str, object]


def version_stamp() -> str:
    """``v<SCHEMA>-<sha256 of the generating code>`` (first 16 hex digits)."""
    digest = hashlib.sha256()
    for src in SOURCES:
        digest.update(src.name.encode())
        digest.update(src.read_bytes().replace(b"\r\n", b"\n"))
    return f"v{SCHEMA}-{digest.hexdigest()[:16]}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_up_to_date(out_dir: Path, seed: int) -> bool:
    """True if ``out_dir`` holds this version's files for ``seed``, unchanged."""
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if manifest.get("version") != version_stamp() or manifest.get("seed") != seed:
        return False
    files = manifest.get("files", {})
    return set(files) == set(FILES) and all(
        (out_dir / name).is_file() and sha256_file(out_dir / name) == files[name]["sha256"]
        for name in FILES
    )


def write_s2_coast(out_dir: Path, scene: _s2_coast.S2Coast, seed: int) -> dict[str, int]:
    """Write the Sentinel-2-like scene, its truth and cloud mask; returns object counts."""
    names = _s2_coast.BANDS
    spec = RasterSpec(
        crs=_s2_coast.CRS_S2,
        transform=_s2_coast.TRANSFORM,
        descriptions=names,
        nodata=0,
        scales=(1.0 / _s2_coast.DN_PER_REFLECTANCE,) * len(names),
        offsets=(0.0,) * len(names),
        tags={
            "EDGEINFER_PRODUCT": "sentinel2",
            "EDGEINFER_ACQUIRED": _s2_coast.ACQUIRED_UTC,
            "EDGEINFER_SYNTHETIC": "sample_data/generate.py",
            "EDGEINFER_SUN_ELEVATION_DEG": f"{_s2_coast.SUN_ELEVATION_DEG:g}",
            "EDGEINFER_SUN_AZIMUTH_DEG": f"{_s2_coast.SUN_AZIMUTH_DEG:g}",
        },
    )
    write_geotiff(out_dir / S2_TIF, scene.dn, spec)
    mask_spec = RasterSpec(
        crs=_s2_coast.CRS_S2,
        transform=_s2_coast.TRANSFORM,
        descriptions=("cloud",),
        tags={"EDGEINFER_TRUTH": f"cloud opacity >= {_s2_coast.CLOUD_MASK_MIN_OPACITY:g}"},
    )
    write_geotiff(out_dir / S2_CLOUDMASK, scene.cloudmask[None], mask_spec)
    write_truth(
        out_dir / S2_TRUTH,
        scene.objects,
        _s2_coast.TRANSFORM,
        _s2_coast.CRS_S2,
        {
            "scene": S2_TIF,
            "crs": _s2_coast.CRS_S2.to_string(),
            "width": _s2_coast.SHAPE[1],
            "height": _s2_coast.SHAPE[0],
            "pixel_m": _s2_coast.PIXEL_M,
            "acquired": _s2_coast.ACQUIRED_UTC,
            "sun_elevation_deg": _s2_coast.SUN_ELEVATION_DEG,
            "sun_azimuth_deg": _s2_coast.SUN_AZIMUTH_DEG,
            "cloud_mask_min_opacity": _s2_coast.CLOUD_MASK_MIN_OPACITY,
            "seed": seed,
        },
    )
    return _counts(o.kind for o in scene.objects)


def write_sar_sea(out_dir: Path, scene: _sar_sea.SarSea, seed: int) -> dict[str, int]:
    """Write the SAR scene and its truth; returns object counts."""
    spec = RasterSpec(
        crs=_sar_sea.CRS_SAR,
        transform=_sar_sea.TRANSFORM,
        descriptions=("VV",),
        units=("sigma0",),
        tags={
            "EDGEINFER_PRODUCT": "sar",
            "EDGEINFER_ACQUIRED": _sar_sea.ACQUIRED_UTC,
            "EDGEINFER_SYNTHETIC": "sample_data/generate.py",
            "EDGEINFER_POLARISATION": "VV",
            "EDGEINFER_SCALE": "linear",
        },
    )
    write_geotiff(out_dir / SAR_TIF, scene.sigma0[None], spec)
    write_truth(
        out_dir / SAR_TRUTH,
        scene.objects,
        _sar_sea.TRANSFORM,
        _sar_sea.CRS_SAR,
        {
            "scene": SAR_TIF,
            "crs": _sar_sea.CRS_SAR.to_string(),
            "width": _sar_sea.SHAPE[1],
            "height": _sar_sea.SHAPE[0],
            "pixel_m": _sar_sea.PIXEL_M,
            "acquired": _sar_sea.ACQUIRED_UTC,
            "sea_sigma0_db": _sar_sea.SEA_SIGMA0_DB,
            "ship_peak_contrast_db": list(_sar_sea.SHIP_PEAK_CONTRAST_DB),
            "seed": seed,
        },
    )
    return _counts(o.kind for o in scene.objects)


def _counts(kinds: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(kinds).items()))


def generate(out_dir: Path = DEFAULT_OUT, seed: int = DEFAULT_SEED, force: bool = False) -> Result:
    """Write the sample scenes into ``out_dir`` unless they are already up to date."""
    start = time.perf_counter()
    if not force and is_up_to_date(out_dir, seed):
        log.info("sample data in %s is up to date (%s, seed %d)", out_dir, version_stamp(), seed)
        existing = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        return Result(out_dir, True, time.perf_counter() - start, existing)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)  # invalid until every file is rewritten
    counts = {
        "s2_coast": write_s2_coast(out_dir, _s2_coast.build(seed), seed),
        "sar_sea": write_sar_sea(out_dir, _sar_sea.build(seed), seed),
    }
    manifest: dict[str, object] = {
        "generator": "sample_data/generate.py",
        "version": version_stamp(),
        "seed": seed,
        "objects": counts,
        "files": {
            name: {"bytes": (out_dir / name).stat().st_size, "sha256": sha256_file(out_dir / name)}
            for name in FILES
        },
    }
    tmp = out_dir / f"{MANIFEST}.{os.getpid()}.part"
    tmp.write_text(json.dumps(manifest, sort_keys=True, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out_dir / MANIFEST)
    seconds = time.perf_counter() - start
    log.info("wrote sample data to %s in %.1f s: %s", out_dir, seconds, counts)
    return Result(out_dir, False, seconds, manifest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    parser.add_argument("--quiet", action="store_true", help="log warnings only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    generate(args.out, args.seed, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
