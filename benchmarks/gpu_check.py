"""Check and measure the GPU path on a machine with an NVIDIA GPU and onnxruntime-gpu.

    python benchmarks/gpu_check.py --out DIR [--repeat 50] [--grid 8x6] [--skip STEP,...]

Needs the generated sample (``make sample``). Steps, each recorded in ``DIR/gpu_check.json``:

1. **environment**: onnxruntime's version and providers; the GPU, its driver and power limit
   (NVML, through ``pynvml`` when it is installed).
2. **agreement**: every model in models/ runs on CPU and on CUDA (IOBinding) over the same
   tiles (``edgeinfer bench``'s inputs): the fraction of pixels with the same class and the
   largest confidence difference. The GPU path is only worth timing if it computes the same.
3. **bench**: ``edgeinfer bench`` (``run_bench``) over cpu, cuda and tensorrt, written to
   ``DIR/bench.json``. A provider this machine lacks is reported as unavailable there.
4. **energy, measured**: each model on CUDA at the largest batch for ``--energy-s`` seconds,
   with NVML's board energy counter read before and after: joules per tile of the whole board
   (idle power included) and above idle (the idle draw measured just before, for as long).
5. **pipeline**: the whole single-process path (scene on disk -> tiles -> detectors ->
   alerts, ``detect_scene``) on a ``--grid`` mirror-tiled copy of the sample coast scene and on
   the sample SAR scene, on CPU and on CUDA: wall time, tiles/s, and whether the alerts are
   the same.
6. **lanes**: the same path on CUDA with 1, 2 and 4 lanes and batches of 2 and 8.
7. **breakdown**: where a CUDA batch of 16 spends its time (``Detector.run``, its session
   part with the copies, the graph alone on inputs already on the GPU).
8. **actors**: ``run_all.py``'s satellite actors on Ray and its bare onnxruntime ceiling on
   the CPU and on CUDA (``gpu_actors.py``; ``--actors-grid`` tiles, one satellite per core,
   ``--actors-rounds`` pairs each).

Prints a short table last. Nothing here runs in CI (no GPU there); the numbers go to
docs/performance.md with the GPU they were measured on.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeinfer.bench.energy import GpuEnergyMeter, measure_energy, open_meter  # noqa: E402
from edgeinfer.bench.inputs import bench_input  # noqa: E402
from edgeinfer.bench.latency import BenchSettings, run_bench  # noqa: E402
from edgeinfer.bench.scenes import make_scene, sample_dir, tiled_size  # noqa: E402
from edgeinfer.detect.pipeline import detect_scene  # noqa: E402
from edgeinfer.detect.registry import ModelRegistry  # noqa: E402
from edgeinfer.detect.runtime import _OUTPUTS, Detector, RuntimeOptions  # noqa: E402
from edgeinfer.detect.sessions import import_onnxruntime  # noqa: E402
from edgeinfer.scene import open_scene  # noqa: E402

logger = logging.getLogger("gpu_check")


def nvml() -> Any | None:
    """The ``pynvml`` module with NVML initialised, or None (not installed, no driver)."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception as exc:  # ImportError, NVMLError: both mean "no NVML here"
        logger.warning("NVML unavailable (%s): no GPU description or measured energy", exc)
        return None
    return pynvml


def environment(nv: Any | None) -> dict[str, Any]:
    ort = import_onnxruntime()
    env: dict[str, Any] = {
        "onnxruntime": ort.__version__,
        "onnxruntime_package": ort.get_device(),
        "available_providers": ort.get_available_providers(),
        "python": sys.version.split()[0],
    }
    if nv is not None:
        h = nv.nvmlDeviceGetHandleByIndex(0)
        env["gpu"] = nv.nvmlDeviceGetName(h)
        env["driver"] = nv.nvmlSystemGetDriverVersion()
        env["cuda_driver_version"] = nv.nvmlSystemGetCudaDriverVersion_v2()
        env["memory_mib"] = nv.nvmlDeviceGetMemoryInfo(h).total // 2**20
        env["power_limit_w"] = nv.nvmlDeviceGetEnforcedPowerLimit(h) / 1e3
    return env


