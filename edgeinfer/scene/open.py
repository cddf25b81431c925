"""``open_scene``: one entry point for every product. The reader is chosen by CONTENT (GDAL's
driver detection, MTL text, dataset tags, band descriptions, pixel statistics) and by the
product's own naming conventions, never by file extension."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rasterio.windows import Window

from edgeinfer.errors import SceneError, unknown_name
from edgeinfer.scene import landsat, sentinel2
from edgeinfer.scene.bands import SENTINEL2_MSI
from edgeinfer.scene.gdal_messages import gdal_messages_once
from edgeinfer.scene.mtl import looks_like_mtl
from edgeinfer.scene.options import PRODUCTS, OpenOptions, make_options
from edgeinfer.scene.raster import RasterScene
from edgeinfer.scene.sar import content_unit, open_sar
from edgeinfer.scene.sources import is_url, open_dataset, probe_readable
from edgeinfer.scene.stack import described_names, open_stack, tag_product

log = logging.getLogger(__name__)

SourceLike = str | Path | Sequence[str | Path]
_EMPTY_CHECK_MAX_PX = 4096 * 4096  # scenes up to this size are checked for "all nodata" at open


def open_scene(
    source: SourceLike,
    product: str = "auto",
    bands: Sequence[str] | str | None = None,
    acquired: dt.datetime | dt.date | str | None = None,
    scene_id: str | None = None,
    *,
    pixel_size_m: float | None = None,
    resolution_m: float | None = None,
    processing_baseline: str | float | None = None,
    sun_elevation_deg: float | None = None,
    resampling: str = "nearest",
    reflectance_scale: float | None = None,
) -> RasterScene:
    """Open a raster product as a :class:`~edgeinfer.scene.types.Scene` with named bands in
    physical units.

    ``source``: a file, a folder (Landsat band files + MTL; Sentinel-2 band files), a list
    of files, or an http(s) URL (read by HTTP range requests). ``product``: ``auto``,
    ``geotiff``, ``landsat``, ``sentinel2`` or ``sar``. ``bands``: names of a single file's
    bands in file order, or the subset to keep of a multi-file product. ``acquired``: the
    acquisition date (or datetime, UTC). ``pixel_size_m`` overrides the pixel size (e.g. for
    chips without georeference); ``resolution_m`` picks the Sentinel-2 target grid;
    ``processing_baseline`` the Sentinel-2 baseline (``"04.00"``); ``sun_elevation_deg``
    overrides the Landsat sun elevation; ``resampling`` is used for bands on other grids;
    ``reflectance_scale`` turns the integer DN of a single-file optical stack without GDAL
    scale metadata into reflectance (default 1e-4 for Sentinel-2, ESA's quantification value
    10000; Sentinel Hub "AUTO" exports need 1/65535).
    """
    if product not in PRODUCTS:
        raise unknown_name("product", product, PRODUCTS)
    opts = make_options(
        bands,
        acquired,
        scene_id,
        pixel_size_m,
        resolution_m,
        processing_baseline,
        sun_elevation_deg,
        resampling,
        reflectance_scale,
    )
    with gdal_messages_once():  # libtiff repeats a damaged directory's warning per look
        scene, resolved = _dispatch(source, product, opts)
    scene.meta["open_args"] = {
        "source": _plain_source(source),
        "product": resolved,
        "bands": opts.bands,
        "acquired": opts.acquired,
        "scene_id": scene_id,
        "pixel_size_m": pixel_size_m,
        "resolution_m": resolution_m,
        "processing_baseline": opts.processing_baseline,
        "sun_elevation_deg": sun_elevation_deg,
        "resampling": resampling,
        "reflectance_scale": reflectance_scale,
    }
    scene.meta["product_requested"] = product
    if not is_url(str(source)) and scene.width * scene.height <= _EMPTY_CHECK_MAX_PX:
        _warn_if_empty(scene)
    log.info("opened %r", scene)
    return scene


def _reopen(args: dict[str, Any]) -> RasterScene:
    """Unpickling hook of :class:`RasterScene`."""
    return open_scene(**args)


def _plain_source(source: SourceLike) -> str | list[str]:
    if isinstance(source, str | Path):
        return str(source)
    return [str(s) for s in source]


def _dispatch(source: SourceLike, product: str, opts: OpenOptions) -> tuple[RasterScene, str]:
    if isinstance(source, str | Path):
        text = str(source)
        if is_url(text):
            return _open_single(text, product, opts)
        path = Path(text)
        if path.is_dir():
            files = sorted(f for f in path.iterdir() if f.is_file())
            if product == "sentinel2" or (product == "auto" and not _band_like(files)):
                # products nest their band files (a .SAFE's GRANULE/*/IMG_DATA/R20m/...)
                files = sorted(f for f in path.rglob("*") if f.is_file())
            return _open_files(files, text, product, opts)
        return _open_single(text, product, opts)
    paths = [Path(str(s)) for s in source]
    if not paths:
        raise SceneError("open_scene got an empty list of files; pass at least one raster")
    if len(paths) == 1:
        return _dispatch(paths[0], product, opts)
    label = str(paths[0].parent) if len({p.parent for p in paths}) == 1 else str(paths[0])
    return _open_files(paths, label, product, opts)


def _open_files(
    paths: list[Path], label: str, product: str, opts: OpenOptions
) -> tuple[RasterScene, str]:
    """A set of files: Landsat band files (+ MTL) or Sentinel-2 band files."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise SceneError(f"scene file {missing[0]} does not exist; check the path")
    if product == "auto":
        product = _detect_file_set(paths, label)
    if product == "landsat":
        return landsat.open_landsat_files(paths, label, opts), "landsat"
    if product == "sentinel2":
        expanded: list[Path] = []
        for p in paths:
            expanded.extend(sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p])
        return sentinel2.open_sentinel2_files(expanded, label, opts), "sentinel2"
    rasters = [p for p in paths if not looks_like_mtl(p) and not p.name.endswith((".xml", ".md"))]
    if len(rasters) == 1:
        return _open_single(str(rasters[0]), product, opts)
    raise SceneError(
        f"{label}: product {product!r} is one file, but {len(rasters)} files were given; pass "
        "one file, or product='landsat'/'sentinel2' for a multi-file product"
    )


