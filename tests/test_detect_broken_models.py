"""``edgeinfer detect`` with a broken models folder (audit 13a, D1 and D6): one junk ``.onnx``
beside good models is a warning naming the file while the good models still run (35 fire
alerts on the real Landsat-8 patch), a folder that does not exist is an error, a broken model
asked for by name is an error naming its file, and a scene that no detector fits is an error
rather than an empty GeoJSON with exit code 0."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from chaos_helpers import SAR
from cli_helpers import last_error_line
from conftest import shared_path

from edgeinfer.cli.main import main
from edgeinfer.detect import default_models_dir

LANDSAT_BANDS = "B1,B2,B3,B4,B5,B6,B7,B9,B10,B11"
PATCH_ALERTS = 35  # README / docs/detectors.md: the fire patch with a healthy install


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """main() configures logging (basicConfig(force=True)); undo it for later tests."""
    root, ours = logging.getLogger(), logging.getLogger("edgeinfer")
    saved = (root.handlers[:], root.level, ours.level)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    ours.setLevel(saved[2])


def _landsat_models_with_junk(tmp: Path) -> Path:
    """fire_landsat and cloud_landsat (signed), plus a junk fire_sentinel2.onnx."""
    folder = tmp / "models"
    folder.mkdir()
    for name in ("fire_landsat", "cloud_landsat"):
        for suffix in (".onnx", ".onnx.sig"):
            shutil.copy(default_models_dir() / f"{name}{suffix}", folder)
    (folder / "fire_sentinel2.onnx").write_text("junk\n")
    return folder


def _patch() -> str:
    return str(
        shared_path(
            "activefire_landsat8_single_patch_unlabeled",
            "LC08_L1TP_099069_20200827_20200827_01_RT_p00819.tif",
        )
    )


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    return last_error_line(capsys.readouterr().err)


def test_a_junk_model_beside_good_ones_warns_and_the_good_ones_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGEINFER_MODELS", str(_landsat_models_with_junk(tmp_path)))
    out = tmp_path / "a.geojson"
    argv = ["-q", "detect", _patch(), "--product", "landsat", "--bands", LANDSAT_BANDS]
    assert main([*argv, "-o", str(out), "--json", "--require-signature"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["detectors"] == {"cloud": "cloud_landsat@1.0.0", "fire": "fire_landsat@1.0.0"}
    assert summary["alerts"] == PATCH_ALERTS
    assert len(json.loads(out.read_text())["features"]) == PATCH_ALERTS
    warnings = [line for line in captured.err.splitlines() if "fire_sentinel2.onnx" in line]
    assert len(warnings) == 1 and warnings[0].startswith("WARNING")  # shown with -q
    assert "is not a readable ONNX model" in warnings[0]
    assert "edgeinfer models build" in warnings[0]


def test_asking_for_the_broken_model_by_name_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGEINFER_MODELS", str(_landsat_models_with_junk(tmp_path)))
    out = tmp_path / "a.geojson"
    argv = ["-q", "detect", _patch(), "--product", "landsat", "--bands", LANDSAT_BANDS]
    assert main([*argv, "-o", str(out), "--model", "fire_sentinel2"]) == 2
    msg = _error_line(capsys)
    assert "model fire_sentinel2 cannot be used" in msg and "fire_sentinel2.onnx" in msg
    assert "edgeinfer models build" in msg and not out.exists()


def test_a_models_folder_that_does_not_exist_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    absent = tmp_path / "nonexistent"
    monkeypatch.setenv("EDGEINFER_MODELS", str(absent))
    out = tmp_path / "a.geojson"
    assert main(["-q", "detect", SAR["path"], "-o", str(out)]) == 2
    msg = _error_line(capsys)
    assert f"models folder {absent} does not exist" in msg and "EDGEINFER_MODELS" in msg
    assert not out.exists()


def test_a_folder_of_only_junk_is_an_error_naming_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "ship_sar.onnx").write_text("junk\n")
    monkeypatch.setenv("EDGEINFER_MODELS", str(folder))
    out = tmp_path / "a.geojson"
    assert main(["-q", "detect", SAR["path"], "-o", str(out)]) == 2
    msg = _error_line(capsys)
    assert f"no models in {folder} (skipped broken model files ship_sar.onnx)" in msg
    assert not out.exists()


def test_a_scene_no_detector_fits_is_an_error_with_every_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --detectors, detect runs what fits; when nothing does (here a SAR scene and
    only Landsat models) that is a mistake in --bands/--product, not 0 alerts and exit 0."""
    monkeypatch.setenv("EDGEINFER_MODELS", str(_landsat_models_with_junk(tmp_path)))
    out, mask = tmp_path / "a.geojson", tmp_path / "m.tif"
    assert main(["-q", "detect", SAR["path"], "-o", str(out), "--mask-out", str(mask)]) == 2
    msg = _error_line(capsys)
    assert "no detector has a model that fits scene sar_sea (product sar, bands VV)" in msg
    assert "fire: fire_landsat (landsat; B1,B4,B5,B6,B7)" in msg
    assert "ship: none in" in msg and "cloud: cloud_landsat (landsat; B2,B3,B4,B5,B6,B7)" in msg
    assert "no fire model takes a sar scene; if the file is of another product" in msg
    assert "--bands" in msg and "--product" in msg
    assert "skipped broken model files fire_sentinel2.onnx" in msg
    assert len(msg) < 600  # one readable line, not every model's reasons three times over
    assert not out.exists() and not list(tmp_path.glob("m*.tif"))


def test_models_dir_option_chooses_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``detect --models-dir`` reads that folder, over ``EDGEINFER_MODELS`` (which here points
    nowhere): the Landsat models with a junk file run as through the variable above, and a
    missing folder is named in the error, as the error's own hint says."""
    folder = _landsat_models_with_junk(tmp_path)
    monkeypatch.setenv("EDGEINFER_MODELS", str(tmp_path / "nowhere"))
    out = tmp_path / "a.geojson"
    argv = ["-q", "detect", _patch(), "--product", "landsat", "--bands", LANDSAT_BANDS]
    assert main([*argv, "-o", str(out), "--json", "--models-dir", str(folder)]) == 0
    assert json.loads(capsys.readouterr().out)["alerts"] == PATCH_ALERTS
    absent = tmp_path / "absent"
    assert main([*argv, "-o", str(out), "--models-dir", str(absent)]) == 2
    msg = _error_line(capsys)
    assert f"models folder {absent} does not exist" in msg and "--models-dir" in msg