def agreement(registry: ModelRegistry, count: int) -> list[dict[str, Any]]:
    rows = []
    for info in registry.list_models():
        tiles = bench_input(info, 512, count).tiles
        out: dict[str, Any] = {"model": info.name}
        outputs = {}
        for provider in ("cpu", "cuda"):
            det = Detector(info, RuntimeOptions(provider=provider), batch_size=count)
            out[f"{provider}_runs_on"] = det.provider
            out[f"{provider}_io_binding"] = det.binding_device
            outputs[provider] = det.run(tiles)
        cls_same = np.mean(
            [np.mean(a.cls == b.cls) for a, b in zip(outputs["cpu"], outputs["cuda"], strict=True)]
        )
        conf_diff = max(
            float(np.max(np.abs(a.confidence - b.confidence)))
            for a, b in zip(outputs["cpu"], outputs["cuda"], strict=True)
        )
        positives = sum(int(np.count_nonzero(a.cls)) for a in outputs["cpu"])
        out |= {
            "tiles": len(tiles),
            "class_agreement": round(float(cls_same), 7),
            "max_confidence_diff": float(f"{conf_diff:.3g}"),
            "cpu_positive_pixels": positives,
        }
        rows.append(out)
        print(f"agreement {info.name}: {out}", flush=True)
    return rows


def energy(registry: ModelRegistry, batch: int, seconds: float) -> Any:
    """Board energy per tile of each model on CUDA at ``batch``, measured as ``edgeinfer
    bench`` does (:mod:`edgeinfer.bench.energy`), over ``seconds`` of batches after 3
    warm-up runs. The idle draw is measured for as long, once the first CUDA session is open
    (a board with a CUDA context idles higher: 118-125 W against 70 W without, on the H100),
    as ``edgeinfer bench`` does."""
    meter: GpuEnergyMeter | None = None
    rows: list[dict[str, Any]] = []
    for info in registry.list_models():
        tiles = bench_input(info, 512, batch).tiles
        det = Detector(info, RuntimeOptions(provider="cuda"), batch_size=batch)
        if det.provider != "cuda":
            rows.append({"model": info.name, "status": f"runs on {det.provider}"})
            continue
        if meter is None:
            meter, why = open_meter(idle_s=seconds)
            if meter is None:
                return why
        for _ in range(3):
            det.run(tiles)
        e = measure_energy(meter, det.run, tiles, seconds)
        row = {"model": info.name, "batch": batch, **e}
        row["tiles_per_s"] = round(e["tiles"] / e["seconds"], 2)
        rows.append(row)
        print(f"energy {info.name}: {row}", flush=True)
    return [meter.describe() if meter else {"idle_w": None}, *rows]


def gpu_lanes(work: Path, grid: tuple[int, int]) -> list[dict[str, Any]]:
    """The detect path on CUDA with 1, 2 and 4 lanes (each a session on the same GPU, fed by
    its own host thread) and batches of 2 and 8: does parallel host preparation help?"""
    coast = _coast(work, grid)
    rows = []
    for lanes in (1, 2, 4):
        for batch in (2, 8):
            for _ in range(2):
                result, wall = _timed_detect(coast, "cuda", lanes=lanes, batch_size=batch)
                row = {
                    "lanes": result.lanes,
                    "batch": result.batch_size,
                    "alerts": len(result.alerts),
                    "wall_s": round(wall, 3),
                    "tiles_per_s": round(result.tiles_total / wall, 2),
                    "runs_on": result.summary()["providers"],
                }
                rows.append(row)
                print(f"lanes {row}", flush=True)
    return rows


