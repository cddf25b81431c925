"""Graph helpers shared by the detector builders: a small, deterministic ONNX graph writer.

:class:`GraphBuilder` declares the inputs of the model contract (docs/design.md, "Tile ->
model": ``x`` float32 ``[N, C, H, W]``, ``valid`` float32 ``[N, 1, H, W]``, optional scalar
aux inputs), names every node and constant from a counter (so a rebuild is byte-identical),
and offers the pieces the published detectors are made of:

- band selection by name (:meth:`GraphBuilder.band`), arithmetic with Python numbers
  (constants are created and de-duplicated on the fly), ratios with a floored denominator
  (:meth:`GraphBuilder.ratio`), normalised differences, comparisons and logic on bool
  tensors, ``where``;
- windowed statistics that stay cheap for large windows: a box mean as two 1-D
  ``AveragePool`` passes (separable, ``2k`` adds per pixel instead of ``k*k``; 122 instead
  of 3,721 for the 61x61 window of Schroeder et al. 2016), masked mean and standard
  deviation over the pixels of a mask only (``sum(m*v)/sum(m)``), and box sums for many
  window sizes at once from one summed-area table (:class:`IntegralImage`, float64
  cumulative sums: each extra size costs four slices);
- neighbourhood dilation and max filters with ``MaxPool`` (separable for large windows);
- the contract's outputs ``class`` (uint8) and ``confidence`` (float32, clipped to [0, 1]).

All tensors are named by strings (:data:`Tensor`). Numbers passed where a tensor is
expected become float32 scalar constants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# ONNX opset the detectors are written for (CumSum, MaxPool/AveragePool with pads, Where).
OPSET = 17
# Smallest denominator of a ratio of reflectances: reflectance is physically >= 0, so a
# denominator below this is treated as this (keeps ratios finite over dark water and
# zero-filled invalid pixels).
RATIO_FLOOR = 1e-4

Tensor = str
Operand = Tensor | float | int

_INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class WindowStats:
    """Masked window statistics: ``mean`` and ``std`` of the masked values (0 where the
    window holds no masked pixel) and ``count``, the number of masked pixels (float32)."""

    mean: Tensor
    std: Tensor
    count: Tensor


class GraphBuilder:
    """Builds one detector graph over the contract's inputs.

    ``bands`` are the names of the channels of ``x`` in order; ``aux_inputs`` the optional
    scalar inputs (float32 ``[1]``) the runtime feeds, e.g. ``pixel_size_m``.
    """

    def __init__(self, name: str, bands: Sequence[str], aux_inputs: Sequence[str] = ()) -> None:
        self.name = name
        self.bands = tuple(bands)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._consts: dict[tuple[int, tuple[int, ...], bytes], Tensor] = {}
        self._count = 0
        self._bands: dict[str, Tensor] = {}
        dims: list[str | int] = ["N", len(self.bands), "H", "W"]
        self.inputs = [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, dims),
            helper.make_tensor_value_info("valid", TensorProto.FLOAT, ["N", 1, "H", "W"]),
        ]
        self.inputs += [
            helper.make_tensor_value_info(a, TensorProto.FLOAT, [1]) for a in aux_inputs
        ]
        self.x: Tensor = "x"
        self.valid: Tensor = self.gt("valid", 0.5)

    # -- plumbing ---------------------------------------------------------------------------

    def _name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def op(self, op_type: str, *inputs: Operand, **attrs: Any) -> Tensor:
        """Add one node with one output; returns the output's name."""
        return self.ops(op_type, inputs, 1, **attrs)[0]

    def ops(
        self, op_type: str, inputs: Sequence[Operand], n_out: int, **attrs: Any
    ) -> list[Tensor]:
        """Add one node with ``n_out`` outputs (an empty input name marks an omitted one)."""
        names = [self._tensor(i) for i in inputs]
        stem = self._name(op_type.lower())
        outs = [stem] if n_out == 1 else [f"{stem}_{k}" for k in range(n_out)]
        self.nodes.append(helper.make_node(op_type, names, outs, name=stem, **attrs))
        return outs

    def _tensor(self, value: Operand) -> Tensor:
        return value if isinstance(value, str) else self.const(float(value))

    def const(self, value: float | Sequence[float] | np.ndarray, dtype: Any = np.float32) -> Tensor:
        """A constant initializer (de-duplicated by dtype, shape and bytes)."""
        arr = np.asarray(value, dtype=dtype)
        key = (int(helper.np_dtype_to_tensor_dtype(arr.dtype)), arr.shape, arr.tobytes())
        if key not in self._consts:
            name = self._name("c")
            self.initializers.append(numpy_helper.from_array(arr, name))
            self._consts[key] = name
        return self._consts[key]

    def ints(self, *values: int) -> Tensor:
        """A 1-D int64 constant (axes, pads, starts, ends)."""
        return self.const(list(values), np.int64)

    # -- bands and arithmetic -------------------------------------------------------------------

    def band(self, name: str) -> Tensor:
        """Channel ``name`` of ``x`` as ``[N, 1, H, W]``."""
        if name not in self._bands:
            if name not in self.bands:
                raise KeyError(f"band {name!r} is not an input band; inputs: {self.bands}")
            i = self.bands.index(name)
            self._bands[name] = self.op(
                "Slice", self.x, self.ints(i), self.ints(i + 1), self.ints(1)
            )
        return self._bands[name]

    def add(self, a: Operand, b: Operand) -> Tensor:
        return self.op("Add", a, b)

    def sub(self, a: Operand, b: Operand) -> Tensor:
        return self.op("Sub", a, b)

    def mul(self, a: Operand, b: Operand) -> Tensor:
        return self.op("Mul", a, b)

    def div(self, a: Operand, b: Operand) -> Tensor:
        return self.op("Div", a, b)

    def maximum(self, *xs: Operand) -> Tensor:
        return self.op("Max", *xs)

    def minimum(self, *xs: Operand) -> Tensor:
        return self.op("Min", *xs)

    def abs(self, a: Tensor) -> Tensor:
        return self.op("Abs", a)

    def sqrt(self, a: Tensor) -> Tensor:
        return self.op("Sqrt", a)

    def clip(self, a: Tensor, lo: float, hi: float) -> Tensor:
        return self.op("Clip", a, lo, hi)

    def ratio(self, a: Operand, b: Operand, floor: float = RATIO_FLOOR) -> Tensor:
        """``a / max(b, floor)``: a reflectance ratio that stays finite (see RATIO_FLOOR)."""
        return self.div(a, self.maximum(b, floor))

    def norm_diff(self, a: Operand, b: Operand, floor: float = RATIO_FLOOR) -> Tensor:
        """``(a - b) / max(a + b, floor)``: a normalised-difference index."""
        return self.ratio(self.sub(a, b), self.add(a, b), floor)

    def linear(self, a: Tensor, scale: float, offset: float) -> Tensor:
        """``scale * a + offset``."""
        return self.add(self.mul(a, scale), offset)

    # -- comparisons and logic ----------------------------------------------------------------

    def gt(self, a: Operand, b: Operand) -> Tensor:
        return self.op("Greater", a, b)

    def ge(self, a: Operand, b: Operand) -> Tensor:
        return self.op("GreaterOrEqual", a, b)

    def lt(self, a: Operand, b: Operand) -> Tensor:
        return self.op("Less", a, b)

    def le(self, a: Operand, b: Operand) -> Tensor:
        return self.op("LessOrEqual", a, b)

    def and_(self, *xs: Tensor) -> Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = self.op("And", out, x)
        return out

    def or_(self, *xs: Tensor) -> Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = self.op("Or", out, x)
        return out

    def not_(self, a: Tensor) -> Tensor:
        return self.op("Not", a)

    def where(self, cond: Tensor, a: Operand, b: Operand) -> Tensor:
        return self.op("Where", cond, a, b)

    def cast(self, a: Tensor, to: int) -> Tensor:
        """Cast to an ONNX element type (``onnx.TensorProto.FLOAT``, ``.UINT8`` ...)."""
        return self.op("Cast", a, to=to)

    def to_float(self, a: Tensor) -> Tensor:
        """A bool (or any) tensor as float32 0/1."""
        return self.cast(a, TensorProto.FLOAT)

    # -- neighbourhoods ---------------------------------------------------------------------

    def _pool(self, op_type: str, v: Tensor, kh: int, kw: int, **attrs: Any) -> Tensor:
        ph, pw = kh // 2, kw // 2
        return self.op(
            op_type, v, kernel_shape=[kh, kw], pads=[ph, pw, ph, pw], strides=[1, 1], **attrs
        )

    def box_mean(self, v: Tensor, size: int) -> Tensor:
        """Mean of float ``v`` over a centred ``size`` x ``size`` window, zeros outside the
        tile counted (so ``box_mean(m*v)/box_mean(m)`` is a masked mean). Separable: a 1 x k
        then a k x 1 ``AveragePool``."""
        _odd(size)
        rows = self._pool("AveragePool", v, 1, size, count_include_pad=1)
        return self._pool("AveragePool", rows, size, 1, count_include_pad=1)

    def masked_stats(self, v: Tensor, mask: Tensor, size: int) -> WindowStats:
        """Mean, standard deviation and count of ``v`` over the pixels of ``mask`` (float
        0/1) in a centred ``size`` x ``size`` window: ``sum(m*v)/sum(m)``, population std."""
        mv = self.mul(mask, v)
        stack = self.op("Concat", mask, mv, self.mul(mv, v), axis=1)
        sums = IntegralImage(self, stack, size).box_sum(size)
        count, s1, s2 = self.split_channels(sums, 3)
        return self.stats_from_sums(count, s1, s2)

    def split_channels(self, t: Tensor, n: int, axis: int = 1) -> list[Tensor]:
        """The ``n`` equal parts of ``t`` along ``axis`` (default: the channels of an
        ``[N, n, H, W]`` tensor, each ``[N, 1, H, W]``)."""
        return self.ops("Split", [t], n, axis=axis)

    def stats_from_sums(self, count: Tensor, s1: Tensor, s2: Tensor) -> WindowStats:
        """Masked statistics from float64 window sums (as :class:`IntegralImage` gives) of
        ``m``, ``m*v`` and ``m*v*v``: count, mean and population sd as float32, with mean 0
        and sd 0 where the count is 0."""
        n = self.maximum(count, self.const(1.0, np.float64))
        mean = self.div(s1, n)
        var = self.maximum(
            self.sub(self.div(s2, n), self.mul(mean, mean)), self.const(0.0, np.float64)
        )
        f32 = TensorProto.FLOAT
        return WindowStats(
            self.cast(mean, f32), self.cast(self.sqrt(var), f32), self.cast(count, f32)
        )

    def max_filter(self, v: Tensor, size: int) -> Tensor:
        """Maximum of float ``v`` over a centred ``size`` x ``size`` window (separable)."""
        _odd(size)
        if size <= 3:
            return self._pool("MaxPool", v, size, size)
        return self._pool("MaxPool", self._pool("MaxPool", v, 1, size), size, 1)

    def dilate(self, mask: Tensor, size: int = 3) -> Tensor:
        """Bool ``mask`` grown by a ``size`` x ``size`` square (3 = the 8-neighbourhood)."""
        return self.gt(self.max_filter(self.to_float(mask), size), 0.5)

    # -- outputs ----------------------------------------------------------------------------

    def set_outputs(self, cls: Tensor, confidence: Tensor) -> None:
        """Declare the contract outputs: ``cls`` (any numeric type; 0 where invalid) becomes
        uint8 ``class``; ``confidence`` is clipped to [0, 1] and zeroed where invalid."""
        self.nodes.append(helper.make_node("Cast", [cls], ["class"], name="class", to=2))
        conf = self.clip(confidence, 0.0, 1.0)
        self.nodes.append(
            helper.make_node(
                "Where", [self.valid, conf, self.const(0.0)], ["confidence"], name="confidence"
            )
        )
        self.outputs = [
            helper.make_tensor_value_info("class", TensorProto.UINT8, ["N", 1, "H", "W"]),
            helper.make_tensor_value_info("confidence", TensorProto.FLOAT, ["N", 1, "H", "W"]),
        ]

    def model(self, doc: str = "") -> onnx.ModelProto:
        """The model (not yet finalized: pass it to ``registry.finalize`` with metadata)."""
        if not self.outputs:
            raise ValueError(f"graph {self.name}: call set_outputs() before model()")
        graph = helper.make_graph(
            self.nodes, self.name, self.inputs, self.outputs, self.initializers, doc_string=doc
        )
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


