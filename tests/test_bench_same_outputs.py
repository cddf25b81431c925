"""benchmarks/same_outputs.py on hand-made output folders: identical results pass; a changed
alert byte, a changed counter, a changed onboard or ground row fail; host timings, process ids
and the ground's arrival order do not count."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import same_outputs  # noqa: E402  (a script folder, not a package)


def _run(folder: Path, ground_rows: list[tuple[int, str]], wall_s: float, pid: int) -> Path:
    (folder / "onboard").mkdir(parents=True)
    (folder / "alerts.geojson").write_text('{"type": "FeatureCollection", "features": [{}]}')
    metrics = {
        "total": {"alerts_raised": 1, "wall_s": wall_s},
        "run": {"faults": {"kills_fired": [{"t_s": 10.0, "pid": pid}]}, "out": str(folder)},
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    con = sqlite3.connect(folder / "onboard" / "sat000.link.sqlite")
    con.execute("CREATE TABLE packets (seq INTEGER, data BLOB)")
    con.execute("INSERT INTO packets VALUES (0, x'0102')")
    con.commit()
    con.close()
    con = sqlite3.connect(folder / "ground.sqlite")
    con.execute("CREATE TABLE alerts (id INTEGER PRIMARY KEY, station TEXT)")
    con.executemany("INSERT INTO alerts VALUES (?, ?)", ground_rows)
    con.commit()
    con.close()
    return folder


def test_same_results_pass_whatever_the_host_and_the_arrival_order(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", [(1, "Svalbard"), (2, "Matera")], wall_s=10.0, pid=100)
    b = _run(tmp_path / "b", [(1, "Matera"), (2, "Svalbard")], wall_s=25.0, pid=200)
    assert same_outputs.compare(a, b) == []
    assert same_outputs.main([str(a), str(b)]) == 0


def test_any_mission_difference_fails(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", [(1, "Svalbard")], wall_s=10.0, pid=100)
    cases: dict[str, Callable[[Path], object]] = {
        "alerts": lambda d: (d / "alerts.geojson").write_text('{"features": [{}, {}]}'),
        "counter": lambda d: (d / "metrics.json").write_text(
            (d / "metrics.json").read_text().replace('"alerts_raised": 1', '"alerts_raised": 2')
        ),
        "onboard": lambda d: _exec(
            d / "onboard" / "sat000.link.sqlite", "UPDATE packets SET seq=1"
        ),
        "ground": lambda d: _exec(d / "ground.sqlite", "UPDATE alerts SET station='Kiruna'"),
    }
    for name, change in cases.items():
        b = tmp_path / name
        shutil.copytree(a, b)
        change(b)
        problems = same_outputs.compare(a, b)
        assert len(problems) == 1, (name, problems)
        assert same_outputs.main([str(a), str(b)]) == 1


def _exec(db: Path, sql: str) -> None:
    con = sqlite3.connect(db)
    con.execute(sql)
    con.commit()
    con.close()
