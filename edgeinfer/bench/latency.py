"""``edgeinfer bench``: latency and throughput of each model x provider x batch size, and the
energy per tile each accelerator profile would need, DERIVED from the measured host time.

For every model and provider, one :class:`~edgeinfer.detect.Detector` (the runtime's own
batching, band selection and scaling, so the numbers are what the pipeline pays per batch) runs
``warmup`` untimed then ``repeat`` timed batches of each size. Per batch size: latency of a
batch (p50, p99 by linear interpolation: with few runs p99 is close to the slowest run),
tiles/s and megapixels/s over the timed runs.

Energy per tile for an accelerator profile (edgeinfer/data/accelerators.toml) is
``host seconds per tile / relative_speed x active_w``: the same model the mission budgets use
(``edgeinfer.budget.AcceleratorProfile``, ``edgeinfer.node.costs``), labelled ``derived``
because no accelerator was measured. It is derived only from CPU rows: ``relative_speed`` is
a speed against the host CPU, so scaling a GPU's time by it means nothing.

GPU rows (CUDA, TensorRT) instead carry energy **measured** with NVML's energy counter
(:mod:`edgeinfer.bench.energy`): after the latency runs, each batch size runs again for
``energy_s`` seconds, and the report's ``gpu_energy`` names the GPU and its idle draw, or why
nothing was measured.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.bench.energy import GpuEnergyMeter, measure_energy, open_meter
from edgeinfer.bench.inputs import BenchInput, bench_input
from edgeinfer.bench.machine import describe_machine, load_average
from edgeinfer.bench.providers import (
    BENCH_PROVIDERS,
    after_session,
    check_providers,
    parse_providers,
)
from edgeinfer.budget import AcceleratorProfile, load_accelerators
from edgeinfer.detect.metadata import DETECTORS, ModelInfo
from edgeinfer.detect.registry import ModelRegistry
from edgeinfer.detect.runtime import IO_BINDING, Detector, RuntimeOptions
from edgeinfer.errors import ConfigError, EdgeInferError, unknown_name

logger = logging.getLogger(__name__)

SCHEMA = "edgeinfer.bench/1"
ENERGY_BASIS = (
    "derived, not measured: host CPU seconds per tile / profile relative_speed x profile "
    "active_w (edgeinfer/data/accelerators.toml)"
)

Progress = Callable[[int, int, str], None]
"""Called with (steps done, steps in total, what runs next)."""


@dataclass(frozen=True)
class BenchSettings:
    """What ``edgeinfer bench`` measures; validated on creation. ``models``: detector kinds
    (every model of that kind) or model names."""

    models: tuple[str, ...] = DETECTORS
    providers: tuple[str, ...] = BENCH_PROVIDERS
    tile_size: int = 512
    batches: tuple[int, ...] = (1, 4, 16)
    threads: int | None = None
    repeat: int = 5
    warmup: int = 2
    io_binding: str = "auto"
    models_dir: str | None = None
    sample_dir: str | None = None
    energy_s: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "providers", tuple(parse_providers(list(self.providers))))
        if not self.models:
            raise ConfigError(f"models: none given; choose from {', '.join(DETECTORS)}")
        if not isinstance(self.tile_size, int) or self.tile_size < 8:
            raise ConfigError(f"tile = {self.tile_size!r}: expected an integer >= 8 pixels")
        if not self.batches or any(not isinstance(b, int) or b < 1 for b in self.batches):
            raise ConfigError(f"batch = {self.batches!r}: expected integers >= 1, e.g. 1,4,16")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ConfigError(f"threads = {self.threads!r}: expected an integer >= 1")
        if self.repeat < 1 or self.warmup < 0:
            raise ConfigError(
                f"repeat = {self.repeat}, warmup = {self.warmup}: need repeat >= 1, warmup >= 0"
            )
        if self.io_binding not in IO_BINDING:
            raise unknown_name("io_binding setting", self.io_binding, IO_BINDING)
        if not isinstance(self.energy_s, int | float) or self.energy_s < 0:
            raise ConfigError(
                f"energy seconds = {self.energy_s!r}: expected a number >= 0 (0: no measured "
                "GPU energy)"
            )


def select_models(registry: ModelRegistry, names: Sequence[str]) -> list[ModelInfo]:
    """Models for detector kinds (all of that kind) or model names, in registry order."""
    models = registry.list_models()
    by_name = {m.name: m for m in models}
    chosen: dict[str, ModelInfo] = {}
    for raw in names:
        name = raw.strip()
        if name in DETECTORS:
            chosen.update({m.name: m for m in models if m.detector == name})
        elif name in by_name:
            chosen[name] = by_name[name]
        elif name:
            registry.check_not_broken(name)  # a broken NAME.onnx: its error names the file
            raise unknown_name("model or detector", name, [*DETECTORS, *by_name])
    if not chosen:
        raise ConfigError(
            f"no model in {registry.models_dir} matches {','.join(names)}; "
            "build them with `edgeinfer models build`"
        )
    return [m for m in models if m.name in chosen]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (linear interpolation between closest ranks)."""
    if not values:
        raise ConfigError("percentile of no values")
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def derived_energy_j(
    host_s_per_tile: float, profiles: dict[str, AcceleratorProfile]
) -> dict[str, float]:
    """Joules per tile on each profile: ``host_s / relative_speed * active_w`` (derived)."""
    return {name: p.inference_time_s(host_s_per_tile) * p.active_w for name, p in profiles.items()}


