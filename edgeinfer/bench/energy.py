"""Measured GPU energy per tile for ``edgeinfer bench``.

On CUDA and TensorRT rows the benchmark reads NVML's total-energy counter of the GPU
(``nvmlDeviceGetTotalEnergyConsumption``: millijoules since the driver loaded, Volta and
later; through ``pynvml``, the ``nvidia-ml-py`` package) before and after running batches for
at least ``seconds``, so the figure is **measured**, unlike the derived energy of the CPU rows:

- ``board``: joules of the whole board per tile, its idle draw included;
- ``above_idle``: the same minus the board's draw with the CUDA context open and nothing
  running, measured once for ``idle_s`` when the meter opens.

The counter updates every few tens of milliseconds, which is why a row runs for ``seconds``
rather than for the latency runs' few milliseconds. Without NVML (no ``pynvml``, no driver,
a GPU older than Volta) the rows carry no measured energy and the report says why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

#: How to get the meter where it is missing (printed in the report's reason).
INSTALL_HINT = "pip install nvidia-ml-py on a machine with an NVIDIA driver"


@dataclass
class GpuEnergyMeter:
    """NVML's energy counter of one GPU and that GPU's idle draw."""

    nvml: Any
    handle: Any
    gpu: str
    idle_w: float = 0.0

    def joules(self) -> float:
        """The counter now, in joules."""
        return float(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)) / 1e3

    def describe(self) -> dict[str, Any]:
        return {
            "meter": "NVML total energy counter (nvmlDeviceGetTotalEnergyConsumption)",
            "gpu": self.gpu,
            "idle_w": round(self.idle_w, 2),
        }


def open_meter(
    idle_s: float = 1.0, index: int = 0, sleep: Callable[[float], None] = time.sleep
) -> tuple[GpuEnergyMeter | None, str]:
    """The meter of GPU ``index`` with its idle draw measured over ``idle_s``, or None and
    why not."""
    try:
        import pynvml

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        name = pynvml.nvmlDeviceGetName(handle)
        meter = GpuEnergyMeter(pynvml, handle, name if isinstance(name, str) else name.decode())
        start = meter.joules()
    except Exception as exc:  # ImportError, or pynvml's NVMLError for each missing piece
        return None, f"no measured GPU energy ({type(exc).__name__}: {exc}); {INSTALL_HINT}"
    t0 = time.perf_counter()
    sleep(idle_s)
    meter.idle_w = (meter.joules() - start) / max(time.perf_counter() - t0, 1e-9)
    return meter, ""


def measure_energy(
    meter: GpuEnergyMeter,
    run: Callable[[Sequence[Any]], object],
    chunk: Sequence[Any],
    seconds: float,
) -> dict[str, float]:
    """Run ``run(chunk)`` until ``seconds`` have passed; joules per tile of the board and
    above its idle draw, with the tiles and seconds they came from."""
    tiles = 0
    start = meter.joules()
    t0 = time.perf_counter()
    while tiles == 0 or time.perf_counter() - t0 < seconds:
        run(chunk)
        tiles += len(chunk)
    wall = time.perf_counter() - t0
    board = meter.joules() - start
    return {
        "board": float(f"{board / tiles:.4g}"),
        "above_idle": float(f"{(board - meter.idle_w * wall) / tiles:.4g}"),
        "board_w": round(board / wall, 1),
        "tiles": tiles,
        "seconds": round(wall, 3),
    }
