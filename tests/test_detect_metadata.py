"""Model metadata and graph-signature validation (docs/design.md, the ONNX contract)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from onnx import TensorProto
from test_detect_helpers import metadata, threshold_graph, threshold_model, write_model

from edgeinfer.detect.metadata import Scaling, load_model_info
from edgeinfer.errors import ModelError


def test_full_metadata_is_parsed_into_model_info(tmp_path: Path) -> None:
    path = threshold_model(
        tmp_path,
        name="fire_test",
        bands=("B5", "B6", "B7"),
        product="landsat",
        scaling={"scale": [1.0, 2.0, 3.0], "offset": -0.1},
        tile_size=256,
        min_pixels=3,
        thresholds={"r75": 2.5},
    )
    info = load_model_info(path)
    assert info.name == "fire_test"
    assert info.detector == "fire"
    assert info.version == "1.0.0"
    assert info.product == "landsat"
    assert info.bands == ("B5", "B6", "B7")
    assert info.units == ("reflectance",) * 3
    assert info.scaling == Scaling(scale=(1.0, 2.0, 3.0), offset=(-0.1, -0.1, -0.1))
    assert info.tile_size == 256
    assert info.min_pixels == 3
    assert info.thresholds == {"r75": 2.5}
    assert info.aux_inputs == ()
    assert info.class_name(2) == "detected"
    assert info.class_name(7) == "7"
    assert info.source == "test threshold graph"
    assert info.path == path
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_optional_keys_default(tmp_path: Path) -> None:
    path = threshold_model(
        tmp_path,
        tile_size=None,
        aux_inputs=None,
        outputs=None,
        thresholds=None,
        min_pixels=None,
        source=None,
        description=None,
    )
    info = load_model_info(path)
    assert (info.tile_size, info.min_pixels, info.aux_inputs) == (512, 1, ())
    assert info.outputs["1"] == "candidate"
    assert (info.source, info.description, info.thresholds) == ("", "", {})


def test_missing_file_names_the_file_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nope.onnx"
    with pytest.raises(ModelError, match=r"nope\.onnx not found.*edgeinfer models build"):
        load_model_info(missing)


def test_corrupt_file_is_a_model_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x00\xffnot a protobuf at all\x12\x34" * 10)
    with pytest.raises(ModelError, match=r"junk\.onnx is not a readable ONNX model"):
        load_model_info(path)


@pytest.mark.parametrize(
    ("override", "pattern"),
    [
        ({"bands": None}, r"lacks metadata edgeinfer\.bands"),
        ({"detector": "volcano"}, r"detector = 'volcano'.*cloud, fire, ship|fire, ship, cloud"),
        ({"product": "modis"}, r"product = 'modis'.*landsat, sentinel2, sar, any"),
        ({"version": "one"}, r"version = 'one'.*semver"),
        ({"units": ["reflectance", "dn"]}, r"units.*one unit per band \(1\)"),
        ({"units": ["furlongs"]}, r"units = 'furlongs'"),
        ({"scaling": {"scale": [1, 2]}}, r"scaling.*one per band"),
        ({"scaling": {"gain": 2}}, r"scaling"),
        ({"tile_size": "0"}, r"tile_size = '0'.*>= 1"),
        ({"min_pixels": "many"}, r"min_pixels = 'many'"),
        ({"aux_inputs": ["sun_elevation"]}, r"aux_inputs = 'sun_elevation'.*pixel_size_m"),
        ({"outputs": {"fire": "yes"}}, r"outputs = 'fire'.*0-255"),
        ({"bands": "B7"}, r"bands is not valid JSON"),
        ({"bands": []}, r"non-empty"),
        ({"bands": ["B7", "B7"]}, r"each band once"),
    ],
)
def test_malformed_metadata_names_the_key(
    tmp_path: Path, override: dict[str, object], pattern: str
) -> None:
    meta = metadata()
    for key, value in override.items():
        if value is None:
            del meta[f"edgeinfer.{key}"]
        else:
            meta[f"edgeinfer.{key}"] = value if isinstance(value, str) else json.dumps(value)
    path = write_model(tmp_path / "m.onnx", threshold_graph(), meta)
    with pytest.raises(ModelError, match=pattern) as info:
        load_model_info(path)
    assert "m.onnx" in str(info.value)


@pytest.mark.parametrize(
    ("graph_kwargs", "pattern"),
    [
        ({"x_type": TensorProto.INT64}, r"input 'x' is int64.*float32 rank 4"),
        ({"x_rank": 3}, r"input 'x' has rank 3"),
        ({"class_type": TensorProto.FLOAT}, r"output 'class' is float32.*uint8"),
        ({"drop_confidence": True}, r"no output 'confidence'"),
        ({"extra_input": True}, r"inputs \['bias'\] the runtime cannot feed"),
        ({"n_bands": 2}, r"input 'x' has 2 at axis 1, metadata and contract need 1"),
    ],
)
def test_graph_that_breaks_the_contract_is_refused(
    tmp_path: Path, graph_kwargs: dict[str, object], pattern: str
) -> None:
    path = write_model(tmp_path / "bad.onnx", threshold_graph(**graph_kwargs))  # type: ignore[arg-type]
    with pytest.raises(ModelError, match=pattern):
        load_model_info(path)


def test_declared_aux_input_must_exist_in_graph(tmp_path: Path) -> None:
    meta = metadata(aux_inputs=["pixel_size_m"])
    path = write_model(tmp_path / "aux.onnx", threshold_graph(), meta)
    with pytest.raises(ModelError, match=r"no input 'pixel_size_m'"):
        load_model_info(path)


def test_dynamic_channel_dim_is_accepted(tmp_path: Path) -> None:
    path = write_model(tmp_path / "dyn.onnx", threshold_graph(static_channels=False))
    assert load_model_info(path).bands == ("B7",)
