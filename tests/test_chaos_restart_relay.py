"""Kills that a restart SURVIVES in a mission WITH crosslinks: the restarted group replays its
checkpoint (edgeinfer.node.group) and must end, relay custody included, where it would have
been without the kill (edgeinfer.relay.transfer).

The mission is trade_crosslinks.toml with one satellite per group, in-process (as in
test_chaos_lost_group_relay), and ``crosslinks.setup_s = 30`` so that every hop charges a
visible 0.07 Wh to each end (8.5 W for 30 s). Its independent truth is the same mission without
the kill: SSO-3 raises 51 optical alerts and hands them over at the barrier at 24,960 s along
SSO-3 -> SSO-2 -> SSO-1 -> SSO-8; SSO-8 stores them at the start of its next step (the window
from 24,960 s to 24,975 s, then the one to 25,650 s), downlinks them at its pass at 24,988 s
and reports its custody at the barrier at 25,680 s; SSO-3 receives the custody
acknowledgement at its last step, so it holds the 51 packets in flight from 24,960 s to the
end. Kills are scheduled as ``[faults]`` kills (a restart each, ``max_restarts`` = kills + 1).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from chaos_helpers import alert_set
from test_chaos_lost_group_relay import _config, _watch_relays

from edgeinfer.link import AlertItem, OnboardQueue, QueueConfig
from edgeinfer.mission import MissionResult, run_mission
from edgeinfer.mission import faultplan as faultplan_module
from edgeinfer.mission.chaos import Kill
from edgeinfer.mission.local import LocalExecutor
from edgeinfer.node.checkpoint import CheckpointStore
from edgeinfer.relay.drive import RelayLog
from edgeinfer.relay.transfer import take_for_relay

SSO1, SSO3, SSO8 = 0, 2, 7
TRANSFER = (24_960.0, (SSO3, 1, SSO1, SSO8))  # the clean run's one move
RELAYED = 51
SETUP = "crosslinks.setup_s=30"
#: figures a restart changes by itself: restart counts, wall-clock timings, the run section
_RESTART_KEYS = ("actor_restarts", "measured", "wall")


def _run(
    mp: pytest.MonkeyPatch, out: Any, kills: Sequence[Kill], *overrides: str, use_ray: bool
) -> tuple[MissionResult, RelayLog]:
    seen = _watch_relays(mp)
    mp.setattr(faultplan_module, "kill_schedule", lambda *a: list(kills))
    result = run_mission(_config(SETUP, *overrides), out, use_ray=use_ray)
    (relay,) = seen
    return result, relay.log


def _run_local(mp: pytest.MonkeyPatch, out: Any, kills: Sequence[Kill]) -> tuple[Any, RelayLog]:
    """In-process, one group per satellite."""
    mp.setattr(LocalExecutor, "max_actors", 8)
    return _run(mp, out, kills, "execution.satellites_per_actor=1", use_ray=False)


def test_a_reopened_checkpoint_image_keeps_packets_in_flight(tmp_path: Any) -> None:
    """Packets taken for a relay stay in flight when a satellite's queue is reopened as a
    restarted group does; a queue opened after a contact cut short sends them back."""
    keep = QueueConfig(requeue_on_open=False)
    q = OnboardQueue(tmp_path, 3, keep)
    q.enqueue_alerts(AlertItem("ship", 150, 1.7e9 + i, bytes([i]) * 48) for i in range(4))
    assert len(take_for_relay(q, 10_000, 1.7e9 + 60)) == 4
    q.close()
    with OnboardQueue(tmp_path, 3, keep) as again:
        assert again.status().in_flight_packets == 4
    with OnboardQueue(tmp_path, 3) as again:
        assert again.status().pending_packets == 4 and again.status().in_flight_packets == 0


def test_a_state_saved_again_after_the_same_window_keeps_its_trace(tmp_path: Any) -> None:
    """A relay step checkpoints between windows: no new trace columns, the window's kept."""
    store = CheckpointStore(tmp_path / "g.ckpt.sqlite")
    a = np.ones((2, 3), np.float32)
    store.save(-1, {"done": -1}, {}, 0, a, a)
    store.save(0, {"done": 0}, {}, 3, a * 2, a * 2)
    store.save(0, {"done": 0, "relay_applied": 1}, {}, 6, a[:, :0], a[:, :0])
    saved = store.load()
    assert saved is not None and saved.state == {"done": 0, "relay_applied": 1}
    assert saved.soc.tolist() == [[1, 1, 1, 2, 2, 2]] * 2
    store.close()


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MissionResult, RelayLog]]:
    with pytest.MonkeyPatch.context() as mp:
        yield _run_local(mp, tmp_path_factory.mktemp("clean"), [])


def _flat(value: Any, path: str = "") -> dict[str, Any]:
    """``{".total.alerts_raised": 74, ...}``: every leaf of metrics.json by its path."""
    if isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        out: dict[str, Any] = {}
        for key, item in items:
            out.update(_flat(item, f"{path}.{key}"))
        return out
    return {path: value}


def _differences(result: MissionResult, clean: MissionResult) -> dict[str, tuple[Any, Any]]:
    """Every figure of metrics.json that differs from the clean run's (clean, killed), but
    for the run section and what a restart changes by itself."""
    a = {k: v for k, v in _flat(clean.metrics).items() if not k.startswith(".run.")}
    b = {k: v for k, v in _flat(result.metrics).items() if not k.startswith(".run.")}
    return {
        k: (a.get(k), b.get(k))
        for k in sorted(a.keys() | b.keys())
        if a.get(k) != b.get(k) and not any(s in k for s in _RESTART_KEYS)
    }


