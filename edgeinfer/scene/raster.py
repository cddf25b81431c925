"""The one concrete :class:`Scene`: named bands, each read from a GDAL dataset band that lies
on the scene's grid (directly, or through a WarpedVRT), converted to physical units.

Every product reader (plain stack, Landsat, Sentinel-2, SAR) only decides WHICH file band
feeds WHICH named band with WHICH calibration; reading, masking and padding live here.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from rasterio.enums import MaskFlags
from rasterio.windows import Window

from edgeinfer.errors import BandError
from edgeinfer.scene.bands import Band
from edgeinfer.scene.calibration import Calibration, LinearCalibration
from edgeinfer.scene.ground import grid_pixel_size_m
from edgeinfer.scene.sources import Grid, guarded_read
from edgeinfer.scene.types import BoolArray, FloatArray, Scene

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BandSource:
    """Where a named band comes from: band ``bidx`` of ``reader`` (already on the scene
    grid), converted by ``calibration``. DN values in ``fill_dn`` are invalid (Landsat and
    Sentinel-2 use 0 as fill); DN ``saturation_dn`` is flagged but stays valid."""

    band: Band
    path: str
    reader: Any
    bidx: int
    calibration: Calibration = field(default_factory=LinearCalibration)
    fill_dn: tuple[float, ...] = ()
    saturation_dn: float | None = None


@dataclass(frozen=True)
class RawSource:
    """One file of the product at its native grid: what a satellite would downlink raw."""

    path: str
    reader: Any
    indexes: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        itemsizes = [np.dtype(self.reader.dtypes[i - 1]).itemsize for i in self.indexes]
        return int(self.reader.width) * int(self.reader.height) * int(sum(itemsizes))


@dataclass(frozen=True)
class ReadResult:
    """A window read: ``data`` float32 (b, h, w), ``valid`` (h, w), and ``saturated``
    (b, h, w) where a band has a saturation DN (None otherwise)."""

    data: FloatArray
    valid: BoolArray
    saturated: BoolArray | None


class RasterScene(Scene):
    """A scene backed by rasterio datasets. Build it with :func:`edgeinfer.scene.open_scene`."""

    def __init__(
        self,
        *,
        scene_id: str,
        product: str,
        grid: Grid,
        sources: list[BandSource],
        raw: list[RawSource],
        source: str,
        capture_time: dt.datetime | None = None,
        pixel_size_m: float | None = None,
        meta: dict[str, Any] | None = None,
        closeables: list[Any] | None = None,
    ) -> None:
        names = [s.band.name for s in sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise BandError(
                f"{source}: band names must be unique, {', '.join(dupes)} appear twice; "
                "pass distinct names with bands=[...] / --bands"
            )
        self.scene_id = scene_id
        self.product = product
        self.width = grid.width
        self.height = grid.height
        self.grid = grid
        self.crs = grid.crs
        self.transform = grid.transform
        self.bands = tuple(s.band for s in sources)
        self.capture_time = capture_time
        self.source = source
        self._sources = {s.band.name: s for s in sources}
        self._raw = list(raw)
        self._closeables = list(closeables or [])
        self.pixel_size_m = pixel_size_m if pixel_size_m is not None else grid_pixel_size_m(grid)
        self.meta = dict(meta or {})
        self.meta["raw_bytes"] = sum(r.nbytes for r in self._raw)
        self.meta.setdefault("block_shape", _block_shape(sources))

    # -- reading ----------------------------------------------------------------------

    def band_source(self, name: str) -> BandSource:
        try:
            return self._sources[name]
        except KeyError:
            raise BandError(
                f"scene {self.scene_id!r} has no band {name!r}; its bands are "
                f"{', '.join(self.band_names)}"
            ) from None

    @property
    def raw_sources(self) -> list[RawSource]:
        return list(self._raw)

    def read(
        self, window: Window, band_names: tuple[str, ...] | None = None
    ) -> tuple[FloatArray, BoolArray]:
        result = self.read_arrays(window, band_names)
        return result.data, result.valid

    def read_arrays(self, window: Window, band_names: tuple[str, ...] | None = None) -> ReadResult:
        """Read ``window`` (may reach past the scene: outside is invalid) for ``band_names``
        (all bands if None). Invalid pixels (outside, nodata, masks, fill DN, NaN, inf, or a
        calibration that is not finite) hold 0 in ``data`` and False in ``valid``; a pixel
        is valid only if every requested band is valid there."""
        srcs = [self.band_source(n) for n in (band_names or self.band_names)]
        col, row = round(window.col_off), round(window.row_off)
        w, h = round(window.width), round(window.height)
        c0, r0 = max(col, 0), max(row, 0)
        c1, r1 = min(col + w, self.width), min(row + h, self.height)
        # a window inside the scene is written whole below: no need to zero it first
        inside_scene = (c0, r0, c1, r1) == (col, row, col + w, row + h)
        alloc = np.empty if inside_scene else np.zeros
        data = alloc((len(srcs), h, w), dtype=np.float32)
        valid = alloc((h, w), dtype=bool)
        has_sat = any(s.saturation_dn is not None for s in srcs)
        saturated = np.zeros((len(srcs), h, w), dtype=bool) if has_sat else None
        if c1 <= c0 or r1 <= r0:
            return ReadResult(data, valid, saturated)
        inner = Window(c0, r0, c1 - c0, r1 - r0)
        ys, xs = slice(r0 - row, r1 - row), slice(c0 - col, c1 - col)
        ok = np.ones((r1 - r0, c1 - c0), dtype=bool)
        groups: dict[int, list[int]] = {}
        for i, s in enumerate(srcs):
            groups.setdefault(id(s.reader), []).append(i)
        for members in groups.values():
            first = srcs[members[0]]
            reader = first.reader
            bidxs = [srcs[i].bidx for i in members]
            raw = guarded_read(
                first.path, inner, lambda r=reader, b=bidxs: r.read(indexes=b, window=inner)
            )
            ok &= _dataset_mask(reader, bidxs, inner, first.path, raw)
            for j, i in enumerate(members):
                src = srcs[i]
                dn = raw[j]
                for fill in src.fill_dn:  # a few values: one comparison each beats np.isin
                    _clear_equal(ok, dn, fill)
                if dn.dtype.kind in "fc":
                    ok &= np.isfinite(dn)
                if saturated is not None and src.saturation_dn is not None:
                    saturated[i, ys, xs] = dn == src.saturation_dn
                _calibrate_into(data[i, ys, xs], dn, src.calibration, ok)
        if not ok.all():
            np.copyto(data[:, ys, xs], np.float32(0.0), where=~ok)
        valid[ys, xs] = ok
        if saturated is not None:
            saturated[:, ys, xs] &= ok
        return ReadResult(data, valid, saturated)

    # -- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        for obj in reversed(self._closeables):
            try:
                obj.close()
            except Exception:  # pragma: no cover - closing is best effort
                log.debug("closing %r failed", obj, exc_info=True)
        self._closeables.clear()

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by re-opening from the same arguments (datasets cannot be pickled), so a
        scene can be handed to another process (a Ray actor)."""
        args = self.meta.get("open_args")
        if args is None:
            raise TypeError(f"scene {self.scene_id!r} was not built by open_scene; cannot pickle")
        from edgeinfer.scene.open import _reopen

        return (_reopen, (args,))

    def __repr__(self) -> str:
        return (
            f"RasterScene(id={self.scene_id!r}, product={self.product!r}, "
            f"{self.width}x{self.height}, bands={list(self.band_names)})"
        )


