"""A model whose metadata bytes are not valid UTF-8 is a ModelError, not a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeinfer.detect.metadata import load_model_info
from edgeinfer.detect.registry import default_models_dir
from edgeinfer.errors import ModelError


def test_non_utf8_metadata_is_a_model_error(tmp_path: Path) -> None:
    blob = bytearray((default_models_dir() / "fire_landsat.onnx").read_bytes())
    key = blob.find(b"edgeinfer.detector")
    assert key >= 0
    value = blob.find(b"fire", key + len(b"edgeinfer.detector"))
    blob[value] = 0xFF  # the value's first byte is no longer UTF-8
    path = tmp_path / "bad.onnx"
    path.write_bytes(bytes(blob))
    with pytest.raises(ModelError, match=r"bad\.onnx"):
        load_model_info(path)
