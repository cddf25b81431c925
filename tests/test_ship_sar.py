"""ship_sar: the ONNX two-parameter CFAR against an independent NumPy/SciPy reference on real
SAR chips (equal class masks), window sizes from metres, small chips, land masking and the
land estimate, object discrimination, gain invariance, the Gaussian design threshold, and the
length estimate against AIS."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import shared_path
from scipy.stats import norm
from ship_reference import radii, sar_cfar, sar_land

from edgeinfer.models_build import ship_sar
from edgeinfer.scene import open_scene
from edgeinfer.scene.types import Scene

ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def session() -> object:
    model = ship_sar.build_cfar("ship_sar", "SAR")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def run(
    session: object, x: np.ndarray, valid: np.ndarray, pixel_size_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Feed one (h, w) band as the runtime does (x zero where invalid)."""
    v = valid.astype(np.float32)
    feeds = {
        "x": (x * v)[None, None].astype(np.float32),
        "valid": v[None, None],
        "pixel_size_m": np.array([pixel_size_m], np.float32),
    }
    cls, conf = session.run(None, feeds)  # type: ignore[attr-defined]
    return cls[0, 0], conf[0, 0]


def read_band(path: Path, index: int = -1) -> np.ndarray:
    from rasterio.windows import Window

    scene: Scene = open_scene(path)
    data, _ = scene.read(Window(0, 0, scene.width, scene.height))
    scene.close()
    return np.asarray(data[index])


def assert_same(got: np.ndarray, ref: np.ndarray, z: np.ndarray) -> None:
    """Equal masks; a difference is tolerated only where z is within 1e-9 of t (a tie)."""
    differ = (got > 0) != (ref > 0)
    assert not np.any(differ & (np.abs(z - ship_sar.T_DESIGN) > 1e-9)), int(differ.sum())


def test_design_threshold_is_the_gaussian_tail_of_the_pfa() -> None:
    # SNAP: t = sqrt(2) erfinv(1 - 2 pfa); REFERENCE.md: pfa 1e-6.5 -> t ~ 4.98
    assert abs(ship_sar.T_DESIGN - norm.isf(10**-6.5)) < 1e-8
    assert abs(ship_sar.T_DESIGN - 4.98) < 0.005


@pytest.mark.parametrize(
    ("pixel_size_m", "expected"),
    [
        (10.0, (1, 25, 40)),  # at 10 m: windows of 3, 51 and 81 px (30, 510, 810 m)
        (20.0, (0, 12, 20)),
        (3.0, (5, 83, 133)),
        (1.0, (15, 250, 400)),
        (100.0, (0, 2, 4)),
    ],
)
def test_window_radii_from_metres(pixel_size_m: float, expected: tuple[int, int, int]) -> None:
    assert ship_sar.window_radii(pixel_size_m) == expected
    r_t, r_g, r_b = expected
    # the windows' sides in metres are the published ones to within one pixel
    for r, size_m in zip(expected, (30.0, 500.0, 800.0), strict=True):
        assert abs((2 * r + 1) * pixel_size_m - size_m) <= 2 * pixel_size_m
    assert r_t < r_g < r_b or r_t == 0


def test_small_chip_windows_shrink_to_the_chip() -> None:
    # a 30 x 30 chip at 10 m (300 m) is smaller than the 800 m background window
    assert ship_sar.window_radii(10.0, 30) == (1, 9, 15)
    assert ship_sar.window_radii(10.0, 30) == radii(10.0, 30)
    assert ship_sar.window_radii(10.0, 512) == (1, 25, 40)  # full tiles: unchanged
    assert ship_sar.window_radii(10.0, 3) == (0, 0, 1)


def test_graph_equals_reference_on_hrsid_chips(session: object) -> None:
    folder = shared_path("ships_sar_hrsid_minitest", "images")
    for path in sorted(folder.glob("*.jpg"))[1:3]:  # open-sea chips with ships
        x = read_band(path)
        valid = np.ones(x.shape, bool)
        ref, z, _ = sar_cfar(x, valid, 3.0)
        got, conf = run(session, x, valid, 3.0)
        assert ref.any()
        assert_same(got, ref, z)
        assert np.all((conf >= 0.5) == (got == 2))


