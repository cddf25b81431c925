"""Power budget: solar array, battery, loads; inference only while the energy is there.

State is a NumPy array (shape ``()`` for one satellite, ``(n,)`` for n satellites stepped
together), so the mission loop can step a whole constellation per time step. Energy in
watt-hours, power in watts, time in seconds. Per step, exactly:

    solar_wh - curtailed_wh - loss_wh - supplied_wh = stored_delta_wh
    supplied_wh + unmet_wh = load_wh

``curtailed_wh``: solar energy that did not fit a full battery (clamped at full);
``unmet_wh``: load the empty battery could not supply (clamped at empty);
``loss_wh``: charging loss (``1 - charge_efficiency`` of what was stored, per stored Wh).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from edgeinfer.budget.accelerators import AcceleratorProfile
from edgeinfer.errors import ConfigError

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

_S_PER_H = 3600.0


@dataclass(frozen=True)
class PowerConfig:
    """Electrical parameters of one satellite.

    Defaults are an illustrative ~100 kg Earth-observation smallsat [assumption, not from a
    datasheet]; the accelerator powers come from an :class:`AcceleratorProfile` (REFERENCE.md).
    ``min_soc`` is the state of charge below which optional loads (inference) are refused;
    the bus keeps drawing down to empty.
    """

    solar_array_w: float = 150.0
    battery_capacity_wh: float = 400.0
    initial_soc: float = 1.0
    min_soc: float = 0.3
    bus_w: float = 40.0
    imager_w: float = 30.0
    radio_tx_w: float = 50.0
    accelerator_active_w: float = 15.0
    accelerator_idle_w: float = 7.0
    charge_efficiency: float = 1.0

    def __post_init__(self) -> None:
        if self.battery_capacity_wh <= 0:
            raise ConfigError(f"battery_capacity_wh must be > 0, got {self.battery_capacity_wh}")
        if not 0.0 <= self.min_soc <= 1.0 or not 0.0 <= self.initial_soc <= 1.0:
            raise ConfigError("initial_soc and min_soc are fractions in [0, 1]")
        if not 0.0 < self.charge_efficiency <= 1.0:
            raise ConfigError(f"charge_efficiency must be in (0, 1], got {self.charge_efficiency}")
        loads = (self.solar_array_w, self.bus_w, self.imager_w, self.radio_tx_w)
        if min(loads) < 0 or self.accelerator_idle_w < 0:
            raise ConfigError("solar_array_w and every load in W must be >= 0")
        if self.accelerator_active_w < self.accelerator_idle_w:
            raise ConfigError("accelerator_active_w must be >= accelerator_idle_w")

    @classmethod
    def with_accelerator(cls, accelerator: AcceleratorProfile, **kwargs: float) -> PowerConfig:
        """A config whose accelerator loads are those of ``accelerator``."""
        return cls(
            accelerator_active_w=accelerator.active_w,
            accelerator_idle_w=accelerator.idle_w,
            **kwargs,
        )


@dataclass(frozen=True)
class PowerStep:
    """Energy flows of one step (Wh), arrays shaped like the budget's state."""

    solar_wh: FloatArray
    load_wh: FloatArray
    supplied_wh: FloatArray
    unmet_wh: FloatArray
    curtailed_wh: FloatArray
    loss_wh: FloatArray
    stored_delta_wh: FloatArray


