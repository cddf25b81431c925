"""A satellite group lost for good in a mission WITH crosslinks: the mission goes on as without
them (edgeinfer.mission.lost), packets handed toward a lost satellite that got no custody go
back to their sender, and the relays route around the lost satellites (edgeinfer.relay.drive).

The mission is trade_crosslinks.toml (eight satellites in one plane, one station) with one
satellite per group, in-process. Its independent truth is the same mission without the kill:
SSO-5 raises the SAR alerts (downlinked at its own pass at 1.1 h) and SSO-3 the optical ones,
which it hands over at 24,960 s along SSO-3 -> SSO-2 -> SSO-1 -> SSO-8 to SSO-8's pass at
24,988 s. Neither SSO-2 nor SSO-8 raises an alert, so killing either must lose nothing.
``FaultPlan.max_restarts`` is patched to 0 and the kill schedule to one kill of one group."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from chaos_helpers import alert_set
from test_crosslinks_routing import _hand_plan

from edgeinfer.errors import GroupLost
from edgeinfer.link import AlertItem, OnboardQueue, PacketKey, decode_packet
from edgeinfer.mission import MissionResult, load_mission, run_mission, sample_mission_path
from edgeinfer.mission import faultplan as faultplan_module
from edgeinfer.mission.chaos import Kill
from edgeinfer.mission.config import MissionConfig
from edgeinfer.mission.faultplan import FaultPlan
from edgeinfer.mission.local import LocalExecutor
from edgeinfer.mission.operators import prepare_relays
from edgeinfer.relay.config import CrosslinksConfig
from edgeinfer.relay.drive import RelayLog, RelayRun
from edgeinfer.relay.metrics import relay_metrics
from edgeinfer.relay.routing import relay_schedule
from edgeinfer.relay.transfer import RelayIn, take_for_relay

SSO1, SSO2, SSO3, SSO8 = 0, 1, 2, 7
TRANSFER_S = 24_960.0  # SSO-3's hand-over in the run without a kill


def _config(*overrides: str) -> MissionConfig:
    path = sample_mission_path().parent / "trade_crosslinks.toml"
    return load_mission(path, ["output.report=false", *overrides])


def _watch_relays(mp: pytest.MonkeyPatch) -> list[RelayRun]:
    """The driver's relay run, kept for the test (its log: every transfer, every return)."""
    seen: list[RelayRun] = []

    def prepare(*args: Any) -> RelayRun | None:
        run = prepare_relays(*args)
        if run is not None:
            seen.append(run)
        return run

    mp.setattr("edgeinfer.mission.driver.prepare_relays", prepare)
    return seen


def _kill(mp: pytest.MonkeyPatch, kill: Kill) -> None:
    mp.setattr(faultplan_module, "kill_schedule", lambda *a: [kill])
    mp.setattr(FaultPlan, "max_restarts", lambda self, group: 0)


def _run(mp: pytest.MonkeyPatch, out: Any, kill: Kill | None) -> tuple[MissionResult, RelayLog]:
    """Run the trade mission in-process with one group per satellite; its relay log."""
    seen = _watch_relays(mp)
    mp.setattr(LocalExecutor, "max_actors", 8)
    if kill is not None:
        _kill(mp, kill)
    result = run_mission(_config("execution.satellites_per_actor=1"), out, use_ray=False)
    (relay,) = seen
    return result, relay.log


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MissionResult, RelayLog]]:
    with pytest.MonkeyPatch.context() as mp:
        yield _run(mp, tmp_path_factory.mktemp("clean"), None)


def _through(log: RelayLog, sat: int, after_s: float) -> list[tuple[float, tuple[int, ...]]]:
    return [(t, path) for t, path in log.moves if t >= after_s and sat in path]


def _by_satellite(result: MissionResult) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in result.metrics["crosslinks"]["alerts"]:
        out[row["delivered_by"]] = out.get(row["delivered_by"], 0) + 1
    return out


def _nothing_lost(result: MissionResult, clean: MissionResult) -> None:
    t = result.metrics["total"]
    assert alert_set(result) == alert_set(clean) and len(alert_set(clean)) > 0
    assert t["alerts_delivered"] == t["alerts_raised"] == clean.metrics["total"]["alerts_raised"]
    assert t["alerts_lost"] == 0 and t["duplicates_delivered"] == 0
    assert t["corrupted_accepted"] == 0


def test_the_clean_run_relays_through_the_satellites_killed_below(
    clean: tuple[MissionResult, RelayLog],
) -> None:
    result, log = clean
    assert result.metrics["run"]["actors"] == 8
    assert log.moves == [(TRANSFER_S, (SSO3, SSO2, SSO1, SSO8))]
    assert _by_satellite(result)["SSO-8"] == result.metrics["total"]["alerts_relayed"] > 0
    raised = {n: s["alerts_raised"] for n, s in result.metrics["satellites"].items()}
    assert raised["SSO-2"] == raised["SSO-8"] == 0 and raised["SSO-3"] > 0


