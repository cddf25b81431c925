"""``edgeinfer detect --mask-out`` on real data: chips without georeference (Sentinel-1 PNG
chips, OpenSARShip chips) get a mask in pixel coordinates, a chip whose pixel size is unknown
fails before a mask file is created and names ``--pixel-size-m``, and each mask's legend is
its own model's classes."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import rasterio
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning

from edgeinfer.cli.main import main

FIRE_BANDS = "B1,B2,B3,B4,B5,B6,B7,B9,B10,B11"


def _legend_and_grid(path: Path) -> tuple[str, Any, Affine]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # reading a no-CRS mask
        with rasterio.open(path) as ds:
            return ds.tags()["EDGEINFER_CLASSES"], ds.crs, ds.transform


def test_mask_of_a_png_boat_chip_without_georeference(
    shared: Any, tmp_path: Path, capsys: Any
) -> None:
    boats = shared.path("sar_sentinel1_vv_chips_sea_boat_windmill", "boats")
    chip = sorted(boats.glob("*.png"))[0]
    mask = tmp_path / "boat.tif"
    argv = ["-q", "detect", str(chip), "--pixel-size-m", "10", "--detectors", "ship"]
    assert main([*argv, "--mask-out", str(mask), "-o", str(tmp_path / "a.geojson")]) == 0
    legend, crs, transform = _legend_and_grid(mask)
    assert crs is None and transform == Affine.identity()
    assert legend == "0=none,1=candidate (not produced),2=ship,255=invalid"  # ship_sar's
    assert "Traceback" not in capsys.readouterr().err


def test_mask_of_an_opensarship_chip(shared: Any, tmp_path: Path) -> None:
    chips = shared.path("ships_sar_sentinel1_opensarship_grd_cal", "chips")
    chip = sorted(chips.glob("*.tif"))[0]
    mask = tmp_path / "o.tif"
    argv = ["-q", "detect", str(chip), "--pixel-size-m", "10", "--bands", "VH,VV"]
    assert main([*argv, "-d", "ship", "--mask-out", str(mask), "-o", str(tmp_path / "o.json")]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # neither has a georeference
        with rasterio.open(chip) as src, rasterio.open(mask) as ds:
            assert (ds.width, ds.height) == (src.width, src.height) and ds.crs is None


def test_no_pixel_size_names_the_option_and_leaves_no_mask(
    shared: Any, tmp_path: Path, capsys: Any
) -> None:
    rotated = shared.path("ingestion_rasterio_testdata", "rotated.tif")
    argv = ["-q", "detect", str(rotated), "-o", str(tmp_path / "r.geojson")]
    assert main([*argv, "--mask-out", str(tmp_path / "r.tif")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("edgeinfer: error: model ship_sar needs the pixel size")
    assert "--pixel-size-m" in err[-1]
    assert list(tmp_path.iterdir()) == []  # no all-255 mask, no alerts file
    assert main([*argv, "--pixel-size-m", "10", "--mask-out", str(tmp_path / "r.tif")]) == 0


def test_each_mask_carries_its_own_models_classes(shared: Any, tmp_path: Path) -> None:
    patch = shared.path(
        "activefire_landsat8_single_patch_unlabeled",
        "LC08_L1TP_099069_20200827_20200827_01_RT_p00819.tif",
    )
    argv = ["-q", "detect", str(patch), "--bands", FIRE_BANDS, "-d", "fire,cloud"]
    assert main([*argv, "--mask-out", str(tmp_path / "m.tif"), "-o", str(tmp_path / "a.json")]) == 0
    fire, fire_crs, _ = _legend_and_grid(tmp_path / "m_fire.tif")
    cloud, cloud_crs, _ = _legend_and_grid(tmp_path / "m_cloud.tif")
    assert fire == "0=none,1=candidate,2=unambiguous,255=invalid"
    assert cloud == "0=clear,1=cloud,255=invalid"
    assert fire_crs == cloud_crs == rasterio.crs.CRS.from_epsg(32654)


def test_one_mask_path_is_used_as_given_when_one_detector_fits(shared: Any, tmp_path: Path) -> None:
    """Without ``--detectors`` only the ship detector fits a SAR chip: ``--mask-out m.tif``
    writes ``m.tif`` itself, not ``m_ship.tif`` (and no file for the detectors that did not
    run)."""
    boats = shared.path("sar_sentinel1_vv_chips_sea_boat_windmill", "boats")
    chip = sorted(boats.glob("*.png"))[0]
    argv = ["-q", "detect", str(chip), "--pixel-size-m", "10", "-o", str(tmp_path / "a.json")]
    assert main([*argv, "--mask-out", str(tmp_path / "m.tif")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "m.tif"]
    legend, _, _ = _legend_and_grid(tmp_path / "m.tif")
    assert legend == "0=none,1=candidate (not produced),2=ship,255=invalid"
