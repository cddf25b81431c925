"""Missions: the TOML config, the vectorised orbit plan, the Ray driver, metrics and outputs.

    from edgeinfer.mission import load_mission, run_mission

    result = run_mission(load_mission("sample_data/missions/sample.toml"), "out")

The only package that imports Ray (in :mod:`edgeinfer.mission.actors`, loaded when a mission
runs on Ray).
"""

from __future__ import annotations

import logging

from edgeinfer.mission.config import MissionConfig
from edgeinfer.mission.driver import MissionResult, run_mission
from edgeinfer.mission.dry import DryRun, dry_run
from edgeinfer.mission.loading import apply_overrides, load_mission, sample_mission_path
from edgeinfer.mission.plan import MissionPlan, plan_mission

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "DryRun",
    "MissionConfig",
    "MissionPlan",
    "MissionResult",
    "apply_overrides",
    "dry_run",
    "load_mission",
    "plan_mission",
    "run_mission",
    "sample_mission_path",
]
