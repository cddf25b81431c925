"""Sentinel-2 MSI L1C/L2A: per-band files at 10, 20 and 60 m put on ONE grid.

Each file is resampled with its OWN transform (rasterio WarpedVRT) onto the finest grid
present, or onto ``resolution_m``. DN -> reflectance ``(DN + ADD_OFFSET) / QUANTIFICATION``
with QUANTIFICATION = 10000 (REFERENCE.md: L1C rho = DN/10000) and ADD_OFFSET = -1000 for
processing baseline >= 04.00 (REFERENCE.md marks the -1000 value [unconfirmed]; ESA
introduced the offset with baseline 04.00 on 2022-01-25). Values in the product metadata
(MTD_MSIL1C.xml RADIO_ADD_OFFSET / MTD_MSIL2A.xml BOA_ADD_OFFSET) win over these defaults.
DN 0 is NODATA and 65535 SATURATED (MTD ``Special_Values``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeinfer.errors import BandError, SceneError
from edgeinfer.scene.bands import SENTINEL2_MSI, Band
from edgeinfer.scene.calibration import LinearCalibration
from edgeinfer.scene.options import OpenOptions, parse_baseline
from edgeinfer.scene.raster import BandSource, RasterScene, RawSource
from edgeinfer.scene.sources import (
    Grid,
    grid_at_resolution,
    grid_of,
    on_grid,
    open_dataset,
    probe_readable,
)
from edgeinfer.scene.stack import scene_name

log = logging.getLogger(__name__)

QUANTIFICATION = 10000.0  # REFERENCE.md (L1C: rho = DN / 10000)
BASELINE_04_OFFSET = -1000.0  # REFERENCE.md, [unconfirmed]: DN add-offset since baseline 04.00
BASELINE_04_START = dt.date(2022, 1, 25)  # first products of baseline 04.00 (ESA)
NODATA_DN = 0.0
SATURATED_DN = 65535.0
BAND_ORDER = tuple(SENTINEL2_MSI)  # B01..B12 with B8A after B08: also the MTD band_id order
BAND_FILE = re.compile(r"(?:^|[_\-.])(B0[1-9]|B1[0-2]|B8A|SCL)(?:[_\-.]|$)", re.I)
SENSING = re.compile(r"(\d{8}T\d{6})")
BASELINE_IN_NAME = re.compile(r"_N(\d{4})_")


@dataclass
class S2Metadata:
    """What the product metadata XML tells us (all optional)."""

    path: str | None = None
    baseline: float | None = None
    quantification: float | None = None
    add_offsets: dict[str, float] = field(default_factory=dict)
    sensing: dt.datetime | None = None


def band_files(paths: list[Path]) -> tuple[dict[str, list[Path]], S2Metadata]:
    """Band files by band name (several resolutions possible) and the metadata XML."""
    files: dict[str, list[Path]] = {}
    meta = S2Metadata()
    for path in sorted(paths):
        if path.is_dir():
            continue
        if _is_mtd(path):
            meta = read_mtd(path)
            continue
        match = BAND_FILE.search(path.stem) if is_band_file(path) else None
        if match:
            files.setdefault(match.group(1).upper(), []).append(path)
    return files, meta


def is_band_file(path: Path) -> bool:
    """A band image by its name: B01..B12/B8A/SCL in the stem, not a true-colour image or a
    quality mask (``MSK_DETFOO_B01``, anything under ``QI_DATA``)."""
    stem = path.stem.upper()
    if "TCI" in stem or stem.startswith("MSK_") or "QI_DATA" in (p.upper() for p in path.parts):
        return False
    return BAND_FILE.search(path.stem) is not None


def _is_mtd(path: Path) -> bool:
    if path.suffix.lower() != ".xml" and not path.name.upper().startswith("MTD_"):
        return False
    try:
        head = path.read_bytes()[:4096].decode("utf-8", errors="replace")
    except OSError:
        return False
    return "Level-1C_User_Product" in head or "Level-2A_User_Product" in head


def read_mtd(path: Path) -> S2Metadata:
    """Baseline, quantification, per-band add-offsets and sensing time from MTD_MSIL1C.xml or
    MTD_MSIL2A.xml."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise SceneError(
            f"cannot parse Sentinel-2 metadata {path} ({exc}); re-download it"
        ) from exc
    meta = S2Metadata(path=str(path))
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        text = (el.text or "").strip()
        if tag == "PROCESSING_BASELINE" and text:
            meta.baseline = parse_baseline(text)
        elif tag in ("QUANTIFICATION_VALUE", "BOA_QUANTIFICATION_VALUE") and text:
            meta.quantification = float(text)
        elif tag in ("RADIO_ADD_OFFSET", "BOA_ADD_OFFSET") and text:
            band_id = int(el.get("band_id", "-1"))
            if 0 <= band_id < len(BAND_ORDER):
                meta.add_offsets[BAND_ORDER[band_id]] = float(text)
        elif tag in ("PRODUCT_START_TIME", "SENSING_TIME") and text and meta.sensing is None:
            meta.sensing = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return meta


