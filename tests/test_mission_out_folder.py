"""A run into a folder that holds an earlier run's outputs replaces them all: no onboard
database of a bigger constellation, no metrics of the other run beside the new ground
database (audit 14, N13); files that are not a run's own stay."""

from __future__ import annotations

import json
from pathlib import Path

from chaos_helpers import mission

from edgeinfer.mission import run_mission


def test_a_second_run_leaves_no_file_of_the_first(tmp_path: Path) -> None:
    out = tmp_path / "out"
    written = {"onboard_databases": True, "report": True}
    four = mission(1.0, constellation={"n_satellites": 4}, output=written)
    run_mission(four, out, use_ray=False)
    assert len(list((out / "onboard").glob("sat*.link.sqlite"))) == 4
    assert (out / "report.html").exists()
    (out / "notes.txt").write_text("mine\n")
    two = mission(1.0, constellation={"n_satellites": 2}, output={"onboard_databases": True})
    result = run_mission(two, out, use_ray=False)
    onboard = sorted(p.name for p in (out / "onboard").glob("sat*.link.sqlite"))
    assert onboard == ["sat000.link.sqlite", "sat001.link.sqlite"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["satellites"]) == 2 == len(result.metrics["satellites"])
    assert not (out / "report.html").exists()  # this run writes none: the first's is gone
    assert (out / "notes.txt").read_text() == "mine\n"
