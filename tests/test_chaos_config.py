"""The [faults] and [uplink] tables: validation (one line naming key, value and the fix), the
kill schedule (seeded, deterministic, one per orbit), and what chaos.toml asks for."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgeinfer.errors import ConfigError
from edgeinfer.mission import load_mission, sample_mission_path
from edgeinfer.mission.build import build_constellation
from edgeinfer.mission.chaos import KillSwitch, kill_schedule, orbit_period_s
from edgeinfer.mission.config_faults import FaultsSection
from edgeinfer.mission.faultplan import hazard_settings

CHAOS = sample_mission_path().parent / "chaos.toml"
EARTH_MU_KM3_S2 = 398_600.4418  # WGS-84 GM


def _error(overrides: list[str]) -> str:
    with pytest.raises(ConfigError) as info:
        load_mission(sample_mission_path(), overrides)
    text = str(info.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (["faults.packet_loss_prob=1.5"], "faults.packet_loss_prob = 1.5: Input should be less"),
        (["faults.ack_loss_prob=-0.1"], "faults.ack_loss_prob = -0.1: Input should be greater"),
        (["faults.kill_times_h=[30.0]"], "faults.kill_times_h: 30.0 h is not inside the mission"),
        (["faults.kill_times_h=[-1.0]"], "kill time -1.0 h must be > 0"),
        (["faults.kill_rate_per_day=-2"], "faults.kill_rate_per_day = -2"),
        (["faults.seu_targets=['weights','disk']"], "faults.seu_targets[1] = 'disk'"),
        (["faults.seu_rate_factor=-1"], "faults.seu_rate_factor = -1"),
        (["faults.kill_evry_orbit=true"], "faults.kill_evry_orbit: unknown key; allowed here: "),
        (["uplink.models=[{at_h = 30.0, model = 'm.onnx'}]"], "at_h = 30.0 is not inside"),
        (["uplink.models=[{at_h = 1.0, model = 'm.txt'}]"], "give the path of a .onnx file"),
        (["uplink.models=[{model = 'm.onnx'}]"], "uplink.models[0].at_h is required"),
    ],
)
def test_faults_mistakes_are_one_line(override: list[str], expected: str) -> None:
    assert expected in _error(override)


def test_chaos_mission_is_the_sample_under_fire() -> None:
    chaos, sample = load_mission(CHAOS), load_mission()
    f = chaos.faults
    assert f.kill_every_orbit and f.packet_loss_prob == 0.05 and f.packet_corrupt_prob == 0.01
    assert f.kills and f.link and not f.seu
    # everything but the faults (and the name and seed) is the sample mission
    skip = {"faults", "mission", "source", "downlink"}
    assert chaos.model_dump(exclude=skip) == sample.model_dump(exclude=skip)
    assert chaos.mission.model_dump(exclude={"name", "seed"}) == sample.mission.model_dump(
        exclude={"name", "seed"}
    )
    assert not sample.faults.any and sample.downlink.retransmit_rounds == 2


def test_hazard_settings_follow_the_table() -> None:
    config = load_mission(
        CHAOS, ["faults.seu_rate_factor=1000", "faults.tmr=true", "faults.record_crc=false"]
    )
    h = hazard_settings(config)
    assert h.link.packet_loss_prob == 0.05 and h.link.seed == config.mission.seed
    assert h.upsets("weights") and h.upsets("records") and h.tmr and not h.record_crc
    assert not hazard_settings(load_mission()).guarded_weights


def test_orbit_period_is_keplers() -> None:
    """786 km: T = 2 pi sqrt(a^3 / mu) = 100.6 min (SGP4's mean motion agrees to < 0.3 %)."""
    period = orbit_period_s(build_constellation(load_mission()))
    a = 6378.137 + 786.0
    assert period == pytest.approx(2 * math.pi * math.sqrt(a**3 / EARTH_MU_KM3_S2), rel=3e-3)


def test_one_kill_per_orbit_groups_in_turn_seeded() -> None:
    f = FaultsSection(kill_every_orbit=True)
    period, day = 6036.0, 86_400.0
    kills = kill_schedule(f, 2, day, period, seed=7)
    assert len(kills) in (14, 15)  # 14.3 orbits in the day: the last one only maybe
    orbits = [int(k.t_s // period) for k in kills]
    assert orbits == list(range(len(kills)))  # exactly one in each orbit
    phase = np.array([k.t_s / period % 1 for k in kills])
    assert (phase >= 0.1).all() and (phase <= 0.9).all()
    assert [k.group for k in kills] == [i % 2 for i in range(len(kills))]
    assert kill_schedule(f, 2, day, period, seed=7) == kills
    assert kill_schedule(f, 2, day, period, seed=8) != kills


def test_kill_times_and_rate() -> None:
    at = kill_schedule(FaultsSection(kill_times_h=[5.0, 1.0]), 3, 86_400.0, 6000.0, 1)
    assert [k.t_s for k in at] == [3600.0, 18_000.0] and {k.reason for k in at} == {"time"}
    # a Poisson process of 48 per day over 10 days: 480 +- 3 sigma (sqrt(480) = 22)
    rate = kill_schedule(FaultsSection(kill_rate_per_day=48.0), 4, 864_000.0, 6000.0, 3)
    assert abs(len(rate) - 480) < 66
    assert {k.group for k in rate} == {0, 1, 2, 3}
    assert all(0 < k.t_s < 864_000.0 for k in rate)


def test_the_kill_switch_fires_once_per_kill() -> None:
    switch = KillSwitch()
    assert switch.claim("group000", 0, 10.0, 111)
    assert not switch.claim("group000", 0, 10.0, 222)  # the restarted process replays t=10
    assert switch.claim("group002", 0, 12.0, 333)
    assert [(k["group"], k["pid"]) for k in switch.fired()] == [
        ("group000", 111),
        ("group002", 333),
    ]
