"""A model's self-description: the ``edgeinfer.*`` metadata_props of the ONNX contract.

docs/design.md ("Tile -> model") fixes the contract every detector model follows:

- inputs ``x`` float32 ``[N, C, H, W]`` (C = the bands in ``edgeinfer.bands``, in that order,
  after ``edgeinfer.scaling``) and ``valid`` float32 ``[N, 1, H, W]``; optional scalar inputs
  named in ``edgeinfer.aux_inputs`` (only ``pixel_size_m`` float32 ``[1]`` is known);
- outputs ``class`` uint8 ``[N, 1, H, W]`` and ``confidence`` float32 ``[N, 1, H, W]``;
- metadata_props, all strings, JSON where structured.

:func:`load_model_info` reads a model file (with onnx, so listing models does not need
onnxruntime), validates metadata and graph signature, and returns a typed :class:`ModelInfo`.
Required keys: name, detector, version, product, bands, units, scaling. The others default:
tile_size 512, aux_inputs [], outputs {"0": "none", "1": "candidate", "2": "detected"},
thresholds {}, min_pixels 1, source "", description "".
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt

from edgeinfer.errors import ModelError
from edgeinfer.scene.bands import UNITS

# Closed vocabularies of the contract (docs/design.md).
DETECTORS: tuple[str, ...] = ("fire", "ship", "cloud")
PRODUCTS: tuple[str, ...] = ("landsat", "sentinel2", "sar", "any")
AUX_INPUTS: tuple[str, ...] = ("pixel_size_m",)
REQUIRED_KEYS: tuple[str, ...] = (
    "name",
    "detector",
    "version",
    "product",
    "bands",
    "units",
    "scaling",
)
DEFAULT_OUTPUTS: dict[str, str] = {"0": "none", "1": "candidate", "2": "detected"}
DEFAULT_TILE_SIZE = 512
PREFIX = "edgeinfer."
REBUILD_HINT = "rebuild the models with `edgeinfer models build`"

_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")

# ONNX TensorProto element types (onnx.TensorProto.FLOAT, .UINT8), as the contract needs them.
_ONNX_FLOAT = 1
_ONNX_UINT8 = 2
_ONNX_TYPE_NAMES = {
    1: "float32",
    2: "uint8",
    3: "int8",
    6: "int32",
    7: "int64",
    9: "bool",
    10: "float16",
    11: "float64",
}


@dataclass(frozen=True)
class Scaling:
    """Per-band affine scaling applied as ``x * scale + offset`` before the graph."""

    scale: tuple[float, ...]
    offset: tuple[float, ...]

    def apply(self, x: npt.NDArray[np.float32]) -> None:
        """Scale ``x`` of shape ``(C, H, W)`` or ``(N, C, H, W)`` in place (channel axis -3)."""
        shape = (-1, 1, 1)
        if any(s != 1.0 for s in self.scale):
            x *= np.asarray(self.scale, dtype=np.float32).reshape(shape)
        if any(o != 0.0 for o in self.offset):
            x += np.asarray(self.offset, dtype=np.float32).reshape(shape)

    @property
    def is_identity(self) -> bool:
        return all(s == 1.0 for s in self.scale) and all(o == 0.0 for o in self.offset)


@dataclass(frozen=True)
class ModelInfo:
    """Everything edgeinfer knows about one detector model, validated."""

    name: str
    detector: str
    version: str
    product: str
    bands: tuple[str, ...]
    units: tuple[str, ...]
    scaling: Scaling
    tile_size: int
    aux_inputs: tuple[str, ...]
    outputs: dict[str, str]
    thresholds: dict[str, Any]
    min_pixels: int
    source: str
    description: str
    path: Path
    sha256: str
    metadata: dict[str, str] = field(default_factory=dict, repr=False)

    def class_name(self, value: int) -> str:
        """Meaning of a class value from ``edgeinfer.outputs`` (its number if undeclared)."""
        return self.outputs.get(str(int(value)), str(int(value)))

    def fits_product(self, product: str) -> bool:
        return self.product == "any" or self.product == product

    def takes_unit(self, index: int, unit: str) -> bool:
        """Whether band ``index`` (of :attr:`bands`) may come in ``unit``: its
        ``edgeinfer.units`` entry, or, for a model made by edgeinfer's own builders (its
        ``edgeinfer.builder``), a unit the builder declares the graph invariant to
        (``ACCEPTED_UNITS`` beside its ``BUILDERS``; e.g. ship_sar takes any SAR unit)."""
        if unit == self.units[index]:
            return True
        if not self.metadata.get("builder", "").startswith("edgeinfer.models_build."):
            return False
        from edgeinfer.models_build.registry import accepted_units

        return unit in accepted_units().get(self.name, ())

    def missing_bands(self, available: Iterable[str]) -> list[str]:
        have = set(available)
        return [b for b in self.bands if b not in have]


def load_model_info(path: Path | str) -> ModelInfo:
    """Read, validate and describe the model file at ``path``.

    Raises :class:`ModelError` naming the file and the fix when it is missing, unreadable,
    lacks a required ``edgeinfer.*`` key, or its graph's inputs/outputs break the contract.
    """
    import onnx  # core dependency; reading only (models_build/ writes)

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} not found; {REBUILD_HINT}")
    try:
        blob = path.read_bytes()
        model = onnx.load_model_from_string(blob)
    except Exception as exc:  # protobuf DecodeError and friends
        raise ModelError(f"{path} is not a readable ONNX model ({exc}); {REBUILD_HINT}") from exc
    try:
        props = {str(p.key): str(p.value) for p in model.metadata_props}
    except (TypeError, UnicodeDecodeError) as exc:  # metadata that is not valid UTF-8
        raise ModelError(f"{path} has unreadable metadata ({exc}); {REBUILD_HINT}") from exc
    info = parse_metadata(props, path=path, sha256=hashlib.sha256(blob).hexdigest())
    check_graph(model, info)
    return info


def parse_metadata(props: Mapping[str, str], path: Path, sha256: str = "") -> ModelInfo:
    """Validate ``edgeinfer.*`` metadata_props into a :class:`ModelInfo`."""
    meta = {k[len(PREFIX) :]: v for k, v in props.items() if k.startswith(PREFIX)}
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        keys = ", ".join(PREFIX + k for k in missing)
        raise ModelError(f"model {path} lacks metadata {keys} (docs/design.md); {REBUILD_HINT}")

    name = meta["name"].strip()
    if not _NAME.match(name):
        _bad(path, "name", meta["name"], "letters, digits, '_', '.', '-'")
    detector = _choice(path, "detector", meta["detector"], DETECTORS)
    product = _choice(path, "product", meta["product"], PRODUCTS)
    version = meta["version"].strip()
    if not _SEMVER.match(version):
        _bad(path, "version", version, "semver MAJOR.MINOR.PATCH")

    bands = tuple(_str_list(path, "bands", meta["bands"]))
    if not bands:
        _bad(path, "bands", meta["bands"], "a non-empty JSON list of band names")
    if len(set(bands)) != len(bands):
        _bad(path, "bands", meta["bands"], "each band once")
    units = tuple(_str_list(path, "units", meta["units"]))
    if len(units) != len(bands):
        _bad(path, "units", meta["units"], f"one unit per band ({len(bands)})")
    for unit in units:
        _choice(path, "units", unit, UNITS)

    scaling = _scaling(path, meta["scaling"], len(bands))
    tile_size = _int(path, "tile_size", meta.get("tile_size", str(DEFAULT_TILE_SIZE)), 1)
    min_pixels = _int(path, "min_pixels", meta.get("min_pixels", "1"), 1)
    aux = tuple(_str_list(path, "aux_inputs", meta.get("aux_inputs", "[]")))
    for a in aux:
        _choice(path, "aux_inputs", a, AUX_INPUTS)

    outputs_raw = _json(path, "outputs", meta.get("outputs", json.dumps(DEFAULT_OUTPUTS)))
    if not isinstance(outputs_raw, dict):
        _bad(path, "outputs", meta["outputs"], 'a JSON object {"0": "none", "1": ...}')
    outputs: dict[str, str] = {}
    for key, meaning in outputs_raw.items():
        if not str(key).isdigit() or int(key) > 255:
            _bad(path, "outputs", str(key), "class values 0-255 as keys")
        outputs[str(int(key))] = str(meaning)

    thresholds = _json(path, "thresholds", meta.get("thresholds", "{}"))
    if not isinstance(thresholds, dict):
        _bad(path, "thresholds", meta["thresholds"], "a JSON object")

    return ModelInfo(
        name=name,
        detector=detector,
        version=version,
        product=product,
        bands=bands,
        units=units,
        scaling=scaling,
        tile_size=tile_size,
        aux_inputs=aux,
        outputs=outputs,
        thresholds=thresholds,
        min_pixels=min_pixels,
        source=meta.get("source", ""),
        description=meta.get("description", ""),
        path=path,
        sha256=sha256,
        metadata=dict(sorted(meta.items())),
    )


def check_graph(model: Any, info: ModelInfo) -> None:
    """Check an ``onnx.ModelProto``'s inputs and outputs against the contract and ``info``."""
    graph = model.graph
    initialisers = {t.name for t in graph.initializer}
    inputs = {i.name: i for i in graph.input if i.name not in initialisers}
    outputs = {o.name: o for o in graph.output}
    where = f"model {info.name} ({info.path})"

    expected_in = {"x", "valid", *info.aux_inputs}
    extra = sorted(set(inputs) - expected_in)
    if extra:
        raise ModelError(
            f"{where} has inputs {extra} the runtime cannot feed; inputs must be x, valid "
            f"and edgeinfer.aux_inputs from {list(AUX_INPUTS)}; {REBUILD_HINT}"
        )
    _check_tensor(where, "input", inputs, "x", _ONNX_FLOAT, 4, {1: len(info.bands)})
    _check_tensor(where, "input", inputs, "valid", _ONNX_FLOAT, 4, {1: 1})
    for aux in info.aux_inputs:
        _check_tensor(where, "input", inputs, aux, _ONNX_FLOAT, 1, {0: 1})
    _check_tensor(where, "output", outputs, "class", _ONNX_UINT8, 4, {1: 1})
    _check_tensor(where, "output", outputs, "confidence", _ONNX_FLOAT, 4, {1: 1})


