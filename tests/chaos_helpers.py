"""Small missions for the chaos, uplink and bad-input tests: the sample mission cut to a few
hours and the scenes asked for (by default the generated SAR scene, captured by SSO-3 at
1.51 h and downlinked at 2.88 h: a few tens of ship alerts in ~5 s of wall time, in-process)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from edgeinfer.mission import MissionConfig, MissionResult, load_mission, sample_mission_path
from edgeinfer.mission.compare import delivered_alerts
from edgeinfer.mission.scenes import ensure_sample_data

GENERATED = sample_mission_path().parent.parent / "generated"
SAR = {"path": str(GENERATED / "sar_sea.tif"), "product": "sar"}
COAST = {"path": str(GENERATED / "s2_coast.tif"), "product": "sentinel2"}
SAR_CAPTURE_S = 5448.6  # SSO-3 over the SAR scene (plan of the sample mission)


def mission(
    hours: float = 3.0,
    scenes: Sequence[Mapping[str, Any]] = (SAR,),
    **tables: Mapping[str, Any],
) -> MissionConfig:
    """The sample mission for ``hours`` over ``scenes``, with extra tables (``faults=...``,
    ``uplink=...``, ``execution=...``) merged in."""
    ensure_sample_data(load_mission())
    data = tomllib.loads(sample_mission_path().read_text(encoding="utf-8"))
    data["mission"]["duration_h"] = hours
    data["scenes"] = [dict(s) for s in scenes]
    data["output"] = {"report": False}
    for name, table in tables.items():
        data[name] = {**data.get(name, {}), **dict(table)}
    return load_mission(data)


def alert_set(result: MissionResult) -> set[tuple[Any, ...]]:
    """What was delivered, independent of when and through which station."""
    return delivered_alerts(result)


def geojson_bytes(result: MissionResult) -> bytes:
    return Path(result.out_dir / "alerts.geojson").read_bytes()
