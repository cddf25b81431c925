"""Satellites that share one budget clock: their power and thermal states step together.

The satellites of one process (a Ray actor holds several, docs/design.md "Missions") keep
their battery and node temperature in arrays of shape (satellites,) and advance them with
:func:`edgeinfer.budget.run_budgets` over the precomputed duty rows of the orbit plan
(sunlit, imaging and transmitting fractions of every budget step). Between events, when no
satellite has tiles waiting for the accelerator, a whole stretch of steps is one
``run_budgets`` call. While a satellite has a backlog, steps go one at a time: each asks for
the accelerator duty that would clear the backlog, ``run_budgets`` grants it only where the
battery stays above ``min_soc`` for the whole step and the node is not throttled, and the
granted seconds are handed back to the satellite (which completes tiles with them) or the
refusal and its reason (``power`` first, else ``thermal``). Events split steps, so a step
may be shorter than ``step_s``; state is recorded on the step grid for the report.
"""

from __future__ import annotations

import copy
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from edgeinfer.budget import BudgetTrace, PowerBudget, PowerConfig, ThermalBudget, ThermalConfig
from edgeinfer.budget import run_budgets as _run_budgets
from edgeinfer.errors import ConfigError

FloatArray = NDArray[np.float64]
_EPS_S = 1e-6
# What a checkpoint of a fleet holds besides the trace columns written so far.
_STATE = (
    "t_s",
    "power",
    "thermal",
    "min_soc",
    "peak_temperature_c",
    "energy_used_wh",
    "accelerator_s",
    "refused_steps",
)


class Worker(Protocol):
    """What a fleet member tells the budgets and hears back."""

    def backlog_s(self) -> float:
        """Modelled accelerator seconds of work waiting."""

    def work(self, granted_s: float, start_s: float, end_s: float) -> None:
        """The accelerator ran ``granted_s`` from ``start_s`` (within ``[start_s, end_s]``)."""

    def refused(self, reason: str, start_s: float, end_s: float) -> None:
        """The accelerator was refused for the step ``[start_s, end_s]`` (power or thermal)."""


