"""Landsat 8/9 OLI/TIRS Level-1: per-band files with their MTL, or a bare DN stack.

- Reflective bands B1-B9: TOA reflectance ``rho = (M * Q + A) / sin(SUN_ELEVATION)`` with
  M = REFLECTANCE_MULT_BAND_n and A = REFLECTANCE_ADD_BAND_n (REFERENCE.md; USGS LSDS-1574
  section 5.1). Without an MTL: the standard OLI coefficients M = 2.0e-5, A = -0.1
  (REFERENCE.md) and a sun elevation computed for the nominal overpass (:mod:`.solar`).
- Thermal B10/B11: brightness temperature from RADIANCE_MULT/ADD and K1/K2 (LSDS-1574 5.2).
- DN 0 is fill (QUANTIZE_CAL_MIN = 1), so it is invalid. DN 65535 (QUANTIZE_CAL_MAX) is
  saturation: it stays VALID (fire detection reads saturation as fire evidence, Murphy et al.
  2016) and is flagged per band in ``ReadResult.saturated`` / ``Tile.meta["saturated"]``.
- QA bands (BQA, QA_PIXEL, QA_RADSAT) are exposed raw with unit ``"qa"``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.enums import Resampling

from edgeinfer.errors import BandError, GeoreferenceError, SceneError
from edgeinfer.scene.bands import LANDSAT_OLI, Band
from edgeinfer.scene.calibration import Calibration, LinearCalibration, ThermalCalibration
from edgeinfer.scene.mtl import LandsatMetadata
from edgeinfer.scene.options import OpenOptions
from edgeinfer.scene.raster import BandSource, RasterScene, RawSource
from edgeinfer.scene.solar import nominal_overpass_utc, solar_elevation_deg
from edgeinfer.scene.sources import Grid, grid_of, on_grid, open_dataset, probe_readable
from edgeinfer.scene.stack import described_names, resolve_band_names, scene_name

log = logging.getLogger(__name__)

# Standard OLI reflectance rescaling (REFERENCE.md: REFLECTANCE_MULT 2.0e-05, ADD -0.1).
OLI_REFLECTANCE_MULT = 2.0e-5
OLI_REFLECTANCE_ADD = -0.1
# Landsat 8 TIRS rescaling and thermal constants, identical in every Landsat 8 MTL
# (LSDS-1574 table 5-1 and e.g. LC80200392015216LGN00_MTL.txt in ../shared/data).
L8_TIRS = {
    "B10": ThermalCalibration(3.3420e-4, 0.1, 774.8853, 1321.0789),
    "B11": ThermalCalibration(3.3420e-4, 0.1, 480.8883, 1201.1442),
}
FILL_DN = 0.0  # QUANTIZE_CAL_MIN_BAND_n = 1: 0 marks fill (LSDS-1574).
SATURATION_DN = 65535.0  # QUANTIZE_CAL_MAX_BAND_n (LSDS-1574).
QA_BANDS = ("BQA", "QA_PIXEL", "QA_RADSAT")
REFLECTIVE = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9")
THERMAL = ("B10", "B11")
# Band-file names: ..._B1.TIF, l8_B10.tif, ..._BQA.TIF, ..._QA_PIXEL.TIF (case-insensitive).
BAND_FILE = re.compile(r"(?:^|_)(B1[01]|B[1-9]|BQA|QA_PIXEL|QA_RADSAT)(?:\.[A-Za-z0-9]+)?$", re.I)
LEVEL2_FILE = re.compile(r"_(SR|ST)_B\d{1,2}(?:\.[A-Za-z0-9]+)?$", re.I)
# Product ids: Collection 1/2 (LC08_L1TP_PPPRRR_YYYYMMDD_...) and pre-Collection scene ids
# (LC8PPPRRRYYYYDDDLGN00), USGS Landsat product identifier documentation.
COLLECTION_ID = re.compile(r"L([COTEM])0([89])_L\w{3}_\d{6}_(\d{8})_")
PRE_COLLECTION_ID = re.compile(r"L([COTEM])([89])\d{6}(\d{4})(\d{3})[A-Z]{3}\d{2}")
BARE_STACK_HINT = (
    "; a Pereira et al. 2021 active-fire patch has 10 bands in the order "
    "B1,B2,B3,B4,B5,B6,B7,B9,B10,B11"
)


def band_sort_key(name: str) -> tuple[int, str]:
    if name in QA_BANDS:
        return (100 + QA_BANDS.index(name), name)
    return (int(name[1:]), name) if name[1:].isdigit() else (99, name)


def parse_product_id(text: str) -> tuple[str | None, dt.date | None]:
    """(spacecraft like ``LANDSAT_8``, acquisition date) from a Landsat product/scene id."""
    match = COLLECTION_ID.search(text)
    if match:
        return f"LANDSAT_{match.group(2)}", dt.datetime.strptime(match.group(3), "%Y%m%d").date()
    match = PRE_COLLECTION_ID.search(text)
    if match:
        year, doy = int(match.group(3)), int(match.group(4))
        return f"LANDSAT_{match.group(2)}", dt.date(year, 1, 1) + dt.timedelta(days=doy - 1)
    return None, None


def calibration_for(
    name: str, mtl: LandsatMetadata | None, sun_elevation_deg: float, spacecraft: str | None
) -> tuple[Band, Calibration, tuple[float, ...], float | None]:
    """(band, calibration, fill DNs, saturation DN) for Landsat band ``name``."""
    table = LANDSAT_OLI.get(name)
    if name in QA_BANDS:
        return Band(name, "qa"), LinearCalibration(), (), None
    if table is None:
        raise BandError(
            f"{name!r} is not a Landsat 8/9 band; use names from "
            f"{', '.join(list(LANDSAT_OLI) + list(QA_BANDS))}"
        )
    n = name[1:]
    sat = SATURATION_DN
    if mtl is not None and mtl.get_float(f"QUANTIZE_CAL_MAX_BAND_{n}") is not None:
        sat = mtl.require_float(f"QUANTIZE_CAL_MAX_BAND_{n}")
    if name in THERMAL:
        thermal = _thermal(name, mtl, spacecraft)
        if thermal is None:
            return (
                Band(name, "dn", table.wavelength_nm, table.bandwidth_nm, table.resolution_m),
                (LinearCalibration()),
                (FILL_DN,),
                sat,
            )
        return table, thermal, (FILL_DN,), sat
    mult = mtl.get_float(f"REFLECTANCE_MULT_BAND_{n}") if mtl else None
    add = mtl.get_float(f"REFLECTANCE_ADD_BAND_{n}") if mtl else None
    if mtl is not None and (mult is None or add is None):
        raise SceneError(
            f"Landsat MTL {mtl.path} lacks REFLECTANCE_MULT/ADD_BAND_{n}; pass the Level-1 MTL "
            "delivered with these band files"
        )
    mult = OLI_REFLECTANCE_MULT if mult is None else mult
    add = OLI_REFLECTANCE_ADD if add is None else add
    sin_e = math.sin(math.radians(sun_elevation_deg))
    return table, LinearCalibration(mult / sin_e, add / sin_e), (FILL_DN,), sat


def _thermal(
    name: str, mtl: LandsatMetadata | None, spacecraft: str | None
) -> ThermalCalibration | None:
    n = name[1:]
    if mtl is not None:
        keys = (
            f"RADIANCE_MULT_BAND_{n}",
            f"RADIANCE_ADD_BAND_{n}",
            f"K1_CONSTANT_BAND_{n}",
            f"K2_CONSTANT_BAND_{n}",
        )
        values = [mtl.get_float(k) for k in keys]
        if all(v is not None for v in values):
            m, a, k1, k2 = (float(v) for v in values if v is not None)
            return ThermalCalibration(m, a, k1, k2)
        log.warning("Landsat MTL %s lacks thermal constants for %s; keeping DN", mtl.path, name)
        return None
    if spacecraft not in (None, "LANDSAT_8"):
        log.warning(
            "no MTL and no standard thermal constants for %s %s; keeping DN", spacecraft, name
        )
        return None
    return L8_TIRS[name]


def landsat_files(paths: list[Path]) -> tuple[dict[str, Path], LandsatMetadata | None]:
    """Band files by band name, and the MTL, among ``paths`` (MTL recognised by content)."""
    from edgeinfer.scene.mtl import looks_like_mtl, read_mtl

    bands: dict[str, Path] = {}
    mtl: LandsatMetadata | None = None
    for path in sorted(paths):
        if path.is_dir():
            continue
        if looks_like_mtl(path):
            mtl = mtl or read_mtl(path)
            continue
        if LEVEL2_FILE.search(path.name):
            raise SceneError(
                f"{path} is a Landsat Level-2 file; edgeinfer reads Level-1 products (TOA "
                "reflectance): pass the L1TP/L1GT band files and MTL"
            )
        match = BAND_FILE.search(path.name)
        if match:
            bands[match.group(1).upper()] = path
    return bands, mtl


def open_landsat_files(paths: list[Path], label: str, opts: OpenOptions) -> RasterScene:
    """A Landsat product given as per-band files plus (ideally) its MTL."""
    files, mtl = landsat_files(paths)
    if not files:
        raise SceneError(
            f"{label} holds no Landsat band files (names ending _B1 .. _B11, _BQA, _QA_PIXEL); "
            "pass the folder of an extracted Level-1 product"
        )
    names = sorted(files, key=band_sort_key)
    if opts.bands is not None:
        missing = [b for b in opts.bands if b not in files]
        if missing:
            raise BandError(
                f"{label} has no file for band(s) {', '.join(missing)}; present: {', '.join(names)}"
            )
        names = list(opts.bands)
    datasets: dict[str, Any] = {}
    closeables: list[Any] = []
    try:
        for band_name in sorted(files, key=band_sort_key):
            ds = open_dataset(files[band_name])
            closeables.append(ds)
            probe_readable(ds, str(files[band_name]))
            datasets[band_name] = ds
        ref_name = next((n for n in sorted(files, key=band_sort_key) if n != "B8"), "B8")
        grid = grid_of(datasets[ref_name])
        id_text = " ".join([label, *(p.name for p in files.values())])
        spacecraft = mtl.spacecraft if mtl else parse_product_id(id_text)[0]
        product_id = (mtl.product_id if mtl else None) or _product_id(files)
        capture, sun_e, sun_src = _sun_and_time(label, grid, mtl, opts, id_text)
        sources = []
        for band_name in names:
            ds = datasets[band_name]
            band, calib, fill, sat = calibration_for(band_name, mtl, sun_e, spacecraft)
            resampling = Resampling.average if band_name == "B8" else Resampling.nearest
            reader = on_grid(ds, grid, resampling, src_nodata=FILL_DN if fill else None)
            if reader is not ds:
                closeables.append(reader)
            sources.append(BandSource(band, str(files[band_name]), reader, 1, calib, fill, sat))
        meta = _meta(mtl, sun_e, sun_src, spacecraft, [str(files[n]) for n in files])
        return RasterScene(
            scene_id=opts.scene_id or product_id or scene_name(label),
            product="landsat",
            grid=grid,
            sources=sources,
            raw=[RawSource(str(files[n]), datasets[n], (1,)) for n in datasets],
            source=label,
            capture_time=capture,
            pixel_size_m=opts.pixel_size_m,
            meta=meta,
            closeables=closeables,
        )
    except BaseException:
        for obj in reversed(closeables):
            obj.close()
        raise


def open_landsat_stack(
    name: str, ds: Any, opts: OpenOptions, mtl: LandsatMetadata | None = None
) -> RasterScene:
    """A bare Level-1 DN stack in one file (e.g. a Pereira et al. patch), bands named by the
    user or by the file's band descriptions."""
    if opts.bands is None and described_names(ds) is None:
        raise BandError(
            f"{name} is a {ds.count}-band Landsat stack without band names; pass them in file "
            f"order with bands=[...] / --bands{BARE_STACK_HINT if ds.count == 10 else ''}"
        )
    names = resolve_band_names(ds, name, opts.bands, BARE_STACK_HINT if ds.count == 10 else "")
    grid = grid_of(ds)
    spacecraft = (mtl.spacecraft if mtl else None) or parse_product_id(name)[0]
    capture, sun_e, sun_src = _sun_and_time(name, grid, mtl, opts)
    sources = []
    for i, band_name in enumerate(names, start=1):
        band, calib, fill, sat = calibration_for(band_name, mtl, sun_e, spacecraft)
        sources.append(BandSource(band, name, ds, i, calib, fill, sat))
    product_id = (mtl.product_id if mtl else None) or scene_name(name)
    return RasterScene(
        scene_id=opts.scene_id or product_id,
        product="landsat",
        grid=grid,
        sources=sources,
        raw=[RawSource(name, ds, tuple(range(1, ds.count + 1)))],
        source=name,
        capture_time=capture,
        pixel_size_m=opts.pixel_size_m,
        meta=_meta(mtl, sun_e, sun_src, spacecraft, [name]),
        closeables=[ds],
    )


