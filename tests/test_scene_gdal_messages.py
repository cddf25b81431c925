"""Known benign GDAL messages are counted instead of printed; every other one still shows."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import shared_path
from rasterio.errors import NotGeoreferencedWarning

from edgeinfer.scene import open_scene
from edgeinfer.scene.gdal_messages import TIFF_NO_EXTRASAMPLES, counting_gdal_message

CHIP = "S1A_GRDH_20150823T221233_007396__Cargo_x10661_y11170.tif"  # dual-pol, MATLAB TIFF


def read_chip() -> np.ndarray:
    path = shared_path("ships_sar_sentinel1_opensarship_grd_cal", "chips", CHIP)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the chips have no georef
        with rasterio.open(path) as ds:
            return ds.read()


def test_the_known_tiff_warning_is_counted_per_file_and_not_printed(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with counting_gdal_message(TIFF_NO_EXTRASAMPLES) as seen:
        first = read_chip()
        read_chip()
    assert seen.count >= 2 and seen.files == {CHIP}  # GDAL warns on opening and on reading
    assert "TIFFReadDirectory" not in capfd.readouterr().err  # no "Warning 1:" from GDAL
    assert "TIFFReadDirectory" not in caplog.text
    assert first.shape == (2, 77, 77) and np.isfinite(first).all()
    caplog.clear()
    read_chip()  # outside the block the message is GDAL's and rasterio's again
    assert "TIFFReadDirectory" in caplog.text + capfd.readouterr().err


def test_other_gdal_warnings_still_show(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    profile = {"driver": "GTiff", "width": 4, "height": 4, "count": 1, "dtype": "uint8"}
    with counting_gdal_message(TIFF_NO_EXTRASAMPLES) as seen, warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # no transform: not the point
        with rasterio.open(tmp_path / "x.tif", "w", foo="bar", **profile) as dst:
            dst.write(np.zeros((1, 4, 4), np.uint8))
    assert seen.count == 0
    assert "does not support creation option FOO" in caplog.text


def test_open_scene_shows_a_files_gdal_warning_once(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """libtiff warns each time the chip's directory is read while the scene is opened (at
    open, then without the file name on a metadata read): one WARNING, no raw
    ``Warning 1:`` line on stderr."""
    caplog.set_level(logging.WARNING)
    path = shared_path("ships_sar_sentinel1_opensarship_grd_cal", "chips", CHIP)
    with open_scene(path, bands="VH,VV", pixel_size_m=10.0) as scene:
        assert scene.band_names == ("VH", "VV")
    shown = [r for r in caplog.records if "TIFFReadDirectory" in r.getMessage()]
    assert len(shown) == 1 and CHIP in shown[0].getMessage()
    assert "TIFFReadDirectory" not in capfd.readouterr().err
