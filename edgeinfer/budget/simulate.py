"""Power and thermal budgets stepped together over satellites x time (vectorised over satellites).

Each step: inference runs (at the demanded duty cycle) only where the power budget allows it
for the whole step and the thermal node is not throttled; the resulting electrical load drains
or charges the battery, and all of it ends as heat in the thermal node (one lumped node for the
spacecraft electronics; RF power leaving the antenna is neglected). The state of every
satellite advances in one array operation per step, so the cost of a day at 10 s steps is
8640 small array updates regardless of the constellation size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from edgeinfer.budget.power import PowerBudget, PowerConfig, energy_flows
from edgeinfer.budget.thermal import (
    ZERO_C_IN_K,
    ThermalBudget,
    ThermalConfig,
    advance_temperature,
    substeps,
)
from edgeinfer.errors import ConfigError

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class BudgetTrace:
    """Per-step results, arrays of shape (satellites, steps); state values are after the step."""

    soc: FloatArray
    temperature_c: FloatArray
    inference_duty: FloatArray
    throttled: BoolArray
    refused_for_power: BoolArray
    solar_wh: FloatArray
    load_wh: FloatArray
    curtailed_wh: FloatArray
    unmet_wh: FloatArray
    loss_wh: FloatArray
    stored_delta_wh: FloatArray


def _grid(value: ArrayLike | None, shape: tuple[int, int], name: str) -> FloatArray:
    if value is None:
        return np.zeros(shape)
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), shape)
    if np.any(arr < 0) or np.any(arr > 1):
        raise ConfigError(f"{name} must hold duty cycles in [0, 1]")
    return arr


def run_budgets(
    dt_s: float,
    sunlit: ArrayLike,
    power: PowerConfig,
    thermal: ThermalConfig,
    infer_demand: ArrayLike | None = None,
    imaging: ArrayLike | None = None,
    transmitting: ArrayLike | None = None,
    power_state: PowerBudget | None = None,
    thermal_state: ThermalBudget | None = None,
) -> BudgetTrace:
    """Step power and thermal budgets over a (satellites, steps) grid of conditions.

    ``sunlit`` (bool or fraction), ``infer_demand``, ``imaging`` and ``transmitting`` (duty
    cycles in [0, 1]) describe each step. Give ``power_state`` / ``thermal_state`` (shape
    (satellites,)) to continue from an earlier state; they are advanced in place.
    """
    lit = np.asarray(sunlit, dtype=np.float64)
    if lit.ndim != 2:
        raise ConfigError("sunlit must be a (satellites, steps) array")
    if dt_s <= 0:
        raise ConfigError(f"dt_s must be > 0, got {dt_s}")
    ns, nt = lit.shape
    demand = _grid(infer_demand, (ns, nt), "infer_demand")
    img = _grid(imaging, (ns, nt), "imaging")
    tx = _grid(transmitting, (ns, nt), "transmitting")
    pb = power_state or PowerBudget(power, (ns,))
    tb = thermal_state or ThermalBudget(thermal, (ns,))
    if pb.stored_wh.shape != (ns,) or tb.temperature_k.shape != (ns,):
        raise ConfigError(f"power_state and thermal_state must have shape ({ns},)")
    c = pb.config
    h = dt_s / 3600.0
    # Everything that does not depend on the state is computed for all steps at once (time
    # first, so each step reads contiguous rows).
    solar_wh = np.ascontiguousarray((c.solar_array_w * h) * lit.T)
    base_wh = np.ascontiguousarray(
        (h * (c.bus_w + c.accelerator_idle_w))
        + (h * c.imager_w) * img.T
        + (h * c.radio_tx_w) * tx.T
    )
    extra_wh = (c.accelerator_active_w - c.accelerator_idle_w) * h
    # energy check for the whole step with the accelerator on, no credit for a charging surplus
    worst_net_wh = np.minimum(solar_wh - base_wh - extra_wh, 0.0)
    min_wh = c.min_soc * c.battery_capacity_wh - 1e-12
    demand_t = np.ascontiguousarray(demand.T)
    th = tb.config
    k_rad = th.conductance_w_k4
    # constant part of the thermal balance: absorbed sunlight + radiation from the sink
    rhs_w = np.ascontiguousarray(tb.absorbed_solar_w(lit.T) + k_rad * th.sink_temperature_k**4)
    n_sub, h_sub, iterations = substeps(th, dt_s)
    fast = n_sub == 1 and iterations == 1
    c_h = th.heat_capacity_j_per_k / h_sub
    k4 = 4.0 * k_rad
    stored = np.empty((nt + 1, ns))
    temp_k = np.empty((nt, ns))
    duty = np.empty((nt, ns))
    thr = np.empty((nt, ns), dtype=bool)
    energy_ok = np.empty((nt, ns), dtype=bool)
    stored[0] = pb.stored_wh
    t_k = tb.temperature_k
    throttled = tb.throttled
    hot = th.throttle_above_c + ZERO_C_IN_K
    cool = th.resume_below_c + ZERO_C_IN_K
    to_w = 1.0 / h
    cap_wh = c.battery_capacity_wh
    eff = c.charge_efficiency
    idle_net_wh = np.ascontiguousarray(solar_wh - base_wh)  # net with the accelerator idle
    # the fast thermal step's right-hand side without the accelerator's extra heat
    idle_heat_w = np.ascontiguousarray(base_wh * to_w + rhs_w)
    extra_w = extra_wh * to_w
    for k in range(nt):
        s = stored[k]
        ok = np.greater_equal(s + worst_net_wh[k], min_wh, out=energy_ok[k])
        d = np.multiply(demand_t[k], ok & ~throttled, out=duty[k])
        net = idle_net_wh[k] - extra_wh * d
        if eff != 1.0:
            net = np.where(net > 0.0, net * eff, net)
        np.minimum(np.maximum(s + net, 0.0), cap_wh, out=stored[k + 1])
        if fast:  # one linearly implicit Euler step: what advance_temperature does here
            t2 = t_k * t_k
            t_k = t_k - (k_rad * t2 * t2 - idle_heat_w[k] - extra_w * d) / (c_h + k4 * t2 * t_k)
        else:
            q_w = (base_wh[k] + extra_wh * d) * to_w  # electrical load, W
            t_k = advance_temperature(
                t_k, q_w + rhs_w[k] - k_rad * th.sink_temperature_k**4, dt_s, th
            )
        throttled = (t_k > hot) | (throttled & (t_k >= cool))
        temp_k[k] = t_k
        thr[k] = throttled
    refused = ~energy_ok
    pb.stored_wh = stored[nt].copy()
    tb.temperature_k = t_k
    tb.throttled = throttled
    load_wh = base_wh + extra_wh * duty
    flows = energy_flows(solar_wh, load_wh, np.diff(stored, axis=0), c.charge_efficiency)
    return BudgetTrace(
        soc=(stored[1:] / c.battery_capacity_wh).T,
        temperature_c=(temp_k - ZERO_C_IN_K).T,
        inference_duty=duty.T,
        throttled=thr.T,
        refused_for_power=(refused & (demand_t > 0)).T,
        solar_wh=flows.solar_wh.T,
        load_wh=flows.load_wh.T,
        curtailed_wh=flows.curtailed_wh.T,
        unmet_wh=flows.unmet_wh.T,
        loss_wh=flows.loss_wh.T,
        stored_delta_wh=flows.stored_delta_wh.T,
    )
