"""A satellite group whose process dies for good (its restarts spent) is lost, and the mission
goes on: the other groups finish, the ground keeps what the lost group had already downlinked,
and metrics.json lists it under ``lost_groups`` (edgeinfer.mission.lost).

The independent truth is the same mission without the kill: every alert it delivered before
the kill time is delivered, and a group that finished delivers exactly what it did there.
``FaultPlan.max_restarts`` is patched to 0, so the first scheduled kill ends a group."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from chaos_helpers import alert_set, mission

from edgeinfer.cli.main import main
from edgeinfer.mission import MissionResult, run_mission
from edgeinfer.mission.faultplan import FaultPlan

SATELLITES = ["SSO-1", "SSO-2", "SSO-3", "SSO-4"]


@pytest.fixture
def no_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FaultPlan, "max_restarts", lambda self, group: 0)


def _features(out: Path) -> list[dict[str, Any]]:
    return list(json.loads((out / "alerts.geojson").read_text())["features"])


def _key(f: dict[str, Any]) -> tuple[Any, ...]:
    p = f["properties"]
    return (p["satellite"], f["id"], p["scene_id"], tuple(p["bbox_px"]), p["capture_time"])


def test_lost_after_its_downlink_keeps_every_alert(no_restarts: None, tmp_path: Path) -> None:
    clean = run_mission(mission(), tmp_path / "clean", use_ray=False)  # SAR alerts down at 2.88 h
    lost = run_mission(mission(faults={"kill_times_h": [2.95]}), tmp_path / "lost", use_ray=False)
    n = len(alert_set(clean))
    assert n > 0 and alert_set(lost) == alert_set(clean)
    m = lost.metrics
    assert [g["satellites"] for g in m["lost_groups"]] == [SATELLITES]  # one group in-process
    assert "max_restarts = 0" in m["lost_groups"][0]["error"]
    assert sum(m["lost_groups"][0]["alerts_delivered"].values()) == n
    t = m["total"]
    assert t["satellites_lost"] == 4 and t["alerts_delivered_by_lost_satellites"] == n
    assert t["satellites"] == 0 and m["satellites"] == {}  # no report survived the process
    assert t["corrupted_accepted"] == t["duplicates_delivered"] == 0  # not counted as corrupt
    assert len(m["run"]["faults"]["kills_fired"]) == 1 and m["run"]["faults"]["groups"] == []
    assert (lost.out_dir / "ground.sqlite").is_file()


def test_lost_before_its_downlink_still_writes_the_outputs(
    no_restarts: None, tmp_path: Path
) -> None:
    lost = run_mission(mission(faults={"kill_times_h": [2.0]}), tmp_path / "lost", use_ray=False)
    assert _features(lost.out_dir) == []  # it died with its alerts on board
    (group,) = lost.metrics["lost_groups"]
    assert group["window"] is not None and sum(group["alerts_delivered"].values()) == 0
    assert lost.metrics["total"]["alerts_delivered_by_lost_satellites"] == 0


@pytest.mark.slow
def test_on_ray_the_other_group_finishes(
    ray_session: Any, sample_run: MissionResult, no_restarts: None, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "lost"
    kill_h = 12.0
    assert main(["run", "--set", f"faults.kill_times_h=[{kill_h}]", "--out", str(out)]) == 0
    assert "1 satellite group(s) lost" in capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    (group,) = metrics["lost_groups"]
    gone = set(group["satellites"])
    assert metrics["total"]["satellites"] == len(SATELLITES) - len(gone)
    assert set(metrics["satellites"]) == set(SATELLITES) - gone
    assert "lost" in metrics["run"]["actor_nodes"]
    start = dt.datetime.fromisoformat(metrics["run"]["start"])
    kill = start + dt.timedelta(hours=kill_h)
    clean, after = _features(sample_run.out_dir), _features(out)
    stayed = {_key(f) for f in after if f["properties"]["satellite"] not in gone}
    assert stayed == {_key(f) for f in clean if f["properties"]["satellite"] not in gone}
    mine = {_key(f) for f in after if f["properties"]["satellite"] in gone}
    assert mine <= {_key(f) for f in clean}
    down = dt.datetime.fromisoformat
    early = {
        _key(f)
        for f in clean
        if f["properties"]["satellite"] in gone and down(f["properties"]["downlink_time"]) < kill
    }
    assert early <= mine
    assert metrics["total"]["alerts_delivered_by_lost_satellites"] == len(mine)
