"""Measured GPU energy in ``edgeinfer bench`` (edgeinfer.bench.energy), against a stand-in
NVML whose energy counter integrates a known power: 100 W idle, 200 W more while a batch
runs. Energy = power x time, so the meter must give back those powers. The real counter was
read on an H100 (docs/performance.md, "GPU"); CI has no GPU."""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Sequence
from typing import Any

import pytest

from edgeinfer.bench.energy import GpuEnergyMeter, measure_energy, open_meter

IDLE_W, BUSY_W, BATCH_S = 100.0, 200.0, 0.01


class FakeGpu:
    """An energy counter (mJ) of ``IDLE_W`` since creation plus ``BUSY_W`` while busy."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.busy_j = 0.0

    def run(self, chunk: Sequence[Any]) -> None:
        time.sleep(BATCH_S)
        self.busy_j += BUSY_W * BATCH_S

    def counter_mj(self) -> int:
        return int((IDLE_W * (time.perf_counter() - self.t0) + self.busy_j) * 1e3)


def fake_nvml(gpu: FakeGpu) -> types.ModuleType:
    nvml = types.ModuleType("pynvml")
    nvml.nvmlInit = lambda: None  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetHandleByIndex = lambda i: ("gpu", i)  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetName = lambda h: "Fake GPU"  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetTotalEnergyConsumption = lambda h: gpu.counter_mj()  # type: ignore[attr-defined]
    return nvml


def test_the_meter_gives_back_the_idle_and_busy_power(monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = FakeGpu()
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(gpu))
    meter, why = open_meter(idle_s=0.2)
    assert meter is not None and why == ""
    assert meter.gpu == "Fake GPU" and meter.idle_w == pytest.approx(IDLE_W, rel=0.05)
    e = measure_energy(meter, gpu.run, ["t1", "t2"], seconds=0.3)
    assert e["tiles"] >= 2 and e["tiles"] % 2 == 0 and e["seconds"] >= 0.3
    # above idle: 200 W for the batch's 10 ms, shared by its 2 tiles (sleep overshoots a little)
    assert e["above_idle"] == pytest.approx(BUSY_W * BATCH_S / 2, rel=0.15)
    per_tile_s = e["seconds"] / e["tiles"]
    assert e["board"] == pytest.approx(e["above_idle"] + IDLE_W * per_tile_s, rel=0.02)
    assert IDLE_W < e["board_w"] <= IDLE_W + BUSY_W


def test_no_nvml_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    meter, why = open_meter(idle_s=0.0)
    assert meter is None
    assert "no measured GPU energy" in why and "nvidia-ml-py" in why


def test_a_counter_that_fails_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = fake_nvml(FakeGpu())

    def no_counter(handle: Any) -> int:
        raise RuntimeError("NVML_ERROR_NOT_SUPPORTED")  # GPUs before Volta

    nvml.nvmlDeviceGetTotalEnergyConsumption = no_counter  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    meter, why = open_meter(idle_s=0.0)
    assert meter is None and "NVML_ERROR_NOT_SUPPORTED" in why


def test_meter_description_names_the_counter() -> None:
    d = GpuEnergyMeter(None, None, "H100", idle_w=124.84).describe()
    assert d == {
        "meter": "NVML total energy counter (nvmlDeviceGetTotalEnergyConsumption)",
        "gpu": "H100",
        "idle_w": 124.84,
    }
