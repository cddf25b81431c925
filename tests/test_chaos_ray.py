"""Issue 6's bars on Ray, with real kills (``os._exit`` in the satellite actor, restarted by
Ray from its checkpoint): ``edgeinfer run sample_data/missions/chaos.toml`` and the same with
8 satellites, through the CLI. The independent truth is the same mission without faults:
the delivered alerts must be the same set, and the ground's own database must count no
duplicate and no altered record."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from chaos_helpers import alert_set

from edgeinfer.cli.main import main
from edgeinfer.mission import MissionResult, sample_mission_path

pytestmark = pytest.mark.slow

CHAOS = sample_mission_path().parent / "chaos.toml"
COUNTERS = (
    "alerts_raised",
    "alerts_lost",
    "duplicates_delivered",
    "corrupted_accepted",
    "actor_restarts",
    "packets_lost",
    "packets_corrupted",
    "retransmissions",
    "store_crc_failures",
    "scrubs",
    "tmr_votes",
)
# With 8 satellites the packets differ; seed 4 is the first seed from 1 whose link draws
# lose AND corrupt some (1, 2, 3 lose but corrupt none of ~130 packets), as chaos.toml's
# seed 1 does for 4 satellites.
SEED_8 = 4


def _delivered(out: Path) -> set[tuple[Any, ...]]:
    return alert_set(MissionResult(out, {}))


def _ground_duplicates(out: Path) -> tuple[int, int]:
    with sqlite3.connect(out / "ground.sqlite") as con:
        rows, ids = con.execute(
            "SELECT COUNT(*), COUNT(DISTINCT sat_index || ':' || alert_id) FROM alerts"
        ).fetchone()
    return int(rows), int(ids)


def test_chaos_mission_meets_the_bars(
    ray_session: Any, sample_run: MissionResult, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "chaos"
    assert main(["run", str(CHAOS), "--out", str(out)]) == 0
    assert "actor restarts" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    t = metrics["total"]
    assert all(k in t for k in COUNTERS)
    assert t["actor_restarts"] > 0 and t["packets_lost"] > 0 and t["packets_corrupted"] > 0
    assert t["alerts_lost"] == t["duplicates_delivered"] == t["corrupted_accepted"] == 0
    assert t["key_conflicts"] == 0 and t["alerts_delivered"] == t["alerts_raised"] > 0
    # the same alerts as the sample mission, which is this mission without faults
    assert _delivered(out) == alert_set(sample_run)
    rows, ids = _ground_duplicates(out)
    assert rows == ids == t["alerts_delivered"]
    faults = metrics["run"]["faults"]
    # one kill per orbit, each a real process death: every restart has a new pid
    assert len(faults["kills_fired"]) == t["actor_restarts"] == len(faults["kills_planned"])
    period_h = faults["orbit_period_s"] / 3600
    assert abs(t["actor_restarts"] - 24 / period_h) <= 1
    for group in faults["groups"]:
        assert len(set(group["pids"])) == group["restarts"] + 1


def test_eight_satellites_killed_every_orbit(ray_session: Any, tmp_path: Path) -> None:
    out = tmp_path / "eight"
    argv = ["faults", "chaos", str(CHAOS), "--out", str(out)]
    argv += ["--set", "constellation.n_satellites=8", "--set", f"mission.seed={SEED_8}"]
    argv += ["--set", "output.report=false"]
    assert main(argv) == 0  # exit 1 when a bar fails
    report = json.loads((out / "chaos_vs_clean.json").read_text())
    assert all(report["bars"].values()), report["bars"]
    chaos = report["chaos"]
    assert chaos["actor_restarts"] >= 14 and report["clean"]["actor_restarts"] == 0
    assert chaos["alerts_delivered"] == report["clean"]["alerts_delivered"] > 0
    assert _delivered(out / "chaos") == _delivered(out / "clean")
    metrics = json.loads((out / "chaos" / "metrics.json").read_text())
    assert metrics["total"]["satellites"] == 8
    rows, ids = _ground_duplicates(out / "chaos")
    assert rows == ids
