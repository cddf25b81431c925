"""The fleet's budget clock against ``run_budgets`` itself and against hand energy balances."""

from __future__ import annotations

import numpy as np
import pytest

from edgeinfer.budget import PowerConfig, ThermalConfig, run_budgets
from edgeinfer.errors import ConfigError
from edgeinfer.node.fleet import Fleet

POWER = PowerConfig()
THERMAL = ThermalConfig()


class _Worker:
    """A member with a fixed backlog that records what the fleet tells it."""

    def __init__(self, backlog_s: float = 0.0) -> None:
        self.left = backlog_s
        self.granted: list[tuple[float, float, float]] = []
        self.refusals: list[tuple[str, float, float]] = []

    def backlog_s(self) -> float:
        return self.left

    def work(self, granted_s: float, start_s: float, end_s: float) -> None:
        self.granted.append((granted_s, start_s, end_s))
        self.left = max(0.0, self.left - granted_s)

    def refused(self, reason: str, start_s: float, end_s: float) -> None:
        self.refusals.append((reason, start_s, end_s))


def _rows(n_sats: int, n_steps: int, seed: int = 1) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    lit = (rng.random((n_sats, n_steps)) > 0.35).astype(float)
    img = (rng.random((n_sats, n_steps)) > 0.97) * 0.2
    tx = (rng.random((n_sats, n_steps)) > 0.9) * 1.0
    return lit, img, tx


def test_without_demand_the_fleet_reproduces_run_budgets_step_for_step() -> None:
    lit, img, tx = _rows(3, 500)
    fleet = Fleet(POWER, THERMAL, 10.0, 5000.0, lit, img, tx)
    for m in range(3):
        fleet.join(m, _Worker())
    for t in (123.4, 1000.0, 1000.0, 2345.6, 5000.0):  # events split some steps
        fleet.advance(t)
    ref = run_budgets(10.0, lit, POWER, THERMAL, imaging=img, transmitting=tx)
    np.testing.assert_allclose(fleet.soc_trace[:, 1:], ref.soc, rtol=0, atol=2e-6)
    np.testing.assert_allclose(fleet.temperature_trace[:, 1:], ref.temperature_c, atol=2e-3)
    np.testing.assert_allclose(fleet.energy_used_wh, ref.load_wh.sum(axis=1), rtol=1e-9)
    assert fleet.t_s == 5000.0


def test_demand_is_granted_and_charged_at_the_accelerators_active_power() -> None:
    lit = np.ones((1, 10))
    fleet = Fleet(POWER, THERMAL, 10.0, 100.0, lit)
    worker = _Worker(backlog_s=25.0)
    fleet.join(0, worker)
    fleet.advance(100.0)
    assert [g[0] for g in worker.granted] == pytest.approx([10.0, 10.0, 5.0])
    assert fleet.accelerator_s[0] == pytest.approx(25.0)
    # every step pays bus + idle accelerator; inference adds (active - idle) for 25 s
    base_wh = (POWER.bus_w + POWER.accelerator_idle_w) * 100.0 / 3600.0
    extra_wh = (POWER.accelerator_active_w - POWER.accelerator_idle_w) * 25.0 / 3600.0
    assert fleet.energy_used_wh[0] == pytest.approx(base_wh + extra_wh)


def test_an_empty_battery_in_eclipse_refuses_for_power() -> None:
    power = PowerConfig(battery_capacity_wh=10.0, initial_soc=0.31, min_soc=0.3)
    fleet = Fleet(power, THERMAL, 10.0, 60.0, np.zeros((1, 6)))
    worker = _Worker(backlog_s=5.0)
    fleet.join(0, worker)
    fleet.advance(60.0)
    assert not worker.granted
    assert worker.refusals and {r[0] for r in worker.refusals} == {"power"}
    assert fleet.state(0)["steps_refused_power"] == len(worker.refusals)


def test_a_hot_node_refuses_for_thermal_until_it_cools() -> None:
    thermal = ThermalConfig(initial_temperature_c=75.0, throttle_above_c=70.0, resume_below_c=60.0)
    fleet = Fleet(POWER, thermal, 60.0, 4 * 3600.0, np.ones((1, 240)))
    worker = _Worker(backlog_s=30.0)
    fleet.join(0, worker)
    fleet.advance(4 * 3600.0)
    reasons = {r[0] for r in worker.refusals}
    assert reasons == {"thermal"}
    assert worker.granted, "the node should cool below resume_below_c within hours"
    first_grant = worker.granted[0][1]
    # the grant comes only once the recorded temperature fell below the resume limit
    k = int(first_grant // 60.0)
    assert fleet.temperature_trace[0, k] < thermal.resume_below_c


def test_rows_must_match_the_duration() -> None:
    with pytest.raises(ConfigError, match="steps"):
        Fleet(POWER, THERMAL, 10.0, 100.0, np.ones((1, 5)))
    fleet = Fleet(POWER, THERMAL, 10.0, 100.0, np.ones((2, 10)))
    fleet.join(0, _Worker())
    with pytest.raises(ConfigError, match="slot"):
        fleet.join(0, _Worker())
