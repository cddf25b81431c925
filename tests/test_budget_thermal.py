"""Thermal node: Stefan-Boltzmann rejection, stable large steps, throttling with hysteresis."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from edgeinfer.budget import ThermalBudget, ThermalConfig, equilibrium_temperature_k, radiated_w
from edgeinfer.budget.thermal import STEFAN_BOLTZMANN_W_M2_K4
from edgeinfer.errors import ConfigError


def test_radiator_rejects_491_w_per_m2_at_40c_to_deep_space() -> None:
    # REFERENCE.md: q = eps*sigma*(T^4 - T_sink^4), eps 0.9, 40 C, deep space: ~491 W/m2
    assert float(radiated_w(313.15, 1.0, 0.9, 0.0)) == pytest.approx(491.0, abs=1.0)
    assert float(radiated_w(313.15, 1.0, 0.9, 2.7)) == pytest.approx(491.0, abs=1.0)


def test_long_run_settles_at_the_analytic_equilibrium() -> None:
    cfg = ThermalConfig(heat_capacity_j_per_k=5000.0, radiator_area_m2=0.25)
    tb = ThermalBudget(cfg)
    for _ in range(100):
        tb.step(3600.0, 80.0)  # 100 h, ~80 time constants
    expected = (80.0 / (0.9 * STEFAN_BOLTZMANN_W_M2_K4 * 0.25) + 2.7**4) ** 0.25
    assert float(tb.temperature_k) == pytest.approx(expected, abs=1e-6)
    assert float(equilibrium_temperature_k(80.0, cfg)) == pytest.approx(expected)


def _reference(cfg: ThermalConfig, heat, t_end: float, t0_k: float) -> float:  # type: ignore[no-untyped-def]
    k = cfg.emissivity * STEFAN_BOLTZMANN_W_M2_K4 * cfg.radiator_area_m2

    def rhs(t: float, y: np.ndarray) -> list[float]:
        return [(heat(t) - k * (y[0] ** 4 - cfg.sink_temperature_k**4)) / cfg.heat_capacity_j_per_k]

    sol = solve_ivp(rhs, (0.0, t_end), [t0_k], rtol=1e-10, atol=1e-10, max_step=5.0)
    return float(sol.y[0, -1])


@pytest.mark.parametrize("dt_s", [10.0, 60.0])
def test_large_steps_track_a_fine_ode_solution(dt_s: float) -> None:
    cfg = ThermalConfig(
        heat_capacity_j_per_k=8000.0, radiator_area_m2=0.2, initial_temperature_c=20.0
    )

    def heat(t: float) -> float:  # 60 W bus + 60 W accelerator on for 20 of every 95 minutes
        return 60.0 + (60.0 if (t % 5700.0) < 1200.0 else 0.0)

    tb = ThermalBudget(cfg)
    t_end = 3 * 5700.0
    for i in range(int(t_end / dt_s)):
        tb.step(dt_s, heat(i * dt_s))
    ref = _reference(cfg, heat, t_end, 293.15)
    assert float(tb.temperature_k) == pytest.approx(ref, abs=0.5)


def test_huge_steps_stay_stable_and_never_overshoot() -> None:
    cfg = ThermalConfig(
        heat_capacity_j_per_k=1000.0, radiator_area_m2=1.0, initial_temperature_c=80.0
    )
    t_eq = float(equilibrium_temperature_k(20.0, cfg))
    tb = ThermalBudget(cfg)
    temps = []
    for _ in range(20):
        tb.step(3600.0, 20.0)  # an hour per step, time constant ~ minutes
        temps.append(float(tb.temperature_k))
    assert np.all(np.diff(temps) <= 1e-9) and min(temps) >= t_eq - 1e-6
    assert temps[-1] == pytest.approx(t_eq, abs=1e-6)


def test_heat_accounting_and_absorbed_sunlight() -> None:
    cfg = ThermalConfig(solar_absorptivity=0.2, sunlit_area_m2=0.1)
    tb = ThermalBudget(cfg)
    before = float(tb.temperature_k)
    s = tb.step(30.0, 50.0, sunlit=True)
    assert float(s.absorbed_j) == pytest.approx((50.0 + 0.2 * 0.1 * 1361.0) * 30.0)
    assert float(s.absorbed_j - s.radiated_j) == pytest.approx(
        cfg.heat_capacity_j_per_k * (float(tb.temperature_k) - before)
    )
    lit = float(equilibrium_temperature_k(50.0 + 0.2 * 0.1 * 1361.0, cfg))
    assert lit > float(equilibrium_temperature_k(50.0, cfg))


def test_throttle_above_limit_and_resume_below_the_hysteresis() -> None:
    cfg = ThermalConfig(
        heat_capacity_j_per_k=2000.0,
        radiator_area_m2=0.1,
        initial_temperature_c=65.0,
        throttle_above_c=70.0,
        resume_below_c=60.0,
    )
    tb = ThermalBudget(cfg)
    assert not bool(tb.throttled)
    while float(tb.temperature_c) <= 70.0:
        tb.step(10.0, 100.0)
    assert bool(tb.throttled)
    while float(tb.temperature_c) > 65.0:
        tb.step(10.0, 10.0)
    assert bool(tb.throttled)  # between the limits: stays throttled
    while float(tb.temperature_c) >= 60.0:
        tb.step(10.0, 10.0)
    assert not bool(tb.throttled)
    hot = ThermalBudget(ThermalConfig(initial_temperature_c=90.0))
    assert bool(hot.throttled)


def test_bad_config() -> None:
    with pytest.raises(ConfigError, match="resume_below_c"):
        ThermalConfig(throttle_above_c=60.0, resume_below_c=70.0)
    with pytest.raises(ConfigError, match="emissivity"):
        ThermalConfig(emissivity=1.5)