class IntegralImage:
    """Box sums of an ``[N, C, H, W]`` tensor for many odd window sizes at once.

    A summed-area table (Crow 1984, "Summed-area tables for texture mapping"), padded once
    for the largest window: zeros above/left, edge replication below/right, so windows that
    cross the tile border are clipped to it. Each fixed-size :meth:`box_sum` is four slices
    and three adds whatever its size; :meth:`box_sum_at` takes a per-pixel window radius and
    gathers the four corners. ``dtype`` is ``TensorProto.DOUBLE`` for values (float32 would
    lose the small differences of large running sums) or ``TensorProto.INT32`` for exact
    counts of 0/1 masks.
    """

    def __init__(
        self, g: GraphBuilder, v: Tensor, max_size: int, dtype: int = TensorProto.DOUBLE
    ) -> None:
        _odd(max_size)
        self.g = g
        self.r_max = max_size // 2
        self.dtype = dtype
        cast = g.cast(v, dtype)
        self.shape = g.op("Shape", cast)
        table = g.op("CumSum", g.op("CumSum", cast, g.ints(2)), g.ints(3))
        np_type = helper.tensor_dtype_to_np_dtype(dtype)
        zero = g.const(0, np_type)
        big = self.r_max
        pad_lo = g.ints(0, 0, big + 1, big + 1, 0, 0, 0, 0)
        pad_hi = g.ints(0, 0, 0, 0, 0, 0, big, big)
        self.padded = g.op("Pad", g.op("Pad", table, pad_lo, zero), pad_hi, mode="edge")
        self._flat: Tensor | None = None

    def box_sum(self, size: int) -> Tensor:
        """Sum over the centred ``size`` x ``size`` window, clipped to the tile."""
        _odd(size)
        r, big = size // 2, self.r_max
        if r > big:
            raise ValueError(f"window {size} exceeds this table's maximum {2 * big + 1}")
        g, axes = self.g, self.g.ints(2, 3)
        # Padded index of P[i] (the sum of rows < i) is i + R + 1 - 1 = i + R; the window
        # [y - r, y + r] needs P[y + r + 1] - P[y - r]: H rows from R + r + 1 and from R - r.
        hi = (big + r + 1, big - r)  # (start, distance of the end from the back)
        lo = (big - r, big + r + 1)
        parts = []
        for (rs, re_), (cs, ce) in ((hi, hi), (hi, lo), (lo, hi), (lo, lo)):
            ends = g.ints(-re_ if re_ > 0 else _INT64_MAX, -ce if ce > 0 else _INT64_MAX)
            parts.append(g.op("Slice", self.padded, g.ints(rs, cs), ends, axes))
        return g.add(g.sub(parts[0], g.add(parts[1], parts[2])), parts[3])

    def sums_at(self, pixels: PixelSet, radius: Tensor) -> Tensor:
        """Window sums at the pixels of ``pixels`` only: ``radius`` is int64 ``[S, K]``,
        ``[S, 1]`` (S sizes for every pixel) or ``[1, K]`` (one per pixel), each in
        0..max_size//2 (window ``2 r + 1``); returns ``[C, S, K]``. Four gathers from the
        flattened table, so the cost grows with the number of pixels, not the tile."""
        g = self.g
        if self._flat is None:
            self._flat = g.op("Reshape", self.padded, g.ints(-1))
        shape = g.op("Shape", self.padded)  # [N, C, Hp, Wp]
        dims = [g.op("Gather", shape, g.const(k, np.int64), axis=0) for k in (1, 2, 3)]
        channels, hp, wp = dims
        chan = g.op(
            "Reshape",
            g.op("Range", g.const(0, np.int64), channels, g.const(1, np.int64)),
            g.ints(-1, 1, 1),
        )
        base = g.mul(g.add(g.mul(pixels.n, channels), chan), hp)  # [C, 1, K]
        hi = g.add(radius, g.const(self.r_max + 1, np.int64))
        lo = g.sub(g.const(self.r_max, np.int64), radius)
        corners = []
        for dr, dc in ((hi, hi), (hi, lo), (lo, hi), (lo, lo)):
            index = g.add(g.mul(g.add(base, g.add(pixels.y, dr)), wp), g.add(pixels.x, dc))
            corners.append(g.op("Gather", self._flat, index, axis=0))
        return g.add(g.sub(corners[0], g.add(corners[1], corners[2])), corners[3])