def breakdown(registry: ModelRegistry, names: list[str], batch: int, rounds: int) -> list[Any]:
    """Where a CUDA batch's time goes: the whole ``Detector.run`` (host band selection and
    scaling, the copies to and from the GPU, the graph), its session part (copies + graph:
    ``Detector.inference_s``), and the graph alone with inputs and outputs already on the
    GPU (IOBinding of device OrtValues, no copies)."""
    ort = import_onnxruntime()
    rows: list[Any] = []
    for name in names:
        info = registry.get_model(name)
        tiles = bench_input(info, 512, batch).tiles
        det = Detector(info, RuntimeOptions(provider="cuda"), batch_size=batch)
        device = "cuda" if det.provider == "cuda" else "cpu"
        feeds: dict[str, Any] = {}
        run_session = det._run_session

        def spy(f: dict[str, Any], keep: dict[str, Any] = feeds, inner: Any = run_session) -> Any:
            keep.update({k: v.copy() for k, v in f.items()})
            return inner(f)

        det._run_session = spy  # type: ignore[method-assign, assignment]
        for _ in range(3):
            det.run(tiles)
        det._run_session = run_session  # type: ignore[method-assign]
        det.inference_s = 0.0
        whole = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            det.run(tiles)
            whole.append(time.perf_counter() - t0)
        session_s = det.inference_s / rounds
        binding = det.session.io_binding()
        for k, v in feeds.items():
            binding.bind_ortvalue_input(k, ort.OrtValue.ortvalue_from_numpy(v, device, 0))
        for out in _OUTPUTS:
            binding.bind_output(out, device)
        graph = []
        for i in range(rounds + 3):
            t0 = time.perf_counter()
            det.session.run_with_iobinding(binding)
            if i >= 3:
                graph.append(time.perf_counter() - t0)
        row = {
            "model": name,
            "batch": batch,
            "on": det.provider,
            "input_mb": round(sum(v.nbytes for v in feeds.values()) / 1e6, 1),
            "whole_ms": round(float(np.median(whole)) * 1e3, 2),
            "session_ms_mean": round(session_s * 1e3, 2),
            "graph_only_ms": round(float(np.median(graph)) * 1e3, 2),
        }
        rows.append(row)
        print(f"breakdown {row}", flush=True)
    return rows


