"""Alerts as a GeoJSON FeatureCollection (RFC 7946)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from test_detect_helpers import make_tile, metadata

from edgeinfer.detect.alerts import Alert, objects_from_output, to_geojson, write_geojson
from edgeinfer.detect.metadata import parse_metadata
from edgeinfer.detect.runtime import DetectorOutput

INFO = parse_metadata(metadata("ship_t", "ship"), Path("ship_t.onnx"))


def _alerts(georeferenced: bool) -> list[Alert]:
    cls = np.zeros((12, 12), dtype=np.uint8)
    cls[2:4, 2:6] = 2
    cls[8, 9] = 1
    transform = crs = None
    if georeferenced:  # a 10 m grid in UTM 32N near Genoa
        transform, crs = Affine(10.0, 0, 493000.0, 0, -10.0, 4_918_000.0), CRS.from_epsg(32632)
    tile = make_tile(
        np.zeros((1, 12, 12)),
        window=(40, 60, 12, 12),
        transform=transform,
        crs=crs,
        pixel_size_m=10.0,
        capture_time=dt.datetime(2021, 6, 1, 10, 0, 5, 250000, tzinfo=dt.UTC),
    )
    out = DetectorOutput(tile.tile_id, cls, (cls > 0).astype(np.float32) * 0.8)
    return sorted(objects_from_output(tile, out, INFO), key=lambda a: a.bbox_px)


def test_georeferenced_features_are_polygons_in_lon_lat_order() -> None:
    alerts = _alerts(georeferenced=True)
    fc = to_geojson(alerts)
    assert fc["type"] == "FeatureCollection" and "crs" not in fc  # RFC 7946 drops crs
    assert len(fc["features"]) == 2
    feat = fc["features"][0]
    assert feat["type"] == "Feature" and feat["id"] == alerts[0].alert_id
    geom = feat["geometry"]
    assert geom["type"] == "Polygon"
    ring = geom["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 5
    for lon, lat in ring:  # [lon, lat]: Genoa is at ~8.9 E, 44.4 N
        assert 8.8 < lon < 9.0 and 44.3 < lat < 44.5
    area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))
    assert area > 0  # exterior ring counter-clockwise
    props = feat["properties"]
    assert props["bbox_px"] == [42, 62, 46, 64]
    assert props["class"] == 2 and props["class_name"] == "detected"
    assert props["detector"] == "ship" and props["pixel_count"] == 8
    assert props["capture_time"] == "2021-06-01T10:00:05.250000+00:00"
    assert alerts[0].centroid_lonlat is not None
    assert props["centroid_lon"] == alerts[0].centroid_lonlat[0]
    assert props["length_m"] == 40.0 and props["width_m"] == 20.0
    json.dumps(fc, allow_nan=False)  # strict JSON


def test_non_georeferenced_chips_have_null_geometry() -> None:
    fc = to_geojson(_alerts(georeferenced=False))
    for feat in fc["features"]:
        assert feat["geometry"] is None
        assert feat["properties"]["centroid_lon"] is None
    assert [f["properties"]["bbox_px"] for f in fc["features"]] == [
        [42, 62, 46, 64],
        [49, 68, 50, 69],
    ]


def test_write_geojson_round_trips(tmp_path: Path) -> None:
    alerts = _alerts(georeferenced=True)
    path = write_geojson(tmp_path / "out" / "alerts.geojson", alerts)
    data = json.loads(path.read_text())
    assert data == json.loads(json.dumps(to_geojson(alerts)))
    assert write_geojson(tmp_path / "empty.geojson", []).read_text().count('"features": []') == 1
