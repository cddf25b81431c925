"""Crash recovery without Ray: checkpoints, link database images, in-process kills that replay
their window, and the integrity counters that prove nothing was lost, duplicated or corrupted.

The independent truth is the same mission run without kills: a recovered mission must
deliver byte-identical alerts.geojson (same alerts, same downlink times), and the ground's
own database must show the re-sent packets as discarded duplicates, never as new alerts.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from chaos_helpers import SAR_CAPTURE_S, alert_set, geojson_bytes, mission

from edgeinfer.detect import Alert
from edgeinfer.errors import LinkError
from edgeinfer.mission import MissionResult, run_mission
from edgeinfer.mission.integrity import integrity
from edgeinfer.node.checkpoint import CheckpointStore, database_image, write_image

LINK = {"packet_loss_prob": 0.2, "packet_corrupt_prob": 0.1, "ack_loss_prob": 0.2}
ARQ = {"policy": "alerts", "retransmit_rounds": 6}  # one pass follows the capture: resend


def test_checkpoint_store_keeps_the_latest_state_and_whole_traces(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "g.ckpt.sqlite")
    assert store.load() is None and store.load_setup() is None
    assert store.record_start(11) == 1 and store.record_start(12) == 2
    store.save_setup({"rows": np.arange(4.0)})
    a = np.ones((2, 3), np.float32)
    store.save(-1, {"done": -1}, {0: b"img0"}, 0, a, a * 20)
    store.save(0, {"done": 0}, {0: b"img1"}, 3, a * 2, a * 21)
    store.close()
    again = CheckpointStore(tmp_path / "g.ckpt.sqlite")  # what a restarted process sees
    saved = again.load()
    assert saved is not None and saved.window == 0 and saved.state == {"done": 0}
    assert saved.links == {0: b"img1"}
    assert saved.soc.tolist() == [[1, 1, 1, 2, 2, 2]] * 2
    assert saved.temperature[0].tolist() == [20, 20, 20, 21, 21, 21]
    assert again.starts() == [11, 12]
    setup = again.load_setup()
    assert setup is not None and setup["rows"].tolist() == [0, 1, 2, 3]
    again.save(1, {"done": 1}, {}, 7, a, a)  # a segment that does not follow on: refused
    with pytest.raises(LinkError, match="gap at step 6"):
        again.load()


def test_a_restored_image_ignores_the_dead_process_wal(tmp_path: Path) -> None:
    db = tmp_path / "sat000.link.sqlite"
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (v TEXT)")
    con.execute("INSERT INTO t VALUES ('checkpointed')")
    con.commit()
    image = database_image(db)
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("INSERT INTO t VALUES ('after the checkpoint')")
    con.commit()
    wal = Path(f"{db}-wal").read_bytes()  # what a killed process leaves behind
    con.close()
    Path(f"{db}-wal").write_bytes(wal)
    write_image(db, image)
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT v FROM t").fetchall() == [("checkpointed",)]


def _alert(k: int) -> bytes:
    """A real 48-byte alert record (sequence number k)."""
    a = Alert(
        alert_id=f"a{k}",
        detector="ship",
        cls=2,
        class_name="ship",
        confidence=0.5 + k / 100,
        pixel_count=9,
        bbox_px=(k, k, k + 3, k + 3),
        centroid_px=(k + 1.5, k + 1.5),
        centroid_lonlat=(1.0, 2.0),
        footprint_lonlat=None,
        scene_id="s",
        tile_id="t",
        capture_time=dt.datetime(2023, 10, 25, tzinfo=dt.UTC),
    )
    return a.to_record(k).pack()


def test_integrity_counts_from_the_ground_rows() -> None:
    raised = {0: {0: _alert(0), 1: _alert(1), 2: _alert(2)}, 1: {0: _alert(5)}}
    clean = [(0, 0, _alert(0)), (0, 1, _alert(1)), (0, 2, _alert(2)), (1, 0, _alert(5))]
    assert integrity(clean, raised)[0] == {
        "alerts_raised": 3,
        "alerts_delivered": 3,
        "alerts_lost": 0,
        "duplicates_delivered": 0,
        "corrupted_accepted": 0,
    }
    flipped = bytearray(_alert(2))
    flipped[20] ^= 1
    again = _alert(1)[:44] + (99).to_bytes(4, "big")  # the same detection under a new id
    bad = [(0, 0, _alert(0)), (0, 2, bytes(flipped)), (0, 7, again), (0, 0, _alert(0))]
    got = integrity(bad, raised)
    assert got[0]["duplicates_delivered"] == 1  # id 0 twice
    assert got[0]["corrupted_accepted"] == 2  # id 2 altered, id 7 never raised
    assert got[0]["alerts_lost"] == 1  # id 1 never arrived under its own id
    assert got[1]["alerts_lost"] == 1
    dup = [(0, 1, _alert(1)), (0, 8, _alert(1)[:44] + b"\0\0\0\1")]
    assert integrity(dup, raised)[0]["duplicates_delivered"] == 1  # same content, new id


@pytest.fixture(scope="module")
def lossy(tmp_path_factory: pytest.TempPathFactory) -> MissionResult:
    """The SAR mission through a bad link, no kills."""
    config = mission(faults=LINK, downlink=ARQ)
    return run_mission(config, tmp_path_factory.mktemp("lossy"), use_ray=False)


def _ground(result: MissionResult) -> dict[str, Any]:
    with sqlite3.connect(result.out_dir / "ground.sqlite") as con:
        stats = dict(con.execute("SELECT name, value FROM stats").fetchall())
        rows = con.execute("SELECT COUNT(*), COUNT(DISTINCT alert_id) FROM alerts").fetchone()
    return {"stats": stats, "rows": rows}


@pytest.mark.slow
def test_kills_in_process_replay_to_identical_alerts(lossy: MissionResult, tmp_path: Path) -> None:
    plan = lossy.plan
    assert plan is not None
    # the first contact of the capturing satellite after its capture: die inside it, after
    # the ground stored the first batch and before its acknowledgements are committed
    sat = next(c.sat for c in plan.captures)
    aos = next(p.t_s for p in plan.passes if p.sat == sat and p.t_s > SAR_CAPTURE_S)
    kills_h = [0.5, (SAR_CAPTURE_S + 30.0) / 3600, (aos + 1e-5) / 3600, 2.95]
    config = mission(faults={**LINK, "kill_times_h": kills_h}, downlink=ARQ)
    result = run_mission(config, tmp_path / "killed", use_ray=False)
    t, clean = result.total, lossy.total
    assert (
        t["actor_restarts"] == len(kills_h) == len(result.metrics["run"]["faults"]["kills_fired"])
    )
    assert geojson_bytes(result) == geojson_bytes(lossy)  # same alerts, same downlink times
    n = lossy.total["alerts_raised"]
    assert alert_set(result) == alert_set(lossy) and len(alert_set(lossy)) == n > 0
    for key in ("alerts_lost", "duplicates_delivered", "corrupted_accepted", "key_conflicts"):
        assert t[key] == clean[key] == 0, key
    assert t["packets_lost"] == clean["packets_lost"] > 0
    assert t["packets_corrupted"] == clean["packets_corrupted"] > 0
    ground, before = _ground(result), _ground(lossy)
    assert ground["rows"] == before["rows"] == (n, n)
    # the batch stored before the crash came again and was dropped as duplicates
    extra = ground["stats"]["duplicates_discarded"] - before["stats"]["duplicates_discarded"]
    assert extra > 0
    assert ground["stats"]["delivered"] == n
    groups = result.metrics["run"]["faults"]["groups"]
    assert [g["restarts"] for g in groups] == [len(kills_h)]
