"""``edgeinfer models list|show|build`` through typer's CLI runner."""

from __future__ import annotations

import logging
import re
import sys
import types
from pathlib import Path

import pytest
import typer
from cli_helpers import last_error_line
from test_detect_helpers import metadata, threshold_graph, threshold_model, write_model
from typer.testing import CliRunner

import edgeinfer.models_build.registry as build_registry
from edgeinfer.cli import models as models_cli
from edgeinfer.errors import ModelError, UnknownNameError
from edgeinfer.models_build.registry import finalize


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test root"""

    models_cli.register(app)
    return app


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    d = tmp_path / "models"
    threshold_model(d, "fire_t", "fire", ("B5", "B6", "B7"), product="landsat")
    threshold_model(d, "ship_t", "ship", ("VV",), product="sar", version="0.2.0")
    (d / "fire_t.md").write_text("# fire_t\n\nA card written by hand.\n")
    return d


def test_list_prints_a_table(models_dir: Path) -> None:
    result = CliRunner().invoke(_app(), ["models", "list", "--models-dir", str(models_dir)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    fire = next(line for line in lines if "fire_t" in line)
    for cell in ("fire", "landsat", "B5,B6,B7", "1.0.0"):
        assert cell in fire
    ship = next(line for line in lines if "ship_t" in line)
    assert "sar" in ship and "0.2.0" in ship and "VV" in ship


def test_list_without_models_says_build(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["models", "list", "--models-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert "run `edgeinfer models build`" in result.output


def test_show_prints_card_and_metadata(models_dir: Path) -> None:
    result = CliRunner().invoke(
        _app(), ["models", "show", "fire_t", "--models-dir", str(models_dir)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# fire_t\n\nA card written by hand.")
    assert 'edgeinfer.bands: ["B5", "B6", "B7"]' in result.output
    assert "edgeinfer.product: landsat" in result.output
    assert "sha256: " in result.output
    plain = CliRunner().invoke(
        _app(), ["models", "show", "ship_t", "--models-dir", str(models_dir)]
    )
    assert plain.output.startswith("## metadata of")


def test_show_unknown_model_is_an_edgeinfer_error(models_dir: Path) -> None:
    result = CliRunner().invoke(_app(), ["models", "show", "nope", "--models-dir", str(models_dir)])
    assert isinstance(result.exception, UnknownNameError)
    assert "unknown model 'nope'; known models: fire_t, ship_t" in str(result.exception)


def test_build_calls_the_builders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def build_thr() -> object:
        meta: dict[str, object] = {
            k.removeprefix("edgeinfer."): v for k, v in metadata("thr_built").items()
        }
        return finalize(threshold_graph(), meta)

    monkeypatch.setattr(build_registry, "builders", lambda: {"thr_built": build_thr})
    out = tmp_path / "built"
    result = CliRunner().invoke(_app(), ["models", "build", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out / 'thr_built.onnx'}" in result.output
    listing = CliRunner().invoke(_app(), ["models", "list", "--models-dir", str(out)])
    assert "thr_built" in listing.output
    bad = CliRunner().invoke(_app(), ["models", "build", "--out", str(out), "nope"])
    assert isinstance(bad.exception, UnknownNameError)


def test_main_prints_errors_as_one_line(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the other subcommands are stood in for by no-ops: this test is about `models` and the
    # one-line error of main(), not about modules other helpers are still writing
    for name in ("detect", "evaluate", "passes"):
        stub = types.ModuleType(f"edgeinfer.cli.{name}")
        stub.register = lambda app: None  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, f"edgeinfer.cli.{name}", stub)
    monkeypatch.delitem(sys.modules, "edgeinfer.cli.main", raising=False)
    from edgeinfer.cli.main import main

    meta = metadata("broken")
    del meta["edgeinfer.bands"]
    write_model(models_dir / "broken.onnx", threshold_graph(), meta)
    monkeypatch.setenv("EDGEINFER_MODELS", str(models_dir))
    root, ours = logging.getLogger(), logging.getLogger("edgeinfer")
    saved = (root.handlers[:], root.level, ours.level)
    try:  # main() configures logging (basicConfig(force=True)); undo it for later tests
        assert main(["-q", "models", "show", "broken"]) == 2
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        ours.setLevel(saved[2])
    text = capsys.readouterr().err
    err = text.strip().splitlines()
    line = last_error_line(text)
    assert line.startswith("edgeinfer: error: model broken cannot be used: model ")
    assert "lacks metadata edgeinfer.bands" in err[-1] and "edgeinfer models build" in err[-1]
    # the registry's warning (shown with -q) named the file before
    assert any(line.startswith("WARNING") and "broken.onnx" in line for line in err[:-1])


def _junk(models_dir: Path) -> Path:
    junk = models_dir / "fire_junk.onnx"
    junk.write_bytes(b"junk\n")
    return junk


def test_list_shows_the_good_models_and_the_broken_files(models_dir: Path) -> None:
    _junk(models_dir)
    result = CliRunner().invoke(_app(), ["models", "list", "--models-dir", str(models_dir)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "fire_t" in out and "ship_t" in out
    assert "broken model files" in out and "fire_junk.onnx" in out
    flat = re.sub(r"[\s│┃]", "", out)  # the table wraps the reason over several lines
    assert "fire_junk.onnxisnotareadableONNXmodel" in flat and "edgeinfermodelsbuild" in flat


def test_show_and_detect_models_work_beside_a_broken_file(models_dir: Path) -> None:
    _junk(models_dir)
    good = CliRunner().invoke(_app(), ["models", "show", "fire_t", "--models-dir", str(models_dir)])
    assert good.exit_code == 0, good.output
    assert "edgeinfer.product: landsat" in good.output
    bad = CliRunner().invoke(
        _app(), ["models", "show", "fire_junk", "--models-dir", str(models_dir)]
    )
    assert isinstance(bad.exception, ModelError)
    assert "fire_junk.onnx is not a readable ONNX model" in str(bad.exception)


def test_list_of_a_folder_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    absent = tmp_path / "nope"
    result = CliRunner().invoke(_app(), ["models", "list", "--models-dir", str(absent)])
    assert isinstance(result.exception, ModelError)
    assert f"models folder {absent} does not exist" in str(result.exception)