def _band_like(paths: list[Path]) -> bool:
    return any(
        landsat.BAND_FILE.search(p.name) or sentinel2.BAND_FILE.search(p.stem) for p in paths
    ) or any(looks_like_mtl(p) for p in paths)


def _detect_file_set(paths: list[Path], label: str) -> str:
    has_mtl = any(p.is_file() and looks_like_mtl(p) for p in paths)
    landsat_files = [p for p in paths if landsat.BAND_FILE.search(p.name)]
    s2_files = [p for p in paths if sentinel2.is_band_file(p)]
    if has_mtl or (landsat_files and not s2_files):
        return "landsat"
    if s2_files:
        return "sentinel2"
    rasters = [p for p in paths if p.is_file() and not p.name.endswith((".md", ".txt", ".xml"))]
    if len(rasters) == 1:
        return "auto"
    raise SceneError(
        f"{label}: cannot tell which product these {len(paths)} files form (no Landsat MTL or "
        "_B1.._B11 band files, no Sentinel-2 B01..B12 files); pass product="
        f"{'|'.join(PRODUCTS[1:])} or a single file"
    )


def _open_single(name: str, product: str, opts: OpenOptions) -> tuple[RasterScene, str]:
    ds = open_dataset(name)
    try:
        probe_readable(ds, name)
        resolved = product if product != "auto" else _detect_single(ds, name)
        tagged = tag_product(ds)
        if resolved == "landsat":
            if tagged == "landsat":
                return open_stack(name, ds, "landsat", opts), resolved
            if ds.count == 1 and landsat.BAND_FILE.search(Path(name).name) and not is_url(name):
                ds.close()
                return landsat.open_landsat_files([Path(name)], name, opts), resolved
            return landsat.open_landsat_stack(name, ds, opts), resolved
        if resolved == "sentinel2":
            single_band = ds.count == 1 and sentinel2.BAND_FILE.search(Path(name).stem)
            if single_band and tagged != "sentinel2" and not is_url(name):
                ds.close()
                return sentinel2.open_sentinel2_files([Path(name)], name, opts), resolved
            return open_stack(name, ds, "sentinel2", opts), resolved
        if resolved == "sar":
            return open_sar(name, ds, opts), resolved
        return open_stack(name, ds, "geotiff", opts), resolved
    except BaseException:
        ds.close()
        raise


def _detect_single(ds: Any, name: str) -> str:
    tagged = tag_product(ds)
    if tagged is not None:
        if tagged not in PRODUCTS[1:]:
            raise unknown_name("EDGEINFER_PRODUCT tag value", tagged, PRODUCTS[1:])
        return tagged
    spacecraft, _ = landsat.parse_product_id(Path(name).name)
    if spacecraft is not None and ds.count >= 2:
        return "landsat"
    if _sentinel2_described(ds):
        return "sentinel2"
    if content_unit(ds, name) is not None:
        return "sar"
    return "geotiff"


def _sentinel2_described(ds: Any) -> bool:
    """A multi-band stack whose band descriptions are all Sentinel-2 band names (B01..B12,
    B8A: two digits, which Landsat's B1..B11 are not), e.g. a Sentinel Hub or SNAP export."""
    names = described_names(ds)
    return ds.count >= 2 and names is not None and all(n in SENTINEL2_MSI for n in names)


def _warn_if_empty(scene: RasterScene) -> None:
    """Log when a (small) scene has no valid pixel at all; stops at the first valid one."""
    step = 1024
    for row in range(0, scene.height, step):
        for col in range(0, scene.width, step):
            _, valid = scene.read(
                Window(col, row, min(step, scene.width - col), min(step, scene.height - row))
            )
            if valid.any():
                scene.meta["all_invalid"] = False
                return
    scene.meta["all_invalid"] = True
    log.warning(
        "%s: every pixel is nodata/masked; the scene opens but yields no valid pixels", scene.source
    )
