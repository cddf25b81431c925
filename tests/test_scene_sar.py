"""SAR: HRSID JPEG chips, OpenSARShip float sigma0 chips, 8-bit PNG chips, dB GeoTIFFs."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import shared_path
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from edgeinfer.errors import BandError
from edgeinfer.scene import iter_tiles, open_scene

HRSID = "ships_sar_hrsid_minitest"
OSS = "ships_sar_sentinel1_opensarship_grd_cal"


def _raw(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as ds:
            return ds.read()


def test_hrsid_jpeg_chip_opens_as_sar_amplitude() -> None:
    path = sorted(shared_path(HRSID, "images").glob("*"))[0]
    with open_scene(path) as scene:
        assert scene.product == "sar" and scene.meta["driver"] == "JPEG"
        assert scene.band_names == ("SAR",)  # the grey value stored in R, G and B
        assert scene.bands[0].unit == "amplitude"
        assert scene.crs is None and scene.transform is None
        assert (scene.width, scene.height) == (800, 800)
        assert scene.raw_bytes == 800 * 800 * 3
        data, valid = scene.read(Window(0, 0, 800, 800))
        tiles = list(iter_tiles(scene, tile_size=512))
    assert valid.all()
    np.testing.assert_array_equal(data[0], _raw(path)[0].astype(np.float32))
    assert len(tiles) == 4 and all(t.transform is None and t.crs is None for t in tiles)


def _chips(polarisation: str) -> list[Path]:
    folder = shared_path(OSS)
    with (folder / "labels.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["polarisation"] == polarisation]
    return [folder / "chips" / r["file"].rsplit("/", 1)[-1] for r in rows[:3]]


def test_opensarship_dual_pol_chip_is_sigma0() -> None:
    for path in _chips("VH+VV"):
        raw = _raw(path)
        with open_scene(path) as scene:
            assert scene.product == "sar"
            assert [b.unit for b in scene.bands] == ["sigma0", "sigma0"]
            assert scene.band_names == ("SAR1", "SAR2")
            data, valid = scene.read(Window(0, 0, scene.width, scene.height))
        np.testing.assert_array_equal(data, raw)
        assert valid.all()
        # README: VH is about 9 dB below VV on sea
        vh_db, vv_db = (10 * np.log10(np.median(b)) for b in data)
        assert 3.0 < vv_db - vh_db < 15.0


def test_polarisation_names_and_pixel_size_from_options() -> None:
    path = _chips("VH+VV")[0]
    with open_scene(path, product="sar", bands=["VH", "VV"], pixel_size_m=10.0) as scene:
        assert scene.band_names == ("VH", "VV")
        assert scene.pixel_size_m == 10.0
        tile = next(iter(iter_tiles(scene, tile_size=64, bands=["VV"])))
        assert tile.band_names == ("VV",) and tile.pixel_size_m == 10.0
    with pytest.raises(BandError, match="VH,VV"):
        open_scene(path, product="sar", bands=["VV"])


def test_single_pol_chip_is_one_sigma0_band() -> None:
    path = _chips("VV")[0]
    with open_scene(path) as scene:
        assert scene.band_names == ("SAR",) and scene.bands[0].unit == "sigma0"


def test_png_ocean_chip_is_amplitude() -> None:
    path = sorted(shared_path("sar_sentinel1_vv_chips_sea_boat_windmill", "ocean").glob("*.png"))[0]
    with open_scene(path) as scene:
        assert scene.product == "sar" and scene.bands[0].unit == "amplitude"
        assert (scene.width, scene.height) == (30, 30)


def test_db_geotiff_becomes_linear_sigma0(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    db = (-18.0 + 2.0 * rng.standard_normal((64, 64))).astype(np.float32)
    path = tmp_path / "s1_db.tif"
    profile = {
        "driver": "GTiff",
        "width": 64,
        "height": 64,
        "count": 1,
        "dtype": "float32",
        "crs": CRS.from_epsg(32631),
        "transform": Affine(10, 0, 6e5, 0, -10, 5e6),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(db, 1)
    with open_scene(path) as scene:
        assert scene.product == "sar" and scene.meta["sar_encoding"] == "db"
        data, _ = scene.read(Window(0, 0, 64, 64))
        assert scene.pixel_size_m == pytest.approx(10.0, rel=5e-4)  # ground m, UTM scale
    np.testing.assert_allclose(data[0], 10 ** (db / 10), rtol=1e-5)


def test_explicit_sar_on_georeferenced_byte_image() -> None:
    path = shared_path("ingestion_rasterio_testdata", "shade.tif")
    with open_scene(path) as auto:
        assert auto.product == "geotiff"  # georeferenced 8-bit: not guessed as SAR
    with open_scene(path, product="sar") as scene:
        assert scene.product == "sar" and scene.bands[0].unit == "amplitude"
        assert scene.crs is not None


def test_sample_data_sar_tags(tmp_path: Path) -> None:
    """EDGEINFER_PRODUCT=sar, band unit sigma0, EDGEINFER_SCALE=db: linear sigma0 out."""
    db = np.array([[-20.0, -10.0], [0.0, 10.0]], dtype=np.float32)
    path = tmp_path / "sar.tif"
    profile = {
        "driver": "GTiff",
        "width": 2,
        "height": 2,
        "count": 1,
        "dtype": "float32",
        "crs": CRS.from_epsg(32631),
        "transform": Affine(10, 0, 6e5, 0, -10, 5e6),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(db, 1)
        dst.descriptions = ("VV",)
        dst.units = ("sigma0",)
        dst.update_tags(EDGEINFER_PRODUCT="sar", EDGEINFER_SCALE="db", EDGEINFER_SCENE_ID="s1")
    with open_scene(path) as scene:
        assert (scene.product, scene.scene_id, scene.band_names) == ("sar", "s1", ("VV",))
        assert scene.meta["tags"]["EDGEINFER_SCALE"] == "db"
        data, _ = scene.read(Window(0, 0, 2, 2))
    np.testing.assert_allclose(data[0], [[0.01, 0.1], [1.0, 10.0]], rtol=1e-6)
