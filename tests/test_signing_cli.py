"""``edgeinfer models sign|verify|keygen`` and ``models build --key/--no-sign``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from test_detect_helpers import metadata, threshold_graph, write_model
from typer.testing import CliRunner

from edgeinfer.cli import models as models_cli
from edgeinfer.detect.signing import load_public_key, signature_path, verify_model
from edgeinfer.errors import ModelError

ROOT = Path(__file__).resolve().parents[1]


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
    write_model(d / "thr_a.onnx", threshold_graph(), metadata("thr_a"))
    write_model(d / "thr_b.onnx", threshold_graph(threshold=0.3), metadata("thr_b"))
    return d


def test_sign_all_then_verify(models_dir: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(_app(), ["models", "sign", "--models-dir", str(models_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.count("signed ") == 2
    paths = [str(models_dir / "thr_a.onnx"), str(models_dir / "thr_b.onnx")]
    ok = runner.invoke(_app(), ["models", "verify", *paths])
    assert ok.exit_code == 0, ok.output
    assert ok.output.splitlines() == [f"ok {p}" for p in paths]


def test_verify_fails_on_a_changed_byte_and_on_a_missing_signature(models_dir: Path) -> None:
    runner = CliRunner()
    runner.invoke(_app(), ["models", "sign", "thr_a", "--models-dir", str(models_dir)])
    path = models_dir / "thr_a.onnx"
    data = bytearray(path.read_bytes())
    data[10] ^= 0x01
    path.write_bytes(bytes(data))
    bad = runner.invoke(_app(), ["models", "verify", str(path)])
    assert bad.exit_code != 0
    assert isinstance(bad.exception, ModelError)
    assert f"model {path}: bad signature" in str(bad.exception)
    unsigned = models_dir / "thr_b.onnx"
    missing = runner.invoke(_app(), ["models", "verify", str(unsigned)])
    assert isinstance(missing.exception, ModelError)
    assert f"model {unsigned} has no signature" in str(missing.exception)
    both = runner.invoke(_app(), ["models", "verify", str(path), str(unsigned)])
    assert isinstance(both.exception, ModelError)
    assert "2 of 2 models failed verification" in str(both.exception)


def test_keygen_sign_with_key_and_verify_with_pubkey(tmp_path: Path, models_dir: Path) -> None:
    runner = CliRunner()
    keys = tmp_path / "keys"
    made = runner.invoke(_app(), ["models", "keygen", str(keys), "--name", "m1"])
    assert made.exit_code == 0, made.output
    path = models_dir / "thr_a.onnx"
    signed = runner.invoke(_app(), ["models", "sign", str(path), "--key", str(keys / "m1.pem")])
    assert signed.exit_code == 0, signed.output
    verify_model(path, (load_public_key(keys / "m1.pub"),))
    ok = runner.invoke(_app(), ["models", "verify", str(path), "--pubkey", str(keys / "m1.pub")])
    assert ok.exit_code == 0, ok.output
    dev = runner.invoke(_app(), ["models", "verify", str(path)])  # the dev key is not m1
    assert isinstance(dev.exception, ModelError)


def test_sign_unknown_name_lists_models(models_dir: Path) -> None:
    result = CliRunner().invoke(_app(), ["models", "sign", "nope", "--models-dir", str(models_dir)])
    assert "unknown model 'nope'; known models: thr_a, thr_b" in str(result.exception)


def test_main_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    """The installed entry point: exit status 2 and one stderr line naming the file."""
    path = tmp_path / "lonely.onnx"
    write_model(path, threshold_graph(), metadata("lonely"))
    done = subprocess.run(
        [sys.executable, "-m", "edgeinfer.cli.main", "models", "verify", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"edgeinfer: error: model {path} has no signature (lonely.onnx.sig missing); "
        f"sign it with `edgeinfer models sign {path}`"
    ]
    assert not signature_path(path).exists()