def _product_id(files: dict[str, Path]) -> str | None:
    """``LC08_L1TP_..._T1`` from band file names, when they carry a Landsat product id."""
    for path in files.values():
        match = BAND_FILE.search(path.name)
        stem = path.name[: match.start()] if match else path.stem
        if parse_product_id(stem)[0] is not None:
            return stem
    return None


def _sun_and_time(
    label: str,
    grid: Grid,
    mtl: LandsatMetadata | None,
    opts: OpenOptions,
    id_text: str | None = None,
) -> tuple[dt.datetime | None, float, str]:
    """(capture time, sun elevation in degrees, where it came from). ``id_text`` is searched
    for a product id (acquisition date) when there is no MTL; default ``label``."""
    capture = opts.acquired_datetime if opts.acquired_has_time else None
    if mtl is not None:
        capture = capture or mtl.acquired
        if opts.sun_elevation_deg is not None:
            return capture, opts.sun_elevation_deg, "option"
        if mtl.sun_elevation_deg is not None:
            return capture, mtl.sun_elevation_deg, "mtl"
    if opts.sun_elevation_deg is not None:
        return capture or opts.acquired_datetime, opts.sun_elevation_deg, "option"
    date = (
        opts.acquired_datetime.date()
        if opts.acquired_datetime
        else parse_product_id(id_text or label)[1]
    )
    if date is None and mtl is not None and mtl.acquired is not None:
        date = mtl.acquired.date()
    if date is None:
        raise SceneError(
            f"{label}: no MTL and no acquisition date, so the sun elevation for TOA reflectance "
            "is unknown; pass acquired=YYYY-MM-DD (--acquired), sun_elevation_deg, or the MTL"
        )
    if grid.transform is None or grid.crs is None:
        raise GeoreferenceError(
            f"{label} has no georeference, so the sun elevation cannot be computed; pass "
            "sun_elevation_deg or the MTL"
        )
    from edgeinfer.scene.geo import pixel_to_lonlat

    lon_a, lat_a = pixel_to_lonlat(
        grid.transform, grid.crs, np.array([grid.width / 2]), np.array([grid.height / 2])
    )
    lon, lat = float(lon_a[0]), float(lat_a[0])
    if capture is None:
        capture = nominal_overpass_utc(date, lon, lat)
        how = (
            f"at the nominal Landsat overpass {capture:%H:%M} UTC (descending node "
            "10:00-10:15 mean local time, USGS)"
        )
    else:
        how = f"at the given time {capture:%H:%M} UTC"
    sun_e = float(solar_elevation_deg(capture, lon, lat))
    log.warning(
        "%s: Landsat MTL absent; assumed standard OLI rescaling REFLECTANCE_MULT=%.1e ADD=%.1f "
        "and sun elevation %.2f deg computed for %s %s at the scene centre (lon %.3f, lat "
        "%.3f); pass the MTL for exact reflectance",
        label,
        OLI_REFLECTANCE_MULT,
        OLI_REFLECTANCE_ADD,
        sun_e,
        date.isoformat(),
        how,
        lon,
        lat,
    )
    if sun_e <= 0.0:
        raise SceneError(
            f"{label}: computed sun elevation {sun_e:.1f} deg is below the horizon for "
            f"{date.isoformat()}; pass sun_elevation_deg or the MTL"
        )
    return capture, sun_e, "computed"


def _meta(
    mtl: LandsatMetadata | None,
    sun_e: float,
    sun_src: str,
    spacecraft: str | None,
    files: list[str],
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "sun_elevation_deg": sun_e,
        "sun_elevation_source": sun_src,
        "spacecraft": spacecraft,
        "files": files,
        "saturation_dn": SATURATION_DN,
        "fill_dn": FILL_DN,
    }
    if mtl is not None:
        meta["mtl"] = mtl.path
        meta["earth_sun_distance_au"] = mtl.earth_sun_distance_au
        meta["landsat_product_id"] = mtl.product_id
    return meta
