"""Optical ship detector (Sentinel-2 MSI at 10 m) as an ONNX graph: ship-sized objects,
bright against the local open water, on water or at its edge.

Bands B02, B03, B04, B08 and B11 on the 10 m grid. Every test is a normalised difference, a
ratio, a z-score or a size in pixels, so a common gain on the bands changes nothing (DN or
reflectance, any quantification).

1. **Water.** Candidates: NDWI = (G - NIR)/(G + NIR) > 0 (McFeeters 1996, Int. J. Remote
   Sens. 17(7); REFERENCE.md) or MNDWI = (G - SWIR1)/(G + SWIR1) > 0 (Xu 2006, Int. J.
   Remote Sens. 27(14); turbid harbour water). Water = the candidates 8-connected to a seed,
   a 15 x 15 px (150 m) square where BOTH indices are positive (morphological
   reconstruction, Vincent 1993). Blue or white roofs, pools and shadows pass one index but
   are not connected to a 150 m body of unambiguous water, so they stay land.
2. **Land bodies**: the non-water mask opened with a 9 x 9 square: structures wider than
   90 m, wider than any ship's beam (largest container ships ~60 m, plus a pixel of blur on
   each side). Quays, wide piers and the land behind them.
3. **Contrast against water only.** z = (value - mean) / sd of NIR (B08) and of the visible
   mean (B02 + B03 + B04)/3 over the open water of a 31 x 31 window (310 m): water pixels with
   NDWI > 0 (hulls and clouds, whose NIR is as high as their green, are not), leaving out the
   3 px next to land (mixed pixels: B11 is resampled from 20 m and the bands' PSF spreads
   land over a pixel or two); at least 10 % of the window must be such water. Three passes:
   each later one leaves out the previous pass's anomalies (z > 3) and their 1 px rim, the
   iterative censoring of An, Xie & Yuan (2014, for the SAR CFAR), so a ship, its neighbours or
   a thin cloud edge do not inflate the background (one pass was not enough beside clouds in
   the sample scene; three did slightly worse than two on sen2ships). Bright
   only: water absorbs NIR, so a hull is brighter than the water around it.
4. **Candidate pixels**: within 1 px of water, not in a land body, z > 3 (the 3-sd contextual
   convention of Schroeder et al. 2016), and not the 3 px mixed-pixel band along a land body
   unless non-water themselves (a hull moored alongside). A 3 x 3 closing joins fragments.
5. **Objects** (8-connected components inside the graph, ``ship_components``): a ship when
   it has at least one pixel with z >= 14 (hysteresis), at least 2 px, a length <= 50 px and a
   width <= 10 px (principal-axis rectangle: sqrt(12 lambda + 1) of the pixel coordinates'
   covariance eigenvalues; 400 m and 80 m at Web-Mercator 10 m pixels at 37 deg latitude,
   8 m on the ground: the largest ships afloat). Longer or wider objects are piers,
   breakwaters, shorelines, clouds: rejected.

Only class 2 (ship). Confidence 0.5 + 0.5 clip((z - 14)/14, 0, 1) at each ship pixel.
Thresholds 3 and the sizes follow from the sources and ship dimensions above; 14 and the
3 px mixed band were chosen by leave-one-window-out cross-validation on the sen2ships
development windows (objective F2: recall counts twice; docs/detectors.md). Windows are in
pixels of the 10 m grid.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto

from edgeinfer.models_build.onnx_ops import GraphBuilder, IntegralImage, Tensor
from edgeinfer.models_build.registry import finalize
from edgeinfer.models_build.ship_components import Components, extents, reconstruct

VERSION = "2.0.1"
BANDS = ("B02", "B03", "B04", "B08", "B11")
OUTPUTS = {"0": "none", "1": "candidate (not produced)", "2": "ship"}
PARAMS: dict[str, float] = {
    "ratio_floor": 1e-4,  # onnx_ops.RATIO_FLOOR: keeps normalised differences finite
    "seed_water_px": 15,
    "land_body_px": 9,
    "shore_px": 3,
    "background_px": 31,
    "min_background_fraction": 0.1,
    "k_lo": 3.0,
    "censor_passes": 2,
    "k_hi": 14.0,
    "closing_px": 3,
    "min_area_px": 2,
    "max_length_px": 50.0,
    "max_width_px": 10.0,
}
_BIG = 3e38
SD_FLOOR = 1e-3  # sd_eff = max(sd, 1e-3 |mean|, 1e-5): constant (e.g. zero-filled) water
SD_ABS_FLOOR = 1e-5  # has no texture to compare against


class _Morph:
    """Binary morphology with square windows where invalid pixels are ignored."""

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

    def close(self, m: Tensor, size: int) -> Tensor:
        g = self.g
        return g.and_(self.erode(g.or_(self.dilate(m, size), self.invalid), size), g.valid)


def _water_z(g: GraphBuilder, band: Tensor, background: Tensor) -> Tensor:
    """float64 z of ``band`` against the mean and sd of the ``background`` pixels of the
    window (0 where the window holds too little background)."""
    p = PARAMS
    size = int(p["background_px"])
    w64 = g.cast(g.to_float(background), TensorProto.DOUBLE)
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
    enough = g.ge(count, g.const(p["min_background_fraction"] * size * size, np.float64))
    return g.where(enough, g.div(g.sub(v64, mean), sd), g.const(0.0, np.float64))


def _masks(g: GraphBuilder, mo: _Morph) -> tuple[Tensor, Tensor]:
    """(candidate pixels, z float64) from steps 1-4 of the module doc."""
    p = PARAMS
    v32 = g.to_float(g.valid)
    blue, green, red, nir, swir = (g.mul(g.band(b), v32) for b in BANDS)
    floor = p["ratio_floor"]
    ndwi = g.gt(g.norm_diff(green, nir, floor), 0.0)
    mndwi = g.gt(g.norm_diff(green, swir, floor), 0.0)
    either = g.and_(g.valid, g.or_(ndwi, mndwi))
    seeds = mo.open(g.and_(g.valid, ndwi, mndwi), int(p["seed_water_px"]))
    water = reconstruct(g, seeds, either)
    land = g.and_(g.valid, g.not_(water))
    body = mo.open(land, int(p["land_body_px"]))
    shore = 2 * int(p["shore_px"]) + 1
    background = g.and_(water, ndwi, g.not_(mo.dilate(land, shore)))
    vis = g.div(g.add(g.add(blue, green), red), 3.0)
    z = g.maximum(_water_z(g, nir, background), _water_z(g, vis, background))
    k_lo = g.const(p["k_lo"], np.float64)
    for _ in range(int(p["censor_passes"])):
        background = g.and_(background, g.not_(mo.dilate(g.gt(z, k_lo), 3)))
        z = g.maximum(_water_z(g, nir, background), _water_z(g, vis, background))
    beside_body = mo.dilate(body, shore)
    allowed = g.and_(g.not_(body), g.or_(g.not_(beside_body), land))
    cand = g.and_(g.valid, mo.dilate(water, 3), allowed, g.gt(z, g.const(p["k_lo"], np.float64)))
    return mo.close(cand, int(p["closing_px"])), z


def _ships(g: GraphBuilder, cc: Components, z: Tensor) -> Tensor:
    """bool ``[K]``: which object pixels belong to a ship-sized object with a strong pixel."""
    p = PARAMS
    f64 = np.float64
    area, length, width = extents(g, cc)
    strong = g.cast(g.ge(cc.at_pixels(z), g.const(p["k_hi"], f64)), TensorProto.DOUBLE)
    return g.and_(
        g.ge(area, g.const(p["min_area_px"], f64)),
        g.le(length, g.const(p["max_length_px"], f64)),
        g.le(width, g.const(p["max_width_px"], f64)),
        g.gt(cc.sums(strong), g.const(0.5, f64)),
    )


def ship_pixels(g: GraphBuilder) -> tuple[Tensor, Tensor]:
    """(bool ship pixels, float confidence) of the classical detector in graph ``g`` (module
    doc); ``ship_optical_union`` combines them with the CNN's."""
    p = PARAMS
    mo = _Morph(g)
    objects, z = _masks(g, mo)
    cc = Components(g, objects)
    ship = _ships(g, cc, z)
    dense = cc.to_dense(g.cast(ship, TensorProto.FLOAT), g.const([0.0]))
    is_ship = g.and_(g.gt(dense, 0.5), g.valid)
    k_hi = p["k_hi"]
    z32 = g.clip(g.cast(z, TensorProto.FLOAT), -1e4, 1e4)
    conf = g.add(0.5, g.mul(0.5, g.clip(g.div(g.sub(z32, k_hi), k_hi), 0.0, 1.0)))
    return is_ship, conf


