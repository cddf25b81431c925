"""Sweeps: parsing of --set axes, the variant product, table rows, CLI errors, and a 4-variant
sweep on Ray whose table equals the same variants run one by one."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from edgeinfer.cli.main import main
from edgeinfer.errors import ConfigError
from edgeinfer.mission import load_mission, run_mission, sample_mission_path
from edgeinfer.mission.sweep import (
    COLUMNS,
    TIMING_COLUMNS,
    parse_axis,
    run_sweep,
    split_values,
    sweep_row,
    variant_name,
    variants,
)

MISSION = sample_mission_path().parent / "trade_base.toml"
# a short, cheap mission: the SAR capture of trade_base at 12:45 and its pass, no report
BASE = [
    'mission.start="2023-10-25T12:30:00Z"',
    "mission.duration_h=1.0",
    'scenes=[{path="../generated/sar_sea.tif", product="sar"}]',
    "output.report=false",
    "output.onboard_databases=false",
]
SETS = [
    "ground_stations.0.downlink_rate_bps=2e5,220e6",
    "accelerator.profile=jetson_orin_nano,h100",
]


def test_values_split_at_top_level_commas() -> None:
    assert split_values("1,2.5,true") == ["1", "2.5", "true"]
    assert split_values("['a','b'],[1,2], 'x,y'") == ["['a','b']", "[1,2]", "'x,y'"]
    axis = parse_axis("constellation.n_satellites=4,8")
    assert axis.key == "constellation.n_satellites" and axis.values == (4, 8)
    assert parse_axis("detection.detectors=['fire'],['fire','ship']").values == (
        ["fire"],
        ["fire", "ship"],
    )
    for bad in ("nokey", "=1,2", "a.b=", "a.b=1,,2"):
        with pytest.raises(ConfigError, match="--set"):
            parse_axis(bad)


def test_variants_are_the_cartesian_product() -> None:
    axes = [parse_axis("a.x=1,2"), parse_axis("b.y=u,v,w")]
    combos = variants(axes)
    assert len(combos) == 6
    assert combos[0] == {"a.x": 1, "b.y": "u"} and combos[-1] == {"a.x": 2, "b.y": "w"}
    with pytest.raises(ConfigError, match="given twice"):
        variants([parse_axis("a.x=1"), parse_axis("a.x=2")])
    name = variant_name(3, {"ground_stations.0.name": "Troll", "x.list": ["a b"]})
    assert name.startswith("v03-") and " " not in name and "/" not in name


def test_sweep_row_reads_totals_and_economics() -> None:
    metrics = {
        "total": {
            "alerts_raised": 10,
            "alerts_delivered": 8,
            "tiles_skipped_power": 2,
            "tiles_skipped_storage": 1,
            "alert_latency_p95_s": 60.0,
        },
        "economics": {
            "added_mass_kg": 3.0,
            "break_even_launch_price_usd_per_kg": 5e4,
            "cost_per_alert_usd": {"low": 0.1, "high": 1.0},
        },
    }
    row = sweep_row(metrics)
    assert row["alerts_delivered_share"] == 0.8 and row["tiles_skipped"] == 3
    assert row["alert_latency_p95_s"] == 60.0 and row["cost_per_alert_usd_high"] == 1.0
    assert set(COLUMNS) <= set(row)


def test_cli_rejects_a_bad_axis(capsys: Any) -> None:
    assert main(["sweep", str(MISSION), "--set", "mission.seed"]) == 2
    err = capsys.readouterr().err
    assert "is not KEY=V1,V2" in err and "\n" not in err.strip()
    assert main(["sweep", str(MISSION), "--set", "mission.sed=1,2", "--no-ray"]) == 2
    assert "mission.sed: unknown key" in capsys.readouterr().err


@pytest.mark.slow
def test_a_four_variant_sweep_equals_the_runs_one_by_one(ray_session: Any, tmp_path: Path) -> None:
    result = run_sweep(MISSION, SETS, tmp_path / "sweep", base_overrides=BASE)
    assert len(result.rows) == 4 and result.keys == [s.split("=")[0] for s in SETS]
    compared = [c for c in COLUMNS if c not in TIMING_COLUMNS]
    for row in result.rows:
        overrides = [*BASE, *(f"{k}={json.dumps(row[k])}" for k in result.keys)]
        alone = run_mission(
            load_mission(MISSION, overrides), tmp_path / row["variant"], use_ray=False
        )
        expect = sweep_row(alone.metrics)
        assert {c: row[c] for c in compared} == {c: expect[c] for c in compared}, row["variant"]
        assert row["alerts_delivered"] == row["alerts_raised"] > 0
        assert (Path(row["out_dir"]) / "metrics.json").is_file()
    # the variants differ where they should: the slow radio delays, the H100 costs energy
    by = {
        (r["ground_stations.0.downlink_rate_bps"], r["accelerator.profile"]): r for r in result.rows
    }
    fast, slow = by[(220e6, "jetson_orin_nano")], by[(2e5, "jetson_orin_nano")]
    assert slow["alert_latency_p95_s"] > fast["alert_latency_p95_s"]
    assert by[(220e6, "h100")]["energy_used_wh"] > fast["energy_used_wh"]
    with result.files["csv"].open() as fh:
        table = list(csv.DictReader(fh))
    assert [r["variant"] for r in table] == [r["variant"] for r in result.rows]
    data = json.loads(result.files["json"].read_text())
    assert data["keys"] == result.keys and len(data["rows"]) == 4
    page = result.files["report"].read_text()
    assert page.count("<tr>") >= 5 and "data:image/png;base64," in page
