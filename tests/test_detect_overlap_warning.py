"""A tile overlap too small for a model's windows is warned about (shown with -q): the tiler
gives each tile core overlap // 2 px of context, and fire_sentinel2's windows reach 22 px
(its ``context_px``), so with less a fire near a seam can be split in two or missed."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeinfer.cli.main import main
from edgeinfer.mission import load_mission
from edgeinfer.mission.scenes import ensure_sample_data

COAST = Path(__file__).resolve().parents[1] / "sample_data" / "generated" / "s2_coast.tif"


def _warnings(overlap: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    ensure_sample_data(load_mission())
    argv = ["-q", "detect", str(COAST), "--detectors", "fire", "--tile", "256"]
    assert main([*argv, "--overlap", str(overlap), "-o", str(tmp_path / "a.geojson")]) == 0
    return [line for line in capsys.readouterr().err.splitlines() if "overlap" in line]


def test_an_overlap_below_the_model_context_is_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (line,) = _warnings(32, tmp_path, capsys)
    assert line.startswith("WARNING") and "fire_sentinel2 looks 22 px around" in line
    assert "tile cores 16 px of context" in line and "--overlap 44 or more" in line


def test_the_default_overlap_gives_every_model_its_context(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _warnings(64, tmp_path, capsys) == []
    assert _warnings(44, tmp_path, capsys) == []