class PowerBudget:
    """Battery state of one or many satellites, stepped through time."""

    def __init__(self, config: PowerConfig, shape: tuple[int, ...] = ()) -> None:
        self.config = config
        self.stored_wh: FloatArray = np.full(shape, config.initial_soc * config.battery_capacity_wh)

    @property
    def soc(self) -> FloatArray:
        """State of charge, fraction of capacity."""
        out: FloatArray = self.stored_wh / self.config.battery_capacity_wh
        return out

    def load_w(
        self, imager: ArrayLike = 0.0, accelerator: ArrayLike = 0.0, radio: ArrayLike = 0.0
    ) -> FloatArray:
        """Mean electrical load (W) over a step, given duty cycles in [0, 1] of each load.

        The accelerator draws ``accelerator_idle_w`` when not inferring.
        """
        c = self.config
        acc = np.asarray(accelerator, dtype=np.float64)
        out: FloatArray = (
            c.bus_w
            + c.imager_w * np.asarray(imager, dtype=np.float64)
            + c.radio_tx_w * np.asarray(radio, dtype=np.float64)
            + c.accelerator_idle_w
            + (c.accelerator_active_w - c.accelerator_idle_w) * acc
        )
        return out

    def solar_w(self, sunlit: ArrayLike) -> FloatArray:
        """Array output (W): full in sunlight (a fraction gives partial sunlight), 0 in eclipse."""
        out: FloatArray = self.config.solar_array_w * np.asarray(sunlit, dtype=np.float64)
        return out

    def can_infer(
        self,
        duration_s: float,
        sunlit: ArrayLike = False,
        imager: ArrayLike = 0.0,
        radio: ArrayLike = 0.0,
    ) -> BoolArray:
        """True where running the accelerator for ``duration_s`` keeps the SoC >= ``min_soc``.

        No credit is taken for a charging surplus: below ``min_soc`` the battery recovers to
        the floor before optional loads run again, even in sunlight.
        """
        net_w = self.solar_w(sunlit) - self.load_w(imager, 1.0, radio)
        after = self.stored_wh + np.minimum(net_w, 0.0) * duration_s / _S_PER_H
        ok: BoolArray = after >= self.config.min_soc * self.config.battery_capacity_wh - 1e-12
        return ok

    def step(
        self,
        dt_s: float,
        sunlit: ArrayLike,
        imager: ArrayLike = 0.0,
        accelerator: ArrayLike = 0.0,
        radio: ArrayLike = 0.0,
    ) -> PowerStep:
        """Advance ``dt_s`` seconds; returns the energy flows (see module docstring)."""
        if dt_s < 0:
            raise ConfigError(f"dt_s must be >= 0, got {dt_s}")
        return self.step_w(dt_s, self.solar_w(sunlit), self.load_w(imager, accelerator, radio))

    def step_w(self, dt_s: float, solar_w: ArrayLike, load_w: ArrayLike) -> PowerStep:
        """Advance with given mean solar input and load powers (W)."""
        c = self.config
        h = dt_s / _S_PER_H
        shape = self.stored_wh.shape
        solar_wh = np.broadcast_to(np.asarray(solar_w, dtype=np.float64) * h, shape)
        load_wh = np.broadcast_to(np.asarray(load_w, dtype=np.float64) * h, shape)
        before = self.stored_wh
        self.stored_wh = advance_stored(before, solar_wh - load_wh, c)
        return energy_flows(solar_wh, load_wh, self.stored_wh - before, c.charge_efficiency)


def advance_stored(stored_wh: FloatArray, net_wh: FloatArray, config: PowerConfig) -> FloatArray:
    """Stored energy after a step with net input ``net_wh`` (solar - load), clamped to
    [0, capacity]; a surplus is stored at ``charge_efficiency``."""
    eff = config.charge_efficiency
    gain = net_wh if eff == 1.0 else np.where(net_wh > 0.0, net_wh * eff, net_wh)
    out: FloatArray = np.minimum(np.maximum(stored_wh + gain, 0.0), config.battery_capacity_wh)
    return out


def energy_flows(
    solar_wh: FloatArray, load_wh: FloatArray, delta_wh: FloatArray, charge_efficiency: float
) -> PowerStep:
    """Split a step's energy into supplied, unmet, curtailed and lost parts from the change
    of stored energy (works on arrays of any shape, e.g. a whole (satellites, steps) run)."""
    net = solar_wh - load_wh
    charging = net > 0.0
    stored_in = np.where(charging, np.maximum(delta_wh, 0.0), 0.0)
    used_for_charge = stored_in / charge_efficiency
    curtailed = np.where(charging, net - used_for_charge, 0.0)
    unmet = np.where(charging, 0.0, np.maximum(-net + delta_wh, 0.0))
    return PowerStep(
        solar_wh=np.asarray(solar_wh, dtype=np.float64),
        load_wh=np.asarray(load_wh, dtype=np.float64),
        supplied_wh=load_wh - unmet,
        unmet_wh=unmet,
        curtailed_wh=curtailed,
        loss_wh=used_for_charge - stored_in,
        stored_delta_wh=np.asarray(delta_wh, dtype=np.float64),
    )
