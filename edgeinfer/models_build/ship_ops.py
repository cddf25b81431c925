"""Graph pieces the ship detectors share: box sums whose window radius is decided inside the
graph, per tile, from the pixel size and from how much of the tile is valid.

The SAR CFAR windows are defined in metres (ESA SNAP AdaptiveThresholding, after Crisp
DSTO-RR-0272; ../shared/REFERENCE.md "Ships"), so their size in pixels depends on the
``pixel_size_m`` aux input and is only known when the model runs. ONNX pooling kernels are
static, so the windows here are summed-area tables (Crow 1984) read at computed offsets:

    box_r(v)[i] = P[min(i + r + 1, H)] - P[max(i - r, 0)],   P[k] = sum(v[:k])

along rows, then the same along columns, with ``r`` an int64 per tile (``[N, 1, 1, 1]``).
The offsets are clipped to the tile, so a window that crosses the tile border holds only
the pixels inside it (counts come from summing the validity mask the same way). Sums are
float64: float32 running sums over a 512 x 512 tile lose the small differences of large
numbers that a variance needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import TensorProto

from edgeinfer.models_build.onnx_ops import GraphBuilder, Tensor


@dataclass(frozen=True)
class RingStats:
    """Mean and population standard deviation (float64) of the weighted pixels in the ring
    between a guard window and a background window, and their weight (count)."""

    mean: Tensor
    sd: Tensor
    count: Tensor


class DynamicBoxSum:
    """Box sums of the channels of a float64 ``[N, C, H, W]`` tensor for radii given as
    int64 ``[N, 1, 1, 1]`` tensors (one radius per tile of the batch)."""

    def __init__(self, g: GraphBuilder, v: Tensor) -> None:
        self.g = g
        self.v = v
        self.shape = g.op("Shape", v)
        self.h = g.op("Gather", self.shape, g.const(2, np.int64), axis=0)
        self.w = g.op("Gather", self.shape, g.const(3, np.int64), axis=0)
        # Row prefix sums with a leading zero row: P[k] = sum of rows < k, k = 0..H.
        self.rows = self._prefix(v, axis=2)
        self._arange: dict[int, Tensor] = {}

    def _prefix(self, v: Tensor, axis: int) -> Tensor:
        g = self.g
        pads = [0, 0, 0, 0, 0, 0, 0, 0]
        pads[axis] = 1
        return g.op("Pad", g.op("CumSum", v, g.ints(axis)), g.ints(*pads), g.const(0.0, np.float64))

    def _index(self, axis: int, radius: Tensor, offset: int) -> Tensor:
        """``clip(i + offset * (radius + 1) ..)``: int64 indices broadcast to ``v``'s shape."""
        g = self.g
        size = self.h if axis == 2 else self.w
        if axis not in self._arange:
            ramp = g.op("Range", g.const(0, np.int64), size, g.const(1, np.int64))
            shape = g.ints(1, 1, -1, 1) if axis == 2 else g.ints(1, 1, 1, -1)
            self._arange[axis] = g.op("Reshape", ramp, shape)
        ramp = self._arange[axis]
        if offset > 0:  # upper edge: i + r + 1
            idx = g.op("Add", ramp, g.op("Add", radius, g.const(1, np.int64)))
        else:  # lower edge: i - r
            idx = g.op("Sub", ramp, radius)
        idx = g.op("Max", g.op("Min", idx, size), g.const(0, np.int64))
        return g.op("Expand", idx, self.shape)

    def box(self, radius: Tensor) -> Tensor:
        """Sum over the ``(2r+1) x (2r+1)`` window centred on each pixel, clipped to the
        tile; ``radius`` int64 ``[N, 1, 1, 1]`` >= 0."""
        g = self.g
        hi = g.op("GatherElements", self.rows, self._index(2, radius, 1), axis=2)
        lo = g.op("GatherElements", self.rows, self._index(2, radius, -1), axis=2)
        cols = self._prefix(g.sub(hi, lo), axis=3)
        hi = g.op("GatherElements", cols, self._index(3, radius, 1), axis=3)
        lo = g.op("GatherElements", cols, self._index(3, radius, -1), axis=3)
        return g.sub(hi, lo)


def valid_extent(g: GraphBuilder, valid: Tensor) -> Tensor:
    """float32 ``[N, 1, 1, 1]``: the smaller of the number of rows and of columns that hold
    at least one valid pixel (the side of a chip padded into a larger tile)."""
    # opset 17: ReduceMax takes its axes as an attribute, ReduceSum as an input.
    rows = g.op("ReduceSum", g.op("ReduceMax", valid, axes=[3], keepdims=1), g.ints(2))
    cols = g.op("ReduceSum", g.op("ReduceMax", valid, axes=[2], keepdims=1), g.ints(3))
    return g.minimum(rows, cols)


def radius_px(g: GraphBuilder, size_m: float, pixel_size_m: Tensor) -> Tensor:
    """float32 ``[1]``: ``floor(size_m / (2 * pixel_size_m))``, the radius of a window of
    side ``size_m`` metres (side ``2r + 1`` px; SNAP's ``(int)(size / spacing) + 1`` rounded
    to an odd count)."""
    return g.op("Floor", g.div(size_m / 2.0, pixel_size_m))


def to_index(g: GraphBuilder, radius: Tensor) -> Tensor:
    """A non-negative float radius as int64 (for :meth:`DynamicBoxSum.box`)."""
    return g.cast(g.maximum(radius, 0.0), TensorProto.INT64)


def ring_stats(
    g: GraphBuilder, weight: Tensor, value: Tensor, guard_r: Tensor, background_r: Tensor
) -> RingStats:
    """Weighted mean and sd of float64 ``value`` over the ring ``background - guard`` (both
    square windows, radii int64 ``[N, 1, 1, 1]``): SNAP's background window with the guard
    window cut out. ``weight`` is float64 0/1 (valid and not censored)."""
    wv = g.mul(weight, value)
    stack = g.op("Concat", weight, wv, g.mul(wv, value), axis=1)
    sums = DynamicBoxSum(g, stack)
    ring = g.sub(sums.box(background_r), sums.box(guard_r))
    count, s1, s2 = g.split_channels(ring, 3)
    n = g.maximum(count, g.const(1.0, np.float64))
    mean = g.div(s1, n)
    var = g.maximum(g.sub(g.div(s2, n), g.mul(mean, mean)), g.const(0.0, np.float64))
    return RingStats(mean, g.sqrt(var), count)
