"""A dry run: the orbit plan and every satellite's power and thermal budgets over the whole
mission, without reading tiles or running a model (no Ray either).

What it answers: when the satellites see the scenes and the stations, how their batteries and
temperatures evolve with the radio and imager loads of the plan, and how fast that part of the
engine is (issue 7's orbit+budget benchmark: simulated seconds per wall second).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from edgeinfer.mission.build import build_constellation, build_stations
from edgeinfer.mission.config import SAR_PRODUCTS, MissionConfig
from edgeinfer.mission.plan import MissionPlan, SceneSite, plan_mission
from edgeinfer.mission.scenes import each_scene
from edgeinfer.node.fleet import Fleet
from edgeinfer.orbit import SunEphemeris
from edgeinfer.scene import open_scene


@dataclass
class DryRun:
    """The plan, the stepped fleet (all satellites in one array) and wall times."""

    plan: MissionPlan
    fleet: Fleet
    wall_s: dict[str, float] = field(default_factory=dict)
    failed_scenes: list[dict[str, Any]] = field(default_factory=list)
    """Scenes that could not be used, as in a run's ``metrics.json`` (the others are planned)."""

    @property
    def sim_seconds_per_wall_second(self) -> float:
        return self.plan.duration_s / max(sum(self.wall_s.values()), 1e-9)


def dry_run(config: MissionConfig, sun: SunEphemeris | None = None) -> DryRun:
    """Plan ``config`` and step all budgets through its events (no tiles, no inference).
    A scene that cannot be opened is left out and listed in ``failed_scenes`` with the
    error, as ``edgeinfer run`` does; none usable is a :class:`ConfigError`."""
    t0 = time.perf_counter()
    failed: list[dict[str, Any]] = []
    sites = each_scene(config, failed, _site)
    t1 = time.perf_counter()
    m = config.mission
    plan = plan_mission(
        build_constellation(config),
        build_stations(config),
        sites,
        m.start,
        m.duration_s,
        m.time_step_s,
        config.constellation.swath_km,
        link_efficiency=config.budgets.link_efficiency,
        min_sun_elevation_deg=config.imaging.min_sun_elevation_deg,
        min_coverage=config.imaging.min_coverage,
        search_step_s=config.imaging.search_step_s,
        sun=sun,
    )
    t2 = time.perf_counter()
    fleet = Fleet(
        config.power_config(),
        config.thermal_config(),
        plan.step_s,
        plan.duration_s,
        plan.sunlit,
        plan.imaging,
        plan.transmitting,
    )
    for event in plan.events():
        fleet.advance(event.t_s)
    fleet.advance(plan.duration_s)
    t3 = time.perf_counter()
    return DryRun(
        plan,
        fleet,
        {"scenes_s": t1 - t0, "plan_s": t2 - t1, "budgets_s": t3 - t2},
        failed_scenes=failed,
    )


def _site(spec: Any, where: str, opened: list[SceneSite]) -> SceneSite:
    """Where a scene lies and whether it is imaged by day only (no tiles read)."""
    with open_scene(spec.path, product=spec.product, bands=spec.bands) as scene:
        daylight = spec.daylight_only
        if daylight is None:
            daylight = scene.product not in SAR_PRODUCTS
        return SceneSite(scene.scene_id, tuple(scene.footprint_lonlat()), daylight)
