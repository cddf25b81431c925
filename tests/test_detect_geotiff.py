"""detect_scene end to end on GeoTIFFs opened by edgeinfer.scene: a synthetic UTM scene with
a hand-computed truth, and the real Landsat-8 fire patch of ../shared/data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import shared_path
from rasterio.crs import CRS
from rasterio.windows import Window
from scipy import ndimage
from test_detect_helpers import threshold_model, utm_inverse

from edgeinfer.detect.alerts import write_geojson
from edgeinfer.detect.pipeline import detect_scene
from edgeinfer.detect.records import RECORD_SIZE, AlertRecord
from edgeinfer.detect.registry import ModelRegistry
from edgeinfer.scene import open_scene

LANDSAT_PATCH = (
    "activefire_landsat8_single_patch_unlabeled",
    "LC08_L1TP_099069_20200827_20200827_01_RT_p00819.tif",
)


def test_synthetic_utm_geotiff(tmp_path: Path) -> None:
    transform = Affine(30.0, 0.0, 499020.0, 0.0, -30.0, 4_500_000.0)  # UTM 33N
    dn = np.zeros((2, 100, 120), dtype=np.uint16)
    dn[0, 40:43, 50:52] = 9000  # one 3 x 2 object
    dn[0, 60, 59:61] = 9000  # one 1 x 2 object in the overlap of tiles c0 and c56
    path = tmp_path / "scene.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=120, height=100, count=2, dtype="uint16",
        crs=CRS.from_epsg(32633), transform=transform,
    ) as ds:  # fmt: skip
        ds.write(dn)
    # the model takes DN and scales them itself: 9000 * 1e-4 = 0.9 > 0.5
    models = tmp_path / "models"
    threshold_model(models, "dn_fire", "fire", ("B7",), units=["dn"], scaling={"scale": 1e-4})
    scene = open_scene(path, bands=["B7", "B6"])
    res = detect_scene(
        scene, ["fire"], provider="cpu", tile_size=64, overlap=16, registry=ModelRegistry(models)
    )
    assert res.tiles_total == 6
    alerts = sorted(res.alerts, key=lambda a: a.bbox_px)
    assert [a.bbox_px for a in alerts] == [(50, 40, 52, 43), (59, 60, 61, 61)]
    assert res.raw_bytes == dn.nbytes and res.alert_bytes == 2 * RECORD_SIZE
    for alert in alerts:
        lon, lat = utm_inverse(*(transform @ alert.centroid_px), 33)
        assert alert.centroid_lonlat == pytest.approx((lon, lat), abs=1e-7)
    geojson = json.loads(write_geojson(tmp_path / "alerts.geojson", alerts).read_text())
    ring = geojson["features"][0]["geometry"]["coordinates"][0]
    corners = [utm_inverse(*(transform @ c), 33) for c in [(50, 40), (50, 43), (52, 43), (52, 40)]]
    for (lo, la), (want_lo, want_la) in zip(ring, corners, strict=False):
        assert (lo, la) == pytest.approx((want_lo, want_la), abs=1e-7)
    record = AlertRecord.unpack(alerts[0].to_record().pack())
    assert record.lonlat == pytest.approx(alerts[0].centroid_lonlat, abs=1e-6)


@pytest.mark.shared_data
def test_real_landsat_patch_fire_pixels_become_alerts_inside_the_footprint(tmp_path: Path) -> None:
    path = shared_path(*LANDSAT_PATCH)
    bands = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B9", "B10", "B11"]
    scene = open_scene(path, product="landsat", bands=bands)
    # a test-only screen on SWIR2 TOA reflectance > 1.0 (the patch's saturated SWIR fire;
    # ../shared/data README); the real fire detector is another issue's
    models = tmp_path / "models"
    threshold_model(models, "swir_t", "fire", ("B5", "B7"), band_index=1, threshold=1.0)
    res = detect_scene(
        scene, ["fire"], provider="cpu", tile_size=96, overlap=32, registry=ModelRegistry(models)
    )
    data, valid = scene.read(Window(0, 0, scene.width, scene.height), ("B7",))
    hot = (data[0] > 1.0) & valid
    _, n_objects = ndimage.label(hot, structure=np.ones((3, 3)))
    assert n_objects > 0
    assert len(res.alerts) == n_objects  # every object once across overlapping tiles
    assert sum(a.pixel_count for a in res.alerts) == int(hot.sum())
    t = scene.transform
    assert t is not None
    lons, lats = zip(
        *(utm_inverse(*(t @ (c, r)), 54) for c in (0, scene.width) for r in (0, scene.height)),
        strict=True,
    )
    for alert in res.alerts:
        assert alert.centroid_lonlat is not None
        lon, lat = alert.centroid_lonlat
        assert min(lons) < lon < max(lons) and min(lats) < lat < max(lats)
        assert alert.capture_time is not None and alert.capture_time.date().isoformat() == (
            "2020-08-27"
        )
    assert min(lons) > 141.9 and max(lons) < 142.2 and min(lats) > -13.0 and max(lats) < -12.7
    assert res.raw_bytes == 256 * 256 * 10 * 2  # uint16 DN, 10 bands