def test_graph_equals_reference_on_calibrated_s1_chips(session: object) -> None:
    folder = shared_path("ships_sar_sentinel1_opensarship_grd_cal")
    with (folder / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))[::20]
    detected = 0
    for row in rows:
        x = read_band(folder / row["file"])  # VV is the last band
        valid = np.ones(x.shape, bool)
        ref, z, _ = sar_cfar(x, valid, 10.0)
        got, _ = run(session, x, valid, 10.0)
        assert_same(got, ref, z)
        detected += int(got.any())
    assert detected >= len(rows) - 1  # every chip holds a ship


def test_chip_padded_into_a_tile_gives_the_same_classes(session: object) -> None:
    folder = shared_path("sar_sentinel1_vv_chips_sea_boat_windmill", "boats")
    x = read_band(sorted(folder.glob("*.png"))[0])
    alone, _ = run(session, x, np.ones(x.shape, bool), 10.0)
    tile = np.zeros((128, 128), np.float32)
    valid = np.zeros((128, 128), bool)
    tile[40:70, 17:47], valid[40:70, 17:47] = x, True
    padded, _ = run(session, tile, valid, 10.0)
    assert alone.any()
    np.testing.assert_array_equal(padded[40:70, 17:47], alone)
    assert not padded[~valid].any()


def test_gain_and_chip_max_normalisation_do_not_change_the_result(session: object) -> None:
    rng = np.random.default_rng(1)
    x = rng.gamma(4.0, 0.01 / 4.0, (160, 160)).astype(np.float32)  # 4-look sigma0 sea
    x[80:83, 70:80] = 0.5  # a ship
    valid = np.ones(x.shape, bool)
    base, _ = run(session, x, valid, 10.0)
    assert base[81, 75] == 2
    for gain in (255.0 / float(x.max()), 1e4):  # chip-max 8-bit scaling, DN
        scaled, _ = run(session, x * np.float32(gain), valid, 10.0)
        np.testing.assert_array_equal(scaled, base)


def test_no_false_alarm_on_gaussian_clutter_and_a_planted_target_is_found(session: object) -> None:
    # pfa 10^-6.5 per pixel on Gaussian clutter: ~0.02 expected false alarms in 256 x 256
    # (0.1 allowing for the sd estimated from the 168 background pixels of each window)
    rng = np.random.default_rng(7)
    x = (100.0 + rng.normal(0.0, 1.0, (256, 256))).astype(np.float32)
    valid = np.ones(x.shape, bool)
    assert ship_sar.window_radii(50.0) == (0, 5, 8)  # single-pixel target window
    cls, _ = run(session, x, valid, 50.0)
    assert not cls.any()
    x[128, 128] += 8.0  # 8 sd above the mean
    cls, conf = run(session, x, valid, 50.0)
    assert cls[128, 128] == 2 and conf[128, 128] > 0.9
    assert int((cls > 0).sum()) == 1


def coast(seed: int = 3) -> np.ndarray:
    """Exponential (one-look intensity) sea on the right, land 16 dB brighter with point
    scatterers 10-20 dB above it on the left, a ship 10 px off the coast."""
    rng = np.random.default_rng(seed)
    x = rng.exponential(1.0, (200, 200)).astype(np.float32)
    x[:, :80] = rng.exponential(40.0, (200, 80))  # bright, textured land on the left
    points = rng.random((200, 80)) < 0.01
    x[:, :80][points] *= rng.uniform(10.0, 100.0, int(points.sum()))
    x[100:102, 90:96] = 30.0  # a ship 10 px off the coast
    return x


def test_land_mask_excludes_land_from_detection_and_from_the_background(session: object) -> None:
    x = coast()
    water = np.ones(x.shape, bool)
    water[:, :80] = False
    masked, _ = run(session, x, water, 20.0)
    assert masked[100:102, 90:96].all()
    assert not masked[:, :80].any()
    ref, z, _ = sar_cfar(x, water, 20.0)
    assert_same(masked, ref, z)


