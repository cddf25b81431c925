"""Plain multi-band stacks (GeoTIFF, COG, VRT, JPEG/PNG chips): one file, bands named by
the user, by the file's own band descriptions, or ``B1..Bn``.

The sample-data convention: a GeoTIFF whose dataset tag ``EDGEINFER_PRODUCT`` is
``sentinel2`` or ``landsat`` (or ``sar``), whose band descriptions are the band names and whose
GDAL band scale/offset turn DN into physical values (``value = DN * scale + offset``); the
bands then carry wavelengths from :mod:`edgeinfer.scene.bands`. Optional dataset tags:
``EDGEINFER_SCENE_ID`` and ``EDGEINFER_ACQUIRED`` (ISO 8601 UTC).

A band's unit: its GDAL unit when that is one of :data:`edgeinfer.scene.bands.UNITS`, else the
product's; a plain ``geotiff`` band is ``dn`` when it holds integers (raw counts) or floats
outside the reflectance range, ``reflectance`` when it holds floats inside it.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rasterio.windows import Window

from edgeinfer.errors import BandError
from edgeinfer.scene.bands import LANDSAT_OLI, SENTINEL2_MSI, UNITS, Band
from edgeinfer.scene.calibration import LinearCalibration
from edgeinfer.scene.options import OpenOptions
from edgeinfer.scene.raster import BandSource, RasterScene, RawSource
from edgeinfer.scene.sources import grid_of, guarded_read

log = logging.getLogger(__name__)

PRODUCT_TAG = "EDGEINFER_PRODUCT"
TABLES: dict[str, dict[str, Band]] = {"landsat": LANDSAT_OLI, "sentinel2": SENTINEL2_MSI}
DEFAULT_UNIT = {"landsat": "reflectance", "sentinel2": "reflectance", "sar": "sigma0"}


def scene_name(source: str) -> str:
    """A scene id from a path or URL: the file name without its extension."""
    name = source.rstrip("/").rsplit("/", 1)[-1]
    return Path(name).stem or name


def described_names(ds: Any) -> list[str] | None:
    """The file's band descriptions when every band has a distinct one, else None."""
    desc = [d.strip() if d else "" for d in ds.descriptions]
    if all(desc) and len(set(desc)) == len(desc):
        return desc
    return None


def resolve_band_names(
    ds: Any, name: str, user: tuple[str, ...] | None, hint: str = ""
) -> list[str]:
    """User names (must match the band count) > band descriptions > ``B1..Bn``."""
    if user is not None:
        if len(user) != ds.count:
            raise BandError(
                f"{name} has {ds.count} bands but {len(user)} band names were given "
                f"({','.join(user)}); pass exactly {ds.count} names in file order with "
                f"bands=[...] / --bands{hint}"
            )
        return list(user)
    return described_names(ds) or [f"B{i}" for i in range(1, ds.count + 1)]


def tag_product(ds: Any) -> str | None:
    value = ds.tags().get(PRODUCT_TAG)
    return value.strip().lower() if value else None


def tag_acquired(ds: Any) -> dt.datetime | None:
    value = ds.tags().get("EDGEINFER_ACQUIRED")
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        log.warning("%s: ignoring EDGEINFER_ACQUIRED=%r (not ISO 8601)", ds.name, value)
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when


def edgeinfer_tags(ds: Any) -> dict[str, str]:
    """The file's ``EDGEINFER_*`` dataset tags (sample-data metadata)."""
    return {k: v for k, v in ds.tags().items() if k.startswith("EDGEINFER_")}


def band_for(name: str, product: str, unit: str) -> Band:
    """A :class:`Band` named ``name``: wavelength and resolution from the product's table
    when the name is one of its bands, with ``unit``."""
    known = TABLES.get(product, {}).get(name)
    if known is None:
        return Band(name, unit)
    return Band(name, unit, known.wavelength_nm, known.bandwidth_nm, known.resolution_m)


SAMPLE_PX = 256  # side of the central window sampled to classify content


