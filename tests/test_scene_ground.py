"""Ground pixel size (``scene.pixel_size_m``) against closed-form map-projection maths that
does not go through PROJ: Web Mercator (EPSG:3857) on a synthetic GeoTIFF and on a real
sen2ships window, UTM on real scenes, and plain degrees on a geographic grid."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import shared_path
from test_detect_helpers import utm_inverse

from edgeinfer.scene import open_scene

# WGS84 (NIMA TR8350.2)
A_M, F = 6378137.0, 1 / 298.257223563
E2 = F * (2 - F)


def mercator_ground_px_m(res_x: float, res_y: float, northing: float) -> float:
    """Ground size of a Web Mercator pixel: EPSG Guidance Note 7-2, method 1024 (Popular
    Visualisation Pseudo-Mercator: spherical formulas, ellipsoidal latitude), inverse
    ``lat = pi/2 - 2 atan(exp(-N/a))``; then ``dE/dlon = a`` and ``dN/dlat = a/cos(lat)``
    against the WGS84 radii of curvature N (prime vertical) and M (meridian)."""
    lat = math.pi / 2 - 2 * math.atan(math.exp(-northing / A_M))
    w = 1 - E2 * math.sin(lat) ** 2
    east = res_x * math.cos(lat) / math.sqrt(w)  # N cos(lat) dlon, dlon = dE / a
    north = res_y * math.cos(lat) * (1 - E2) / w**1.5  # M dlat, dlat = dN cos(lat) / a
    return math.sqrt(east * north)


def utm_point_scale(lon: float, lat: float, zone: int) -> float:
    """Transverse Mercator point scale factor k (Snyder 1987, USGS PP 1395, eq. 8-11)."""
    ep2 = E2 / (1 - E2)
    phi = math.radians(lat)
    big_a = math.radians(lon - (zone * 6 - 183)) * math.cos(phi)
    t, c = math.tan(phi) ** 2, ep2 * math.cos(phi) ** 2
    return 0.9996 * (
        1
        + (1 + c) * big_a**2 / 2
        + (5 - 4 * t + 42 * c + 13 * c**2 - 28 * ep2) * big_a**4 / 24
        + (61 - 148 * t + 16 * t**2) * big_a**6 / 720
    )


def _write_3857(path: Path, northing: float, res_m: float = 10.0) -> None:
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": 64,
        "height": 64,
        "count": 1,
        "dtype": "uint16",
        "crs": "EPSG:3857",
        "transform": Affine(res_m, 0, 340000.0, 0, -res_m, northing + 32 * res_m),
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.ones((1, 64, 64), np.uint16))


@pytest.mark.parametrize("lat_deg", [0.0, 36.8, 54.5, 70.0])
def test_web_mercator_pixel_is_cos_lat_smaller_on_the_ground(
    tmp_path: Path, lat_deg: float
) -> None:
    northing = A_M * math.log(math.tan(math.pi / 4 + math.radians(lat_deg) / 2))
    _write_3857(tmp_path / "merc.tif", northing)
    with open_scene(tmp_path / "merc.tif") as scene:
        size = scene.pixel_size_m
    truth = mercator_ground_px_m(10.0, 10.0, northing)
    assert size == pytest.approx(truth, rel=1e-5)
    # about 10 cos(lat) m: 8.0 m at Algiers' 36.8 deg N, not the 10 Mercator metres
    assert size == pytest.approx(10.0 * math.cos(math.radians(lat_deg)), rel=0.005)


def test_sen2ships_window_ground_pixel_and_alert_area(shared: Any) -> None:
    path = shared.path("ships_optical_sentinel2_sen2ships", "images", "algiers_20230817.tif")
    with open_scene(path) as scene:
        assert scene.transform is not None
        _, northing = scene.transform @ (scene.width / 2, scene.height / 2)
        res_x, res_y = abs(scene.transform.a), abs(scene.transform.e)
        size = scene.pixel_size_m
    truth = mercator_ground_px_m(res_x, res_y, northing)
    assert size == pytest.approx(truth, rel=1e-5)
    assert size == pytest.approx(8.0, abs=0.02)  # 10 Mercator m x cos(36.78 deg)


def test_detect_area_and_length_in_ground_metres(shared: Any, tmp_path: Path) -> None:
    """The audit's run: ``detect`` on a sen2ships window reports ship areas of 64 m2 per
    pixel, not 99.96 Mercator m2."""
    pytest.importorskip("onnxruntime")
    from typer.testing import CliRunner

    from edgeinfer.cli.main import app

    path = shared.path("ships_optical_sentinel2_sen2ships", "images", "algiers_20230817.tif")
    out = tmp_path / "a.geojson"
    argv = ["detect", str(path), "--product", "sentinel2", "--detectors", "ship", "-o", str(out)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    with open_scene(path) as scene:
        assert scene.transform is not None
        _, northing = scene.transform @ (scene.width / 2, scene.height / 2)
        truth = mercator_ground_px_m(abs(scene.transform.a), abs(scene.transform.e), northing)
    props = [f["properties"] for f in json.loads(out.read_text())["features"]]
    assert len(props) == 7
    for p in props:
        assert p["area_m2"] == pytest.approx(p["pixel_count"] * truth**2, rel=1e-4, abs=0.002)
        assert p["length_m"] <= 50 * truth + 0.01  # the model's 50 px length limit


@pytest.mark.parametrize(
    ("folder", "name"),
    [
        ("ingestion_rasterio_testdata", "RGB.byte.tif"),  # UTM 18N, 2.4 deg off the meridian
        ("activefire_landsat8_single_patch_unlabeled", None),  # UTM 54S, Landsat 30 m
    ],
)
def test_utm_pixel_is_projected_size_over_point_scale(folder: str, name: str | None) -> None:
    base = shared_path(folder)
    path = base / name if name else sorted(base.glob("*.tif"))[0]
    with rasterio.open(path) as ds:
        epsg = ds.crs.to_epsg()
    assert epsg is not None and epsg // 100 in (326, 327)
    zone = epsg % 100
    with open_scene(path, product="geotiff") as scene:
        t = scene.transform
        assert t is not None
        easting, northing = t @ (scene.width / 2, scene.height / 2)
        size = scene.pixel_size_m
    # utm_inverse wants negative northings south of the equator (no false northing)
    lon, lat = utm_inverse(easting, northing - (10_000_000.0 if epsg // 100 == 327 else 0.0), zone)
    projected = math.sqrt(abs(t.a * t.e))
    k = utm_point_scale(lon, lat, zone)
    assert 0.9996 <= k <= 1.001
    assert size == pytest.approx(projected / k, rel=2e-6)


def test_geographic_grid_uses_metres_per_degree(tmp_path: Path) -> None:
    """0.0001 deg pixels at 40 deg N: the WGS84 meridian arc and parallel length per degree
    (Snyder eqs. 3-21 and 4-21 for M and N) give the ground pixel."""
    path = tmp_path / "geo.tif"
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": 10,
        "height": 10,
        "count": 1,
        "dtype": "uint8",
        "crs": "EPSG:4326",
        "transform": Affine(1e-4, 0, 10.0, 0, -1e-4, 40.0 + 5e-4),
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.ones((1, 10, 10), np.uint8))
    with open_scene(path) as scene:
        size = scene.pixel_size_m
    phi = math.radians(40.0)
    w = 1 - E2 * math.sin(phi) ** 2
    m_lat = math.radians(1e-4) * A_M * (1 - E2) / w**1.5
    m_lon = math.radians(1e-4) * A_M * math.cos(phi) / math.sqrt(w)
    assert size == pytest.approx(math.sqrt(m_lat * m_lon), rel=1e-5)
