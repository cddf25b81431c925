"""Optical ship detector (Sentinel-2 MSI at 10 m) as an ONNX graph.

Ships are compact objects, brighter or darker than their surroundings, on or beside water
(../shared/REFERENCE.md "Ships": water mask by NDWI = (G - NIR)/(G + NIR) > 0, ships as
bright compact objects on water). Bands B02, B03, B04, B08 and B11 on the 10 m grid. Every
quantity below is a normalised difference, a ratio or a z-score, so the result does not
change with a common gain on the bands (DN or reflectance, any quantification).

1. Water: NDWI > 0 (McFeeters 1996, Int. J. Remote Sens. 17(7)) or MNDWI = (G - SWIR1) /
   (G + SWIR1) > 0 (Xu 2006, Int. J. Remote Sens. 27(14)), the SWIR test catching turbid
   harbour water whose NIR is raised. Open water = the water mask opened with a 5 x 5
   square: water bodies narrower than 50 m (shadows, dark roofs) are not water here.
2. Land bodies (the "connection to large land bodies" test): the non-water mask opened with
   a 13 x 13 square (130 m, wider than the beam of any ship, about 60 m at most) keeps
   quays, piers and land; grown back by 3 px (30 m) inside the non-water mask it also keeps
   what is attached to them.
3. On water (class 2): pixels within 2 px of open water, not land, whose NIR or visible
   mean departs from the open-water background of the 31 x 31 window (310 m, twice the
   median ship) by more than 3 standard deviations, bright or dark (the 3-sd contextual
   convention of Schroeder et al. 2016; at least 20 % of the window must be water).
4. Beside water (class 1): non-water pixels within 2 px of open water whose log NIR
   departs from a 7 x 7 grey opening (bright) or closing (dark) by more than 0.5 (a factor
   1.65): an object narrower than 70 m that contrasts with the quay it lies against. This
   is where moored ships are found, and also where pier furniture, cranes and containers
   are; class 1 says so.
5. A 3 x 3 closing joins the fragments of one ship; pixels next to a class-2 pixel are
   class 2.

Windows are in pixels of the 10 m grid (Sentinel-2's; the card says so). Pixels marked
invalid are ignored by every window. Confidence: class 2, 0.5 + 0.5 clip((z - 3)/3, 0, 1);
class 1, 0.25 + 0.25 clip((d - 0.5)/0.5, 0, 1) with d the top-hat contrast.
The numbers in steps 3-4 (3 sd, 0.5) were chosen among a few round values on the
sen2ships development windows (docs/detectors.md shows the sweep); the rest follow from
ship sizes at 10 m.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto

from edgeinfer.models_build.onnx_ops import GraphBuilder, IntegralImage, Tensor
from edgeinfer.models_build.registry import finalize

VERSION = "1.0.0"
BANDS = ("B02", "B03", "B04", "B08", "B11")
OUTPUTS = {
    "0": "none",
    "1": "object beside water (moored ship or pier structure)",
    "2": "ship on water",
}
PARAMS: dict[str, float] = {
    "ratio_floor": 1e-4,  # onnx_ops.RATIO_FLOOR: keeps normalised differences finite
    "open_water_px": 5,
    "land_body_px": 13,
    "land_connect_px": 3,
    "near_water_px": 2,
    "background_px": 31,
    "min_background_fraction": 0.2,
    "k_sd": 3.0,
    "tophat_px": 7,
    "tophat_log": 0.5,
    "closing_px": 3,
}
_BIG = 3e38
SD_FLOOR = 1e-3  # sd_eff = max(sd, 1e-3 |mean|, 1e-5): constant (e.g. zero-filled) water
SD_ABS_FLOOR = 1e-5  # has no texture to compare against


class _Morph:
    """Binary and grey morphology with square windows where invalid pixels are ignored."""

    def __init__(self, g: GraphBuilder) -> None:
        self.g = g
        self.invalid = g.not_(g.valid)

    def dilate(self, m: Tensor, size: int) -> Tensor:
        return self.g.dilate(m, size)

    def erode(self, m: Tensor, size: int) -> Tensor:
        """Erosion with pixels outside the tile ignored (``not dilate(not m)``)."""
        return self.g.not_(self.g.dilate(self.g.not_(m), size))

    def open(self, m: Tensor, size: int) -> Tensor:
        g = self.g
        eroded = g.and_(self.erode(g.or_(m, self.invalid), size), g.valid)
        return g.and_(self.dilate(eroded, size), g.valid)

    def min_filter(self, v: Tensor, size: int) -> Tensor:
        g = self.g
        return g.op("Neg", g.max_filter(g.op("Neg", v), size))

    def grey_open(self, v: Tensor, size: int) -> Tensor:
        g = self.g
        low = self.min_filter(g.where(g.valid, v, _BIG), size)
        return g.max_filter(g.where(g.valid, low, -_BIG), size)

    def grey_close(self, v: Tensor, size: int) -> Tensor:
        g = self.g
        return g.op("Neg", self.grey_open(g.op("Neg", v), size))


def _anomaly(g: GraphBuilder, band: Tensor, water: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """(|z| > k_sd with enough water background, z) against the open-water mean and sd of
    the ``size`` window (float64 sums, as the reference)."""
    p = PARAMS
    w64 = g.cast(g.to_float(water), TensorProto.DOUBLE)
    v64 = g.cast(band, TensorProto.DOUBLE)
    wv = g.mul(w64, v64)
    stack = g.op("Concat", w64, wv, g.mul(wv, v64), axis=1)
    count, s1, s2 = g.split_channels(IntegralImage(g, stack, size).box_sum(size), 3)
    n = g.maximum(count, g.const(1.0, np.float64))
    mean = g.div(s1, n)
    var = g.maximum(g.sub(g.div(s2, n), g.mul(mean, mean)), g.const(0.0, np.float64))
    # An sd below 0.1 % of the mean (or 1e-5 reflectance) is rounding, not texture.
    sd = g.maximum(
        g.sqrt(var),
        g.mul(g.abs(mean), g.const(SD_FLOOR, np.float64)),
        g.const(SD_ABS_FLOOR, np.float64),
    )
    z = g.div(g.abs(g.sub(v64, mean)), sd)
    need = g.const(p["min_background_fraction"] * size * size, np.float64)
    hit = g.and_(g.gt(z, g.const(p["k_sd"], np.float64)), g.ge(count, need))
    return hit, g.cast(g.clip(g.cast(z, TensorProto.FLOAT), 0.0, 1e4), TensorProto.FLOAT)


def build_ship_optical() -> onnx.ModelProto:
    """Ships on or beside water from Sentinel-2 B02/B03/B04/B08/B11 (see module doc)."""
    p = PARAMS
    g = GraphBuilder("ship_optical", BANDS)
    mo = _Morph(g)
    v32 = g.to_float(g.valid)
    blue, green, red, nir, swir = (g.mul(g.band(b), v32) for b in BANDS)
    floor = p["ratio_floor"]
    water = g.and_(
        g.valid,
        g.or_(
            g.gt(g.norm_diff(green, nir, floor), 0.0), g.gt(g.norm_diff(green, swir, floor), 0.0)
        ),
    )
    open_water = mo.open(water, int(p["open_water_px"]))
    not_water = g.and_(g.valid, g.not_(open_water))
    land = mo.open(not_water, int(p["land_body_px"]))
    for _ in range(int(p["land_connect_px"])):
        land = g.and_(mo.dilate(land, 3), not_water)
    near = mo.dilate(open_water, 2 * int(p["near_water_px"]) + 1)

    size = int(p["background_px"])
    vis = g.div(g.add(g.add(blue, green), red), 3.0)
    hit_n, z_n = _anomaly(g, nir, open_water, size)
    hit_v, z_v = _anomaly(g, vis, open_water, size)
    on_water = g.and_(g.or_(hit_n, hit_v), near, g.not_(land), g.valid)

    log_n = g.op("Log", g.maximum(nir, floor))
    k = int(p["tophat_px"])
    bright = g.sub(log_n, mo.grey_open(log_n, k))
    dark = g.sub(mo.grey_close(log_n, k), log_n)
    contrast = g.maximum(bright, dark)
    shore = g.and_(not_water, near, g.gt(contrast, p["tophat_log"]))

    c = int(p["closing_px"])
    union = g.or_(on_water, shore)
    closed = g.and_(mo.erode(g.or_(mo.dilate(union, c), mo.invalid), c), g.valid)
    is_ship = g.and_(closed, mo.dilate(on_water, c))
    cls = g.where(
        is_ship, g.const(2, np.uint8), g.where(closed, g.const(1, np.uint8), g.const(0, np.uint8))
    )

    z = g.maximum(z_n, z_v)
    conf2 = g.add(0.5, g.mul(0.5, g.clip(g.div(g.sub(z, p["k_sd"]), p["k_sd"]), 0.0, 1.0)))
    t = p["tophat_log"]
    conf1 = g.add(0.25, g.mul(0.25, g.clip(g.div(g.sub(contrast, t), t), 0.0, 1.0)))
    conf = g.where(is_ship, conf2, g.where(closed, conf1, 0.0))
    g.set_outputs(cls, conf)
    return finalize(g.model(__doc__ or ""), _metadata())


def _metadata() -> dict[str, Any]:
    return {
        "name": "ship_optical",
        "detector": "ship",
        "version": VERSION,
        "product": "sentinel2",
        "bands": list(BANDS),
        "units": ["reflectance"] * len(BANDS),
        "scaling": {"scale": 1.0, "offset": 0.0},
        "tile_size": "512",
        "aux_inputs": [],
        "outputs": OUTPUTS,
        "min_pixels": "4",
        "thresholds": {k: v for k, v in PARAMS.items()},
        "grid_m": "10",
        "builder": "edgeinfer.models_build.ship_optical:build_ship_optical",
        "source": (
            "Water: NDWI, S. K. McFeeters, Int. J. Remote Sens. 17(7) 1996; MNDWI, H. Xu, Int. "
            "J. Remote Sens. 27(14) 2006. Ships as compact bright objects on water "
            "(../shared/REFERENCE.md); 3-sd contextual test as in Schroeder et al. 2016"
        ),
        "description": (
            "Sentinel-2 ships on water (2) and objects beside water (1: moored ships or pier "
            "structures) at 10 m; gain-invariant (DN or reflectance)."
        ),
        "algorithm": (
            "Water = NDWI > 0 or MNDWI > 0, opened 5x5. Land bodies = non-water opened 13x13 "
            "and grown 3 px inside non-water. Class 2: within 2 px of water, not land, NIR or "
            "visible mean > 3 sd from the open-water mean of the 31x31 window (>= 20 % water). "
            "Class 1: non-water within 2 px of water whose ln NIR differs from a 7x7 grey "
            "opening/closing by > 0.5. 3x3 closing. Windows in 10 m pixels. min 4 px."
        ),
    }


BUILDERS: dict[str, Callable[[], onnx.ModelProto]] = {"ship_optical": build_ship_optical}
