"""The dry run (plan + budgets, no inference): an eclipse drains the battery by exactly the
loads over its length, and 8 satellites x 24 h step fast."""

from __future__ import annotations

import math

from edgeinfer.mission import load_mission
from edgeinfer.mission.dry import dry_run
from edgeinfer.mission.scenes import ensure_sample_data


def test_an_eclipse_drains_bus_and_idle_power_only() -> None:
    config = load_mission()
    ensure_sample_data(config)
    run = dry_run(config)
    plan, fleet = run.plan, run.fleet
    power = config.power_config()
    step = plan.step_s
    checked = 0
    for sat, a, b in plan.eclipses:
        k0, k1 = math.ceil(a / step), math.floor(b / step)
        if k1 - k0 < 10 or plan.transmitting[sat, k0:k1].any() or plan.imaging[sat, k0:k1].any():
            continue
        drop_wh = (fleet.soc_trace[sat, k0] - fleet.soc_trace[sat, k1]) * power.battery_capacity_wh
        want_wh = (power.bus_w + power.accelerator_idle_w) * (k1 - k0) * step / 3600.0
        assert abs(drop_wh - want_wh) < 1e-3
        checked += 1
    assert checked >= 10
    assert fleet.accelerator_s.sum() == 0.0  # nothing inferred in a dry run
    assert run.sim_seconds_per_wall_second > 1000.0
