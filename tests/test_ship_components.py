"""Connected components and reconstruction inside ONNX graphs (ship_components) against
scipy.ndimage: same partition and sizes, tile and batch borders, empty masks."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from scipy import ndimage

from edgeinfer.models_build.onnx_ops import GraphBuilder
from edgeinfer.models_build.ship_components import Components, reconstruct

ort = pytest.importorskip("onnxruntime")
EIGHT = np.ones((3, 3), bool)


def _session(g: GraphBuilder, outputs: list[str]) -> object:
    g.outputs = [
        helper.make_tensor_value_info(o, TensorProto.FLOAT, ["N", 1, "H", "W"]) for o in outputs
    ]
    model = g.model()
    model.ir_version = onnx.helper.find_min_ir_version_for(list(model.opset_import))
    onnx.checker.check_model(model, full_check=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


@pytest.fixture(scope="module")
def labeller() -> object:
    """Outputs each mask pixel's component label (-1 elsewhere) and component size."""
    g = GraphBuilder("cc", ("a",))
    cc = Components(g, g.gt(g.band("a"), 0.5))
    one = g.add(g.mul(cc.y, g.const(0.0, np.float64)), g.const(1.0, np.float64))
    label = cc.to_dense(g.cast(cc.label, TensorProto.FLOAT), g.const([-1.0]))
    size = cc.to_dense(g.cast(cc.sums(one), TensorProto.FLOAT), g.const([0.0]))
    return _session(g, [label, size])


def _check(labels: np.ndarray, sizes: np.ndarray, mask: np.ndarray) -> None:
    ref, n = ndimage.label(mask, structure=EIGHT)
    assert len(np.unique(labels[mask])) == n
    for k in range(1, n + 1):
        assert len(np.unique(labels[ref == k])) == 1
    np.testing.assert_array_equal(sizes, np.where(ref > 0, np.bincount(ref.ravel())[ref], 0))
    assert (labels[~mask] == -1).all()


@pytest.mark.parametrize("density", [0.05, 0.3, 0.55, 0.62])
def test_components_equal_scipy_label(labeller: object, density: float) -> None:
    rng = np.random.default_rng(int(density * 100))
    a = (rng.random((2, 1, 60, 80)) < density).astype(np.float32)
    labels, sizes = labeller.run(None, {"x": a, "valid": np.ones_like(a)})  # type: ignore[attr-defined]
    for b in range(2):  # batch items never join, even where the masks line up
        _check(labels[b, 0], sizes[b, 0], a[b, 0] > 0.5)


def test_components_of_shapes_and_borders(labeller: object) -> None:
    a = np.zeros((1, 1, 40, 40), np.float32)
    a[0, 0, 0, :] = 1  # along the top edge
    a[0, 0, 5:35, 20] = 1  # a line joined diagonally to ...
    a[0, 0, 35, 21] = 1  # ... this pixel
    a[0, 0, 39, 39] = 1  # corner pixel
    a[0, 0, 10:20, 39] = 1  # right edge; does not wrap to the next row's column 0
    a[0, 0, 11, 0] = 1
    labels, sizes = labeller.run(None, {"x": a, "valid": np.ones_like(a)})  # type: ignore[attr-defined]
    _check(labels[0, 0], sizes[0, 0], a[0, 0] > 0.5)


def test_empty_mask(labeller: object) -> None:
    a = np.zeros((1, 1, 16, 16), np.float32)
    labels, sizes = labeller.run(None, {"x": a, "valid": np.ones_like(a)})  # type: ignore[attr-defined]
    assert (labels == -1).all() and (sizes == 0).all()


def test_reconstruction_equals_scipy() -> None:
    g = GraphBuilder("rec", ("mask", "seed"))
    out = reconstruct(g, g.gt(g.band("seed"), 0.5), g.gt(g.band("mask"), 0.5), 3)
    session = _session(g, [g.to_float(out)])
    rng = np.random.default_rng(3)
    mask = ndimage.binary_opening(rng.random((2, 90, 70)) < 0.6, structure=np.ones((1, 2, 2)))
    seed = rng.random((2, 90, 70)) < 0.002
    x = np.stack([mask, seed], axis=1).astype(np.float32)
    (got,) = session.run(None, {"x": x, "valid": np.ones_like(x[:, :1])})  # type: ignore[attr-defined]
    for b in range(2):
        lab, _ = ndimage.label(mask[b], structure=EIGHT)
        keep = np.unique(lab[seed[b] & mask[b]])
        ref = np.isin(lab, keep[keep > 0])
        np.testing.assert_array_equal(got[b, 0] > 0.5, ref)
