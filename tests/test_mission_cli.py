"""``edgeinfer run`` at the edge: one-line errors with exit code 2, and an in-process run."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from edgeinfer.cli.main import main


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "nope.toml"], "mission file nope.toml does not exist"),
        (["run", "--set", "mission.duration_h=-3"], "mission.duration_h = -3: Input should be"),
        (["run", "--set", "constellation.kind=leo"], "Input should be 'sso', 'walker' or 'tle'"),
        (["run", "--set", "oops"], "override 'oops' is not KEY=VALUE"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(argv: list[str], expected: str, capsys: Any) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("edgeinfer: error: ") and expected in err[0]


def test_an_unreachable_cluster_fails_fast(capsys: Any) -> None:
    t0 = time.perf_counter()
    assert main(["run", "--address", "127.0.0.1:1", "--set", "mission.duration_h=1"]) == 2
    assert time.perf_counter() - t0 < 20.0
    assert "cannot reach the Ray cluster at '127.0.0.1:1'" in capsys.readouterr().err


@pytest.mark.slow
def test_no_ray_run_writes_every_output(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "out"
    assert main(["run", "--no-ray", "--out", str(out), "--set", "mission.duration_h=3"]) == 0
    assert "bandwidth saved" in capsys.readouterr().out
    for name in ("metrics.json", "alerts.geojson", "report.html", "plan.json", "ground.sqlite"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run"]["duration_s"] == 3 * 3600.0
    assert set(metrics["satellites"]) == {"SSO-1", "SSO-2", "SSO-3", "SSO-4"}
