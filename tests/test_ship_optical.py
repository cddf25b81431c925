"""ship_optical: the ONNX graph against the NumPy/SciPy reference on the real sen2ships
windows (equal masks), gain invariance, padding, and the object tests on a synthetic port."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path
from scipy import ndimage
from ship_reference import optical_objects, optical_ships

from edgeinfer.models_build import ship_optical
from edgeinfer.scene import open_scene

ort = pytest.importorskip("onnxruntime")

WATER = np.array([0.06, 0.05, 0.03, 0.015, 0.008], np.float32)  # B02 B03 B04 B08 B11
LAND = np.array([0.08, 0.10, 0.12, 0.25, 0.30], np.float32)
SHIP = np.array([0.15, 0.15, 0.15, 0.60, 0.20], np.float32)


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

    with open_scene(path) as scene:  # a Sentinel-2 stack by its band names: DN x 1e-4
        data, _ = scene.read(Window(0, 0, scene.width, scene.height))
    return data


def paint(x: np.ndarray, rows: slice, cols: slice, spectrum: np.ndarray) -> None:
    x[:, rows, cols] = spectrum[:, None, None]


def port() -> tuple[np.ndarray, np.ndarray]:
    """Sea (right) and land (left) with a 150 m wide pier, a ship at anchor, a ship moored
    bow-out at the pier, a 2 px boat, a detached 80 px breakwater, a one-pixel whitecap,
    and a pool with a bright object beside it inland; reflectance, 3 % noise."""
    rng = np.random.default_rng(5)
    h, w = 200, 200
    x = np.empty((5, h, w), np.float32)
    x[:] = WATER[:, None, None]
    paint(x, slice(None), slice(0, 60), LAND)
    paint(x, slice(60, 75), slice(60, 130), LAND)  # pier, attached to the land
    paint(x, slice(120, 123), slice(110, 124), SHIP)  # at anchor
    paint(x, slice(75, 90), slice(100, 103), SHIP)  # moored bow-out at the pier
    paint(x, slice(100, 101), slice(150, 152), SHIP)  # a 2 px boat
    paint(x, slice(160, 164), slice(70, 150), LAND)  # detached breakwater, 800 m x 40 m
    paint(x, slice(40, 41), slice(170, 171), SHIP)  # a whitecap-sized single pixel
    paint(x, slice(20, 26), slice(20, 26), WATER)  # a pool inland
    paint(x, slice(22, 24), slice(27, 30), SHIP)  # something bright beside it
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
        assert np.all((conf >= 0.5) == (got == 2))


def test_objects_are_ship_sized_and_on_water_on_sen2ships() -> None:
    """Every object detected on a real port window fits the ship size limits (no pier,
    breakwater or shoreline-long objects)."""
    p = ship_optical.PARAMS
    path = shared_path("ships_optical_sentinel2_sen2ships", "images", "genoa_20230710.tif")
    x = read_window(path)
    valid = np.ones(x.shape[1:], bool)
    cls = optical_ships(x, valid, p)
    labels, _ = ndimage.label(cls > 0, structure=np.ones((3, 3), bool))
    for sl in ndimage.find_objects(labels):
        assert sl is not None
        extent = max(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)
        assert extent <= p["max_length_px"] + 1  # a box holds the principal-axis length
    assert labels.max() >= 10


def test_gain_does_not_change_the_result(session: object) -> None:
    path = sorted(shared_path("ships_optical_sentinel2_sen2ships", "images").glob("*.tif"))[2]
    x = read_window(path)
    valid = np.ones(x.shape[1:], bool)
    base, _ = run(session, x, valid)
    # Sentinel Hub UINT16 export (DN / 65535) instead of DN / 10000, and raw DN
    for gain in (10000.0 / 65535.0, 10000.0):
        scaled, _ = run(session, x * np.float32(gain), valid)
        assert np.mean(scaled != base) < 1e-4


def test_port_ships_found_structures_and_land_rejected(session: object) -> None:
    x, valid = port()
    cls, conf = run(session, x, valid)
    np.testing.assert_array_equal(cls, optical_ships(x, valid, ship_optical.PARAMS))
    assert cls[121, 116] == 2 and conf[121, 116] >= 0.5  # at anchor
    assert cls[85, 101] == 2  # moored bow-out: a finger narrower than a land body
    assert cls[100, 150] == 2  # 2 px boat
    assert not (cls[160:164, 70:150] > 0).any()  # breakwater: too long for a ship
    assert not (cls[40, 170] > 0)  # one pixel: not an object
    assert not (cls[:, :60] > 0).any()  # land, pool and the bright thing beside it
    assert not (cls[62:73, 62:128] > 0).any()  # the pier is a land body


def test_pool_inland_is_not_water() -> None:
    x, valid = port()
    _, _, water = optical_objects(x, valid, ship_optical.PARAMS)
    assert water[100, 180] and not water[22, 22]


def test_padding_is_ignored(session: object) -> None:
    x, valid = port()
    pad = np.zeros((5, 240, 240), np.float32)
    v = np.zeros((240, 240), bool)
    pad[:, 20:220, 30:230], v[20:220, 30:230] = x, True
    cls, _ = run(session, pad, v)
    alone, _ = run(session, x, valid)
    assert not cls[~v].any()
    np.testing.assert_array_equal(cls[20:220, 30:230], alone)
