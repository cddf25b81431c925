"""TLEs far from the window they are flown in: one WARNING naming the satellite, its epoch, how
many days away and the fix (shown with -q), never a refusal; the age is in metrics.json."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from conftest import shared_path

from edgeinfer.cli.main import main
from edgeinfer.mission import load_mission, sample_mission_path
from edgeinfer.mission.build import build_constellation
from edgeinfer.mission.dry import dry_run
from edgeinfer.orbit import TLE, parse_utc, read_tle_file, tle_checksum
from edgeinfer.orbit.tle import STALE_TLE_DAYS, epoch_offset_days, tle_epoch_ages, warn_stale_tles

SATVIEW = ("tle_earth_observation", "raw", "celestrak_resource_2024-10-05_SatView.txt")
MISSIONS = sorted(sample_mission_path().parent.glob("*.toml"))
SSO4 = sample_mission_path().parent / "sso4.tle"  # every epoch 2023-10-25T00:00Z


def with_epoch(tle: TLE, yyddd: str) -> TLE:
    """``tle`` with its epoch field (columns 19-32) replaced and the checksum redone."""
    body = tle.line1[:18] + yyddd.rjust(14) + tle.line1[32:68]
    return TLE(tle.name, body + str(tle_checksum(body)), tle.line2)


def stale_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "edgeinfer.orbit.tle" and r.levelno == logging.WARNING
    ]


@pytest.fixture
def s2a() -> TLE:
    return next(t for t in read_tle_file(shared_path(*SATVIEW)) if t.name == "SENTINEL-2A")


def test_a_1980_epoch_is_named_with_its_age_and_the_fix(
    s2a: TLE, caplog: pytest.LogCaptureFixture
) -> None:
    old = with_epoch(s2a, "80278.50000000")
    assert old.epoch == dt.datetime(1980, 10, 4, 12, tzinfo=dt.UTC)
    start = parse_utc("2024-10-05T00:00:00Z")
    end = start + dt.timedelta(hours=3)
    assert warn_stale_tles([old, s2a], start, end) == ["SENTINEL-2A"]
    (message,) = stale_warnings(caplog)
    days = (start - old.epoch).total_seconds() / 86400  # 16070.5
    assert f"SENTINEL-2A (epoch 1980-10-04T12:00Z, {days:.1f} days before" in message
    assert "CelesTrak" in message and "1-3 km/day" in message
    assert tle_epoch_ages([old], start, end) == {"SENTINEL-2A": round(days, 2)}


def test_the_threshold_and_both_sides_of_the_window() -> None:
    (tle,) = [t for t in read_tle_file(SSO4) if t.name == "SSO-1"]
    epoch = tle.epoch
    for days, stale in ((STALE_TLE_DAYS - 1, False), (STALE_TLE_DAYS + 1, True)):
        after = epoch + dt.timedelta(days=days)  # window starts after the epoch
        assert bool(warn_stale_tles([tle], after, after + dt.timedelta(hours=9))) is stale
        before = epoch - dt.timedelta(days=days, hours=9)  # window ends before the epoch
        assert bool(warn_stale_tles([tle], before, before + dt.timedelta(hours=9))) is stale
    inside = epoch - dt.timedelta(days=60)  # a 90-day window around the epoch: age 0
    assert epoch_offset_days(epoch, inside, inside + dt.timedelta(days=90)) == 0.0
    later = epoch + dt.timedelta(days=2)  # the epoch 2 days before the window
    assert epoch_offset_days(epoch, later, later + dt.timedelta(days=1)) == -2


def test_real_tles_near_their_epoch_do_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    tles = read_tle_file(shared_path(*SATVIEW))  # epochs 2024-09-26 .. 2024-10-05
    start = parse_utc("2024-10-05T00:00:00Z")
    assert warn_stale_tles(tles, start, start + dt.timedelta(hours=24)) == []
    assert stale_warnings(caplog) == []


@pytest.mark.parametrize("path", MISSIONS, ids=[p.stem for p in MISSIONS])
def test_the_example_missions_do_not_warn(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    build_constellation(load_mission(path))
    assert stale_warnings(caplog) == []


def test_passes_warns_under_q_and_still_answers(
    s2a: TLE, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tle = tmp_path / "old.tle"
    tle.write_text(with_epoch(s2a, "80278.50000000").to_text())
    args = ["-q", "passes", "--tle", str(tle), "--station", "Svalbard"]
    assert main([*args, "--start", "2024-10-05T00:00:00Z", "--hours", "3", "--json"]) == 0
    out, err = capsys.readouterr()
    assert '"passes"' in out  # flown, not refused
    assert "WARNING" in err and "SENTINEL-2A (epoch 1980-10-04T12:00Z" in err


def test_a_mission_a_year_after_its_tles_warns_and_records_the_age(
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = sample_mission_path().parent / "chips_tle.toml"
    start = "2024-11-01T00:00:00Z"
    config = load_mission(path, [f"mission.start={start}", "mission.duration_h=3"])
    plan = dry_run(config).plan
    days = round((parse_utc(start) - dt.datetime(2023, 10, 25, tzinfo=dt.UTC)).days, 2)  # 373
    assert plan.tle_epoch_age_days == {"SSO-2": days, "SSO-3": days}
    (message,) = stale_warnings(caplog)
    assert "SSO-2 (epoch 2023-10-25T00:00Z, 373.0 days before" in message and "SSO-3" in message