def pipeline(work: Path, grid: tuple[int, int]) -> list[dict[str, Any]]:
    rows = []
    for path in (_coast(work, grid), sample_dir() / "sar_sea.tif"):
        alerts: dict[str, Any] = {}
        for provider in ("cpu", "cuda", "cpu", "cuda"):  # each twice: the first warms caches
            result, wall = _timed_detect(path, provider)
            summary = result.summary()
            key = {(a.alert_id, a.cls, a.pixel_count) for a in result.alerts}
            alerts.setdefault(provider, key)
            row = {
                "scene": path.name,
                "provider": provider,
                "runs_on": summary["providers"],
                "tiles": summary["tiles_total"],
                "tiles_inferred": summary["tiles_inferred"],
                "alerts": summary["alerts"],
                "batch": summary["batch_size"],
                "lanes": summary["lanes"],
                "wall_s": round(wall, 3),
                "tiles_per_s": round(summary["tiles_total"] / wall, 2),
                "alerts_differing_from_cpu": len(key ^ alerts["cpu"]),
            }
            rows.append(row)
            print(f"pipeline {row}", flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--energy-s", type=float, default=5.0)
    parser.add_argument("--grid", default="8x6", help="pipeline scene, tiles COLSxROWS")
    parser.add_argument("--skip", default="", help="comma-separated steps to skip")
    parser.add_argument(
        "--bench-providers", default="cpu,cuda,tensorrt", help="providers for the bench step"
    )
    parser.add_argument("--actors-grid", default="16x12", help="actors step scene, COLSxROWS")
    parser.add_argument("--actors-rounds", type=int, default=2, help="bare/pipeline pairs")
    parser.add_argument("--actors-providers", default="cpu,cuda", help="providers, comma-separated")
    parser.add_argument(
        "--actors-per-actor",
        default="auto",
        help="execution.satellites_per_actor settings to compare, e.g. auto,4,8",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    registry = ModelRegistry()
    nv = nvml()
    report: dict[str, Any] = {"environment": environment(nv)}
    print(json.dumps(report["environment"]), flush=True)
    steps: dict[str, Callable[[], Any]] = {
        "agreement": lambda: agreement(registry, 4),
        "bench": lambda: _bench(args.out, args.repeat, args.bench_providers.split(",")),
        "energy": lambda: energy(registry, 16, args.energy_s),
        "pipeline": lambda: pipeline(args.out, _grid(args.grid)),
        "lanes": lambda: gpu_lanes(args.out, _grid(args.grid)),
        "breakdown": lambda: breakdown(
            registry, ["cloud_vnir", "fire_sentinel2", "ship_optical", "ship_sar_cnn"], 16, 20
        ),
        "actors": lambda: _actors(
            args.out,
            _grid(args.actors_grid),
            args.actors_rounds,
            tuple(args.actors_providers.split(",")),
            tuple(None if v == "auto" else int(v) for v in args.actors_per_actor.split(",")),
        ),
    }
    for name, step in steps.items():
        if name in skip:
            continue
        t0 = time.perf_counter()
        try:
            report[name] = step()
        except Exception as exc:  # record and go on: one failed step must not lose the rest
            logger.exception("step %s failed", name)
            report[name] = {"failed": f"{type(exc).__name__}: {exc}"}
        report[f"{name}_wall_s"] = round(time.perf_counter() - t0, 1)
        (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str))
    _table(report)
    return 0


def _bench(out: Path, repeat: int, providers: list[str]) -> dict[str, Any]:
    settings = BenchSettings(
        models=("fire", "ship", "cloud"),
        providers=tuple(providers),
        batches=(1, 4, 16),
        repeat=repeat,
        warmup=5,
    )
    report = run_bench(settings)
    (out / "bench.json").write_text(json.dumps(report, indent=2))
    return {"providers": report["providers"], "rows": len(report["results"])}


def _actors(
    work: Path,
    grid: tuple[int, int],
    rounds: int,
    providers: tuple[str, ...],
    per_actor: tuple[int | None, ...],
) -> list[dict[str, Any]]:
    from gpu_actors import actors  # imports Ray: only for this step

    return actors(work, grid, None, rounds, providers, per_actor)


def _coast(work: Path, grid: tuple[int, int]) -> Path:
    """The sample coast scene mirror-tiled to ``grid`` (COLS, ROWS) tiles, in ``work``."""
    cols, rows = grid
    return make_scene(work / f"coast_{cols}x{rows}.tif", *tiled_size(cols, rows)).path


def _timed_detect(path: Path, provider: str, **options: Any) -> tuple[Any, float]:
    """``detect_scene`` of every detector on ``path`` and its wall time in seconds."""
    with open_scene(path) as scene:
        t0 = time.perf_counter()
        result = detect_scene(
            scene, ["fire", "ship", "cloud"], provider=provider, skip_unfit=True, **options
        )
        return result, time.perf_counter() - t0


def _grid(text: str) -> tuple[int, int]:
    cols, rows = text.lower().split("x")
    return int(cols), int(rows)


def _table(report: dict[str, Any]) -> None:
    """The short summary printed last."""
    for step in ("agreement", "energy", "pipeline", "lanes", "breakdown", "actors"):
        rows = report.get(step)
        if rows is None:
            continue
        for row in rows if isinstance(rows, list) else [rows]:
            print(step, json.dumps(row, default=str))
    bench = report.get("bench")
    if isinstance(bench, dict):
        print("bench", json.dumps(bench.get("providers", bench), default=str))


if __name__ == "__main__":
    sys.exit(main())
