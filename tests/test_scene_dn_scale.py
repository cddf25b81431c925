"""Integer optical stacks without GDAL scale metadata: DN -> reflectance is explicit."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from edgeinfer.scene import open_scene

BANDS = ["B02", "B03", "B04", "B08", "B11"]


def _write(path: Path, scales: tuple[float, ...] | None = None) -> np.ndarray:
    data = (np.arange(5 * 8 * 8, dtype=np.uint16).reshape(5, 8, 8) + 1000).astype(np.uint16)
    profile = {
        "driver": "GTiff",
        "width": 8,
        "height": 8,
        "count": 5,
        "dtype": "uint16",
        "crs": "EPSG:32611",
        "transform": Affine(10, 0, 300000, 0, -10, 3800000),
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
        ds.descriptions = tuple(BANDS)
        if scales is not None:
            ds.scales = scales
    return data


def test_sentinel2_default_quantification_with_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dn = _write(tmp_path / "s2.tif")
    with caplog.at_level(logging.WARNING):
        scene = open_scene(tmp_path / "s2.tif", product="sentinel2")
    data, _ = scene.read(Window(0, 0, 8, 8))
    np.testing.assert_allclose(data, dn * 1e-4, rtol=1e-6)
    assert "reflectance_scale" in caplog.text and "65535" in caplog.text


def test_explicit_scale_for_sentinel_hub_auto(tmp_path: Path) -> None:
    dn = _write(tmp_path / "sh.tif")
    scene = open_scene(tmp_path / "sh.tif", product="sentinel2", reflectance_scale=1 / 65535)
    data, _ = scene.read(Window(0, 0, 8, 8))
    np.testing.assert_allclose(data, dn / 65535, rtol=1e-6)


def test_file_scales_win_over_defaults(tmp_path: Path) -> None:
    dn = _write(tmp_path / "scaled.tif", scales=(2e-5,) * 5)
    scene = open_scene(tmp_path / "scaled.tif", product="sentinel2", reflectance_scale=1e-4)
    data, _ = scene.read(Window(0, 0, 8, 8))
    np.testing.assert_allclose(data, dn * 2e-5, rtol=1e-6)


@pytest.mark.parametrize(
    ("dtype", "lo", "hi", "unit"),
    [
        ("float32", 0.05, 0.3, "reflectance"),  # audit 13a: was "dn", so cloud_vnir warned
        ("float32", -0.02, 1.4, "reflectance"),  # surface reflectance dips, bright cloud TOA
        ("float32", 0.0, 10000.0, "dn"),  # DN stored as float
        ("uint16", 500, 3000, "dn"),
    ],
)
def test_plain_stack_unit_from_dtype_and_content(
    tmp_path: Path, dtype: str, lo: float, hi: float, unit: str
) -> None:
    """A plain GeoTIFF band with no GDAL unit: integers are raw counts (``dn``), floats whose
    values all lie in the reflectance range are ``reflectance``, other floats ``dn``."""
    data = np.random.default_rng(0).uniform(lo, hi, (4, 16, 16)).astype(dtype)
    profile = {
        "driver": "GTiff",
        "width": 16,
        "height": 16,
        "count": 4,
        "dtype": dtype,
        "crs": "EPSG:32611",
        "transform": Affine(30, 0, 300000, 0, -30, 3800000),
    }
    path = tmp_path / "stack.tif"
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
    with open_scene(path, bands=["B2", "B3", "B4", "B5"]) as scene:
        assert scene.product == "geotiff"
        assert [b.unit for b in scene.bands] == [unit] * 4