def build_ship_optical() -> onnx.ModelProto:
    """Ships on or at the edge of water from Sentinel-2 B02/B03/B04/B08/B11 (module doc)."""
    g = GraphBuilder("ship_optical", BANDS)
    is_ship, conf = ship_pixels(g)
    cls = g.where(is_ship, g.const(2, np.uint8), g.const(0, np.uint8))
    g.set_outputs(cls, g.where(is_ship, conf, 0.0))
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
        "min_pixels": str(int(PARAMS["min_area_px"])),
        "thresholds": dict(PARAMS),
        "grid_m": "10",
        "builder": "edgeinfer.models_build.ship_optical:build_ship_optical",
        "source": (
            "Water: NDWI, S. K. McFeeters, Int. J. Remote Sens. 17(7) 1996; MNDWI, H. Xu, Int. "
            "J. Remote Sens. 27(14) 2006; reconstruction, L. Vincent, IEEE TIP 2(2) 1993. "
            "Ships as compact bright objects on water (../shared/REFERENCE.md); 3-sd "
            "contextual test as in Schroeder et al. 2016; k_hi by leave-one-window-out "
            "cross-validation on sen2ships (docs/detectors.md)"
        ),
        "description": (
            "Sentinel-2 ships (class 2) at 10 m: ship-sized objects brighter than the local "
            "open water, on water or at its edge; gain-invariant (DN or reflectance)."
        ),
        "algorithm": (
            "Water = NDWI > 0 or MNDWI > 0, reconstructed from 15x15 seeds where both are > 0. "
            "Land bodies = non-water opened 9x9. z of NIR and visible mean against the open "
            "water (NDWI > 0, >= 3 px from land) of the 31x31 window, bright only, 2 more passes "
            "without the previous pass's z > 3 pixels and their rim. Candidates: within "
            "1 px of water, not land body, not the 3 px band along it unless non-water, z > 3; "
            "3x3 closing; 8-connected objects kept if max z >= 14, >= 2 px, length <= 50 px, "
            "width <= 10 px (principal axes). Windows in 10 m pixels."
        ),
    }


BUILDERS: dict[str, Callable[[], onnx.ModelProto]] = {"ship_optical": build_ship_optical}
