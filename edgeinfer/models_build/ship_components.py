"""Connected components inside an ONNX graph, for object-level tests (size, shape,
hysteresis) that a per-pixel detector cannot make.

ONNX has no labelling operator, so the components are found on the sparse set of mask pixels:

1. ``NonZero`` lists the K mask pixels; a dense position map (``K`` = background) gives each
   pixel's 8 neighbours as indices into that list (tile borders and batch items never connect).
2. Every pixel starts with its own list index as label. One round sets each label to the
   largest label among the pixel and its neighbours ("hooking"), then replaces it twice by
   the label of the pixel it points to ("pointer jumping", Shiloach & Vishkin 1982, J.
   Algorithms 3(1)). A label is always the index of a pixel of the same component and never
   decreases, so the rounds converge to the largest index in each component; an ONNX
   ``Loop`` repeats them until nothing changes (a few tens of rounds for large blobs).
3. Per-component sums are ``ScatterElements(reduction="add")`` over the labels (opset 16+),
   read back per pixel with ``Gather``; per-pixel values go back to the dense grid with
   ``ScatterND``.

The result equals ``scipy.ndimage.label`` with an 8-connected structure (tested).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import NodeProto, TensorProto, helper

from edgeinfer.models_build.onnx_ops import GraphBuilder, Tensor

# Upper bound on labelling rounds (the Loop stops as soon as a round changes nothing).
MAX_ROUNDS = 4096
_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


class Components:
    """8-connected components of a bool ``[N, 1, H, W]`` mask.

    Attributes: ``label`` int64 ``[K]`` (the component of each mask pixel, as the list index
    of its largest pixel), ``y`` / ``x`` float64 ``[K]`` (row and column of each pixel),
    ``count`` int64 scalar-like ``[1]`` (K).
    """

    def __init__(self, g: GraphBuilder, mask: Tensor) -> None:
        self.g = g
        self.shape = g.op("Shape", mask)
        points = g.op("Transpose", g.op("NonZero", mask), perm=[1, 0])  # [K, 4]
        self.points = points
        n, _, y, x = (g.op("Squeeze", t, g.ints(1)) for t in g.ops("Split", [points], 4, axis=1))
        h = g.op("Gather", self.shape, g.ints(2), axis=0)  # [1]
        w = g.op("Gather", self.shape, g.ints(3), axis=0)
        batch = g.op("Gather", self.shape, g.ints(0), axis=0)
        self.hw = g.mul(h, w)
        self.total = g.mul(batch, self.hw)
        self.flat = g.add(g.mul(n, self.hw), g.add(g.mul(y, w), x))  # [K]
        self.count = g.op("Shape", self.flat)  # [1] = K
        self.y = g.cast(y, TensorProto.DOUBLE)
        self.x = g.cast(x, TensorProto.DOUBLE)
        one = g.const(1, np.int64)
        zero = g.const(0, np.int64)
        self.arange = g.op("Range", zero, g.op("Squeeze", self.count, g.ints(0)), one)
        # dense map: list index of each mask pixel, K elsewhere
        background = g.op("Expand", self.count, self.total)
        position = g.op("ScatterElements", background, self.flat, self.arange, axis=0)
        columns = []
        for dy, dx in _NEIGHBOURS:
            yy, xx = g.add(y, g.const(dy, np.int64)), g.add(x, g.const(dx, np.int64))
            inside = g.and_(g.ge(yy, zero), g.lt(yy, h), g.ge(xx, zero), g.lt(xx, w))
            yy = g.op("Max", g.op("Min", yy, g.sub(h, one)), zero)
            xx = g.op("Max", g.op("Min", xx, g.sub(w, one)), zero)
            nflat = g.add(g.mul(n, self.hw), g.add(g.mul(yy, w), xx))
            pos = g.where(inside, g.op("Gather", position, nflat, axis=0), self.count)
            columns.append(g.op("Unsqueeze", pos, g.ints(1)))
        self.neighbours = g.op("Concat", *columns, axis=1)  # [K, 8], K = none
        self.label = self._loop()

    def _loop(self) -> Tensor:
        """The hooking / pointer-jumping rounds as an ONNX Loop until convergence."""
        g = self.g
        stem = g.op("Identity", self.arange)  # unique prefix for the body's names
        names = iter(f"{stem}_b{k}" for k in range(100))

        def node(op: str, inputs: list[str], **attrs: Any) -> str:
            out = next(names)
            body_nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
            return out

        body_nodes: list[NodeProto] = []
        it, cond_in, lab = f"{stem}_iter", f"{stem}_cond", f"{stem}_lab"
        minus_one = g.const([-1], np.int64)
        ext = node("Concat", [lab, minus_one], axis=0)  # index K -> -1 (no neighbour)
        near = node(
            "ReduceMax", [node("Gather", [ext, self.neighbours], axis=0)], axes=[1], keepdims=0
        )
        hooked = node("Max", [lab, near])
        jumped = node("Gather", [hooked, hooked], axis=0)
        jumped = node("Gather", [jumped, jumped], axis=0)
        changed = node("Cast", [node("Not", [node("Equal", [jumped, lab])])], to=TensorProto.INT64)
        # A zero prepended so the reduction never sees an empty tensor (no mask pixels): the
        # CPU provider reduces [0] to 0, CUDA refuses ("Can't reduce on dim with value of 0").
        padded = node("Concat", [g.const([0], np.int64), changed], axis=0)
        cond_out = node("Greater", [node("ReduceMax", [padded], keepdims=0), g.const(0, np.int64)])
        lab_out = node("Identity", [jumped])
        body = helper.make_graph(
            body_nodes,
            f"{stem}_body",
            [
                helper.make_tensor_value_info(it, TensorProto.INT64, []),
                helper.make_tensor_value_info(cond_in, TensorProto.BOOL, []),
                helper.make_tensor_value_info(lab, TensorProto.INT64, ["K"]),
            ],
            [
                helper.make_tensor_value_info(cond_out, TensorProto.BOOL, []),
                helper.make_tensor_value_info(lab_out, TensorProto.INT64, ["K"]),
            ],
        )
        trips = g.const(MAX_ROUNDS, np.int64)
        true = g.const(True, np.bool_)
        return g.op("Loop", trips, true, self.arange, body=body)

    # -- per-component and per-pixel values ---------------------------------------------------

    def at_pixels(self, t: Tensor) -> Tensor:
        """Values of an ``[N, 1, H, W]`` tensor at the mask pixels, ``[K]``."""
        return self.g.op("GatherND", t, self.points)

    def sums(self, values: Tensor) -> Tensor:
        """Per-pixel ``[K]`` sum over each pixel's component of float64 ``values`` (``[K]``)."""
        g = self.g
        zeros = g.op("Mul", values, g.const(0.0, np.float64))
        totals = g.op("ScatterElements", zeros, self.label, values, axis=0, reduction="add")
        return g.op("Gather", totals, self.label, axis=0)

    def to_dense(self, values: Tensor, fill: Tensor) -> Tensor:
        """``[N, 1, H, W]``: ``values`` (``[K]``) at the mask pixels, ``fill`` (a ``[1]``
        constant of the same type) elsewhere."""
        g = self.g
        base = g.op("Expand", fill, self.total)
        dense = g.op("ScatterElements", base, self.flat, values, axis=0)
        return g.op("Reshape", dense, self.shape)


