"""A model's weights as they sit in memory, where upsets can hit them.

Our detectors are mostly threshold graphs: their "weights" are the ONNX initializers (and any
``Constant`` node tensors): float32 thresholds and coefficients, int64 slice bounds, pads and
axes, uint8 class values. :class:`WeightMemory` lays every such tensor end to end in one
flat byte buffer (the memory image an upset hits), flips bits in it, and serialises the
current state back into model bytes for a new onnxruntime session.

Why rebuild the session rather than override initializers (``SessionOptions.
add_initializer``): an override only reaches graph initializers that are not folded into
kernels at load time, it cannot reach ``Constant`` nodes, and it keeps the graph optimiser's
pre-computed copies; re-serialising the model and creating a fresh session makes every
tensor the runtime uses come from the faulted image (our models are 5-25 kB: ~10-60 ms per
session).
"""

from __future__ import annotations

import hashlib
import logging
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from edgeinfer.errors import ConfigError, ModelError
from edgeinfer.faults.seu import Positions, flip_bits

logger = logging.getLogger(__name__)

CHECKSUMS: tuple[str, ...] = ("sha256", "crc32")


@dataclass(frozen=True)
class TensorSpan:
    """Where one weight tensor lies in the flat memory image (``index``: its place among the
    model's weight tensors, initializers first, then Constant node values)."""

    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    offset_bytes: int
    nbytes: int

    @property
    def bits(self) -> int:
        return 8 * self.nbytes


def _weight_tensors(model: Any) -> list[Any]:
    """The model's initializers, then the ``value`` tensors of its Constant nodes."""
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        if node.op_type == "Constant":
            tensors.extend(a.t for a in node.attribute if a.name == "value" and a.HasField("t"))
    return tensors