def _calibrate_into(
    dest: FloatArray, dn: npt.NDArray[Any], calibration: Calibration, ok: BoolArray
) -> None:
    """Write ``calibration(dn)`` into ``dest`` and clear ``ok`` where it is not finite.

    Integer DN with a linear calibration (the common case: Sentinel-2, Landsat reflective
    bands, GDAL scale/offset) is converted in place in ``dest``, with no temporary array, and
    cannot produce a non-finite value, so the finiteness pass is skipped."""
    if isinstance(calibration, LinearCalibration) and dn.dtype.kind in "iu":
        np.copyto(dest, dn, casting="unsafe")
        if calibration.scale != 1.0:
            dest *= np.float32(calibration.scale)
        if calibration.offset != 0.0:
            dest += np.float32(calibration.offset)
        if math.isfinite(calibration.scale) and math.isfinite(calibration.offset):
            return
    else:
        with np.errstate(all="ignore"):
            dest[...] = calibration.apply(dn)
    ok &= np.isfinite(dest)


def _clear_equal(ok: BoolArray, dn: npt.NDArray[Any], value: Any) -> None:
    """``ok &= dn != value``; for 0 in an integer band (the usual fill and nodata) in one pass
    without a temporary array (``logical_and`` reads a nonzero integer as True)."""
    if value == 0 and dn.dtype.kind in "iu":
        np.logical_and(ok, dn, out=ok)
    else:
        ok &= dn != value


def _dataset_mask(
    reader: Any,
    bidxs: list[int],
    window: Window,
    name: str,
    raw: npt.NDArray[Any] | None = None,
) -> BoolArray:
    """GDAL's validity masks (nodata value, internal/external .msk masks, alpha) for the
    given bands, combined; bands flagged all-valid are not read.

    A band whose only mask is an integer nodata value gets its mask from ``raw`` (the
    values just read for ``bidxs``, in that order) as ``raw != nodata``, which is what GDAL's
    nodata mask band computes for integer data, without decoding the window again."""
    ok = np.ones((int(window.height), int(window.width)), dtype=bool)
    per_dataset_done = False
    for j, b in enumerate(bidxs):
        flags = reader.mask_flag_enums[b - 1]
        if MaskFlags.all_valid in flags:
            continue
        nodata = reader.nodatavals[b - 1]
        if (
            raw is not None
            and flags == [MaskFlags.nodata]
            and raw.dtype.kind in "iu"
            and nodata is not None
            and float(nodata).is_integer()
        ):
            _clear_equal(ok, raw[j], raw.dtype.type(nodata))
            continue
        if MaskFlags.per_dataset in flags:
            if per_dataset_done:
                continue
            per_dataset_done = True
        mask = guarded_read(name, window, lambda bb=b: reader.read_masks(bb, window=window))
        ok &= mask > 0
    return ok


def _block_shape(sources: list[BandSource]) -> tuple[int, int] | None:
    for s in sources:
        shapes = getattr(s.reader, "block_shapes", None)
        if shapes:
            h, w = shapes[s.bidx - 1]
            return (int(h), int(w))
    return None


def valid_fraction(valid: npt.NDArray[np.bool_]) -> float:
    return float(valid.mean()) if valid.size else 0.0