def test_relays_route_around_a_lost_satellite_on_the_path(
    clean: tuple[MissionResult, RelayLog], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    kill_s = 24_500.0  # SSO-2 dies before SSO-3's hand-over through it
    result, log = _run(monkeypatch, tmp_path / "lost", Kill(kill_s, SSO2))
    _nothing_lost(result, clean[0])
    m = result.metrics
    assert [g["satellites"] for g in m["lost_groups"]] == [["SSO-2"]]
    assert m["lost_groups"][0]["window"] is not None
    assert m["total"]["satellites_lost"] == 1 and "SSO-2" not in m["satellites"]
    assert _through(log, SSO2, kill_s) == []  # no hop through the dead: the other way round
    assert log.moves == [(TRANSFER_S, (SSO3, 3, 4, 5, 6, SSO8))]
    assert _through(clean[1], SSO2, kill_s)  # ... where the run without the kill made one
    assert m["total"]["alerts_relayed"] == clean[0].metrics["total"]["alerts_relayed"]
    assert "SSO-2" not in _by_satellite(result)
    assert log.returned == 0 and m["crosslinks"]["relayed_alerts_lost_with_groups"] == 0


def test_packets_sent_to_a_lost_receiver_go_back_to_their_sender(
    clean: tuple[MissionResult, RelayLog], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    kill_s = 24_970.0  # SSO-8 took the packets at 24,960 s and dies before its pass
    result, log = _run(monkeypatch, tmp_path / "lost", Kill(kill_s, SSO8))
    _nothing_lost(result, clean[0])
    m = result.metrics
    assert [g["satellites"] for g in m["lost_groups"]] == [["SSO-8"]]
    assert m["lost_groups"][0]["alerts_delivered"] == {"SSO-8": 0}
    relayed = clean[0].metrics["total"]["alerts_relayed"]
    assert log.moves[0] == (TRANSFER_S, (SSO3, SSO2, SSO1, SSO8))  # before the kill
    assert _through(log, SSO8, kill_s) == [] and len(log.moves) > 1  # sent again, elsewhere
    assert log.returned == relayed  # every packet SSO-8 never acknowledged went back
    assert m["crosslinks"]["packets_returned_to_sender"] == relayed
    assert m["crosslinks"]["relayed_alerts_lost_with_groups"] == 0
    assert "SSO-8" not in _by_satellite(result)
    for row in m["crosslinks"]["alerts"]:  # SSO-8 -> SSO-3, then SSO-3 -> SSO-6 at 26,460 s
        if row["satellite"] == "SSO-3":
            assert row["delivered_by"] == "SSO-6" and row["hops"] == 3 + 3


def test_a_plan_without_lost_satellites_has_no_route_through_them() -> None:
    plan = _hand_plan()  # S0 -> S1 -> S2 at 240 s, S2's pass at 300 s
    sched = relay_schedule(plan.without({1}), 0.0)
    assert all(1 not in f.path for fs in sched.forwards.values() for f in fs)
    assert np.isinf(sched.arrival_s[1]).all()  # a lost satellite delivers nothing
    assert sched.arrival_s[0, 0] == 5000.0  # S0 keeps its packets for its own pass
    assert plan.without(set()).visible.sum() == plan.visible.sum()
    assert plan.without({2}).windows == plan.windows[:1]


@pytest.mark.slow
def test_on_ray_a_lost_group_of_four_loses_no_alert_of_the_others(
    ray_session: Any,
    clean: tuple[MissionResult, RelayLog],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two groups of four on Ray (SSO-1..4, SSO-5..8); the second dies after SSO-5's SAR
    alerts went down and just after SSO-3 handed its alerts to SSO-8."""
    seen = _watch_relays(monkeypatch)
    _kill(monkeypatch, Kill(24_970.0, 1))
    result = run_mission(_config(), tmp_path / "lost")
    m, log = result.metrics, seen[0].log
    assert m["run"]["actors"] == 2
    (group,) = m["lost_groups"]
    assert group["satellites"] == ["SSO-5", "SSO-6", "SSO-7", "SSO-8"]
    assert alert_set(result) == alert_set(clean[0])  # SSO-5's went down before the kill
    assert all(not set(path) & {4, 5, 6, 7} for t, path in log.moves if t >= 24_970.0)
    assert log.returned == m["crosslinks"]["packets_returned_to_sender"] > 0
    assert m["total"]["alerts_lost"] == 0 and m["total"]["duplicates_delivered"] == 0


def test_a_hand_back_requeues_only_the_packets_named(tmp_path: Any) -> None:
    q = OnboardQueue(tmp_path / "onboard", 3)
    q.enqueue_alerts(AlertItem("ship", 150, 1.7e9 + i, bytes([i]) * 48) for i in range(4))
    taken = take_for_relay(q, 10_000, 1.7e9 + 60)
    keys = [decode_packet(p).key for p in taken]
    q.acknowledge(keys[:1], 1.7e9 + 120)  # custody taken for the first one
    assert q.store.requeue(keys[:3]) == 2  # the acknowledged one stays acknowledged
    s = q.status()
    assert (s.acked_packets, s.pending_packets, s.in_flight_packets) == (1, 2, 1)
    q.close()


class _Group:
    """A stand-in group of satellites ``sats`` for RelayRun.simulate: satellite 0 holds
    ``packets`` and hands them over whenever asked; deliveries are stored (custody reported)
    at once; the call numbered ``dies_at`` raises GroupLost, as a dead process answers."""

    def __init__(self, sats: list[int], packets: list[bytes], dies_at: int | None) -> None:
        self.sats, self.dies_at = sats, dies_at
        self.seen: list[RelayIn] = []
        self.data = {tuple(decode_packet(p).key): p for p in packets}
        self.pending = set(self.data)

    def relay_step(self, incoming: RelayIn, window: int, senders: dict[int, int]) -> Any:
        self.seen.append(incoming)
        if len(self.seen) == self.dies_at:
            raise GroupLost("killed for good")
        for keys in incoming.returns.values():
            self.pending |= set(keys)
        out = {s: [self.data[k] for k in sorted(self.pending)] for s in senders if self.pending}
        if out:
            self.pending.clear()
        return {
            "stored": {
                s: [tuple(decode_packet(p).key) for p in ps]
                for s, ps in incoming.deliveries.items()
            },
            "outgoing": out,
            "pending": {s: int(s == 0) for s in self.sats},  # satellite 0 is always busy
            "busy": [],
            "relay_crc_failures": 0,
        }

    def finish(self, end_s: float) -> dict[str, Any]:
        return {"sats": self.sats}


class _Executor:
    def call(self, handle: _Group, method: str, *args: Any) -> Any:
        return (handle, method, args)

    def get(self, call: Any) -> Any:
        handle, method, args = call
        return getattr(handle, method)(*args)


def _hand_run(tmp_path: Any, dies_at: int) -> tuple[RelayRun, list[_Group], Any]:
    """The hand plan of test_crosslinks_routing, one group per satellite, S0 holding three
    alerts captured at 10 s: barriers at 240 s (S0 -> S1 -> S2, for S2's pass at 300 s) and
    540 s (S0 -> S1, the last tick of their link); S2's group dies at its call ``dies_at``."""
    q = OnboardQueue(tmp_path / "onboard", 0)
    q.enqueue_alerts(AlertItem("ship", 150, 1.7e9 + i, bytes([i]) * 48) for i in range(3))
    packets = take_for_relay(q, 10_000, 1.7e9)
    q.close()
    contacts = _hand_plan()
    config = CrosslinksConfig(enabled=True, tick_s=60.0, forward_if_no_contact_within_s=0.0)
    plan = SimpleNamespace(
        captures=[SimpleNamespace(t_s=10.0, sat=0)],
        duration_s=6000.0,
        satellites=("S0", "S1", "S2"),
        passes=[],
    )
    run = RelayRun(config, relay_schedule(contacts, 0.0), plan)  # type: ignore[arg-type]
    groups = [_Group([0], packets, None), _Group([1], [], None), _Group([2], [], dies_at)]
    members = [[(0, "S0")], [(1, "S1")], [(2, "S2")]]
    bounds = run.bounds(np.array([0.0, 6000.0]))
    finished, lost = run.simulate(_Executor(), groups, members, bounds, None)
    assert [f["sats"] for f in finished] == [[0], [1]] and list(lost) == [2]
    return run, groups, {PacketKey(*k) for k in groups[0].data}


def test_packets_in_a_lost_satellites_custody_die_with_it_and_are_counted(
    tmp_path: Any,
) -> None:
    run, groups, keys = _hand_run(tmp_path, dies_at=3)  # S2 reported its store, then died
    log = run.log
    assert log.moves[0] == (240.0, (0, 1, 2)) and len(log.moves) == 1
    assert groups[0].seen[2].acks == {0: sorted(tuple(k) for k in keys)}  # custody acked
    assert log.returned == 0 and log.lost_custody == dict.fromkeys(keys, 2)
    figures = relay_metrics([], run.plan, 0.0, run.config, run.schedule, log)  # type: ignore[arg-type]
    assert figures["relayed_alerts_lost_with_groups"] == 3


def test_packets_sent_to_a_group_that_dies_before_its_store_is_reported_come_back(
    tmp_path: Any,
) -> None:
    run, groups, keys = _hand_run(tmp_path, dies_at=2)  # S2 died in the call that stores
    log = run.log
    back = groups[0].seen[2].returns  # at the next step, S0 gets them back, no ack
    assert back == {0: sorted(tuple(k) for k in keys)} and groups[0].seen[2].acks == {}
    assert log.returned == 3 and log.lost_custody == {}
    assert log.moves == [(240.0, (0, 1, 2))]  # no barrier after 540 s: nothing moves again
    assert groups[0].pending == {tuple(k) for k in keys}  # aboard S0 for its pass at 5000 s
    assert all(log.holder[k] == 0 for k in keys)
