"""Sweeps that go wrong or carry awkward values: a variant that fails while it runs keeps the
others' rows (and its own, marked failed); a swept date is ISO-8601 UTC text in every file;
the terminal table is not cut when piped; --base and --set on one key is refused."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import last_error_line

from edgeinfer.cli.main import main
from edgeinfer.mission import sample_mission_path
from edgeinfer.mission.sweep import run_sweep
from edgeinfer.mission.sweep_table import STATUS_FAILED, STATUS_OK

MISSION = sample_mission_path().parent / "trade_base.toml"
# test_sweep's cheap 1-hour SAR mission, without its scenes (the failing axis sets them)
BASE = [
    'mission.start="2023-10-25T12:30:00Z"',
    "mission.duration_h=1.0",
    "output.report=false",
    "output.onboard_databases=false",
]
GOOD_SCENE = '[{path="../generated/sar_sea.tif", product="sar"}]'


def _base_args(leave_out: str = "") -> list[str]:
    """``--base KEY=VALUE`` of each BASE entry (but the key ``leave_out``)."""
    kept = [b for b in BASE if not leave_out or not b.startswith(f"{leave_out}=")]
    return [arg for b in kept for arg in ("--base", b)]


def _tables(out: Path) -> tuple[list[dict[str, str]], dict[str, Any], str]:
    with (out / "sweep.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    data = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
    return rows, data, (out / "sweep.html").read_text(encoding="utf-8")


def test_a_failing_variant_keeps_every_row_and_names_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.tif"
    out = tmp_path / "sweep"
    argv = ["sweep", str(MISSION), "--no-ray", *_base_args(), "-o", str(out)]
    code = main([*argv, "--set", f'scenes={GOOD_SCENE},[{{path="{missing}"}}]'])
    captured = capsys.readouterr()
    # exit 2 AFTER the tables: the last line names the failed variant and its error
    assert code == 2
    line = last_error_line(captured.err)
    assert "1 of 2 variants failed" in line and "v01-scenes=" in line and str(missing) in line
    assert str(out / "sweep.csv") in line
    assert "v01-scenes=" in captured.err.split("FAILED")[0]  # the progress line says FAILED

    rows, data, page = _tables(out)
    assert [r["status"] for r in rows] == [STATUS_OK, STATUS_FAILED]
    ok, failed = rows
    assert ok["variant"].startswith("v00-") and float(ok["energy_used_wh"]) > 0
    assert ok["error"] == "" and (Path(ok["out_dir"]) / "metrics.json").is_file()
    assert failed["variant"].startswith("v01-") and str(missing) in failed["error"]
    assert str(missing) in failed["scenes"] and failed["energy_used_wh"] == ""
    assert [r["status"] for r in data["rows"]] == [STATUS_OK, STATUS_FAILED]
    assert data["rows"][1]["scenes"] == [{"path": str(missing)}]
    assert data["rows"][1]["energy_used_wh"] is None
    assert str(missing) in data["rows"][1]["error"]
    assert "1 of 2 variants failed" in page and str(missing) in page
    assert page.count("<tr>") == 3  # header + both variants

    # N1: piped (capsys is no terminal), the table keeps every column whole
    assert "…" not in captured.out
    assert "break-even $/kg" in captured.out and "v01 FAILED" in captured.out


def test_a_swept_date_is_iso_utc_in_every_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dates"
    base = _base_args(leave_out="mission.start")
    dates = "mission.start=2023-10-25T12:30:00Z,2023-10-25T14:30:00+02:00"
    code = main(["sweep", str(MISSION), "--no-ray", *base, "--set", dates, "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    want = ["2023-10-25T12:30:00.000Z", "2023-10-25T12:30:00.000Z"]  # +02:00 is 12:30 UTC
    rows, data, page = _tables(out)
    assert [r["mission.start"] for r in rows] == want
    assert [r["mission.start"] for r in data["rows"]] == want
    assert page.count(f"<td>{want[0]}</td>") == 2
    assert captured.out.count(want[0]) == 2  # the terminal table
    assert "Traceback" not in captured.err


def test_base_and_set_on_one_key_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "clash"
    argv = ["sweep", str(MISSION), "--no-ray", *_base_args(), "-o", str(out)]
    code = main([*argv, "--base", "mission.seed=1", "--set", "mission.seed=2,3"])
    line = last_error_line(capsys.readouterr().err)
    assert code == 2
    assert "mission.seed is given by both --base and --set" in line
    assert not out.exists()  # refused before any variant ran


@pytest.mark.slow
def test_a_failing_variant_on_ray_keeps_the_others(ray_session: Any, tmp_path: Path) -> None:
    missing = tmp_path / "missing.tif"
    done: list[tuple[str, str]] = []
    result = run_sweep(
        MISSION,
        [f'scenes=[{{path="{missing}"}}],{GOOD_SCENE}'],
        tmp_path / "sweep",
        base_overrides=BASE,
        progress=lambda i, n, name, error: done.append((name, error)),
    )
    assert [r["status"] for r in result.rows] == [STATUS_FAILED, STATUS_OK]
    assert result.failed == [result.rows[0]] and str(missing) in result.rows[0]["error"]
    assert result.rows[1]["energy_used_wh"] > 0
    assert sorted(bool(e) for _, e in done) == [False, True]
    rows, data, _ = _tables(tmp_path / "sweep")
    assert [r["status"] for r in rows] == [STATUS_FAILED, STATUS_OK]
    assert len(data["rows"]) == 2


def test_table_cells_of_zero_and_small_values() -> None:
    """A zero break-even (or any zero) reads 0, not 0.000000; fractions keep 6 decimals."""
    from edgeinfer.cli.sweep import _fmt

    assert _fmt(0.0) == "0" and _fmt(0.999689) == "0.999689" and _fmt(1234.56) == "1,234.6"
    assert _fmt(None) == "-" and _fmt(12) == "12"


def test_ctrl_c_keeps_the_table_of_the_finished_variants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during the second of three variants: the first's row is in the tables, the
    other two are marked not run, and the interrupt still stops the sweep."""
    import edgeinfer.mission.sweep as sweep

    real, calls = sweep._run_one, []

    def interrupted_second(config: Any, out: str) -> dict[str, Any]:
        calls.append(out)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(config, out)

    monkeypatch.setattr(sweep, "_run_one", interrupted_second)
    out = tmp_path / "sweep"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(
            MISSION,
            ["mission.duration_h=1.0,1.5,2.0"],
            out,
            base_overrides=[b for b in BASE if not b.startswith("mission.duration_h")]
            + [f"scenes={GOOD_SCENE}"],
            use_ray=False,
        )
    rows, data, page = _tables(out)
    assert [r["status"] for r in rows] == [STATUS_OK, "not run", "not run"]
    assert rows[0]["alerts_delivered"] != "" and "interrupted" in rows[1]["error"]
    assert len(data["rows"]) == 3 and "not run" in page