def _check_tensor(
    where: str,
    kind: str,
    table: Mapping[str, Any],
    name: str,
    elem_type: int,
    rank: int,
    fixed: Mapping[int, int],
) -> None:
    want = f"{_ONNX_TYPE_NAMES[elem_type]} rank {rank}"
    if name not in table:
        raise ModelError(
            f"{where} has no {kind} {name!r} ({want}; has {sorted(table)}); {REBUILD_HINT}"
        )
    tensor_type = table[name].type.tensor_type
    got_type = _ONNX_TYPE_NAMES.get(tensor_type.elem_type, f"type {tensor_type.elem_type}")
    if tensor_type.elem_type != elem_type:
        raise ModelError(f"{where}: {kind} {name!r} is {got_type}, the contract needs {want}")
    if tensor_type.HasField("shape"):
        dims = list(tensor_type.shape.dim)
        if len(dims) != rank:
            raise ModelError(
                f"{where}: {kind} {name!r} has rank {len(dims)}, the contract needs {want}"
            )
        for axis, size in fixed.items():
            dim = dims[axis]
            if dim.HasField("dim_value") and dim.dim_value != size:
                raise ModelError(
                    f"{where}: {kind} {name!r} has {dim.dim_value} at axis {axis}, "
                    f"metadata and contract need {size}"
                )


