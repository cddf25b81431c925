"""Thermal budget: one lumped node with radiative rejection and accelerator throttling.

    C dT/dt = P_in + alpha * A_sun * S * sunlit - eps * sigma * A_rad * (T^4 - T_sink^4)

(q = eps*sigma*(T^4 - T_sink^4) per radiator area, REFERENCE.md "Power and thermal": ~491 W/m2
at eps 0.9 and 40 C to deep space). Integrated with backward (implicit) Euler, solved by
Newton's method, in sub-steps of at most ``max_substep_s``: unconditionally stable, so steps of
10-60 s (or longer) never blow up, and exact at equilibrium. The accelerator throttles when T
exceeds ``throttle_above_c`` and resumes below ``resume_below_c`` (hysteresis).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from edgeinfer.errors import ConfigError

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

STEFAN_BOLTZMANN_W_M2_K4 = 5.670374419e-8  # CODATA 2018
SOLAR_CONSTANT_W_M2 = 1361.0  # total solar irradiance at 1 AU (Kopp & Lean 2011, GRL 38, L01706)
ZERO_C_IN_K = 273.15
DEEP_SPACE_K = 2.7  # cosmic microwave background (Fixsen 2009, ApJ 707: 2.7255 K)


@dataclass(frozen=True)
class ThermalConfig:
    """Lumped thermal node of the payload/compute module.

    Defaults (heat capacity, radiator area, limits) are an illustrative compute module
    [assumption]; emissivity 0.9 is REFERENCE.md's radiator value. ``throttle_above_c`` /
    ``resume_below_c`` are node (baseplate) limits, not chip junction limits.
    """

    heat_capacity_j_per_k: float = 20_000.0
    radiator_area_m2: float = 0.2
    emissivity: float = 0.9
    sink_temperature_k: float = DEEP_SPACE_K
    solar_absorptivity: float = 0.0
    sunlit_area_m2: float = 0.0
    solar_flux_w_m2: float = SOLAR_CONSTANT_W_M2
    initial_temperature_c: float = 20.0
    throttle_above_c: float = 70.0
    resume_below_c: float = 60.0
    max_substep_s: float = 30.0
    newton_iterations: int = 2

    def __post_init__(self) -> None:
        if self.heat_capacity_j_per_k <= 0 or self.radiator_area_m2 < 0:
            raise ConfigError("heat_capacity_j_per_k must be > 0 and radiator_area_m2 >= 0")
        if not 0.0 <= self.emissivity <= 1.0 or not 0.0 <= self.solar_absorptivity <= 1.0:
            raise ConfigError("emissivity and solar_absorptivity are fractions in [0, 1]")
        if self.resume_below_c > self.throttle_above_c:
            raise ConfigError(
                f"resume_below_c ({self.resume_below_c}) must be <= throttle_above_c "
                f"({self.throttle_above_c})"
            )
        if self.max_substep_s <= 0 or self.newton_iterations < 1:
            raise ConfigError("max_substep_s must be > 0 and newton_iterations >= 1")

    @property
    def conductance_w_k4(self) -> float:
        """eps * sigma * A_rad, the factor of T^4 in the rejected power."""
        return self.emissivity * STEFAN_BOLTZMANN_W_M2_K4 * self.radiator_area_m2


def radiated_w(
    temperature_k: ArrayLike, area_m2: float, emissivity: float, sink_k: float = 0.0
) -> FloatArray:
    """Net radiated power eps*sigma*A*(T^4 - T_sink^4) in W."""
    t = np.asarray(temperature_k, dtype=np.float64)
    out: FloatArray = emissivity * STEFAN_BOLTZMANN_W_M2_K4 * area_m2 * (t**4 - sink_k**4)
    return out


def equilibrium_temperature_k(heat_w: ArrayLike, config: ThermalConfig) -> FloatArray:
    """Steady-state temperature for a constant heat input (W)."""
    k = config.emissivity * STEFAN_BOLTZMANN_W_M2_K4 * config.radiator_area_m2
    q = np.asarray(heat_w, dtype=np.float64)
    out: FloatArray = (q / k + config.sink_temperature_k**4) ** 0.25
    return out


# Above this stiffness (h / thermal time constant at 500 K) more Newton iterations are used;
# below it the first iteration (the linearly implicit Euler step) differs from the converged
# backward-Euler step by O(stiffness^2) of the step's change: < 0.1 mK for the defaults.
_ONE_NEWTON_STIFFNESS = 0.02


def substeps(config: ThermalConfig, dt_s: float) -> tuple[int, float, int]:
    """(sub-steps, sub-step length s, Newton iterations) used for a step of ``dt_s``."""
    n_sub = max(1, int(np.ceil(dt_s / config.max_substep_s)))
    h = dt_s / n_sub
    stiffness = h * 4.0 * config.conductance_w_k4 * 500.0**3 / config.heat_capacity_j_per_k
    return n_sub, h, 1 if stiffness < _ONE_NEWTON_STIFFNESS else config.newton_iterations


def advance_temperature(
    t_k: FloatArray, q_w: FloatArray, dt_s: float, config: ThermalConfig
) -> FloatArray:
    """Node temperature after ``dt_s`` with constant heat input ``q_w`` (W), backward Euler.

    Each sub-step solves cap*(x - t)/h + k*(x^4 - T_sink^4) = q for x with Newton's method
    started at t (the first iteration alone is the linearly implicit Euler step).
    """
    if dt_s == 0:
        return np.array(t_k, dtype=np.float64, copy=True)
    cap = config.heat_capacity_j_per_k
    k = config.conductance_w_k4
    n_sub, h, iterations = substeps(config, dt_s)
    rhs = q_w + k * config.sink_temperature_k**4
    c_h = cap / h
    t = t_k
    for _ in range(n_sub):
        x = t
        for _ in range(iterations):
            x2 = x * x
            f = c_h * (x - t) + k * (x2 * x2) - rhs
            x = x - f / (c_h + 4.0 * k * x2 * x)
        t = np.maximum(x, 1.0)
    return t


@dataclass(frozen=True)
class ThermalStep:
    """Result of one step: node temperature after it and heat flows (J) during it."""

    temperature_k: FloatArray
    absorbed_j: FloatArray
    radiated_j: FloatArray
    throttled: BoolArray


class ThermalBudget:
    """Node temperature of one or many satellites (state shape ``()`` or ``(n,)``)."""

    def __init__(self, config: ThermalConfig, shape: tuple[int, ...] = ()) -> None:
        self.config = config
        self.temperature_k: FloatArray = np.full(shape, config.initial_temperature_c + ZERO_C_IN_K)
        self.throttled: BoolArray = np.zeros(shape, dtype=bool)
        self._update_throttle()

    @property
    def temperature_c(self) -> FloatArray:
        out: FloatArray = self.temperature_k - ZERO_C_IN_K
        return out

    def absorbed_solar_w(self, sunlit: ArrayLike) -> FloatArray:
        c = self.config
        out: FloatArray = (
            c.solar_absorptivity
            * c.sunlit_area_m2
            * c.solar_flux_w_m2
            * np.asarray(sunlit, dtype=np.float64)
        )
        return out

    def _update_throttle(self) -> None:
        c = self.config
        t_c = self.temperature_k - ZERO_C_IN_K
        self.throttled = np.where(
            t_c > c.throttle_above_c, True, np.where(t_c < c.resume_below_c, False, self.throttled)
        )

    def step(self, dt_s: float, heat_in_w: ArrayLike, sunlit: ArrayLike = False) -> ThermalStep:
        """Advance ``dt_s`` seconds with internal dissipation ``heat_in_w`` (W)."""
        if dt_s < 0:
            raise ConfigError(f"dt_s must be >= 0, got {dt_s}")
        c = self.config
        q = np.broadcast_to(
            np.asarray(heat_in_w, dtype=np.float64) + self.absorbed_solar_w(sunlit),
            self.temperature_k.shape,
        )
        t0_total = self.temperature_k
        t = advance_temperature(self.temperature_k, q, dt_s, c)
        cap = c.heat_capacity_j_per_k
        self.temperature_k = t
        absorbed = q * dt_s
        stored = cap * (t - t0_total)
        self._update_throttle()
        return ThermalStep(
            temperature_k=t,
            absorbed_j=absorbed,
            radiated_j=absorbed - stored,
            throttled=self.throttled.copy(),
        )