def _ground_rows(result: MissionResult) -> tuple[int, int]:
    with sqlite3.connect(result.out_dir / "ground.sqlite") as con:
        rows, ids = con.execute(
            "SELECT COUNT(*), COUNT(DISTINCT sat_index || ':' || alert_id) FROM alerts"
        ).fetchone()
    return int(rows), int(ids)


def test_the_clean_run_holds_relay_custody_across_windows(
    clean: tuple[MissionResult, RelayLog],
) -> None:
    result, log = clean
    assert log.moves == [TRANSFER] and log.returned == 0
    m = result.metrics
    assert m["total"]["alerts_relayed"] == RELAYED == m["crosslinks"]["alerts_relayed"]
    assert m["total"]["alerts_delivered"] == m["total"]["alerts_raised"] > RELAYED
    hop_wh = m["crosslinks"]["satellites"]["SSO-3"]["crosslink_energy_wh"]
    assert hop_wh == pytest.approx(8.5 * 30 / 3600, rel=1e-3)  # visible in energy_used_wh
    assert m["total"]["ground"]["duplicates_discarded"] == 0


KILLS = {
    # SSO-3 dies before the barrier where it is a sender, and again at the barrier tick
    # itself (the end of the window the barrier call runs, before its checkpoint)
    "sender_before_and_at_the_barrier": [Kill(24_900.0, SSO3), Kill(24_960.0, SSO3)],
    # SSO-3 dies after handing its packets over, while it awaits the custody ack: in the
    # first window after the barrier (its checkpoint predates the hand-over) and in the
    # second (its checkpoint holds the energy of the hop); SSO-1, a relay on the path, too
    "sender_awaiting_the_custody_ack": [
        Kill(24_965.0, SSO3),
        Kill(25_000.0, SSO3),
        Kill(25_000.0, SSO1),
    ],
    # SSO-8 dies while it holds the relayed packets in custody, before its pass: in the
    # window whose start stored them, and in the next (its checkpoint holds them)
    "receiver_holding_custody_before_its_pass": [Kill(24_970.0, SSO8), Kill(24_980.0, SSO8)],
}


@pytest.mark.parametrize("case", sorted(KILLS))
def test_a_restart_ends_where_the_run_without_the_kill_ends(
    case: str,
    clean: tuple[MissionResult, RelayLog],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    kills = KILLS[case]
    with caplog.at_level(logging.WARNING, logger="edgeinfer.relay.drive"):
        result, log = _run_local(monkeypatch, tmp_path / case, kills)
    assert result.metrics["total"]["actor_restarts"] == len(kills)
    assert result.metrics["lost_groups"] == []
    assert alert_set(result) == alert_set(clean[0])
    # the driver saw what it saw without the kill: one hand-over, every custody reported
    assert log.moves == clean[1].moves == [TRANSFER] and log.returned == 0
    assert dict(log.hops) == dict(clean[1].hops) and log.holder == clean[1].holder
    assert "await custody at the end" not in caplog.text
    # ... and so did the satellites: no packet handed over twice, no hop charged twice
    assert _differences(result, clean[0]) == {}
    rows, ids = _ground_rows(result)
    assert rows == ids == result.metrics["total"]["alerts_delivered"]


@pytest.mark.parametrize("after_aos_s", [1e-5, 1.6])
def test_a_receiver_killed_in_or_after_its_pass_sends_the_relayed_packets_once_more(
    after_aos_s: float,
    clean: tuple[MissionResult, RelayLog],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SSO-8 dies inside its pass (after the ground stored the relayed alerts, before their
    acknowledgements were committed), or after it (at the end of the window that holds it,
    before its checkpoint): its replay sends them again and the ground drops the copies, as
    without crosslinks; nothing else differs."""
    plan = clean[0].plan
    assert plan is not None
    aos = next(p.t_s for p in plan.passes if p.sat == SSO8 and p.t_s > TRANSFER[0])
    kill = Kill(aos + after_aos_s, SSO8)
    result, log = _run_local(monkeypatch, tmp_path / "pass", [kill])
    assert result.metrics["total"]["actor_restarts"] == 1
    assert alert_set(result) == alert_set(clean[0]) and log.moves == [TRANSFER]
    received = clean[0].metrics["total"]["ground"]["packets_received"]
    assert _differences(result, clean[0]) == {
        ".total.duplicates_discarded": (0, RELAYED),
        ".total.ground.duplicates_discarded": (0, RELAYED),
        ".total.ground.packets_received": (received, received + RELAYED),
    }
    assert result.metrics["total"]["duplicates_delivered"] == 0


@pytest.mark.slow
def test_on_ray_restarted_groups_of_four_relay_as_without_the_kills(
    ray_session: Any,
    clean: tuple[MissionResult, RelayLog],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two groups of four on Ray (SSO-1..4, SSO-5..8), each killed for real (``os._exit``)
    and restarted by Ray, which retries the interrupted relay step: the first while SSO-3
    awaits the custody ack of its hand-over, the second while SSO-8 holds the packets
    before its pass."""
    kills = [Kill(25_000.0, 0), Kill(24_980.0, 1)]
    result, log = _run(monkeypatch, tmp_path / "ray", kills, use_ray=True)
    m = result.metrics
    assert m["run"]["actors"] == 2 and m["total"]["actor_restarts"] == 2
    assert [len(set(g["pids"])) for g in m["run"]["faults"]["groups"]] == [2, 2]
    assert alert_set(result) == alert_set(clean[0])
    assert log.moves == [TRANSFER] and log.returned == 0
    # the same figures as the clean run in-process with one group per satellite
    assert _differences(result, clean[0]) == {}
