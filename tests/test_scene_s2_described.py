"""Auto mode reads a single-file stack whose band descriptions are all Sentinel-2 band names
(B01..B12, B8A) as product ``sentinel2``, exactly as ``product="sentinel2"`` does; other
stacks keep their product."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from edgeinfer.scene import open_scene

S2 = ("B02", "B03", "B04", "B08", "B11")


def _write(path: Path, names: tuple[str, ...]) -> None:
    data = np.arange(len(names) * 8 * 8, dtype=np.uint16).reshape(len(names), 8, 8) + 1000
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": 8,
        "height": 8,
        "count": len(names),
        "dtype": "uint16",
        "crs": "EPSG:32611",
        "transform": Affine(10, 0, 300000, 0, -10, 3800000),
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
        ds.descriptions = names


def _read(path: Path, product: str) -> tuple[str, list[str], np.ndarray]:
    with open_scene(path, product=product) as scene:
        data, _ = scene.read(Window(0, 0, 8, 8))
        return scene.product, list(scene.band_names), data


@pytest.mark.parametrize("names", [S2, ("B8A", "B12"), ("B01", "B09", "B10")])
def test_sentinel2_band_names_read_as_sentinel2(tmp_path: Path, names: tuple[str, ...]) -> None:
    _write(tmp_path / "s2.tif", names)
    product, bands, data = _read(tmp_path / "s2.tif", "auto")
    explicit = _read(tmp_path / "s2.tif", "sentinel2")
    assert (product, bands) == ("sentinel2", list(names)) == explicit[:2]
    np.testing.assert_array_equal(data, explicit[2])  # the same DN x 1e-4 reflectance
    assert float(data.max()) < 1.0


@pytest.mark.parametrize(
    "names",
    [
        ("B2", "B3", "B4", "B5"),  # Landsat's names are not zero-padded
        ("TCI_R", "TCI_G", "TCI_B", "B8", "B12"),  # the CAL FIRE chips' mix
        ("B02", "B03", "NDVI"),
        ("B08",),  # one band: not a stack
    ],
)
def test_other_band_names_stay_geotiff(tmp_path: Path, names: tuple[str, ...]) -> None:
    _write(tmp_path / "other.tif", names)
    product, bands, data = _read(tmp_path / "other.tif", "auto")
    assert (product, bands) == ("geotiff", list(names))
    assert float(data.min()) >= 1000.0  # DN, unscaled


def test_real_stacks(shared: Any) -> None:
    s2 = shared.path("ships_optical_sentinel2_sen2ships", "images", "algiers_20230817.tif")
    with open_scene(s2) as scene:
        assert scene.product == "sentinel2" and scene.band_names == S2
    fire = shared.path("burned_area_sentinel2_calfire", "post_fire", "APACHE_20240624.tif")
    with open_scene(fire) as scene:
        assert scene.product == "geotiff"


def test_detect_runs_the_ship_model_without_product(shared: Any, tmp_path: Path) -> None:
    """The audit's run: no --product on a sen2ships window gave "detectors none"; it now
    gives the 7 ship alerts of --product sentinel2."""
    pytest.importorskip("onnxruntime")
    from typer.testing import CliRunner

    from edgeinfer.cli.main import app

    path = shared.path("ships_optical_sentinel2_sen2ships", "images", "algiers_20230817.tif")
    out = tmp_path / "a.geojson"
    result = CliRunner().invoke(app, ["detect", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    features = json.loads(out.read_text())["features"]
    assert [f["properties"]["detector"] for f in features] == ["ship"] * 7
