"""The --mask-out writer: a uint8 GeoTIFF on the scene's grid, written tile core by core."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from bad_scenes import no_crs
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning

from edgeinfer.errors import ConfigError
from edgeinfer.scene import ClassMaskWriter, iter_tiles, open_scene
from edgeinfer.scene.writers import mask_classes


def _scene_file(path: Path) -> Path:
    data = np.full((1, 300, 420), 500, dtype=np.uint16)
    data[0, 5:9, 7:11] = 0  # nodata block
    profile = {
        "driver": "GTiff",
        "width": 420,
        "height": 300,
        "count": 1,
        "dtype": "uint16",
        "crs": CRS.from_epsg(32618),
        "transform": Affine(10, 0, 5e5, 0, -10, 4e6),
        "nodata": 0,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def test_mask_lands_on_the_scene_grid(tmp_path: Path) -> None:
    out = tmp_path / "out" / "fire_mask.tif"
    with open_scene(_scene_file(tmp_path / "s.tif")) as scene:
        tiles = list(iter_tiles(scene, tile_size=128, overlap=16))
        with ClassMaskWriter(out, scene, detector="fire") as writer:
            for i, tile in enumerate(tiles):
                if i == 1:
                    continue  # e.g. dropped by the cloud screen: stays 255
                classes = np.zeros((128, 128), dtype=np.uint8)
                # scene-frame pattern: class = (scene row + scene col) % 3
                r = np.arange(128)[:, None] + int(tile.window.row_off)
                c = np.arange(128)[None, :] + int(tile.window.col_off)
                classes[:] = (r + c) % 3
                writer.write_tile(tile, classes)
    with rasterio.open(out) as ds:
        assert ds.transform == scene.transform and ds.crs == scene.crs
        assert (ds.width, ds.height, ds.count, ds.dtypes[0]) == (420, 300, 1, "uint8")
        assert ds.compression is not None and ds.compression.value.lower() == "deflate"
        assert ds.block_shapes[0] == (256, 256)
        assert ds.tags()["EDGEINFER_DETECTOR"] == "fire"
        mask = ds.read(1)
    rows, cols = np.mgrid[0:300, 0:420]
    expected = ((rows + cols) % 3).astype(np.uint8)
    expected[5:9, 7:11] = 255  # invalid pixels of the scene
    skipped = tiles[1].core
    sr, sc = int(skipped.row_off), int(skipped.col_off)
    expected[sr : sr + int(skipped.height), sc : sc + int(skipped.width)] = 255
    np.testing.assert_array_equal(mask, expected)


def test_bad_shapes_and_fill_are_config_errors(tmp_path: Path) -> None:
    with open_scene(_scene_file(tmp_path / "s.tif")) as scene:
        tile = next(iter(iter_tiles(scene, tile_size=64)))
        with pytest.raises(ConfigError, match="fill"):
            ClassMaskWriter(tmp_path / "m.tif", scene, fill=7)
        with ClassMaskWriter(tmp_path / "m.tif", scene, fill=0) as writer:
            with pytest.raises(ConfigError, match="shape"):
                writer.write_tile(tile, np.zeros((10, 10), np.uint8))
            writer.write_tile(tile, np.ones((1, 64, 64), np.uint8))
    with rasterio.open(tmp_path / "m.tif") as ds:
        mask = ds.read(1)
    assert (mask[64:, 64:] == 0).all()  # fill 0 where no tile wrote
    assert (mask[:64, :64][tile.valid] == 1).all()


def test_mask_of_a_chip_without_georeference_is_written_in_pixel_coordinates(
    tmp_path: Path,
) -> None:
    # smaller than a block AND without transform: this raised KeyError('transform')
    chip = no_crs(tmp_path / "chip.tif", width=40, height=30)  # smaller than a block
    with open_scene(chip, pixel_size_m=10.0) as sc:
        assert sc.transform is None and sc.crs is None
        tile = next(iter(iter_tiles(sc, tile_size=64)))
        with ClassMaskWriter(tmp_path / "m.tif", sc, detector="ship") as writer:
            writer.write_tile(tile, np.full((64, 64), 2, np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # expected on reading it back
        with rasterio.open(tmp_path / "m.tif") as ds:
            assert ds.crs is None and ds.transform == Affine.identity()
            assert (ds.width, ds.height) == (40, 30)
            mask = ds.read(1)
    assert (mask == 2).all()


def test_the_legend_is_the_models_classes_plus_invalid(tmp_path: Path) -> None:
    with open_scene(_scene_file(tmp_path / "s.tif")) as scene:
        with ClassMaskWriter(
            tmp_path / "cloud.tif", scene, classes={"0": "clear", "1": "cloud"}
        ) as writer:
            assert writer.classes == {0: "clear", 1: "cloud", 255: "invalid"}
        with ClassMaskWriter(tmp_path / "fire.tif", scene):  # default: the fire classes
            pass
        with pytest.raises(ConfigError, match="fill"):  # 2 is not a cloud class
            ClassMaskWriter(tmp_path / "x.tif", scene, fill=2, classes={"0": "a", "1": "b"})
    with rasterio.open(tmp_path / "cloud.tif") as ds:
        assert ds.tags()["EDGEINFER_CLASSES"] == "0=clear,1=cloud,255=invalid"
    with rasterio.open(tmp_path / "fire.tif") as ds:
        assert ds.tags()["EDGEINFER_CLASSES"] == "0=none,1=candidate,2=unambiguous,255=invalid"
    assert mask_classes({"2": "ship", "0": "none"}) == {0: "none", 2: "ship", 255: "invalid"}
    with pytest.raises(ConfigError, match="255 is reserved"):
        mask_classes({"255": "mine"})
