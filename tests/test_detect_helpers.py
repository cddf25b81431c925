"""Builders shared by the detect/alerts tests: tiny ONNX graphs that follow (or break on
purpose) the model contract in docs/design.md, and Tiles built directly.

Import with ``from test_detect_helpers import ...`` (tests/ is on sys.path under pytest's
default import mode). The one test below checks the builder itself against onnx's checker.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from affine import Affine
from onnx import TensorProto, helper
from rasterio.crs import CRS
from rasterio.windows import Window

from edgeinfer.scene.bands import Band
from edgeinfer.scene.types import Tile

OPSET = 17


def metadata(
    name: str = "thr_fire",
    detector: str = "fire",
    bands: Sequence[str] = ("B7",),
    product: str = "any",
    **overrides: Any,
) -> dict[str, str]:
    """Complete, valid edgeinfer.* metadata; ``overrides`` replace or (value None) drop keys."""
    meta: dict[str, Any] = {
        "name": name,
        "detector": detector,
        "version": "1.0.0",
        "product": product,
        "bands": list(bands),
        "units": ["reflectance"] * len(bands),
        "scaling": {"scale": 1.0, "offset": 0.0},
        "tile_size": 64,
        "aux_inputs": [],
        "outputs": {"0": "none", "1": "candidate", "2": "detected"},
        "thresholds": {"band": 0.5},
        "min_pixels": 1,
        "source": "test threshold graph",
        "description": "threshold on one band",
    }
    for key, value in overrides.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    return {f"edgeinfer.{k}": v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}


def threshold_graph(
    n_bands: int = 1,
    band_index: int = 0,
    threshold: float = 0.5,
    cls_value: int = 1,
    *,
    pixel_size_aux: bool = False,
    x_type: int = TensorProto.FLOAT,
    x_rank: int = 4,
    class_type: int = TensorProto.UINT8,
    drop_confidence: bool = False,
    extra_input: bool = False,
    static_channels: bool = True,
) -> onnx.ModelProto:
    """class = cls_value where x[:, band_index] > threshold, confidence = that as float.

    With ``pixel_size_aux`` the threshold is ``pixel_size_m * threshold`` instead. The graph
    ignores ``valid`` on purpose: the runtime must zero invalid pixels itself.
    """
    channels: int | str = n_bands if static_channels else "C"
    x_shape: list[int | str] = ["N", channels, "H", "W"][:x_rank]
    inputs = [
        helper.make_tensor_value_info("x", x_type, x_shape),
        helper.make_tensor_value_info("valid", TensorProto.FLOAT, ["N", 1, "H", "W"]),
    ]
    inits = [
        helper.make_tensor("starts", TensorProto.INT64, [1], [band_index]),
        helper.make_tensor("ends", TensorProto.INT64, [1], [band_index + 1]),
        helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
        helper.make_tensor("thr", TensorProto.FLOAT, [1], [threshold]),
        helper.make_tensor("value", TensorProto.UINT8, [1], [cls_value]),
    ]
    nodes = []
    x_name = "x"
    if x_type != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT))
        x_name = "xf"
    nodes.append(helper.make_node("Slice", [x_name, "starts", "ends", "axes"], ["band"]))
    thr_name = "thr"
    if pixel_size_aux:
        inputs.append(helper.make_tensor_value_info("pixel_size_m", TensorProto.FLOAT, [1]))
        nodes.append(helper.make_node("Mul", ["pixel_size_m", "thr"], ["thr_px"]))
        thr_name = "thr_px"
    if extra_input:
        inputs.append(helper.make_tensor_value_info("bias", TensorProto.FLOAT, [1]))
        nodes.append(helper.make_node("Add", ["band", "bias"], ["band_b"]))
        nodes.append(helper.make_node("Greater", ["band_b", thr_name], ["hit"]))
    else:
        nodes.append(helper.make_node("Greater", ["band", thr_name], ["hit"]))
    nodes.append(helper.make_node("Cast", ["hit"], ["hit_u8"], to=TensorProto.UINT8))
    nodes.append(helper.make_node("Mul", ["hit_u8", "value"], ["cls_u8"]))
    nodes.append(helper.make_node("Cast", ["cls_u8"], ["class"], to=class_type))
    nodes.append(helper.make_node("Cast", ["hit"], ["confidence"], to=TensorProto.FLOAT))
    outputs = [helper.make_tensor_value_info("class", class_type, ["N", 1, "H", "W"])]
    if not drop_confidence:
        outputs.append(
            helper.make_tensor_value_info("confidence", TensorProto.FLOAT, ["N", 1, "H", "W"])
        )
    graph = helper.make_graph(nodes, "threshold", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = helper.find_min_ir_version_for(list(model.opset_import))
    return model


def write_model(path: Path, model: onnx.ModelProto, meta: dict[str, str] | None = None) -> Path:
    """Stamp ``meta`` (default: :func:`metadata`) into ``model`` and save it at ``path``."""
    del model.metadata_props[:]
    for key, value in sorted((meta if meta is not None else metadata()).items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString(deterministic=True))
    return path


def threshold_model(
    models_dir: Path,
    name: str = "thr_fire",
    detector: str = "fire",
    bands: Sequence[str] = ("B7",),
    band_index: int = 0,
    threshold: float = 0.5,
    cls_value: int = 1,
    product: str = "any",
    pixel_size_aux: bool = False,
    **meta_overrides: Any,
) -> Path:
    """A contract-conforming threshold model saved as ``models_dir/NAME.onnx``."""
    if pixel_size_aux:
        meta_overrides.setdefault("aux_inputs", ["pixel_size_m"])
    graph = threshold_graph(
        len(bands), band_index, threshold, cls_value, pixel_size_aux=pixel_size_aux
    )
    meta = metadata(name, detector, bands, product, **meta_overrides)
    return write_model(models_dir / f"{name}.onnx", graph, meta)


def make_tile(
    data: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    bands: Sequence[str] = ("B7",),
    window: tuple[int, int, int, int] | None = None,
    core: tuple[int, int, int, int] | None = None,
    transform: Affine | None = None,
    crs: CRS | None = None,
    scene_id: str = "scene",
    tile_id: str | None = None,
    pixel_size_m: float | None = None,
    **kwargs: Any,
) -> Tile:
    """A Tile from ``data`` (b, h, w); ``window``/``core`` = (col_off, row_off, w, h) in scene
    pixels (default: the whole tile at the scene origin)."""
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 2:
        data = data[None]
    h, w = data.shape[1:]
    if valid is None:
        valid = np.ones((h, w), dtype=bool)
    window = window or (0, 0, w, h)
    core = core or window
    units = kwargs.pop("units", None) or ["reflectance"] * len(bands)
    return Tile(
        scene_id=scene_id,
        tile_id=tile_id or f"{scene_id}/{window[0]}_{window[1]}",
        data=np.where(valid, data, 0).astype(np.float32),
        valid=np.asarray(valid, dtype=bool),
        window=Window(*window),
        core=Window(*core),
        bands=tuple(Band(b, u) for b, u in zip(bands, units, strict=True)),
        transform=transform,
        crs=crs,
        pixel_size_m=pixel_size_m,
        **kwargs,
    )


# WGS84 and UTM (NIMA TR8350.2; Snyder 1987, USGS Professional Paper 1395, pp. 60-64)
_A, _F, _K0 = 6378137.0, 1 / 298.257223563, 0.9996


def utm_inverse(easting: float, northing: float, zone: int) -> tuple[float, float]:
    """Snyder's inverse transverse Mercator series (eqs 3-26, 8-18 to 8-25) without a false
    northing (negative northings south of the equator, as USGS writes Landsat UTM): (lon,
    lat) in degrees, independent of PROJ (Snyder: accurate to centimetres within a zone)."""
    e2 = _F * (2 - _F)
    ep2 = e2 / (1 - e2)
    x, m = easting - 500000.0, northing / _K0
    mu = m / (_A * (1 - e2 / 4 - 3 * e2**2 / 64 - 5 * e2**3 / 256))
    e1 = (1 - math.sqrt(1 - e2)) / (1 + math.sqrt(1 - e2))
    phi1 = (
        mu
        + (3 * e1 / 2 - 27 * e1**3 / 32) * math.sin(2 * mu)
        + (21 * e1**2 / 16 - 55 * e1**4 / 32) * math.sin(4 * mu)
        + (151 * e1**3 / 96) * math.sin(6 * mu)
        + (1097 * e1**4 / 512) * math.sin(8 * mu)
    )
    c1, t1 = ep2 * math.cos(phi1) ** 2, math.tan(phi1) ** 2
    n1 = _A / math.sqrt(1 - e2 * math.sin(phi1) ** 2)
    r1 = _A * (1 - e2) / (1 - e2 * math.sin(phi1) ** 2) ** 1.5
    d = x / (n1 * _K0)
    lat = phi1 - (n1 * math.tan(phi1) / r1) * (
        d**2 / 2
        - (5 + 3 * t1 + 10 * c1 - 4 * c1**2 - 9 * ep2) * d**4 / 24
        + (61 + 90 * t1 + 298 * c1 + 45 * t1**2 - 252 * ep2 - 3 * c1**2) * d**6 / 720
    )
    lon0 = math.radians(zone * 6 - 183)
    lon = lon0 + (
        d
        - (1 + 2 * t1 + c1) * d**3 / 6
        + (5 - 2 * c1 + 28 * t1 - 3 * c1**2 + 8 * ep2 + 24 * t1**2) * d**5 / 120
    ) / math.cos(phi1)
    return math.degrees(lon), math.degrees(lat)


def test_threshold_graph_passes_onnx_checker(tmp_path: Path) -> None:
    path = threshold_model(tmp_path, bands=("B5", "B6", "B7"), band_index=2)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["edgeinfer.bands"]) == ["B5", "B6", "B7"]