def time_batches(
    detector: Detector, tiles: Sequence[Any], batch: int, repeat: int, warmup: int
) -> list[float]:
    """Wall seconds of ``repeat`` runs of ``detector`` on ``batch`` tiles, after ``warmup``
    untimed runs."""
    chunk = list(tiles[:batch])
    for _ in range(warmup):
        detector.run(chunk)
    seconds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        detector.run(chunk)
        seconds.append(time.perf_counter() - t0)
    return seconds


def batch_row(
    seconds: Sequence[float], batch: int, tile_size: int, energy_from: dict[str, AcceleratorProfile]
) -> dict[str, Any]:
    """Statistics of one model x provider x batch size from its timed runs."""
    total = float(sum(seconds))
    tiles_per_s = batch * len(seconds) / total if total > 0 else float("inf")
    per_tile_s = total / (batch * len(seconds))
    return {
        "status": "ok",
        "reason": None,
        "runs": len(seconds),
        "latency_ms_p50": round(percentile(seconds, 50) * 1e3, 6),
        "latency_ms_p99": round(percentile(seconds, 99) * 1e3, 6),
        "ms_per_tile": round(per_tile_s * 1e3, 6),
        "tiles_per_s": round(tiles_per_s, 6),
        "megapixels_per_s": round(tiles_per_s * tile_size * tile_size / 1e6, 6),
        "energy_j_per_tile_derived": {
            k: float(f"{v:.6g}") for k, v in derived_energy_j(per_tile_s, energy_from).items()
        }
        or None,
    }


def run_bench(settings: BenchSettings, progress: Progress | None = None) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-ready report (schema ``edgeinfer.bench/1``)."""
    registry = ModelRegistry(settings.models_dir)
    models = select_models(registry, settings.models)
    statuses = check_providers(settings.providers)
    profiles = load_accelerators()
    folder = Path(settings.sample_dir) if settings.sample_dir else None
    started = dt.datetime.now(dt.UTC)
    machine = describe_machine()
    inputs: dict[str, BenchInput] = {}
    rows: list[dict[str, Any]] = []
    meter: GpuEnergyMeter | None = None
    gpu_energy: dict[str, Any] | None = None  # described once a GPU row is timed
    steps = len(models) * len(settings.providers) * len(settings.batches)
    done = 0
    for info in models:
        for provider in settings.providers:
            label = f"{info.name} on {provider}"
            if progress is not None:
                progress(done, steps, label)
            status = statuses[provider]
            detector = None
            if status.available:
                try:
                    detector = _detector(info, provider, settings)
                    status = after_session(status, detector.provider)
                    statuses[provider] = status if not status.available else statuses[provider]
                except EdgeInferError as exc:
                    rows += _rows(info, provider, settings, "failed", str(exc))
                    done += len(settings.batches)
                    continue
            if detector is None or not status.available:
                rows += _rows(info, provider, settings, "unavailable", status.reason)
                done += len(settings.batches)
                continue
            if info.name not in inputs:
                inputs[info.name] = bench_input(
                    info, settings.tile_size, max(settings.batches), folder
                )
            tiles = inputs[info.name].tiles
            energy = profiles if provider == "cpu" else {}
            if detector.provider != "cpu" and settings.energy_s > 0 and gpu_energy is None:
                meter, why = open_meter()
                gpu_energy = meter.describe() if meter else {"unavailable": why}
            for batch in settings.batches:
                if progress is not None:
                    progress(done, steps, f"{label}, batch {batch}")
                try:
                    seconds = time_batches(detector, tiles, batch, settings.repeat, settings.warmup)
                    row = batch_row(seconds, batch, settings.tile_size, energy)
                    if detector.provider != "cpu" and meter is not None:
                        row["energy_j_per_tile_measured"] = measure_energy(
                            meter, detector.run, list(tiles[:batch]), settings.energy_s
                        )
                except EdgeInferError as exc:
                    row = {"status": "failed", "reason": str(exc)}
                rows.append(_base(info, provider, batch, detector.binding_device) | row)
                done += 1
    if progress is not None:
        progress(done, steps, "done")
    return {
        "schema": SCHEMA,
        "created_utc": started.isoformat(timespec="seconds"),
        "machine": machine,
        "load_average_end": load_average(),
        "settings": asdict(settings),
        "providers": {name: s.as_dict() for name, s in statuses.items()},
        "inputs": {name: i.as_dict() for name, i in inputs.items()},
        "energy_basis": ENERGY_BASIS,
        "accelerators": {
            name: {"active_w": p.active_w, "relative_speed": p.relative_speed, "source": p.source}
            for name, p in profiles.items()
        },
        "results": rows,
        **({"gpu_energy": gpu_energy} if gpu_energy is not None else {}),
    }


def _detector(info: ModelInfo, provider: str, settings: BenchSettings) -> Detector:
    options = RuntimeOptions(
        provider=provider, intra_op_threads=settings.threads, io_binding=settings.io_binding
    )
    return Detector(info, options, batch_size=max(settings.batches))


def _base(info: ModelInfo, provider: str, batch: int, binding: str | None) -> dict[str, Any]:
    return {
        "model": info.name,
        "detector": info.detector,
        "bands": len(info.bands),
        "provider": provider,
        "batch": batch,
        "io_binding": binding,
    }


def _rows(
    info: ModelInfo, provider: str, settings: BenchSettings, status: str, reason: str
) -> list[dict[str, Any]]:
    return [
        _base(info, provider, b, None) | {"status": status, "reason": reason}
        for b in settings.batches
    ]