@dataclass(frozen=True)
class PixelSet:
    """The pixels where a bool ``[N, 1, H, W]`` mask is True: ``index`` int64 ``[K, 4]``
    (for GatherND/ScatterND) and their batch, row and column as int64 ``[K]``."""

    index: Tensor
    n: Tensor
    y: Tensor
    x: Tensor
    shape: Tensor  # of the mask, [4]

    @classmethod
    def of(cls, g: GraphBuilder, mask: Tensor) -> PixelSet:
        index = g.op("Transpose", g.op("NonZero", mask), perm=[1, 0])
        n, _, y, x = (g.op("Squeeze", t, g.ints(1)) for t in g.ops("Split", [index], 4, axis=1))
        return cls(index, n, y, x, g.op("Shape", mask))

    def gather(self, g: GraphBuilder, t: Tensor) -> Tensor:
        """Values of ``[N, 1, H, W]`` tensor ``t`` at the pixels, ``[K]``."""
        return g.op("GatherND", t, self.index)

    def scatter(self, g: GraphBuilder, values: Tensor) -> Tensor:
        """A float32 ``[N, 1, H, W]`` tensor: ``values`` (float32 ``[K]``) at the pixels, 0
        elsewhere."""
        zeros = g.op(
            "ConstantOfShape", self.shape, value=numpy_helper.from_array(np.zeros(1, np.float32))
        )
        return g.op("ScatterND", zeros, self.index, values)


def _odd(size: int) -> None:
    if size < 1 or size % 2 == 0:
        raise ValueError(f"window size must be a positive odd number of pixels, got {size}")
