"""Tiling maths (hypothesis) and streaming tiles read from a generated GeoTIFF; pixel <->
lon/lat round trips for north-up and rotated UTM grids."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS
from rasterio.windows import Window

from edgeinfer.errors import BandError, ConfigError, SceneError
from edgeinfer.scene import Scene, Tile, core_slices, iter_tiles, open_scene, tile_windows
from edgeinfer.scene.bands import Band
from edgeinfer.scene.geo import lonlat_to_pixel, pixel_to_lonlat

sizes = st.integers(min_value=1, max_value=200)


@st.composite
def tilings(draw: st.DrawFn) -> tuple[int, int, int, int]:
    tile = draw(st.integers(min_value=1, max_value=128))
    overlap = draw(st.integers(min_value=0, max_value=tile - 1))
    return draw(sizes), draw(sizes), tile, overlap


@settings(max_examples=100, deadline=None)
@given(tilings())
def test_cores_cover_every_pixel_exactly_once(case: tuple[int, int, int, int]) -> None:
    width, height, tile, overlap = case
    owners = np.zeros((height, width), dtype=np.int32)
    for _window, core in tile_windows(width, height, tile, overlap):
        owners[core.row_off : core.row_off + core.height,
               core.col_off : core.col_off + core.width] += 1  # fmt: skip
    assert (owners == 1).all()


@settings(max_examples=100, deadline=None)
@given(tilings())
def test_windows_in_bounds_and_overlap_as_asked(case: tuple[int, int, int, int]) -> None:
    width, height, tile, overlap = case
    pairs = tile_windows(width, height, tile, overlap)
    stride = tile - overlap
    col_starts = sorted({int(w.col_off) for w, _ in pairs})
    row_starts = sorted({int(w.row_off) for w, _ in pairs})
    for window, core in pairs:
        assert window.col_off >= 0 and window.col_off + window.width <= width
        assert window.row_off >= 0 and window.row_off + window.height <= height
        assert 0 < window.width <= tile and 0 < window.height <= tile
        assert window.col_off % stride == 0 and window.row_off % stride == 0
        # core inside window, non-empty
        assert window.col_off <= core.col_off and core.width > 0
        assert core.col_off + core.width <= window.col_off + window.width
        assert window.row_off <= core.row_off and core.height > 0
        assert core.row_off + core.height <= window.row_off + window.height
    widths = {int(w.col_off): int(w.width) for w, _ in pairs}
    for a, b in itertools.pairwise(col_starts):
        assert a + widths[a] - b == overlap  # neighbours share exactly `overlap` columns
    heights = {int(w.row_off): int(w.height) for w, _ in pairs}
    for a, b in itertools.pairwise(row_starts):
        assert a + heights[a] - b == overlap
    # the last window reaches the scene edge
    assert col_starts[-1] + widths[col_starts[-1]] == width


@pytest.mark.parametrize(
    ("tile", "overlap", "option"),
    [
        (0, 0, "tile_size"),
        (-4, 0, "tile_size"),
        (64, 64, "overlap"),
        (64, 80, "overlap"),
        (64, -1, "overlap"),
        (32.5, 0, "tile_size"),
    ],
)
def test_bad_tiling_options_name_the_option(tile: int, overlap: int, option: str) -> None:
    with pytest.raises(ConfigError, match=option):
        tile_windows(100, 100, tile, overlap)


def _write(path: Path, data: np.ndarray, transform: Affine, nodata: float | None = None) -> None:
    count, height, width = data.shape
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": data.dtype.name,
        "crs": CRS.from_epsg(32633),
        "transform": transform,
        "tiled": True,
        "blockxsize": 64,
        "blockysize": 64,
        "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)


def test_tiles_match_the_file_and_pad_invalid(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    data = rng.integers(1, 1000, size=(2, 150, 200), dtype=np.uint16)
    data[:, 10, 20] = 0
    transform = Affine(10.0, 0, 400000.0, 0, -10.0, 5000000.0)
    path = tmp_path / "s.tif"
    _write(path, data, transform, nodata=0)
    with open_scene(path, bands="VV,VH") as scene:
        tiles = list(iter_tiles(scene, tile_size=64, overlap=8))
        sub = list(iter_tiles(scene, tile_size=64, bands=["VH"]))
        with pytest.raises(BandError, match="HH"):
            next(iter(iter_tiles(scene, tile_size=64, bands=["HH"])))
    owned = np.zeros((150, 200), dtype=np.int32)
    for t in tiles:
        assert t.data.shape == (2, 64, 64) and t.valid.shape == (64, 64)
        assert t.tile_id == f"r{int(t.window.row_off)}_c{int(t.window.col_off)}"
        assert t.crs == scene.crs and t.scene_id == scene.scene_id
        assert t.pixel_size_m == pytest.approx(10.0, rel=5e-4)  # ground m, UTM scale
        r, c = int(t.window.row_off), int(t.window.col_off)
        h, w = int(t.window.height), int(t.window.width)
        np.testing.assert_array_equal(t.data[:, :h, :w], data[:, r : r + h, c : c + w])
        assert not t.valid[h:, :].any() and not t.valid[:, w:].any()  # padding
        assert (t.data[:, h:, :] == 0).all() and (t.data[:, :, w:] == 0).all()
        assert t.transform == transform @ Affine.translation(c, r)
        rows, cols = core_slices(t)
        cr, cc = int(t.core.row_off), int(t.core.col_off)
        core_truth = data[0, cr : cr + int(t.core.height), cc : cc + int(t.core.width)] != 0
        np.testing.assert_array_equal(t.valid[rows, cols], core_truth)
        owned[cr : cr + int(t.core.height), cc : cc + int(t.core.width)] += 1
    assert (owned == 1).all()
    assert all(t.band_names == ("VH",) and t.data.shape == (1, 64, 64) for t in sub)


class _FlakyScene(Scene):
    """An in-memory scene whose second window is unreadable."""

    def __init__(self) -> None:
        self.scene_id, self.product, self.source = "flaky", "geotiff", "memory"
        self.width, self.height = 40, 20
        self.bands = (Band("B1"),)
        self.crs, self.transform, self.capture_time, self.pixel_size_m = None, None, None, None
        self.meta = {}

    def read(self, window: Window, band_names: tuple[str, ...] | None = None):  # type: ignore[override]
        if window.col_off > 0:
            raise SceneError("memory: damaged block")
        return np.ones((1, 32, 32), np.float32), np.ones((32, 32), bool)


def test_unreadable_tile_raises_or_becomes_invalid() -> None:
    with pytest.raises(SceneError, match="damaged"):
        list(iter_tiles(_FlakyScene(), tile_size=32))
    tiles: list[Tile] = list(iter_tiles(_FlakyScene(), tile_size=32, on_error="invalid"))
    assert [t.valid.any() for t in tiles] == [True, False]
    assert "damaged" in tiles[1].meta["error"]


utm_xy = st.tuples(st.floats(300000, 700000), st.floats(1000000, 6000000))


@settings(max_examples=60, deadline=None)
@given(
    origin=utm_xy,
    pixel=st.floats(0.5, 500.0),
    angle=st.floats(-45.0, 45.0),
    cols=st.lists(st.floats(0, 5000), min_size=1, max_size=5),
)
def test_pixel_lonlat_round_trip_utm_and_rotated(
    origin: tuple[float, float], pixel: float, angle: float, cols: list[float]
) -> None:
    transform = Affine.translation(*origin) @ Affine.rotation(angle) @ Affine.scale(pixel, -pixel)
    crs = CRS.from_epsg(32633)
    c = np.array(cols)
    r = c[::-1].copy()
    lon, lat = pixel_to_lonlat(transform, crs, c, r)
    assert np.all(np.abs(lat) < 90)
    c2, r2 = lonlat_to_pixel(transform, crs, lon, lat)
    # round trip within a millimetre on the ground
    np.testing.assert_allclose(c2 * pixel, c * pixel, atol=1e-3)
    np.testing.assert_allclose(r2 * pixel, r * pixel, atol=1e-3)


def test_scene_round_trip_on_a_rotated_utm_file(tmp_path: Path) -> None:
    transform = Affine.translation(500000, 4000000) @ Affine.rotation(20) @ Affine.scale(30, -30)
    path = tmp_path / "rot.tif"
    _write(path, np.ones((1, 50, 80), dtype=np.uint16), transform)
    with open_scene(path) as scene:
        assert scene.transform == transform
        assert scene.pixel_size_m == pytest.approx(30.0, rel=5e-4)  # ground m, UTM scale
        cols, rows = np.array([0.5, 40.0, 79.5]), np.array([0.5, 25.0, 49.5])
        lon, lat = scene.pixel_to_lonlat(cols, rows)
        c2, r2 = scene.lonlat_to_pixel(lon, lat)
        ring = scene.footprint_lonlat()
    np.testing.assert_allclose(c2, cols, atol=1e-6)
    np.testing.assert_allclose(r2, rows, atol=1e-6)
    assert len(ring) == 4
