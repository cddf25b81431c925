"""Bad input at the command line: each mistake is ONE line on stderr naming the thing and the
fix, with exit code 2 and no traceback, for ``edgeinfer run`` (bad TLE lines, invalid TOML,
missing, malformed, unsigned, tampered and contract-breaking models) and ``edgeinfer detect``
(missing and corrupt rasters, a model that does not fit the scene's bands, e.g. a real
burned-area chip without B11)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import onnx
import pytest
from bad_scenes import garbage
from chaos_helpers import SAR
from cli_helpers import last_error_line

from edgeinfer.cli.main import main
from edgeinfer.detect import default_models_dir
from edgeinfer.detect.signing import dev_private_key_path, load_private_key, sign_model
from edgeinfer.mission import sample_mission_path

TLE = sample_mission_path().parent / "sso4.tle"


def _one_line_error(argv: list[str], capsys: Any) -> str:
    """Run the CLI (-q: warnings only); the error must be one last line, no traceback."""
    assert main(["-q", *argv]) == 2
    return last_error_line(capsys.readouterr().err)


def _mission(tmp: Path, constellation: str, detection: str = "") -> Path:
    text = (
        '[mission]\nstart = "2023-10-25T00:00:00Z"\nduration_h = 1.0\n'
        f"[constellation]\n{constellation}\nswath_km = 290.0\n"
        '[[ground_stations]]\nname = "Svalbard"\n'
        f'[[scenes]]\npath = "{SAR["path"]}"\nproduct = "sar"\n'
        f"[detection]\n{detection}\n"
    )
    path = tmp / "m.toml"
    path.write_text(text)
    return path


SSO = "kind = 'sso'\nn_satellites = 2\naltitude_km = 786.0"


def test_a_bad_tle_line(tmp_path: Path, capsys: Any) -> None:
    lines = TLE.read_text().splitlines()
    lines[1] = lines[1][:-1] + str((int(lines[1][-1]) + 1) % 10)  # wrong checksum digit
    bad = tmp_path / "bad.tle"
    bad.write_text("\n".join(lines) + "\n")
    mission = _mission(tmp_path, f"kind = 'tle'\ntle_file = '{bad}'")
    assert main(["-q", "run", str(mission)]) == 2
    err = capsys.readouterr().err
    first = next(line for line in err.splitlines() if line.startswith("edgeinfer: error: "))
    # one line names the file, the line and the fix; the orbit package then prints the bad
    # line over the TLE template, as sgp4 does (STYLE.md)
    assert "bad.tle:2: bad TLE line 1: checksum is" in first and "fix the line" in first
    assert lines[1] in err and "Traceback" not in err


def test_an_unknown_satellite_fails_before_any_scene_and_names_the_mission(
    tmp_path: Path, capsys: Any
) -> None:
    mission = _mission(tmp_path, f"kind = 'tle'\ntle_file = '{TLE}'\nsatellites = ['SSO-9']")
    assert main(["run", str(mission)]) == 2  # not -q: the scene's INFO line would show
    err = capsys.readouterr().err
    assert "opened RasterScene" not in err  # the constellation is built first
    msg = last_error_line(err)
    assert f"{mission}: constellation: unknown satellite" in msg and "SSO-9" in msg


def test_invalid_mission_toml(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[mission]\nstart = "2023-10-25T00:00:00Z"\nduration_h = [\n')
    msg = _one_line_error(["run", str(path)], capsys)
    assert "broken.toml is not valid TOML" in msg


def test_a_models_folder_without_models(tmp_path: Path, capsys: Any) -> None:
    empty = tmp_path / "models"
    empty.mkdir()
    mission = _mission(tmp_path, SSO, f"models_dir = '{empty}'")
    msg = _one_line_error(["run", str(mission)], capsys)
    assert f"no models in {empty}" in msg and "edgeinfer models build" in msg


def test_an_unknown_model_name_in_detection_models(tmp_path: Path, capsys: Any) -> None:
    mission = _mission(tmp_path, SSO, "models = ['ship_optical_unoin']")
    msg = _one_line_error(["run", str(mission)], capsys)
    assert "unknown model 'ship_optical_unoin'" in msg and "ship_optical_union" in msg


def _models(tmp: Path) -> Path:
    folder = tmp / "models"
    folder.mkdir()
    for suffix in (".onnx", ".onnx.sig"):
        shutil.copy(default_models_dir() / f"ship_sar_vv{suffix}", folder)
    return folder


def test_a_malformed_model(tmp_path: Path, capsys: Any) -> None:
    folder = _models(tmp_path)
    garbage(folder / "junk.onnx")
    msg = _one_line_error(["run", str(_mission(tmp_path, SSO, f"models_dir = '{folder}'"))], capsys)
    assert "junk.onnx is not a readable ONNX model" in msg and "edgeinfer models build" in msg


def test_an_unsigned_model(tmp_path: Path, capsys: Any) -> None:
    folder = _models(tmp_path)
    (folder / "ship_sar_vv.onnx.sig").unlink()
    msg = _one_line_error(["run", str(_mission(tmp_path, SSO, f"models_dir = '{folder}'"))], capsys)
    assert "ship_sar_vv.onnx has no signature" in msg and "edgeinfer models sign" in msg


def test_a_model_changed_after_signing(tmp_path: Path, capsys: Any) -> None:
    folder = _models(tmp_path)
    model = onnx.load(folder / "ship_sar_vv.onnx")
    model.doc_string = "edited by hand"
    onnx.save(model, folder / "ship_sar_vv.onnx")
    msg = _one_line_error(["run", str(_mission(tmp_path, SSO, f"models_dir = '{folder}'"))], capsys)
    assert "bad signature" in msg and "edgeinfer models sign" in msg


def test_a_model_whose_inputs_break_its_metadata(tmp_path: Path, capsys: Any) -> None:
    folder = _models(tmp_path)
    model = onnx.load(folder / "ship_sar_vv.onnx")
    for prop in model.metadata_props:
        if prop.key == "edgeinfer.bands":
            prop.value = '["VV", "VH"]'
        if prop.key == "edgeinfer.units":
            prop.value = '["sigma0", "sigma0"]'
    onnx.save(model, folder / "ship_sar_vv.onnx")
    sign_model(folder / "ship_sar_vv.onnx", load_private_key(dev_private_key_path()))
    msg = _one_line_error(["run", str(_mission(tmp_path, SSO, f"models_dir = '{folder}'"))], capsys)
    assert "input 'x' has 1 at axis 1, metadata and contract need 2" in msg


def test_detect_a_missing_scene(tmp_path: Path, capsys: Any) -> None:
    msg = _one_line_error(["detect", str(tmp_path / "nope.tif")], capsys)
    assert "nope.tif does not exist; check the path" in msg


def test_detect_a_corrupt_scene(tmp_path: Path, capsys: Any) -> None:
    msg = _one_line_error(["detect", str(garbage(tmp_path / "junk.tif"))], capsys)
    assert "cannot open" in msg and "junk.tif" in msg


def test_detect_a_model_that_does_not_fit_the_bands(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "a.geojson"
    argv = ["detect", SAR["path"], "--detectors", "fire", "--output", str(out)]
    msg = _one_line_error(argv, capsys)
    assert "no fire model fits the scene (product sar, bands VV)" in msg
    assert "--bands" in msg and not out.exists()


@pytest.mark.parametrize("flag", ["--tile", "--overlap"])
def test_detect_bad_tiling(flag: str, tmp_path: Path, capsys: Any) -> None:
    value = "0" if flag == "--tile" else "9999"
    msg = _one_line_error(["detect", SAR["path"], flag, value], capsys)
    assert "tile" in msg.lower() or "overlap" in msg.lower()


def test_detect_refuses_a_changed_model_only_when_asked(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _models(tmp_path)
    model = onnx.load(folder / "ship_sar_vv.onnx")
    model.doc_string = "edited by hand"
    onnx.save(model, folder / "ship_sar_vv.onnx")
    monkeypatch.setenv("EDGEINFER_MODELS", str(folder))
    out = tmp_path / "a.geojson"
    argv = ["detect", SAR["path"], "--output", str(out)]
    assert main(["-q", *argv]) == 0 and out.exists()  # no check asked: the edit runs
    out.unlink()
    msg = _one_line_error([*argv, "--require-signature"], capsys)
    assert "ship_sar_vv.onnx" in msg and "bad signature" in msg and not out.exists()


def test_detect_bad_lanes_name_the_option(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "a.geojson"
    msg = _one_line_error(["detect", SAR["path"], "--lanes", "0", "--output", str(out)], capsys)
    assert "lanes = 0" in msg and "leave it out" in msg and not out.exists()


def test_detect_reports_its_lanes(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "a.geojson"
    argv = ["detect", SAR["path"], "--output", str(out), "--threads", "2", "--json"]
    assert main(["-q", *argv, "--lanes", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["lanes"], summary["threads_per_lane"]) == (2, 1)
    assert main(["-q", *argv, "--lanes", "1"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert (one["lanes"], one["threads_per_lane"]) == (1, 2)
    assert one["alerts"] == summary["alerts"] and one["tiles_inferred"] == summary["tiles_inferred"]


def test_detect_batch_option_reports_and_checks_it(tmp_path: Path, capsys: Any) -> None:
    """``--batch`` sets the tiles per session.run (default 1 on CPU), the summary says which
    ran, the alerts do not change, and 0 is refused by name before anything is written."""
    out = tmp_path / "a.geojson"
    argv = ["detect", SAR["path"], "--output", str(out), "--json"]
    assert main(["-q", *argv]) == 0
    default = json.loads(capsys.readouterr().out)
    assert main(["-q", *argv, "--batch", "3"]) == 0
    three = json.loads(capsys.readouterr().out)
    assert (default["batch_size"], three["batch_size"]) == (1, 3)
    assert default["alerts"] == three["alerts"] and default["alerts"] > 0
    out.unlink()
    msg = _one_line_error(["detect", SAR["path"], "--batch", "0", "--output", str(out)], capsys)
    assert "batch_size = 0" in msg and "leave it out" in msg and not out.exists()


def test_a_failed_run_leaves_no_state_folder_behind(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ``execution.state_dir`` a run keeps its onboard queues and ground database in
    a temporary folder; a run refused for its models (checked after that folder is made)
    removes it as a finished run does."""
    import tempfile

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    empty = tmp_path / "models"
    empty.mkdir()
    _one_line_error(["run", str(_mission(tmp_path, SSO, f"models_dir = '{empty}'"))], capsys)
    assert list(temp.iterdir()) == []


def test_detect_fire_on_a_real_burn_scar_chip_without_b11(shared: Any, capsys: Any) -> None:
    """The CAL FIRE burned-area chips carry TCI_R/G/B, B8 and B12 only (their README), so
    ``fire_sentinel2`` (Liu's TAI needs B11 and B8A) cannot run on them: detect must say so
    and name the missing bands, not guess B11 or read TCI as reflectance."""
    chip = shared.path("burned_area_sentinel2_calfire", "post_fire", "APACHE_20240624.tif")
    argv = ["detect", str(chip), "--product", "sentinel2", "--detectors", "fire"]
    msg = _one_line_error(argv, capsys)
    assert "bands TCI_R,TCI_G,TCI_B,B8,B12" in msg
    assert "fire_sentinel2 needs bands B8A,B11,B12 (missing B8A,B11)" in msg
    assert "e.g. --bands B8A,B11,B12)" in msg  # the example is a Sentinel-2 model's
