"""``edgeinfer faults``: the SEU campaign table, --json and the bar line (synthetic scene with
threshold models; slow: the real sample scenes)."""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

import pytest
import typer
from cli_helpers import last_error_line
from test_faults_campaign import _sample_dir, registry, scene  # noqa: F401  (fixtures)
from typer.testing import CliRunner

import edgeinfer.faults as faults
from edgeinfer.cli import faults as faults_cli
from edgeinfer.cli.main import main
from edgeinfer.detect import ModelRegistry
from edgeinfer.faults import CampaignScene


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test root"""

    faults_cli.register(app)
    return app


@pytest.fixture
def on_test_scene(
    monkeypatch: pytest.MonkeyPatch,
    registry: ModelRegistry,  # noqa: F811
    scene: CampaignScene,  # noqa: F811
) -> None:
    """The campaign command runs on the synthetic test scene with the test models."""
    monkeypatch.setattr(faults, "sample_scenes", lambda folder: [scene])
    monkeypatch.setattr(
        faults, "run_campaign", functools.partial(faults.run_campaign, registry=registry)
    )


def test_table_json_and_bar(tmp_path: Path, on_test_scene: None) -> None:
    out = tmp_path / "seu.json"
    args = ["faults", "--scenes", str(tmp_path), "--factor", "20000", "--trials", "2"]
    queue_log = logging.getLogger("edgeinfer.link.queue")
    level = queue_log.level
    result = CliRunner().invoke(_app(), [*args, "--captures", "2", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert queue_log.level == level  # the expected-fault logs were muted only during the run
    assert "weight memory per model" in result.output and "thr_fire" in result.output
    for arm in ("clean", "unmitigated", "scrub before use", "TMR", "CRC-32"):
        assert arm in result.output
    assert "PASS" in result.output
    data = json.loads(out.read_text())
    assert data["config"]["rate_factor"] == 20000.0 and data["bar"]["passes"] is True
    rows = {r["arm"]: r for r in data["arms"]}
    assert rows["clean"]["f1"]["fire"] == 1.0
    assert rows["weights: scrub before use"]["f1"] == rows["clean"]["f1"]


@pytest.mark.slow
def test_sample_scenes_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "seu.json"
    args = ["faults", "--scenes", str(_sample_dir()), "--trials", "1", "--captures", "2"]
    result = CliRunner().invoke(_app(), [*args, "--input-trials", "1", "--json", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    names = {m["model"] for m in data["models"]}
    assert {"fire_sentinel2", "cloud_sentinel2"} <= names
    assert data["bar"]["passes"] is True


def test_a_campaign_that_draws_no_upset_tested_nothing(tmp_path: Path, on_test_scene: None) -> None:
    """At --factor 0 no weight upset happens, so an unchanged F1 proves nothing: the bar
    fails, says why, and the command exits 1 as `faults chaos` does (audit 14, N4)."""
    out = tmp_path / "seu.json"
    args = ["faults", "--scenes", str(tmp_path), "--factor", "0", "--trials", "1"]
    result = CliRunner().invoke(_app(), [*args, "--captures", "1", "--json", str(out)])
    assert result.exit_code == 1, result.output
    assert "over 0 upsets -> FAIL (no weight upset drawn: nothing was tested)" in result.output
    verdict = json.loads(out.read_text())["bar"]
    assert verdict["tested"] is False and verdict["passes"] is False
    assert verdict["scrubbed_max_abs_delta_f1_pct"] == 0.0


def test_scenes_folder_without_the_scenes_names_the_command_that_fills_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-q", "faults", "--scenes", str(tmp_path)]) == 2
    msg = last_error_line(capsys.readouterr().err)
    assert f"sample scene {tmp_path / 's2_coast.tif'} is missing" in msg
    assert f"python sample_data/generate.py --out {tmp_path}" in msg
