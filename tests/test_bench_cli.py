"""``edgeinfer bench``: the CLI on tiny models and tiles, its JSON schema, unavailable
providers, and the GPU path (skipped cleanly without a GPU). No timed assertions: speed is
measured by the benchmarks, never asserted here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_detect_helpers import threshold_model

from edgeinfer.bench import (
    ENERGY_BASIS,
    SCHEMA,
    BenchSettings,
    ProviderStatus,
    after_session,
    check_providers,
    derived_energy_j,
    parse_providers,
    percentile,
    run_bench,
)
from edgeinfer.budget import load_accelerators
from edgeinfer.cli.main import main
from edgeinfer.detect.runtime import available_providers
from edgeinfer.errors import ConfigError, UnknownNameError

ROW_KEYS = {"model", "detector", "bands", "provider", "batch", "io_binding", "status", "reason"}
OK_KEYS = {
    "runs",
    "latency_ms_p50",
    "latency_ms_p99",
    "ms_per_tile",
    "tiles_per_s",
    "megapixels_per_s",
    "energy_j_per_tile_derived",
}


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    threshold_model(folder, name="thr_fire", detector="fire", bands=("B7",))
    threshold_model(folder, name="thr_cloud", detector="cloud", bands=("B2", "B7"))
    return folder


def _bench(models_dir: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(
        [
            "bench",
            "--models",
            "fire,cloud",
            "--providers",
            "cpu,cuda,tensorrt",
            "--tile",
            "16",
            "--batch",
            "1,3",
            "--repeat",
            "3",
            "--warmup",
            "1",
            "--threads",
            "1",
            "--models-dir",
            str(models_dir),
            "--json",
            str(out),
            *extra,
        ]
    )
    return code, json.loads(out.read_text()) if out.exists() else {}


def test_cli_writes_a_report_with_the_schema(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _bench(models_dir, tmp_path / "bench.json")
    assert code == 0
    assert report["schema"] == SCHEMA
    assert report["energy_basis"] == ENERGY_BASIS and "derived" in ENERGY_BASIS
    machine = report["machine"]
    assert machine["logical_cores"] >= 1 and machine["cpu_model"]
    assert report["settings"]["batches"] == [1, 3] and report["settings"]["tile_size"] == 16
    # every model x provider x batch has a row: nothing silently skipped
    combos = {(r["model"], r["provider"], r["batch"]) for r in report["results"]}
    assert combos == {
        (m, p, b)
        for m in ("thr_fire", "thr_cloud")
        for p in ("cpu", "cuda", "tensorrt")
        for b in (1, 3)
    }
    for row in report["results"]:
        assert set(row) >= ROW_KEYS
        assert row["status"] in ("ok", "unavailable", "failed")
    ok = [r for r in report["results"] if r["provider"] == "cpu"]
    assert ok and all(r["status"] == "ok" for r in ok)
    profiles = load_accelerators()
    for r in ok:
        assert set(r) >= OK_KEYS
        assert r["runs"] == 3 and r["latency_ms_p99"] >= r["latency_ms_p50"] > 0
        # tiles/s, MP/s and ms/tile describe the same runs
        assert r["tiles_per_s"] * r["ms_per_tile"] / 1000 == pytest.approx(1.0, rel=1e-2)
        assert r["megapixels_per_s"] == pytest.approx(r["tiles_per_s"] * 16 * 16 / 1e6, abs=2e-3)
        # derived energy: host s per tile / relative speed x active W (hand computation)
        energy = r["energy_j_per_tile_derived"]
        assert set(energy) == set(profiles)
        for name, p in profiles.items():
            expected = r["ms_per_tile"] / 1000 / p.relative_speed * p.active_w
            assert energy[name] == pytest.approx(expected, rel=1e-2, abs=1e-6)
    # both toy models have bands no sample scene has, so they ran on synthetic tiles, and say so
    assert {i["kind"] for i in report["inputs"].values()} == {"synthetic"}
    printed = capsys.readouterr().out
    assert "thr_fire" in printed and "DERIVED" in printed and "synthetic" in printed


def test_cpu_machine_reports_gpu_providers_unavailable_with_a_reason(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if "CUDAExecutionProvider" in available_providers():
        pytest.skip("this onnxruntime offers CUDA; the GPU test covers it")
    code, report = _bench(models_dir, tmp_path / "bench.json")
    assert code == 0
    for name in ("cuda", "tensorrt"):
        status = report["providers"][name]
        assert status["available"] is False
        assert "gpu extra" in status["reason"] and "offers only" in status["reason"]
        rows = [r for r in report["results"] if r["provider"] == name]
        assert len(rows) == 4 and all(r["status"] == "unavailable" for r in rows)
        assert all(r["reason"] == status["reason"] for r in rows)
    printed = capsys.readouterr().out
    assert "cuda: unavailable" in printed and "tensorrt: unavailable" in printed
    assert "edgeinfer[gpu]" in printed  # the hint survives rich's markup


@pytest.mark.gpu
def test_gpu_providers_run_when_a_gpu_is_there(models_dir: Path, tmp_path: Path) -> None:
    if "CUDAExecutionProvider" not in available_providers():
        pytest.skip(
            "no CUDAExecutionProvider in this onnxruntime: install edgeinfer[gpu] on a machine "
            "with an NVIDIA GPU and CUDA 13"
        )
    code, report = _bench(models_dir, tmp_path / "bench.json")
    assert code == 0
    status = report["providers"]["cuda"]
    if not status["available"]:
        pytest.skip(f"CUDA offered but unusable here: {status['reason']}")
    cuda = [r for r in report["results"] if r["provider"] == "cuda"]
    assert all(r["status"] == "ok" and r["io_binding"] == "cuda" for r in cuda)
    assert all(r["energy_j_per_tile_derived"] is None for r in cuda)  # derived from CPU only
    if "gpu" in report.get("gpu_energy", {}):  # NVML there: energy measured on every GPU row
        assert report["gpu_energy"]["idle_w"] > 0
        assert all(r["energy_j_per_tile_measured"]["board"] > 0 for r in cuda)


def test_unknown_provider_and_bad_batch_are_one_line_errors(
    models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["bench", "--providers", "tpu", "--models-dir", str(models_dir)])
    err = capsys.readouterr().err
    assert code == 2 and "unknown provider 'tpu'" in err and "cpu, cuda, tensorrt" in err
    code = main(["bench", "--batch", "1,x", "--models-dir", str(models_dir)])
    assert code == 2 and "--batch '1,x'" in capsys.readouterr().err
    code = main(["bench", "--models", "radar", "--models-dir", str(models_dir)])
    err = capsys.readouterr().err
    assert code == 2 and "unknown model or detector 'radar'" in err and "thr_fire" in err


def test_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="batch"):
        BenchSettings(batches=(0,))
    with pytest.raises(ConfigError, match="tile"):
        BenchSettings(tile_size=4)
    with pytest.raises(ConfigError, match="repeat"):
        BenchSettings(repeat=0)
    with pytest.raises(UnknownNameError, match="io_binding"):
        BenchSettings(io_binding="sometimes")
    assert parse_providers(" CPU,cuda,cpu ") == ["cpu", "cuda"]


def test_provider_status_logic() -> None:
    offered = ("CUDAExecutionProvider", "CPUExecutionProvider")
    status = check_providers(["cpu", "cuda", "tensorrt"], offered=offered)
    assert status["cpu"].available and status["cuda"].available
    assert not status["tensorrt"].available
    assert "TensorRT" in status["tensorrt"].reason
    # offered, but the session fell back to CPU (no GPU or CUDA libraries)
    fell = after_session(status["cuda"], "cpu")
    assert not fell.available and "runs on cpu" in fell.reason
    assert after_session(status["cuda"], "cuda") == status["cuda"]
    assert after_session(ProviderStatus("cuda", False, "x"), "cpu").reason == "x"


def test_percentile_and_energy_by_hand() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 99) == pytest.approx(3.97)
    profiles = load_accelerators()
    energy = derived_energy_j(0.080, profiles)
    nano = profiles["jetson_orin_nano"]  # 15 W, 40x the host
    assert energy["jetson_orin_nano"] == pytest.approx(0.080 / 40.0 * 15.0)
    assert energy["host"] == pytest.approx(0.080 * profiles["host"].active_w)
    assert nano.relative_speed == 40.0


def test_run_bench_takes_sample_tiles_when_a_sample_scene_fits(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[1] / "sample_data" / "generated"
    if not (sample / "s2_coast.tif").exists():
        pytest.skip("sample scenes absent: run `make sample`")
    report = run_bench(
        BenchSettings(
            models=("fire_sentinel2",),
            providers=("cpu",),
            tile_size=32,
            batches=(2,),
            repeat=1,
            warmup=0,
            threads=1,
            sample_dir=str(sample),
        )
    )
    assert report["inputs"]["fire_sentinel2"]["kind"] == "sample"
    assert report["inputs"]["fire_sentinel2"]["source"].endswith("s2_coast.tif")
    assert report["results"][0]["status"] == "ok"


def test_cpu_rows_measure_no_gpu_energy(models_dir: Path) -> None:
    """On CPU nothing opens NVML: no ``gpu_energy`` in the report, no measured energy."""
    settings = BenchSettings(
        models=("thr_fire",),
        providers=("cpu",),
        batches=(1,),
        repeat=1,
        warmup=0,
        models_dir=str(models_dir),
        tile_size=64,
    )
    report = run_bench(settings)
    assert "gpu_energy" not in report
    assert all("energy_j_per_tile_measured" not in r for r in report["results"])
    with pytest.raises(ConfigError, match="energy seconds"):
        BenchSettings(energy_s=-1.0)
