"""`edgeinfer passes` through a private Typer app (other subcommands may not exist yet)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from conftest import shared_path
from typer.testing import CliRunner

from edgeinfer.cli.passes import register
from edgeinfer.errors import ConfigError, OrbitError, UnknownNameError
from edgeinfer.orbit import Constellation, find_contacts, parse_utc, station_from_spec

TLE = ("tle_earth_observation", "raw", "celestrak_resource_2024-10-05_SatView.txt")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    a = typer.Typer()

    @a.callback()
    def _root() -> None:  # keep `passes` a named subcommand
        pass

    register(a)
    return a


def _run(app: typer.Typer, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["passes", *args])


def test_json_output_is_one_object_with_iso_utc_times(app: typer.Typer) -> None:
    tle = shared_path(*TLE)
    args = ["--tle", str(tle), "--sat", "SENTINEL-2A", "--sat", "LANDSAT 9"]
    args += ["--station", "Svalbard", "--start", "2024-10-05T00:00:00Z", "--hours", "12"]
    r = _run(app, *args, "--eclipses", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert set(data) == {"passes", "eclipses"}
    assert data["passes"] and data["eclipses"]
    for p in data["passes"]:
        keys = {"satellite", "station", "aos", "tca", "los", "max_elevation_deg", "truncated"}
        assert set(p) == keys
        assert p["aos"].endswith("Z") and parse_utc(p["aos"]) <= parse_utc(p["tca"]) <= parse_utc(
            p["los"]
        )
        assert p["station"] == "Svalbard" and p["max_elevation_deg"] >= 5.0
    assert {e["satellite"] for e in data["eclipses"]} == {"SENTINEL-2A", "LANDSAT 9"}
    assert all(set(e) == {"satellite", "start", "end", "truncated"} for e in data["eclipses"])
    # the same answer as the library
    c = Constellation.from_file(tle, ["SENTINEL-2A", "LANDSAT 9"])
    t0 = parse_utc("2024-10-05T00:00:00Z")
    lib = find_contacts(c, [station_from_spec("Svalbard")], t0, 12 * 3600.0)
    assert len(lib) == len(data["passes"])
    for a, b in zip(lib, data["passes"], strict=True):
        assert abs(a.aos - parse_utc(b["aos"])) < timedelta(milliseconds=1)


def test_table_output_and_custom_station_with_mask(app: typer.Typer) -> None:
    r = _run(
        app,
        "--tle",
        str(shared_path(*TLE)),
        "--sat",
        "40697",
        "--station=-72.01,2.53,1270",
        "--min-elev",
        "10",
        "--start",
        "2024-10-05T00:00:00",
        "--hours",
        "3",
    )
    assert r.exit_code == 0, r.output
    assert "SENTINEL-2A" in r.output and "-72.0100,2.5300" in r.output and "AOS (UTC)" in r.output


@pytest.mark.parametrize(
    "args,error,text",
    [
        (["--station", "Goonhilly"], UnknownNameError, "known stations"),
        (["--station", "Svalbard", "--start", "tomorrow"], ConfigError, "bad ISO-8601 time"),
        (["--station", "Svalbard", "--sat", "SENTINEL-1B"], UnknownNameError, "known satellites"),
        (["--station", "Svalbard", "--hours", "0"], ConfigError, "--hours must be > 0"),
    ],
)
def test_bad_inputs_raise_edgeinfer_errors(
    app: typer.Typer, args: list[str], error: type, text: str
) -> None:
    base = ["--tle", str(shared_path(*TLE)), "--start", "2024-10-05T00:00:00Z"]
    r = _run(app, *base, *args)
    assert r.exit_code != 0 and isinstance(r.exception, error)
    assert text in str(r.exception) and "\n" not in str(r.exception)


def test_bad_tle_line_shows_the_template(app: typer.Typer, tmp_path: Path) -> None:
    lines = shared_path(*TLE).read_text().splitlines()[:3]
    lines[2] = lines[2][:-1] + str((int(lines[2][-1]) + 1) % 10)
    bad = tmp_path / "bad.tle"
    bad.write_text("\n".join(lines) + "\n")
    r = _run(app, "--tle", str(bad), "--station", "Svalbard", "--start", "2024-10-05T00:00:00Z")
    assert isinstance(r.exception, OrbitError)
    first, _got, expected, _ = str(r.exception).splitlines()
    assert first.startswith(f"{bad}:3: bad TLE line 2: checksum")
    assert "2 NNNNN NNN.NNNN" in expected


def test_registered_in_the_main_command_list() -> None:
    text = Path(__file__).resolve().parents[1].joinpath("edgeinfer", "cli", "main.py").read_text()
    assert '"passes"' in text


def test_json_marks_passes_and_eclipses_cut_by_the_window(app: typer.Typer) -> None:
    """The table's `*` is `truncated` in the JSON: a pass cut at the window's end (its TCA and
    maximum elevation are only the window edge's) and an eclipse already begun at its start."""
    tle = shared_path(*TLE)
    args = ["--tle", str(tle), "--sat", "SENTINEL-2A", "--sat", "SENTINEL-2B"]
    args += ["--station", "Svalbard", "--station=-72.0117,2.535,1270", "--min-elev", "10"]
    args += ["--start", "2024-10-05T00:00:00Z", "--hours", "12", "--eclipses", "--json"]
    r = _run(app, *args)
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    start, end = "2024-10-05T00:00:00.000Z", "2024-10-05T12:00:00.000Z"
    for kind, first, last in (("passes", "aos", "los"), ("eclipses", "start", "end")):
        for row in data[kind]:
            assert row["truncated"] is (row[first] == start or row[last] == end), row
    cut = [p for p in data["passes"] if p["truncated"]]
    assert [(p["satellite"], p["los"], p["tca"]) for p in cut] == [("SENTINEL-2A", end, end)]
    assert any(e["truncated"] and e["start"] == start for e in data["eclipses"])
    assert sum(not p["truncated"] for p in data["passes"]) >= 1


def test_table_marks_only_the_end_the_window_cut(app: typer.Typer) -> None:
    """The same window as a table: the cut pass has `*` on its LOS only (its AOS is its own)
    and the eclipse already begun at the start has it on its start only."""
    tle = shared_path(*TLE)
    args = ["--tle", str(tle), "--sat", "SENTINEL-2A", "--sat", "SENTINEL-2B"]
    args += ["--station", "Svalbard", "--station=-72.0117,2.535,1270", "--min-elev", "10"]
    args += ["--start", "2024-10-05T00:00:00Z", "--hours", "12", "--eclipses"]
    r = _run(app, *args)
    assert r.exit_code == 0, r.output
    marked = [line for line in r.output.splitlines() if "*" in line and "│" in line]
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in marked]
    passes = [c for c in cells if len(c) == 7]
    eclipses = [c for c in cells if len(c) == 4]
    assert [(c[0], c[2].endswith("*"), c[4]) for c in passes] == [
        ("SENTINEL-2A", False, "2024-10-05T12:00:00*")
    ]
    assert eclipses and all(c[1] == "2024-10-05T00:00:00*" for c in eclipses)
    assert not any(c[2].endswith("*") for c in eclipses)
