"""The dry run (plan + budgets, no inference): an eclipse drains the battery by exactly the
loads over its length, and 8 satellites x 24 h step fast."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from edgeinfer.errors import ConfigError
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


def test_a_scene_that_cannot_be_opened_is_left_out_as_in_a_run(tmp_path: Path) -> None:
    """A missing scene file is listed in ``failed_scenes`` with its error and the others are
    planned, as ``edgeinfer run`` does; with no usable scene the error names [[scenes]]."""
    ensure_sample_data(load_mission())
    missing = tmp_path / "gone.tif"
    config = load_mission(None, {"scenes.0.path": str(missing)})
    whole = dry_run(load_mission())
    run = dry_run(config)
    assert [f["path"] for f in run.failed_scenes] == [str(missing)]
    assert run.failed_scenes[0]["error"].startswith(f"scenes[0] ({missing})")
    first = Path(load_mission().scenes[0].path).stem
    kept = [c for c in whole.plan.captures if c.scene != first]
    assert len(kept) < len(whole.plan.captures)  # the sample mission does image that scene
    assert run.plan.captures == kept  # and the other scenes' captures are unchanged
    n = len(config.scenes)
    nothing = load_mission(None, {f"scenes.{i}.path": str(missing) for i in range(n)})
    with pytest.raises(
        ConfigError, match=r"no scene of the mission can be used .*fix \[\[scenes\]\]"
    ):
        dry_run(nothing)