class WeightMemory:
    """The weight tensors of one ONNX model in one flat, upset-prone byte buffer.

    ``golden`` stays untouched (the reference copy a scrubber reloads from, assumed to live
    in protected storage); ``memory`` is the working copy that upsets hit.
    """

    def __init__(self, model_bytes: bytes, label: str = "model") -> None:
        import onnx
        from onnx import numpy_helper

        self.label = label
        self.model_bytes_golden = model_bytes
        try:
            self._model = onnx.load_model_from_string(model_bytes)
        except Exception as exc:  # protobuf DecodeError and friends
            raise ModelError(f"{label} is not a readable ONNX model ({exc})") from exc
        spans: list[TensorSpan] = []
        chunks: list[npt.NDArray[np.uint8]] = []
        offset = 0
        for index, tensor in enumerate(_weight_tensors(self._model)):
            array = numpy_helper.to_array(tensor)
            if array.dtype.kind not in "biuf":  # strings cannot be flipped meaningfully
                continue
            raw = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
            name = tensor.name or f"constant_{index}"
            spans.append(
                TensorSpan(index, name, str(array.dtype), tuple(array.shape), offset, raw.size)
            )
            chunks.append(raw)
            offset += raw.size
        self.spans: tuple[TensorSpan, ...] = tuple(spans)
        empty = np.zeros(0, dtype=np.uint8)
        self.golden: npt.NDArray[np.uint8] = np.concatenate(chunks) if chunks else empty
        self.golden.setflags(write=False)
        self.memory: npt.NDArray[np.uint8] = self.golden.copy()
        self._golden_digests = {a: self._digest(self.golden, a) for a in CHECKSUMS}

    # -- what is there -----------------------------------------------------------------

    @property
    def bits(self) -> int:
        """Bits of weight memory an upset can hit."""
        return int(self.golden.size) * 8

    def bits_by_dtype(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for span in self.spans:
            out[span.dtype] = out.get(span.dtype, 0) + span.bits
        return dict(sorted(out.items()))

    def locate(self, position: int) -> tuple[str, int, int]:
        """``(tensor name, element index, bit within the element)`` of a flat bit."""
        byte = position // 8
        for span in self.spans:
            if span.offset_bytes <= byte < span.offset_bytes + span.nbytes:
                itemsize = np.dtype(span.dtype).itemsize
                local = position - 8 * span.offset_bytes
                return span.name, local // (8 * itemsize), local % (8 * itemsize)
        raise ConfigError(f"bit {position} is outside the {self.bits} weight bits of {self.label}")

    # -- upsets and repair -------------------------------------------------------------

    def upset(self, positions: Positions) -> None:
        """Flip the bits at ``positions`` of the working copy."""
        flip_bits(self.memory, positions)

    def is_golden(self) -> bool:
        """Whether the working copy equals the golden one (simulation bookkeeping; on board
        this is what :meth:`digest` tells)."""
        return bool(np.array_equal(self.memory, self.golden))

    def restore(self) -> None:
        """Reload the golden copy (a scrub)."""
        self.memory[:] = self.golden

    def digest(self, algorithm: str = "sha256") -> bytes:
        """Checksum of the working copy (``sha256`` or ``crc32``)."""
        return self._digest(self.memory, algorithm)

    def golden_digest(self, algorithm: str = "sha256") -> bytes:
        if algorithm not in self._golden_digests:
            raise ConfigError(f"unknown checksum {algorithm!r}; known: {', '.join(CHECKSUMS)}")
        return self._golden_digests[algorithm]

    @staticmethod
    def _digest(buffer: npt.NDArray[np.uint8], algorithm: str) -> bytes:
        if algorithm == "sha256":
            return hashlib.sha256(buffer.data).digest()
        if algorithm == "crc32":
            return zlib.crc32(buffer.data).to_bytes(4, "big")
        raise ConfigError(f"unknown checksum {algorithm!r}; known: {', '.join(CHECKSUMS)}")

    def changed_tensors(self) -> list[TensorSpan]:
        """The tensors whose bytes differ from the golden copy."""
        return [
            s
            for s in self.spans
            if not np.array_equal(
                self.memory[s.offset_bytes : s.offset_bytes + s.nbytes],
                self.golden[s.offset_bytes : s.offset_bytes + s.nbytes],
            )
        ]

    def model_bytes(self) -> bytes:
        """The model serialised with the working copy's weights (the golden bytes when
        nothing changed)."""
        import onnx
        from onnx import numpy_helper

        changed = self.changed_tensors()
        if not changed:
            return self.model_bytes_golden
        model = onnx.ModelProto()
        model.CopyFrom(self._model)
        tensors = _weight_tensors(model)
        for span in changed:
            tensor = tensors[span.index]
            raw = self.memory[span.offset_bytes : span.offset_bytes + span.nbytes]
            array = raw.view(np.dtype(span.dtype)).reshape(span.shape)
            tensor.CopyFrom(numpy_helper.from_array(array, tensor.name))
        return bytes(model.SerializeToString())


def largest_tensor_bytes(model_bytes: bytes, input_dims: dict[str, list[int]]) -> int | None:
    """Bytes of the largest tensor whose shape ONNX shape inference can work out when the
    graph inputs have ``input_dims`` (e.g. ``{"x": [8, 7, 512, 512], "valid": [8, 1, 512,
    512]}``); None when the model cannot be parsed or inferred. Constant pads, slice bounds
    and shape arithmetic are propagated (``data_prop``), so an upset that makes a ``Pad``
    ask for terabytes shows here before anything runs."""
    import onnx
    from onnx import shape_inference

    try:
        model = onnx.load_model_from_string(model_bytes)
        for graph_input in model.graph.input:
            dims = input_dims.get(graph_input.name)
            if dims is None:
                continue
            shape = graph_input.type.tensor_type.shape
            for dim, value in zip(shape.dim, dims, strict=False):
                dim.ClearField("dim_param")
                dim.dim_value = value
        inferred = shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception:  # a broken faulted graph: onnxruntime will refuse it anyway
        return None
    largest = 0
    for info in [*inferred.graph.value_info, *inferred.graph.output]:
        tensor = info.type.tensor_type
        shape_dims: list[Any] = list(tensor.shape.dim) if tensor.HasField("shape") else []
        if not shape_dims or not all(d.HasField("dim_value") for d in shape_dims):
            continue
        try:
            itemsize = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).itemsize
        except (KeyError, ValueError, TypeError):
            continue
        count = 1
        for d in shape_dims:
            count *= max(int(d.dim_value), 0)
        largest = max(largest, count * itemsize)
    return largest
