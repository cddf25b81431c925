"""Graph helpers (edgeinfer.models_build.onnx_ops) against brute-force NumPy: window sums
from summed-area tables (fixed and per-pixel sizes), masked statistics, dilation, max
filters, separable box means; and deterministic naming."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from edgeinfer.models_build.onnx_ops import GraphBuilder, IntegralImage, PixelSet

SIZES = (1, 5, 61)


def _session() -> tuple[ort.InferenceSession, list[str]]:
    g = GraphBuilder("ops", ["a", "m"])
    a, m = g.band("a"), g.to_float(g.gt(g.band("m"), 0.5))
    table = IntegralImage(g, a, 61)
    counts = IntegralImage(g, m, 61, TensorProto.INT32)
    radius = g.cast(g.mul(g.band("m"), 7.99), TensorProto.INT64)  # 0..7 per pixel
    pixels = PixelSet.of(g, g.gt(g.band("m"), 0.3))  # a sparse set of pixels
    per_pixel = g.op("Unsqueeze", pixels.gather(g, radius), g.ints(0))  # [1, K]
    sparse = g.op("Reshape", table.sums_at(pixels, per_pixel), g.ints(-1))  # [K]
    ladder = table.sums_at(pixels, g.const(np.array([[0], [2], [30]]), np.int64))  # [1, 3, K]
    stats = g.masked_stats(a, m, 15)
    named = {
        **{f"sum{k}": table.box_sum(k) for k in SIZES},
        "count9": counts.box_sum(9),
        "sum_at": pixels.scatter(g, g.cast(sparse, TensorProto.FLOAT)),
        "ladder": ladder,
        "mean15": stats.mean,
        "std15": stats.std,
        "count15": stats.count,
        "max31": g.max_filter(a, 31),
        "boxmean7": g.box_mean(a, 7),
    }
    g.set_outputs(g.dilate(g.gt(a, 0.98), 3), a)
    model = g.model()
    for name, tensor in named.items():
        model.graph.node.append(helper.make_node("Identity", [tensor], [name]))
        model.graph.output.append(helper.make_empty_tensor_value_info(name))
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess, ["class", *named]


SESSION, OUTPUTS = _session()


def _window(a: np.ndarray, y: int, x: int, r: int) -> np.ndarray:
    return a[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1]


@settings(max_examples=12, deadline=None)
@given(
    h=st.integers(1, 48),
    w=st.integers(1, 48),
    seed=st.integers(0, 2**31 - 1),
)
def test_window_ops_equal_brute_force(h: int, w: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.random((1, 2, h, w)).astype(np.float32)
    feeds = {"x": x, "valid": np.ones((1, 1, h, w), np.float32)}
    out = dict(zip(OUTPUTS, SESSION.run(OUTPUTS, feeds), strict=True))
    a, m = x[0, 0].astype(np.float64), x[0, 1] > 0.5
    radius = (x[0, 1] * np.float32(7.99)).astype(np.int64)
    ys, xs = np.nonzero(x[0, 1] > 0.3)
    for k, (y, xx) in enumerate(zip(ys, xs, strict=True)):
        for s, r in enumerate((0, 2, 30)):
            assert out["ladder"][0, s, k] == pytest.approx(_window(a, y, xx, r).sum(), abs=1e-9)
    for y in range(h):
        for xx in range(w):
            for k in SIZES:
                assert out[f"sum{k}"][0, 0, y, xx] == pytest.approx(
                    _window(a, y, xx, k // 2).sum(), abs=1e-9
                )
            assert out["count9"][0, 0, y, xx] == _window(m, y, xx, 4).sum()
            want_at = _window(a, y, xx, int(radius[y, xx])).sum() if x[0, 1, y, xx] > 0.3 else 0
            assert out["sum_at"][0, 0, y, xx] == pytest.approx(want_at, rel=1e-6)
            sel = _window(a, y, xx, 7)[_window(m, y, xx, 7)]
            assert out["count15"][0, 0, y, xx] == sel.size
            if sel.size:
                assert out["mean15"][0, 0, y, xx] == pytest.approx(sel.mean(), abs=1e-6)
                # the graph's std is sqrt(E[x^2] - E[x]^2) in float32: the variance is good to
                # a few float32 eps of E[x^2] (<= 1 here), so a window whose std is ~0 (one
                # valid pixel) comes out at ~1e-4, the square root of that rounding; compare
                # variances, which any real error in the sums would still break
                assert float(out["std15"][0, 0, y, xx]) ** 2 == pytest.approx(sel.var(), abs=1e-6)
            else:
                assert out["mean15"][0, 0, y, xx] == 0 and out["std15"][0, 0, y, xx] == 0
            assert out["max31"][0, 0, y, xx] == _window(x[0, 0], y, xx, 15).max()
            assert out["boxmean7"][0, 0, y, xx] == pytest.approx(
                _window(a, y, xx, 3).sum() / 49, abs=1e-6
            )
            want = (_window(x[0, 0], y, xx, 1) > 0.98).any()
            assert bool(out["class"][0, 0, y, xx]) == want


def test_build_is_deterministic_and_checks() -> None:
    def build() -> bytes:
        g = GraphBuilder("det", ["a"])
        stats = g.masked_stats(g.band("a"), g.to_float(g.valid), 61)
        g.set_outputs(g.gt(stats.mean, 0.5), stats.std)
        model = g.model()
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        return bytes(model.SerializeToString(deterministic=True))

    assert build() == build()


def test_window_sizes_must_be_odd() -> None:
    g = GraphBuilder("bad", ["a"])
    with pytest.raises(ValueError, match="odd"):
        g.box_mean(g.band("a"), 4)
    with pytest.raises(KeyError, match="not an input band"):
        g.band("B9")