def _bad(path: Path, key: str, value: str, allowed: str) -> NoReturn:
    raise ModelError(f"model {path}: {PREFIX}{key} = {value!r} is invalid; expected {allowed}")


def _choice(path: Path, key: str, value: str, choices: tuple[str, ...]) -> str:
    value = value.strip()
    if value not in choices:
        _bad(path, key, value, "one of " + ", ".join(choices))
    return value


def _json(path: Path, key: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(
            f"model {path}: {PREFIX}{key} is not valid JSON ({exc.msg}); {REBUILD_HINT}"
        ) from exc


def _str_list(path: Path, key: str, text: str) -> list[str]:
    value = _json(path, key, text)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _bad(path, key, text, "a JSON list of strings")
    return [str(v) for v in value]


def _int(path: Path, key: str, text: str, minimum: int) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        value = minimum - 1
    if value < minimum:
        _bad(path, key, text, f"an integer >= {minimum}")
    return value


def _scaling(path: Path, text: str, n_bands: int) -> Scaling:
    value = _json(path, "scaling", text)
    allowed = '{"scale": s, "offset": o}, numbers or lists of one per band'
    if not isinstance(value, dict) or set(value) - {"scale", "offset"}:
        _bad(path, "scaling", text, allowed)
    parts: list[tuple[float, ...]] = []
    for key, default in (("scale", 1.0), ("offset", 0.0)):
        raw = value.get(key, default)
        items = raw if isinstance(raw, list) else [raw] * n_bands
        ok = len(items) == n_bands and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in items
        )
        if not ok:
            _bad(path, "scaling", text, allowed)
        parts.append(tuple(float(v) for v in items))
    return Scaling(scale=parts[0], offset=parts[1])
