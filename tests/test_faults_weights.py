"""Weight memory of ONNX models: every initializer (and Constant tensor) is upset-prone, a
flipped bit changes what the rebuilt session computes exactly as IEEE-754 says, checksums
see every single-bit upset, and a restore brings back the golden model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from test_detect_helpers import make_tile, metadata, threshold_graph, write_model

from edgeinfer.detect import Detector, RuntimeOptions, load_model_info
from edgeinfer.errors import ConfigError
from edgeinfer.faults.weights import WeightMemory

ROOT = Path(__file__).resolve().parents[1]


def _thr_model(tmp_path: Path) -> Path:
    return write_model(tmp_path / "thr.onnx", threshold_graph(threshold=0.5), metadata("thr"))


def test_bits_are_every_initializer_byte(tmp_path: Path) -> None:
    path = _thr_model(tmp_path)
    memory = WeightMemory(path.read_bytes())
    model = onnx.load(path)
    expected = sum(numpy_helper.to_array(t).nbytes * 8 for t in model.graph.initializer)
    # starts, ends, axes: int64 [1] each; thr: float32 [1]; value: uint8 [1]
    assert memory.bits == expected == 3 * 64 + 32 + 8
    assert memory.bits_by_dtype() == {"float32": 32, "int64": 192, "uint8": 8}


def test_committed_models_report_their_weight_bits() -> None:
    for name in ("fire_sentinel2", "cloud_sentinel2"):
        path = ROOT / "models" / f"{name}.onnx"
        memory = WeightMemory(path.read_bytes(), name)
        inits = onnx.load(path).graph.initializer
        assert memory.bits == sum(numpy_helper.to_array(t).nbytes * 8 for t in inits)
        assert memory.bits_by_dtype()["float32"] > 0 and memory.model_bytes() == path.read_bytes()


def test_constant_nodes_count_as_weights() -> None:
    value = helper.make_tensor("", TensorProto.FLOAT, [2], [1.0, 2.0])
    node = helper.make_node("Constant", [], ["k"], value=value)
    add = helper.make_node("Add", ["x", "k"], ["y"])
    graph = helper.make_graph(
        [node, add],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    memory = WeightMemory(helper.make_model(graph).SerializeToString())
    assert memory.bits == 64 and memory.spans[0].name == "constant_0"
    memory.upset(np.array([31], dtype=np.int64))  # sign of the first element
    changed = onnx.load_model_from_string(memory.model_bytes())
    k = numpy_helper.to_array(changed.graph.node[0].attribute[0].t)
    assert k.tolist() == [-1.0, 2.0]


def test_a_flipped_threshold_changes_the_model_as_ieee754_says(tmp_path: Path) -> None:
    """thr = 0.5f = 0x3F000000; its sign bit flipped gives -0.5, so every pixel > -0.5 is a
    detection; its lowest exponent bit gives 1.0 (0x3F800000)."""
    path = _thr_model(tmp_path)
    info = load_model_info(path)
    memory = WeightMemory(path.read_bytes())
    name, element, bit = "thr", 0, 31
    span = next(s for s in memory.spans if s.name == name)
    position = 8 * span.offset_bytes + 32 * element + bit
    assert memory.locate(position) == (name, element, bit)
    x = np.array([[[0.0, 0.3, 0.7, 1.2]]], dtype=np.float32)
    tile = make_tile(x)
    options = RuntimeOptions(provider="cpu")
    golden = Detector(info, options).run([tile])[0].cls.tolist()
    assert golden == [[0, 0, 1, 1]]
    memory.upset(np.array([position]))
    negative = Detector(info, options, model_bytes=memory.model_bytes()).run([tile])[0]
    assert negative.cls.tolist() == [[1, 1, 1, 1]]
    memory.restore()
    memory.upset(np.array([8 * span.offset_bytes + 23]))
    assert Detector(info, options, model_bytes=memory.model_bytes()).run([tile])[
        0
    ].cls.tolist() == [[0, 0, 0, 1]]


@pytest.mark.parametrize("algorithm", ["sha256", "crc32"])
def test_checksums_see_every_single_bit_upset_and_restore_repairs(
    tmp_path: Path, algorithm: str
) -> None:
    memory = WeightMemory(_thr_model(tmp_path).read_bytes())
    golden = memory.golden_digest(algorithm)
    assert memory.digest(algorithm) == golden and memory.is_golden()
    for position in range(memory.bits):  # CRC-32 detects every single-bit error
        memory.upset(np.array([position]))
        assert memory.digest(algorithm) != golden
        assert not memory.is_golden()
        memory.restore()
    assert memory.digest(algorithm) == golden and memory.changed_tensors() == []
    with pytest.raises(ConfigError, match="unknown checksum 'md5'"):
        memory.digest("md5")
    with pytest.raises(ConfigError, match="outside"):
        memory.locate(memory.bits)


def test_largest_tensor_bytes_by_hand(tmp_path: Path) -> None:
    """The padded test model (tests/test_faults_guard.py): x [1, 1, 64, 64] padded by 2 px on
    each side is 68 x 68 float32 = 18,496 B; with the top pad upset to 2 + 2**18 it is
    (64 + 4 + 262144) x 68 x 4 = 71,321,664 B."""
    from test_faults_guard import _padded_model

    from edgeinfer.faults.weights import largest_tensor_bytes

    memory = WeightMemory(_padded_model(tmp_path / "p.onnx", 2).read_bytes())
    dims = {"x": [1, 1, 64, 64], "valid": [1, 1, 64, 64]}
    assert largest_tensor_bytes(memory.model_bytes(), dims) == 68 * 68 * 4
    span = next(s for s in memory.spans if s.name == "pads")
    memory.upset(np.array([8 * span.offset_bytes + 64 * 2 + 18]))
    assert largest_tensor_bytes(memory.model_bytes(), dims) == (64 + 4 + 2**18) * 68 * 4
    assert largest_tensor_bytes(b"garbage", dims) is None