def test_land_is_estimated_without_a_mask(session: object) -> None:
    # no mask: the estimate finds the land, the ship beside it is found, no point on land is
    valid = np.ones((200, 200), bool)
    x = coast()
    land = sar_land(x, valid, 20.0)
    assert land[:, :70].all() and not land[:, 95:].any()
    cls, _ = run(session, x, valid, 20.0)
    assert cls[100:102, 90:96].any()
    assert not cls[:, :80].any()
    ref, z, _ = sar_cfar(x, valid, 20.0)
    assert_same(cls, ref, z)


def test_open_sea_has_no_estimated_land() -> None:
    folder = shared_path("ships_sar_sentinel1_opensarship_grd_cal")
    with (folder / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))[::10]
    for row in rows:
        x = read_band(folder / row["file"])
        assert not sar_land(x, np.ones(x.shape, bool), 10.0).any(), row["file"]


def test_clusters_smaller_than_30_m_are_discriminated(session: object) -> None:
    # SNAP Object-Discrimination keeps clusters of 30-800 m. At 20 m the target window is one
    # pixel: a lone bright pixel is a 28 m cluster (dropped), two side by side 45 m (kept).
    rng = np.random.default_rng(2)
    x = (100.0 + rng.normal(0.0, 1.0, (256, 256))).astype(np.float32)
    valid = np.ones(x.shape, bool)
    x[60, 60] += 40.0
    x[150, 150:152] += 40.0
    cls, _ = run(session, x, valid, 20.0)
    assert not cls[55:66, 55:66].any()
    assert cls[150, 150:152].all()
    ref, z, _ = sar_cfar(x, valid, 20.0)
    assert_same(cls, ref, z)
    without = sar_cfar(x, valid, 50.0)[0]  # at 50 m the lone pixel is 71 m: kept
    assert without[60, 60] == 2


def test_model_metadata_follows_the_contract() -> None:
    model = ship_sar.BUILDERS["ship_sar"]()
    onnx.checker.check_model(model, full_check=True)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["edgeinfer.detector"] == "ship"
    assert meta["edgeinfer.aux_inputs"] == '["pixel_size_m"]'
    assert '"pfa": "1e-6.5"' in meta["edgeinfer.thresholds"]


def test_length_estimate_follows_the_ais_length() -> None:
    from edgeinfer.detect.registry import ModelRegistry
    from edgeinfer.detect.runtime import Detector, RuntimeOptions
    from edgeinfer.eval.ship_chips import evaluate_opensarship

    folder = shared_path("ships_sar_sentinel1_opensarship_grd_cal")
    info = ModelRegistry().get_model("ship_sar")
    result = evaluate_opensarship(folder, info, Detector(info, RuntimeOptions("cpu")), 10.0)
    length = result["length_estimate"]
    assert length["vessels"] >= 150
    assert length["pearson_r_vs_ais"] >= 0.8
    # the estimate includes the target-window halo (2 r_t = 40 m) and the ~20 m resolution
    assert 0.0 <= length["median_error_m"] <= 80.0
    assert result["detection_probability_ais_ge_50m"] >= 0.9  # the bar


def test_each_tile_of_a_batch_gets_its_own_windows(session: object) -> None:
    # a full tile and a small chip padded into a tile of the same size, in one batch: the
    # chip's windows shrink to its extent, the full tile's do not
    rng = np.random.default_rng(11)
    full = rng.exponential(1.0, (96, 96)).astype(np.float32)
    full[40:43, 40:47] = 40.0
    chip = np.zeros((96, 96), np.float32)
    chip_valid = np.zeros((96, 96), bool)
    chip[10:40, 20:50] = rng.exponential(1.0, (30, 30))
    chip[24:26, 30:36] = 30.0
    chip_valid[10:40, 20:50] = True
    valid = np.stack([np.ones((96, 96), bool), chip_valid]).astype(np.float32)[:, None]
    x = np.stack([full, chip])[:, None] * valid
    feeds = {"x": x, "valid": valid, "pixel_size_m": np.array([10.0], np.float32)}
    cls, _ = session.run(None, feeds)  # type: ignore[attr-defined]
    for k, (band, ok) in enumerate(((full, np.ones((96, 96), bool)), (chip, chip_valid))):
        alone, _ = run(session, band, ok, 10.0)
        np.testing.assert_array_equal(cls[k, 0], alone)
    assert cls[0, 0, 41, 43] == 2 and cls[1, 0, 25, 33] == 2