class Fleet:
    """Budget state and clock of satellites stepped together (see the module docstring)."""

    def __init__(
        self,
        power: PowerConfig,
        thermal: ThermalConfig,
        step_s: float,
        duration_s: float,
        sunlit: FloatArray,
        imaging: FloatArray | None = None,
        transmitting: FloatArray | None = None,
    ) -> None:
        lit = np.atleast_2d(np.asarray(sunlit, dtype=np.float64))
        k, n = lit.shape
        if step_s <= 0 or duration_s <= 0 or n != max(1, int(np.ceil(duration_s / step_s - 1e-9))):
            raise ConfigError(
                f"duty rows have {n} steps, but {duration_s} s at {step_s} s steps need "
                f"{max(1, int(np.ceil(duration_s / step_s - 1e-9)))}"
            )
        self.power_config = power
        self.thermal_config = thermal
        self.step_s = float(step_s)
        self.duration_s = float(duration_s)
        self.sunlit = lit
        self.imaging = _rows(imaging, lit.shape)
        self.transmitting = _rows(transmitting, lit.shape)
        self.edges = np.arange(n + 1, dtype=np.float64) * step_s
        self.edges[-1] = duration_s
        self.power = PowerBudget(power, (k,))
        self.thermal = ThermalBudget(thermal, (k,))
        self.t_s = 0.0
        self.members: list[Worker | None] = [None] * k
        self.soc_trace = np.full((k, n + 1), np.nan, dtype=np.float32)
        self.temperature_trace = np.full((k, n + 1), np.nan, dtype=np.float32)
        self.soc_trace[:, 0] = self.power.soc
        self.temperature_trace[:, 0] = self.thermal.temperature_c
        self.min_soc = self.power.soc.copy()
        self.peak_temperature_c = self.thermal.temperature_c.copy()
        self.energy_used_wh = np.zeros(k)
        self.accelerator_s = np.zeros(k)
        self.refused_steps = {
            "power": np.zeros(k, dtype=np.int64),
            "thermal": np.zeros(k, dtype=np.int64),
        }

    @property
    def size(self) -> int:
        return len(self.members)

    def join(self, slot: int, worker: Worker) -> None:
        """Register the satellite that owns row ``slot``."""
        if not 0 <= slot < self.size or self.members[slot] is not None:
            raise ConfigError(f"fleet slot {slot} is taken or outside 0..{self.size - 1}")
        self.members[slot] = worker

    def advance(self, t_end_s: float) -> None:
        """Step every satellite's budgets (and backlogs) to ``t_end_s`` seconds."""
        t_end = min(float(t_end_s), self.duration_s)
        n = self.sunlit.shape[1]
        while self.t_s < t_end - _EPS_S:
            k = min(int(np.searchsorted(self.edges, self.t_s + _EPS_S, side="right")) - 1, n - 1)
            edge = float(self.edges[k + 1])
            demand = np.array([m.backlog_s() if m is not None else 0.0 for m in self.members])
            on_grid = abs(self.t_s - self.edges[k]) < _EPS_S
            if not demand.any() and on_grid and t_end >= edge - _EPS_S:
                k1 = int(np.searchsorted(self.edges, t_end + _EPS_S, side="right")) - 1
                k1 = min(k1, n)
                if k1 == n and self.edges[n] - self.edges[n - 1] < self.step_s - _EPS_S:
                    k1 = n - 1  # the short last step goes alone
                if k1 > k:
                    self._chunk(k, k1)
                    continue
            self._step(k, self.t_s, min(edge, t_end), demand if demand.any() else None)

    def _chunk(self, k0: int, k1: int) -> None:
        """Whole grid steps ``k0..k1-1`` with no inference demand: one run_budgets call."""
        trace = self._run(self.step_s, slice(k0, k1), None)
        self._account(trace, self.step_s)
        self.soc_trace[:, k0 + 1 : k1 + 1] = trace.soc
        self.temperature_trace[:, k0 + 1 : k1 + 1] = trace.temperature_c
        self.t_s = float(self.edges[k1])

    def _step(self, k: int, a: float, b: float, demand: FloatArray | None) -> None:
        dt = b - a
        duty = None if demand is None else np.minimum(demand / dt, 1.0)[:, np.newaxis]
        trace = self._run(dt, slice(k, k + 1), duty)
        self._account(trace, dt)
        if demand is not None:
            granted = trace.inference_duty[:, 0] * dt
            for i, member in enumerate(self.members):
                if member is None or demand[i] <= 0.0:
                    continue
                if granted[i] > 0.0:
                    member.work(float(granted[i]), a, b)
                else:
                    reason = "power" if trace.refused_for_power[i, 0] else "thermal"
                    self.refused_steps[reason][i] += 1
                    member.refused(reason, a, b)
        self.t_s = b
        if abs(b - self.edges[k + 1]) < _EPS_S:
            self.soc_trace[:, k + 1] = trace.soc[:, 0]
            self.temperature_trace[:, k + 1] = trace.temperature_c[:, 0]

    def _run(self, dt: float, cols: slice, duty: FloatArray | None) -> BudgetTrace:
        return _run_budgets(
            dt,
            self.sunlit[:, cols],
            self.power_config,
            self.thermal_config,
            infer_demand=duty,
            imaging=self.imaging[:, cols],
            transmitting=self.transmitting[:, cols],
            power_state=self.power,
            thermal_state=self.thermal,
        )

    def _account(self, trace: BudgetTrace, dt: float) -> None:
        self.energy_used_wh += trace.load_wh.sum(axis=1)
        self.accelerator_s += trace.inference_duty.sum(axis=1) * dt
        self.min_soc = np.minimum(self.min_soc, trace.soc.min(axis=1))
        self.peak_temperature_c = np.maximum(
            self.peak_temperature_c, trace.temperature_c.max(axis=1)
        )

    def snapshot(self) -> dict[str, Any]:
        """The budget state a checkpoint needs, without the duty rows, the configs, the
        members and the traces (:meth:`trace_columns` gives those piece by piece)."""
        return {k: copy.deepcopy(getattr(self, k)) for k in _STATE}

    def trace_columns(self, start: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """State of charge and temperature trace columns ``start`` .. the current step."""
        done = self.recorded_steps()
        return self.soc_trace[:, start:done].copy(), self.temperature_trace[:, start:done].copy()

    def restore(
        self, state: dict[str, Any], soc: NDArray[np.float32], temperature: NDArray[np.float32]
    ) -> None:
        """Back to a :meth:`snapshot` with the trace columns from step 0 to its time."""
        for key in _STATE:
            setattr(self, key, copy.deepcopy(state[key]))
        self.soc_trace[:] = np.nan
        self.temperature_trace[:] = np.nan
        self.soc_trace[:, : soc.shape[1]] = soc
        self.temperature_trace[:, : temperature.shape[1]] = temperature

    def recorded_steps(self) -> int:
        """Columns of the traces written so far (grid points up to the current time)."""
        return int(np.searchsorted(self.edges, self.t_s + _EPS_S, side="right"))

    def state(self, slot: int) -> dict[str, float]:
        """Budget figures of one satellite so far."""
        return {
            "soc": float(self.power.soc[slot]),
            "temperature_c": float(self.thermal.temperature_c[slot]),
            "min_soc": float(self.min_soc[slot]),
            "peak_temperature_c": float(self.peak_temperature_c[slot]),
            "energy_used_wh": float(self.energy_used_wh[slot]),
            "accelerator_s": float(self.accelerator_s[slot]),
            "steps_refused_power": int(self.refused_steps["power"][slot]),
            "steps_refused_thermal": int(self.refused_steps["thermal"][slot]),
        }


def _rows(value: FloatArray | None, shape: tuple[int, ...]) -> FloatArray:
    if value is None:
        return np.zeros(shape)
    arr = np.atleast_2d(np.asarray(value, dtype=np.float64))
    if arr.shape != shape:
        raise ConfigError(f"duty rows have shape {arr.shape}; expected {shape}")
    return arr
