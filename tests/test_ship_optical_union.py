"""ship_optical_union: its class mask is the OR of the classical and the learned models'
masks and its confidence the larger of theirs (on a real sen2ships window and on the sample
scene), the build is byte-identical, and the registry keeps the classical model as the
Sentinel-2 default."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import shared_path

from edgeinfer.detect import ModelRegistry
from edgeinfer.models_build import ship_optical_union as builder
from edgeinfer.models_build.ship_cnn import TRAIN_DIR

ort = pytest.importorskip("onnxruntime")
MODELS = Path(__file__).resolve().parents[1] / "models"
pytestmark = pytest.mark.skipif(
    not (TRAIN_DIR / "ship_optical_cnn.npz").is_file(), reason="no committed CNN weights"
)


def run(name: str, x: np.ndarray, valid: np.ndarray) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        str(MODELS / f"{name}.onnx"), options, providers=["CPUExecutionProvider"]
    )
    feeds = {"x": x[None].astype(np.float32), "valid": valid[None, None].astype(np.float32)}
    return [np.asarray(o) for o in session.run(None, feeds)]


def assert_union(x: np.ndarray, valid: np.ndarray) -> int:
    cls_a, conf_a = run("ship_optical", x, valid)
    cls_b, conf_b = run("ship_optical_cnn", x, valid)
    cls_u, conf_u = run("ship_optical_union", x, valid)
    np.testing.assert_array_equal(cls_u, np.maximum(cls_a, cls_b))  # classes 0 / 2
    np.testing.assert_array_equal(conf_u, np.maximum(conf_a, conf_b))  # 0 off the masks
    return int((cls_u == 2).sum()) - int(((cls_a == 2) | (cls_b == 2)).sum())


def test_union_is_the_or_of_both_models_on_a_real_window() -> None:
    from edgeinfer.eval.ship import optical_scene
    from edgeinfer.scene import open_scene

    path = shared_path("ships_optical_sentinel2_sen2ships", "images", "athens_20230818.tif")
    with open_scene(path) as scene:
        opt = optical_scene(scene)
    assert assert_union(opt.data, opt.valid) == 0


def test_union_is_the_or_of_both_models_on_the_sample_scene(s2_ref: Any) -> None:
    from edgeinfer.eval.ship import OPTICAL_BANDS
    from edgeinfer.scene import read_tile, tile_windows

    with s2_ref.open() as scene:
        bands = tuple(b for b in scene.bands if b.name in OPTICAL_BANDS)
        window, core = tile_windows(scene.width, scene.height, 512, 64)[0]
        tile = read_tile(scene, window, core, 512, bands)
    assert assert_union(tile.data, tile.valid) == 0


def test_build_is_byte_identical_and_the_classical_model_stays_the_default() -> None:
    built = builder.build_ship_optical_union().SerializeToString(deterministic=True)
    assert built == (MODELS / "ship_optical_union.onnx").read_bytes()
    registry = ModelRegistry(MODELS)
    info = registry.get_model("ship_optical_union")
    assert info.version == builder.VERSION and info.detector == "ship"
    bands = ("B02", "B03", "B04", "B08", "B11")
    assert registry.select("ship", bands, "sentinel2").name == "ship_optical"


def test_detect_and_a_mission_engine_fly_it_when_asked(
    s2_ref: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edgeinfer.budget import get_accelerator
    from edgeinfer.cli.main import main
    from edgeinfer.node import CostModel, DetectionSettings, InferenceEngine

    counts = {}
    for model in ("ship_optical", "ship_optical_union"):
        out = tmp_path / f"{model}.geojson"
        args = ["detect", str(s2_ref.source), "-d", "ship", "-o", str(out), "--json"]
        assert main([*args, "--model", model]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["detectors"]["ship"].startswith(f"{model}@")
        counts[model] = summary["alerts"]
    assert counts["ship_optical_union"] > counts["ship_optical"]  # the CNN half adds objects
    detection = DetectionSettings(detectors=("ship",), threads=1, models=("ship_optical_union",))
    engine = InferenceEngine(detection, CostModel(get_accelerator("jetson_orin_nano")))
    try:
        assert engine.prepare(s2_ref).detectors["ship"].info.name == "ship_optical_union"
    finally:
        engine.close()