def add_offset(
    band: str, meta: S2Metadata, opts: OpenOptions, names: str, sensing: dt.datetime | None
) -> tuple[float, str]:
    """(DN add-offset, where it came from)."""
    if opts.processing_baseline is None and band in meta.add_offsets:
        return meta.add_offsets[band], "metadata"
    baseline = opts.processing_baseline or meta.baseline
    source = "option" if opts.processing_baseline is not None else "metadata"
    if baseline is None:
        found = BASELINE_IN_NAME.search(names)
        if found:
            baseline, source = parse_baseline(found.group(1)), "product name"
    if baseline is None and sensing is not None:
        baseline = 4.0 if sensing.date() >= BASELINE_04_START else 2.0
        source = "sensing date"
    if baseline is None:
        return 0.0, "assumed (baseline unknown)"
    return (BASELINE_04_OFFSET if baseline >= 4.0 else 0.0), f"baseline {baseline:05.2f} ({source})"


def open_sentinel2_files(paths: list[Path], label: str, opts: OpenOptions) -> RasterScene:
    files, mtd = band_files(paths)
    if not files:
        raise SceneError(
            f"{label} holds no Sentinel-2 band files (names containing B01..B12, B8A); pass "
            "the folder of a product (or its IMG_DATA) or the band files"
        )
    present = [b for b in (*BAND_ORDER, "SCL") if b in files]
    names = present
    if opts.bands is not None:
        missing = [b for b in opts.bands if b not in files]
        if missing:
            raise BandError(
                f"{label} has no file for band(s) {', '.join(missing)}; present: "
                f"{', '.join(present)}"
            )
        names = list(opts.bands)
    closeables: list[Any] = []
    try:
        # Every band of the product is opened: the grid (finest present) and the raw size
        # must not depend on which bands a detector asks for.
        chosen: dict[str, tuple[Path, Any]] = {}
        for band in present:
            candidates = []
            for path in files[band]:
                ds = open_dataset(path)
                closeables.append(ds)
                candidates.append((grid_of(ds).resolution or 0.0, path, ds))
            candidates.sort(key=lambda c: c[0])
            _, path, ds = candidates[0]  # finest available for this band
            probe_readable(ds, str(path))
            chosen[band] = (path, ds)
        grid = _target_grid(chosen, opts.resolution_m, label)
        all_names = " ".join([label, *(str(p) for p, _ in chosen.values())])
        sensing = opts.acquired_datetime or mtd.sensing or _sensing_from_names(all_names)
        quant = mtd.quantification or QUANTIFICATION
        sources, offsets = [], {}
        for band in names:
            path, ds = chosen[band]
            reader = on_grid(ds, grid, opts.resampling_enum, src_nodata=NODATA_DN)
            if reader is not ds:
                closeables.append(reader)
            if band == "SCL":
                sources.append(
                    BandSource(
                        Band("SCL", "qa", resolution_m=20.0),
                        str(path),
                        reader,
                        1,
                        LinearCalibration(),
                        (NODATA_DN,),
                    )
                )
                continue
            offset, why = add_offset(band, mtd, opts, all_names, sensing)
            offsets[band] = (offset, why)
            sources.append(
                BandSource(
                    SENTINEL2_MSI[band],
                    str(path),
                    reader,
                    1,
                    LinearCalibration(1.0 / quant, offset / quant),
                    (NODATA_DN,),
                    SATURATED_DN,
                )
            )
        whys = sorted({why for _, why in offsets.values()})
        if any(why.startswith("assumed") for why in whys):
            log.warning(
                "%s: Sentinel-2 processing baseline unknown; assumed no DN offset "
                "(baseline < 04.00); pass processing_baseline if the product is 04.00+",
                label,
            )
        return RasterScene(
            scene_id=opts.scene_id or scene_name(label),
            product="sentinel2",
            grid=grid,
            sources=sources,
            raw=[RawSource(str(p), d, (1,)) for p, d in chosen.values()],
            source=label,
            capture_time=sensing,
            pixel_size_m=opts.pixel_size_m,
            meta={
                "files": [str(p) for p, _ in chosen.values()],
                "quantification": quant,
                "add_offsets": {b: o for b, (o, _) in offsets.items()},
                "add_offset_source": whys,
                "mtd": mtd.path,
                "add_offset_note": "the -1000 baseline-04.00 offset is [unconfirmed] in "
                "REFERENCE.md",
                "resolution_m": grid.resolution,
            },
            closeables=closeables,
        )
    except BaseException:
        for obj in reversed(closeables):
            obj.close()
        raise


def _target_grid(chosen: dict[str, tuple[Path, Any]], resolution: float | None, label: str) -> Grid:
    grids = [grid_of(ds) for _, ds in chosen.values()]
    if any(g.transform is None or g.crs is None for g in grids):
        raise SceneError(f"{label}: a Sentinel-2 band file has no georeference; cannot co-register")
    grids.sort(key=lambda g: g.resolution or 0.0)
    if resolution is None:
        return grids[0]
    for g in grids:
        if g.resolution is not None and abs(g.resolution - resolution) < 1e-6 * resolution:
            return g
    return grid_at_resolution(grids[0], resolution)


def _sensing_from_names(text: str) -> dt.datetime | None:
    match = SENSING.search(text)
    if match is None:
        return None
    return dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
