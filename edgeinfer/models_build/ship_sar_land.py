"""A land estimate for the SAR ship detector when the scene has no land mask.

Land scatters far more than calm sea at C band: Sentinel-1 VV sigma0 of open sea is about
-19 to -10 dB (OpenSARShip's calibrated chips, ``../shared/data/...opensarship_grd_cal``
README: median -17.5 dB), of land typically -10 to -5 dB with point scatterers far above
(towns, harbours). A CFAR whose background ring holds land sees an inflated standard deviation
and misses ships near coasts; once land is left out of the ring, the bright points on land
would be detected instead. Both go away when land is marked invalid, as a land mask would
(SNAP's ship detection graph runs Land-Sea-Mask before AdaptiveThresholding).

Without a mask we estimate land per tile, in the units of the band as given (any gain):

1. ``m`` = mean of the valid pixels in a window of ``WINDOW_M`` (200 m), i.e. speckle and
   single targets averaged out;
2. the sea level ``s`` = the ``QUANTILE`` (10 %) quantile of ``m`` over the tile (from every
   4th row and column: ``m`` is smooth at that scale); the darkest tenth of a coastal tile is
   water, and on an open-sea tile ``s`` is the sea itself;
3. land candidates: ``m > RATIO * s`` (2: 6 dB in amplitude, 3 dB in intensity above the
   darkest water; coastal land in the sample and in HRSID's harbour chips is 10 dB or more
   above the sea, wind changes the sea level by about 1 dB over kilometres);
4. only regions holding a whole square of ``MIN_SIZE_M`` (400 m, longer than the largest
   ships; an opening whose square must lie inside the tile, so chips smaller than 400 m have
   no estimated land), grown by twice the averaging radius (the window smears the coast by
   its radius; a further radius keeps the bright coastal fringe out).

This is a heuristic (ours, not from a publication): sea brighter than twice the darkest tenth
of the tile over 400 m (strong wind fronts, sea ice, oil-free slicks next to rough water) would
be taken as land and its ships missed; a real land mask, passed as the scene's mask, is
always better.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from edgeinfer.models_build.onnx_ops import GraphBuilder, Tensor
from edgeinfer.models_build.ship_ops import DynamicBoxSum, radius_px, to_index

WINDOW_M = 200.0
QUANTILE = 0.1
RATIO = 2.0
MIN_SIZE_M = 400.0
GROW_RADII = 2
STRIDE = 4
_HUGE = 1e300


def sea_level(g: GraphBuilder, mean: Tensor, valid64: Tensor) -> Tensor:
    """float64 ``[N, 1, 1, 1]``: the QUANTILE quantile of ``mean`` over the valid pixels of
    each tile, sampled every STRIDE rows and columns (huge where a tile has none)."""
    steps = g.ints(STRIDE, STRIDE)
    starts, ends, axes = g.ints(0, 0), g.ints(2**62, 2**62), g.ints(2, 3)
    sub_m = g.op("Slice", mean, starts, ends, axes, steps)
    sub_v = g.op("Slice", valid64, starts, ends, axes, steps)
    flat_v = g.op("Flatten", sub_v, axis=1)  # [N, M]
    values = g.where(
        g.gt(flat_v, g.const(0.5, np.float64)),
        g.op("Flatten", sub_m, axis=1),
        g.const(_HUGE, np.float64),
    )
    size = g.op("Gather", g.op("Shape", values), g.ints(1), axis=0)  # [1] = M
    ordered, _ = g.ops("TopK", [values, size], 2, axis=1, largest=0, sorted=1)
    count = g.op("ReduceSum", flat_v, g.ints(1), keepdims=1)  # [N, 1]
    index = g.op("Floor", g.mul(count, g.const(QUANTILE, np.float64)))
    index = g.minimum(
        index, g.maximum(g.sub(count, g.const(1.0, np.float64)), g.const(0.0, np.float64))
    )
    level = g.op("GatherElements", ordered, g.cast(index, TensorProto.INT64), axis=1)
    return g.op("Reshape", level, g.ints(-1, 1, 1, 1))


def estimate_land(g: GraphBuilder, x64: Tensor, valid: Tensor, pixel_size_m: Tensor) -> Tensor:
    """bool ``[N, 1, H, W]``: estimated land (see module doc). ``x64`` is the band (float64,
    0 where invalid), ``pixel_size_m`` a float32 ``[1]`` (floored)."""
    f64 = np.float64
    v64 = g.cast(g.to_float(valid), TensorProto.DOUBLE)
    r_m = to_index(g, radius_px(g, WINDOW_M, pixel_size_m))
    sums = DynamicBoxSum(g, g.op("Concat", v64, x64, axis=1)).box(r_m)
    count, total = g.split_channels(sums, 2)
    mean = g.div(total, g.maximum(count, g.const(1.0, f64)))
    level = sea_level(g, mean, v64)
    candidate = g.and_(valid, g.gt(mean, g.mul(level, g.const(RATIO, f64))))
    # opening: a whole square of side 2 r_o + 1 of land (invalid pixels and pixels past the
    # tile's edge are not land, so a chip smaller than the square has none), grown back
    r_o = to_index(g, radius_px(g, MIN_SIZE_M, pixel_size_m))
    inside = DynamicBoxSum(g, g.cast(g.to_float(candidate), TensorProto.DOUBLE)).box(r_o)
    side = g.add(g.mul(g.cast(r_o, TensorProto.DOUBLE), g.const(2.0, f64)), g.const(1.0, f64))
    core = g.and_(candidate, g.ge(inside, g.sub(g.mul(side, side), g.const(0.5, f64))))
    opened = _grow(g, core, r_o)
    r_grow = g.mul(r_m, g.const(GROW_RADII, np.int64))
    return g.and_(valid, _grow(g, g.and_(opened, valid), r_grow))


def _grow(g: GraphBuilder, mask: Tensor, radius: Tensor) -> Tensor:
    """Dilation of bool ``mask`` by a square of int64 ``radius`` (box sum > 0)."""
    m64 = g.cast(g.to_float(mask), TensorProto.DOUBLE)
    return g.gt(DynamicBoxSum(g, m64).box(radius), g.const(0.5, np.float64))