def reconstruct(g: GraphBuilder, seeds: Tensor, mask: Tensor, steps_per_round: int = 8) -> Tensor:
    """Morphological reconstruction: the pixels of bool ``mask`` 8-connected to a pixel of
    bool ``seeds`` (Vincent 1993, IEEE TIP 2(2)), as repeated geodesic dilation (3 x 3
    ``MaxPool`` then AND with the mask) in an ONNX ``Loop`` that stops when a round of
    ``steps_per_round`` dilations adds nothing. Dense: its cost grows with the largest
    geodesic distance from the seeds, not with the number of mask pixels."""
    stem = g.op("Identity", g.to_float(mask))  # float 0/1 mask; also a unique name prefix
    names = iter(f"{stem}_b{k}" for k in range(4 * steps_per_round + 16))
    body_nodes: list[NodeProto] = []

    def node(op: str, inputs: list[str], **attrs: Any) -> str:
        out = next(names)
        body_nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    it, cond_in, cur = f"{stem}_iter", f"{stem}_cond", f"{stem}_cur"
    x = cur
    for _ in range(steps_per_round):
        grown = node("MaxPool", [x], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
        x = node("Mul", [grown, stem])
    gained = node("ReduceMax", [node("Sub", [x, cur])], keepdims=0)
    cond_out = node("Greater", [gained, g.const(0.0)])
    cur_out = node("Identity", [x])
    shape: list[str | int] = ["N", 1, "H", "W"]
    body = helper.make_graph(
        body_nodes,
        f"{stem}_body",
        [
            helper.make_tensor_value_info(it, TensorProto.INT64, []),
            helper.make_tensor_value_info(cond_in, TensorProto.BOOL, []),
            helper.make_tensor_value_info(cur, TensorProto.FLOAT, shape),
        ],
        [
            helper.make_tensor_value_info(cond_out, TensorProto.BOOL, []),
            helper.make_tensor_value_info(cur_out, TensorProto.FLOAT, shape),
        ],
    )
    start = g.mul(g.to_float(g.and_(seeds, mask)), stem)
    trips = g.const(MAX_ROUNDS, np.int64)
    out = g.op("Loop", trips, g.const(True, np.bool_), start, body=body)
    return g.gt(out, 0.5)


def extents(g: GraphBuilder, cc: Components) -> tuple[Tensor, Tensor, Tensor]:
    """Per-pixel float64 ``[K]`` (area, length, width) of each pixel's component, in pixels.

    Length and width are the rectangle-equivalent sides along the principal axes (as the
    runtime measures alerts, ``edgeinfer.detect.alerts``): a uniform rectangle of side L has
    variance (L**2 - 1)/12 over its pixel coordinates, so L = sqrt(12 lambda + 1) for each
    eigenvalue lambda of the coordinates' (biased) covariance."""
    f64 = np.float64
    one = g.add(g.mul(cc.y, g.const(0.0, f64)), g.const(1.0, f64))
    area = cc.sums(one)
    n = g.maximum(area, g.const(1.0, f64))
    my, mx = g.div(cc.sums(cc.y), n), g.div(cc.sums(cc.x), n)
    vyy = g.sub(g.div(cc.sums(g.mul(cc.y, cc.y)), n), g.mul(my, my))
    vxx = g.sub(g.div(cc.sums(g.mul(cc.x, cc.x)), n), g.mul(mx, mx))
    vxy = g.sub(g.div(cc.sums(g.mul(cc.y, cc.x)), n), g.mul(my, mx))
    half = g.mul(g.add(vyy, vxx), g.const(0.5, f64))
    det = g.sub(g.mul(vyy, vxx), g.mul(vxy, vxy))
    disc = g.sqrt(g.maximum(g.sub(g.mul(half, half), det), g.const(0.0, f64)))
    big = g.add(half, disc)
    small = g.maximum(g.sub(half, disc), g.const(0.0, f64))
    twelve, unit = g.const(12.0, f64), g.const(1.0, f64)
    length = g.sqrt(g.add(g.mul(big, twelve), unit))
    width = g.sqrt(g.add(g.mul(small, twelve), unit))
    return area, length, width
