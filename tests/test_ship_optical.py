"""ship_optical: the ONNX graph against the NumPy/SciPy reference on the real sen2ships
windows (equal masks), gain invariance, and the water/land logic on synthetic scenes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path
from ship_reference import optical_ships

from edgeinfer.models_build import ship_optical
from edgeinfer.scene import open_scene

ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def session() -> object:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    model = ship_optical.build_ship_optical()
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def run(session: object, x: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = valid.astype(np.float32)
    cls, conf = session.run(None, {"x": (x * v)[None].astype(np.float32), "valid": v[None, None]})  # type: ignore[attr-defined]
    return cls[0, 0], conf[0, 0]


def read_window(path: Path) -> np.ndarray:
    from rasterio.windows import Window

    with open_scene(path) as scene:
        data, _ = scene.read(Window(0, 0, scene.width, scene.height))
    return data / np.float32(10000.0)


def synthetic() -> tuple[np.ndarray, np.ndarray]:
    """Sea (right) and land (left) with a 150 m wide pier, a ship moored along it and an
    anchored ship, in reflectance."""
    rng = np.random.default_rng(5)
    h, w = 160, 160
    water = np.array([0.06, 0.05, 0.03, 0.015, 0.008], np.float32)  # B02 B03 B04 B08 B11
    land = np.array([0.08, 0.10, 0.12, 0.25, 0.30], np.float32)
    x = np.empty((5, h, w), np.float32)
    x[:] = water[:, None, None]
    x[:, :, :60] = land[:, None, None]
    x[:, 60:75, 60:120] = land[:, None, None]  # a 150 m wide pier attached to the land
    ship = np.array([0.15, 0.15, 0.15, 0.60, 0.20], np.float32)[:, None, None]
    x[:, 120:123, 110:124] = ship  # at anchor
    x[:, 75:78, 80:100] = ship  # moored along the pier
    x *= rng.normal(1.0, 0.03, x.shape).astype(np.float32)
    return x, np.ones((h, w), bool)


def test_graph_equals_reference_on_sen2ships(session: object) -> None:
    folder = shared_path("ships_optical_sentinel2_sen2ships", "images")
    for path in sorted(folder.glob("*.tif")):
        x = read_window(path)
        valid = np.ones(x.shape[1:], bool)
        got, conf = run(session, x, valid)
        ref = optical_ships(x, valid, ship_optical.PARAMS)
        assert (ref == 2).any(), path.name
        np.testing.assert_array_equal(got, ref, err_msg=path.name)
        assert np.all((conf > 0) == (got > 0))


def test_gain_does_not_change_the_result(session: object) -> None:
    path = sorted(shared_path("ships_optical_sentinel2_sen2ships", "images").glob("*.tif"))[2]
    x = read_window(path)
    valid = np.ones(x.shape[1:], bool)
    base, _ = run(session, x, valid)
    # Sentinel Hub UINT16 export (DN / 65535) instead of DN / 10000, and raw DN
    for gain in (10000.0 / 65535.0, 10000.0):
        scaled, _ = run(session, x * np.float32(gain), valid)
        assert np.mean(scaled != base) < 1e-4


def test_anchored_ship_is_class_2_moored_ship_is_found_and_pier_is_not(session: object) -> None:
    x, valid = synthetic()
    cls, conf = run(session, x, valid)
    assert cls[121, 116] == 2 and conf[121, 116] >= 0.5
    assert cls[76, 90] >= 1  # moored: contrast against the pier it lies along
    assert not (cls[:, :55] > 0).any()  # inland
    assert not (cls[62:73, 62:118] > 0).any()  # the pier is a land body, not a ship
    np.testing.assert_array_equal(cls, optical_ships(x, valid, ship_optical.PARAMS))


def test_padding_is_ignored(session: object) -> None:
    x, valid = synthetic()
    pad = np.zeros((5, 200, 200), np.float32)
    v = np.zeros((200, 200), bool)
    pad[:, 20:180, 30:190], v[20:180, 30:190] = x, True
    cls, _ = run(session, pad, v)
    alone, _ = run(session, x, valid)
    assert not cls[~v].any()
    np.testing.assert_array_equal(cls[20:180, 30:190], alone)
