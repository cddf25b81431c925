"""SAR images: calibrated sigma0 (linear or dB) GeoTIFFs, amplitude/intensity GeoTIFFs and
plain 8-bit chips (JPEG/PNG, no georeference).

Units come from, in order: the band's GDAL unit (``sigma0``, ``amplitude``, ``intensity``),
then the content: floating point with small non-negative values is linear sigma0 (sea
clutter about -25..-10 dB, i.e. 0.003..0.1: the OpenSARShip README measures a VV sea median
of -17.5 dB), floating point with negative values is sigma0 in dB (converted to linear), integers
are amplitude. A 3-channel grey image (HRSID JPEGs repeat the grey value in R, G and B)
becomes one band. Band names: the user's, the file's descriptions, else ``SAR`` (one band)
or ``SAR1..SARn``. Sample-data tags: ``EDGEINFER_SCALE`` = ``linear`` | ``db``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from edgeinfer.errors import BandError
from edgeinfer.scene.bands import SAR_UNITS, Band
from edgeinfer.scene.calibration import (
    Calibration,
    DecibelCalibration,
    LinearCalibration,
    ModulusCalibration,
)
from edgeinfer.scene.options import OpenOptions
from edgeinfer.scene.raster import BandSource, RasterScene, RawSource
from edgeinfer.scene.sources import grid_of
from edgeinfer.scene.stack import (
    described_names,
    edgeinfer_tags,
    sample,
    scene_name,
    tag_acquired,
)

log = logging.getLogger(__name__)


def grey_as_rgb(ds: Any, name: str) -> bool:
    """True for a 3-band 8-bit image whose three channels are identical (grey stored as RGB)."""
    if ds.count != 3 or ds.dtypes[0] != "uint8":
        return False
    arr = sample(ds, name, [1, 2, 3])
    return bool(np.array_equal(arr[0], arr[1]) and np.array_equal(arr[0], arr[2]))


def content_unit(ds: Any, name: str) -> tuple[str, str] | None:
    """(unit, encoding) when the content looks like SAR, else None. Encoding is ``linear``,
    ``db``, ``complex`` or ``dn``. Used by product detection and by the SAR reader."""
    dtype = np.dtype(ds.dtypes[0])
    if dtype.kind == "c":
        return "amplitude", "complex"
    if dtype.kind == "f" and ds.count <= 2:
        values = sample(ds, name, list(range(1, ds.count + 1))).ravel()
        values = values[np.isfinite(values)]
        if ds.nodata is not None:
            values = values[values != ds.nodata]
        if values.size < 16:
            return None
        # Speckle makes nearly every SAR sample distinct; masks and classes are not.
        distinct = np.unique(values).size / values.size
        if distinct < 0.5:
            return None
        median = float(np.median(values))
        if values.min() >= 0.0 and median < 1.0:
            return "sigma0", "linear"
        if values.max() <= 40.0 and -60.0 <= median < 0.0:
            return "sigma0", "db"
        return None
    grey = ds.count == 1 or grey_as_rgb(ds, name)
    if dtype.kind in "ui" and grey and ds.crs is None:
        return "amplitude", "dn"
    return None


def open_sar(name: str, ds: Any, opts: OpenOptions) -> RasterScene:
    """A SAR image in one file (``product="sar"`` or detected)."""
    indexes = [1] if grey_as_rgb(ds, name) else list(range(1, ds.count + 1))
    declared = [(ds.units[i - 1] or "").strip().lower() for i in indexes]
    detected = content_unit(ds, name)
    dtype = np.dtype(ds.dtypes[0])
    if detected is None:
        detected = ("sigma0", "linear") if dtype.kind == "f" else ("amplitude", "dn")
    scale_tag = (ds.tags().get("EDGEINFER_SCALE") or "").strip().lower()
    encoding = {"db": "db", "linear": "linear"}.get(scale_tag, detected[1])
    if opts.bands is not None:
        if len(opts.bands) != len(indexes):
            raise BandError(
                f"{name} has {len(indexes)} SAR band(s) but {len(opts.bands)} names were given "
                f"({','.join(opts.bands)}); pass {len(indexes)} name(s), e.g. VH,VV for a "
                "dual-polarisation file"
            )
        names = list(opts.bands)
    else:
        described = described_names(ds) if len(indexes) == ds.count else None
        names = described or (["SAR"] if len(indexes) == 1 else [f"SAR{i}" for i in indexes])
    sources = []
    for band_name, bidx, unit_decl in zip(names, indexes, declared, strict=True):
        unit = unit_decl if unit_decl in SAR_UNITS else detected[0]
        calib: Calibration
        if encoding == "db":
            calib = DecibelCalibration()
        elif encoding == "complex":
            calib = ModulusCalibration()
        else:
            calib = LinearCalibration(float(ds.scales[bidx - 1]), float(ds.offsets[bidx - 1]))
        sources.append(BandSource(Band(band_name, unit), name, ds, bidx, calib))
    log.info("%s: SAR %s, bands %s (%s)", name, sources[0].band.unit, names, encoding)
    return RasterScene(
        scene_id=opts.scene_id or ds.tags().get("EDGEINFER_SCENE_ID") or scene_name(name),
        product="sar",
        grid=grid_of(ds),
        sources=sources,
        raw=[RawSource(name, ds, tuple(range(1, ds.count + 1)))],
        source=name,
        capture_time=opts.acquired_datetime or tag_acquired(ds),
        pixel_size_m=opts.pixel_size_m,
        meta={
            "driver": ds.driver,
            "dtype": ds.dtypes[0],
            "sar_encoding": encoding,
            "tags": edgeinfer_tags(ds),
            "files": [name],
        },
        closeables=[ds],
    )