def sample(ds: Any, name: str, bands: list[int]) -> npt.NDArray[Any]:
    """A central window (<= SAMPLE_PX square) of ``bands``, as valid values only per band."""
    w, h = min(SAMPLE_PX, ds.width), min(SAMPLE_PX, ds.height)
    win = Window((ds.width - w) // 2, (ds.height - h) // 2, w, h)
    return np.asarray(guarded_read(name, win, lambda: ds.read(indexes=bands, window=win)))


def open_stack(name: str, ds: Any, product: str, opts: OpenOptions) -> RasterScene:
    """A single-file stack. ``product`` is ``geotiff`` or (tagged sample data) ``landsat``,
    ``sentinel2``, ``sar``; calibration comes from the file's GDAL scale/offset."""
    names = resolve_band_names(ds, name, opts.bands)
    sources: list[BandSource] = []
    dn_scale = _dn_reflectance_scale(ds, name, product, opts)
    for i, band_name in enumerate(names, start=1):
        scale, offset = float(ds.scales[i - 1]), float(ds.offsets[i - 1])
        declared = (ds.units[i - 1] or "").strip().lower()
        table_band = TABLES.get(product, {}).get(band_name)
        if declared in UNITS:
            unit = declared
        elif table_band is not None:
            unit = table_band.unit
        elif product in DEFAULT_UNIT:
            unit = DEFAULT_UNIT[product]
        else:
            unit = _content_unit(ds, name, i)
        if unit == "reflectance" and dn_scale is not None and (scale, offset) == (1.0, 0.0):
            scale = dn_scale
        sources.append(
            BandSource(
                band=band_for(band_name, product, unit),
                path=name,
                reader=ds,
                bidx=i,
                calibration=LinearCalibration(scale, offset),
            )
        )
    capture = opts.acquired_datetime or tag_acquired(ds)
    scene_id = opts.scene_id or ds.tags().get("EDGEINFER_SCENE_ID") or scene_name(name)
    return RasterScene(
        scene_id=scene_id,
        product=product,
        grid=grid_of(ds),
        sources=sources,
        raw=[RawSource(name, ds, tuple(range(1, ds.count + 1)))],
        source=name,
        capture_time=capture,
        pixel_size_m=opts.pixel_size_m,
        meta=_stack_meta(ds, name),
        closeables=[ds],
    )


# Reflectance as stored by float products: TOA up to ~1.6 over bright cloud at low sun,
# surface reflectance slightly below 0 after atmospheric correction.
_REFLECTANCE_RANGE = (-0.5, 2.0)


def _content_unit(ds: Any, name: str, bidx: int) -> str:
    """The unit of a band that declares none and is not a product's: ``dn`` for integers
    (raw counts) and for floats outside the reflectance range, ``reflectance`` for floats
    whose sampled values all lie in it (a float32 0.05-0.3 stack is not raw counts)."""
    if not str(ds.dtypes[bidx - 1]).startswith("float"):
        return "dn"
    values = sample(ds, name, [bidx]).ravel()
    values = values[np.isfinite(values)]
    if ds.nodata is not None:
        values = values[values != ds.nodata]
    lo, hi = _REFLECTANCE_RANGE
    if values.size and lo <= float(values.min()) and float(values.max()) <= hi:
        return "reflectance"
    return "dn"


# DN -> reflectance of integer optical stacks that carry no GDAL scale: ESA's Sentinel-2
# L1C/L2A quantification value is 10000 (Sentinel-2 Products Specification Document).
_DEFAULT_DN_SCALE = {"sentinel2": 1e-4}
# the text of the warning that such a default was assumed (eval ship counts its repeats)
DN_SCALE_ASSUMED = "integer bands without GDAL scale metadata; assumed reflectance"


def _dn_reflectance_scale(ds: Any, name: str, product: str, opts: OpenOptions) -> float | None:
    """The DN -> reflectance factor for an integer stack without GDAL scale metadata, or None
    when the file carries its own scales (or is float). Assumed defaults are logged."""
    integer = all(str(d).startswith(("uint", "int")) for d in ds.dtypes)
    unscaled = all(float(sc) == 1.0 for sc in ds.scales) and all(
        float(of) == 0.0 for of in ds.offsets
    )
    if not (integer and unscaled):
        return None
    if opts.reflectance_scale is not None:
        return opts.reflectance_scale
    default = _DEFAULT_DN_SCALE.get(product)
    if default is not None:
        log.warning(
            "%s: %s = DN x %g (ESA quantification value); pass reflectance_scale / "
            "--reflectance-scale if the file uses another convention (e.g. Sentinel Hub AUTO "
            "exports: 1/65535)",
            name,
            DN_SCALE_ASSUMED,
            default,
        )
    return default


def _stack_meta(ds: Any, name: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"driver": ds.driver, "dtype": ds.dtypes[0], "files": [name]}
    tags = edgeinfer_tags(ds)
    if tags:
        meta["tags"] = tags
    sun = tags.get("EDGEINFER_SUN_ELEVATION_DEG")
    if sun:
        try:
            meta["sun_elevation_deg"] = float(sun)
            meta["sun_elevation_source"] = "tag"
        except ValueError:
            log.warning("%s: ignoring EDGEINFER_SUN_ELEVATION_DEG=%r (not a number)", name, sun)
    return meta
