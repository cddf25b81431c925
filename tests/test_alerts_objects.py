"""Model output -> objects -> alerts: components, core ownership, positions, sizes."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS
from scipy import ndimage
from test_detect_helpers import make_tile, metadata, utm_inverse

from edgeinfer.detect.alerts import Alert, alert_id, objects_from_output
from edgeinfer.detect.metadata import ModelInfo, parse_metadata
from edgeinfer.detect.runtime import DetectorOutput
from edgeinfer.scene.types import Tile


def _info(detector: str = "fire", min_pixels: int = 1) -> ModelInfo:
    meta = metadata(f"{detector}_t", detector, min_pixels=min_pixels)
    return parse_metadata(meta, Path(f"{detector}_t.onnx"))


def _output(cls: np.ndarray, conf: np.ndarray | None = None) -> DetectorOutput:
    cls = np.asarray(cls, dtype=np.uint8)
    if conf is None:
        conf = (cls > 0).astype(np.float32)
    return DetectorOutput("t", cls, np.asarray(conf, dtype=np.float32))


def test_eight_connected_components_with_max_class_and_confidence() -> None:
    cls = np.zeros((10, 10), dtype=np.uint8)
    cls[1, 1] = 1
    cls[2, 2] = 2  # diagonal neighbour: same object under 8-connectivity
    cls[6:8, 5:9] = 1  # second object, 8 pixels
    conf = np.where(cls > 0, 0.3, 0.0)
    conf[2, 2] = 0.9
    tile = make_tile(np.zeros((1, 10, 10)), window=(100, 200, 10, 10))
    alerts = sorted(objects_from_output(tile, _output(cls, conf), _info()), key=lambda a: a.bbox_px)
    assert len(alerts) == 2
    first, second = alerts
    assert first.bbox_px == (101, 201, 103, 203)  # scene grid, max exclusive
    assert (first.cls, first.class_name, first.pixel_count) == (2, "detected", 2)
    assert first.confidence == pytest.approx(0.9)
    assert first.centroid_px == (102.0, 202.0)  # mean of pixel centres (101.5, 102.5)
    assert second.bbox_px == (105, 206, 109, 208)
    assert (second.cls, second.pixel_count, second.class_name) == (1, 8, "candidate")
    assert first.centroid_lonlat is None and first.footprint_lonlat is None
    assert first.alert_id == alert_id("scene", "fire", (101, 201, 103, 203))
    assert first.model == "fire_t@1.0.0"


def test_min_pixels_drops_small_objects() -> None:
    cls = np.zeros((8, 8), dtype=np.uint8)
    cls[0, 0] = 1
    cls[4:6, 4:6] = 1
    tile = make_tile(np.zeros((1, 8, 8)))
    alerts = objects_from_output(tile, _output(cls), _info(min_pixels=2))
    assert [a.pixel_count for a in alerts] == [4]


def test_invalid_pixels_are_never_part_of_an_object() -> None:
    cls = np.ones((6, 6), dtype=np.uint8)  # a careless output: everything detected
    valid = np.zeros((6, 6), dtype=bool)
    valid[1:3, 1:4] = True
    alerts = objects_from_output(make_tile(np.zeros((1, 6, 6)), valid), _output(cls), _info())
    assert [(a.bbox_px, a.pixel_count) for a in alerts] == [((1, 1, 4, 3), 6)]


def _blob_scene(seed: int, size: int = 40, cell: int = 5) -> np.ndarray:
    """Separate blobs of 1-3 px per side, one per 5 px cell (column/row 4 of a cell stays
    empty, so blobs never touch under 8-connectivity)."""
    rng = np.random.default_rng(seed)
    scene = np.zeros((size, size), dtype=np.uint8)
    for r in range(0, size, cell):
        for c in range(0, size, cell):
            if rng.uniform() < 0.6:
                h, w = rng.integers(1, 4, 2)
                dr, dc = rng.integers(0, 5 - max(h, w), 2) if max(h, w) < 4 else (0, 0)
                scene[r + dr : r + dr + h, c + dc : c + dc + w] = rng.integers(1, 3)
    return scene


def _tiles_over(scene: np.ndarray, size: int, overlap: int, own_core: bool) -> list[Tile]:
    """Tiles of ``size`` at stride ``size - overlap``; cores split each overlap in half."""
    n = scene.shape[0]
    stride = size - overlap
    starts = list(range(0, n - overlap, stride))
    tiles = []
    for r0 in starts:
        for c0 in starts:
            h, w = min(size, n - r0), min(size, n - c0)
            data = np.zeros((1, size, size), dtype=np.float32)
            valid = np.zeros((size, size), dtype=bool)
            data[0, :h, :w] = scene[r0 : r0 + h, c0 : c0 + w]
            valid[:h, :w] = True

            def core_span(s0: int, extent: int) -> tuple[int, int]:
                lo = s0 if s0 == 0 else s0 + overlap // 2
                hi = s0 + extent if s0 + extent >= n else s0 + extent - overlap // 2
                return lo, hi

            (cl, ch), (rl, rh) = core_span(c0, w), core_span(r0, h)
            core = (cl, rl, ch - cl, rh - rl) if own_core else (c0, r0, w, h)
            tiles.append(make_tile(data, valid, window=(c0, r0, w, h), core=core))
    return tiles


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_objects_in_overlaps_are_reported_once(seed: int) -> None:
    scene = _blob_scene(seed)
    labels, n = ndimage.label(scene > 0, structure=np.ones((3, 3)))
    truth = sorted(
        (s[1].start, s[0].start, s[1].stop, s[0].stop) for s in ndimage.find_objects(labels)
    )
    info = _info()
    alerts: list[Alert] = []
    for tile in _tiles_over(scene, size=24, overlap=8, own_core=True):
        out = _output(tile.data[0].astype(np.uint8))
        alerts += objects_from_output(tile, out, info)
    assert sorted(a.bbox_px for a in alerts) == truth
    assert len({a.alert_id for a in alerts}) == n
    # the same tiles owning their whole window duplicate objects in the overlaps
    dup: list[Alert] = []
    for tile in _tiles_over(scene, size=24, overlap=8, own_core=False):
        dup += objects_from_output(tile, _output(tile.data[0].astype(np.uint8)), info)
    assert len(dup) > n


def test_lonlat_matches_a_hand_computedutm_inverse() -> None:
    scene_t = Affine(30.0, 0.0, 499020.0, 0.0, -30.0, 4_500_000.0)  # UTM 33N, 30 m (Landsat)
    col_off, row_off = 512, 256
    cls = np.zeros((16, 16), dtype=np.uint8)
    cls[4:6, 7:10] = 2  # 2 rows x 3 cols
    tile = make_tile(
        np.zeros((1, 16, 16)),
        window=(col_off, row_off, 16, 16),
        transform=scene_t @ Affine.translation(col_off, row_off),
        crs=CRS.from_epsg(32633),
        capture_time=dt.datetime(2020, 8, 1, 10, 30, tzinfo=dt.UTC),
    )
    (alert,) = objects_from_output(tile, _output(cls), _info())
    assert alert.bbox_px == (519, 260, 522, 262)
    assert alert.centroid_px == (520.5, 261.0)
    e, n = scene_t @ alert.centroid_px
    lon, lat = utm_inverse(e, n, 33)
    assert alert.centroid_lonlat is not None and alert.footprint_lonlat is not None
    assert alert.centroid_lonlat[0] == pytest.approx(lon, abs=1e-7)  # ~1 cm
    assert alert.centroid_lonlat[1] == pytest.approx(lat, abs=1e-7)
    # 14.6 km east of zone 33's central meridian (15 E): 14.6 / (111.32 * cos 40.6) ~ 0.17 deg
    assert lon == pytest.approx(15.0 + 14.6355 / (111.32 * math.cos(math.radians(lat))), abs=2e-3)
    ring = alert.footprint_lonlat
    assert len(ring) == 5 and ring[0] == ring[-1]
    corners = [(519, 260), (519, 262), (522, 262), (522, 260)]  # NW, SW, SE, NE
    for (lo, la), (c, r) in zip(ring[:4], corners, strict=True):
        want = utm_inverse(*(scene_t @ (c, r)), 33)
        assert lo == pytest.approx(want[0], abs=1e-7) and la == pytest.approx(want[1], abs=1e-7)
    assert alert.capture_time == tile.capture_time


def test_footprint_ring_is_counter_clockwise_for_a_south_up_grid() -> None:
    south_up = Affine(0.001, 0.0, 10.0, 0.0, 0.001, 45.0)  # rows go north
    cls = np.zeros((8, 8), dtype=np.uint8)
    cls[2:5, 2:4] = 1
    tile = make_tile(np.zeros((1, 8, 8)), transform=south_up, crs=CRS.from_epsg(4326))
    (alert,) = objects_from_output(tile, _output(cls), _info())
    ring = alert.footprint_lonlat
    assert ring is not None
    area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))
    assert area > 0
    assert alert.centroid_lonlat == pytest.approx((10.003, 45.0035))


def test_ship_length_and_width_in_metres() -> None:
    cls = np.zeros((20, 20), dtype=np.uint8)
    cls[5:8, 2:12] = 1  # 3 x 10 px rectangle
    diag = np.zeros((20, 20), dtype=np.uint8)
    for i in range(10):
        diag[9 + i, 5 + i] = 1  # a 10-pixel diagonal line
    info = _info("ship")
    (rect,) = objects_from_output(
        make_tile(np.zeros((1, 20, 20)), pixel_size_m=10.0), _output(cls), info
    )
    assert rect.extra["length_m"] == pytest.approx(100.0)
    assert rect.extra["width_m"] == pytest.approx(30.0)
    assert rect.extra["area_m2"] == pytest.approx(3000.0)
    (line,) = objects_from_output(
        make_tile(np.zeros((1, 20, 20)), pixel_size_m=10.0), _output(diag), info
    )
    # points i*(1,1): variance along the diagonal 2*(n**2-1)/12, plus 1/12 for the pixel itself
    assert line.extra["length_m"] == pytest.approx(10.0 * math.sqrt(2 * 100 - 1))
    fire = objects_from_output(
        make_tile(np.zeros((1, 20, 20)), pixel_size_m=10.0), _output(cls), _info()
    )
    assert "length_m" not in fire[0].extra
