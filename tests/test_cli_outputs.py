"""Output paths of ``detect``, ``eval`` and ``bench`` (``-o``, ``--mask-out``, ``--json``,
``--plot``): a folder or an unwritable place fails at once, before any work, with exit 2 and
one line naming the path and the fix; a write that fails anyway at the end is one
:class:`OutputError`, never a bare ``OSError`` traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from edgeinfer.cli.main import main
from edgeinfer.detect.alerts import write_geojson
from edgeinfer.errors import EdgeInferError, OutputError
from edgeinfer.eval.scenes import save_results
from edgeinfer.output_files import check_output_file, write_text_file


def _one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["-q", *argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgeinfer: error: "), lines
    assert captured.out == ""  # nothing was evaluated or printed before the check
    return lines[0]


def _scene(path: Path) -> Path:
    profile = {
        "driver": "GTiff",
        "width": 64,
        "height": 64,
        "count": 1,
        "dtype": "uint16",
        "crs": CRS.from_epsg(32618),
        "transform": Affine(10, 0, 5e5, 0, -10, 4e6),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.full((1, 64, 64), 500, np.uint16))
    return path


def test_detect_output_that_is_a_folder_fails_before_any_mask(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    mask = tmp_path / "masks" / "m.tif"
    argv = ["detect", str(_scene(tmp_path / "s.tif")), "-o", str(folder)]
    msg = _one_line_error([*argv, "--mask-out", str(mask)], capsys)
    assert f"--output {folder} is a folder" in msg and str(folder / "alerts.geojson") in msg
    assert not (tmp_path / "masks").exists()  # before: masks written, then the alerts lost


def test_detect_mask_out_under_a_file_fails_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    argv = ["detect", str(_scene(tmp_path / "s.tif")), "-o", str(tmp_path / "a.geojson")]
    msg = _one_line_error([*argv, "--mask-out", f"fire={blocker / 'm.tif'}"], capsys)
    assert "--mask-out" in msg and f"{blocker} is a file, not a folder" in msg
    assert not (tmp_path / "a.geojson").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_detect_output_in_a_folder_that_takes_no_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["detect", str(_scene(tmp_path / "s.tif")), "-o", "/proc/a.geojson"]
    msg = _one_line_error(argv, capsys)
    assert "--output /proc/a.geojson cannot be written" in msg and "writable folder" in msg


def test_eval_json_is_checked_before_the_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the data folder is empty: the --json error must come first, before any evaluation
    for command in ("cloud", "fire", "ship", "ship-chips"):
        msg = _one_line_error(["eval", command, "--data", str(tmp_path), "--json", "."], capsys)
        assert "--json . is a folder" in msg and "results.json" in msg, command
    msg = _one_line_error(["eval", "fire", "--data", str(tmp_path), "--plot", "."], capsys)
    assert "--plot . is a folder" in msg


def test_bench_json_is_checked_before_the_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench", "--models", "fire", "--providers", "cpu", "--json", str(tmp_path)]
    msg = _one_line_error([*argv, "--models-dir", str(tmp_path / "none")], capsys)
    assert f"--json {tmp_path} is a folder" in msg


def test_run_and_sweep_out_that_is_a_file_fail_before_the_mission(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "out.txt"
    blocker.write_text("a file, not a folder")
    msg = _one_line_error(["run", "--no-ray", "--out", str(blocker)], capsys)
    assert f"--out {blocker} is a file; give a folder" in msg
    argv = ["sweep", "--no-ray", "--set", "constellation.n_satellites=2,4", "--out"]
    msg = _one_line_error([*argv, str(blocker)], capsys)
    assert f"--out {blocker} is a file" in msg


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_run_out_in_a_folder_that_takes_no_files(capsys: pytest.CaptureFixture[str]) -> None:
    msg = _one_line_error(["run", "--no-ray", "--out", "/proc/edgeinfer-out"], capsys)
    assert "--out /proc/edgeinfer-out cannot be used as the output folder" in msg


def test_faults_json_is_checked_before_the_campaign(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    msg = _one_line_error(["faults", "--json", str(tmp_path)], capsys)
    assert f"--json {tmp_path} is a folder" in msg


def test_a_failed_write_at_the_end_is_one_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=f"cannot write alerts file {tmp_path}") as info:
        write_geojson(tmp_path, [])
    assert isinstance(info.value, EdgeInferError) and isinstance(info.value, OSError)
    with pytest.raises(OutputError, match=f"cannot write results file {tmp_path}"):
        save_results({"m": {"f1": 1.0}}, tmp_path, False, None, "eval_x")
    save_results({"m": {"f1": 1.0}}, tmp_path / "a" / "r.json", False, None, "eval_x")
    assert json.loads((tmp_path / "a" / "r.json").read_text())["m"]["f1"] == 1.0


def test_checking_a_path_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "alerts.geojson"
    assert check_output_file(target, "--output") == target
    assert list(tmp_path.iterdir()) == []  # no folder, no probe file left
    assert write_text_file(target, "{}\n").read_text() == "{}\n"
    assert check_output_file(target) == target  # an existing file may be overwritten
