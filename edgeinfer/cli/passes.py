"""``edgeinfer passes``: contact windows (and eclipses) of TLE satellites over ground stations.

A thin layer over :mod:`edgeinfer.orbit`; library errors propagate to
:func:`edgeinfer.cli.main.main`, which prints them without a traceback.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from edgeinfer.errors import ConfigError
from edgeinfer.orbit import (
    Constellation,
    SunEphemeris,
    TimeGrid,
    find_contacts,
    find_eclipses,
    format_utc,
    parse_utc,
    station_from_spec,
)
from edgeinfer.orbit.tle import warn_stale_tles

_STEP_S = 30.0  # coarse search grid; events are refined to 1 ms (edgeinfer.orbit.passes)


def register(app: typer.Typer) -> None:
    """Add the ``passes`` command to ``app``."""

    @app.command("passes")
    def passes(
        tle: Path = typer.Option(..., "--tle", help="CelesTrak TLE file (2- or 3-line)."),
        sat: list[str] | None = typer.Option(
            None, "--sat", help="Satellite name or catalog number (repeatable; default: all)."
        ),
        station: list[str] = typer.Option(
            ...,
            "--station",
            help="Built-in station name (e.g. Svalbard) or LAT,LON,ALT_M (repeatable; "
            "write --station=-72.01,2.53,1270 for a negative latitude).",
        ),
        min_elev: float | None = typer.Option(
            None, "--min-elev", help="Elevation mask in degrees (default: the station's, 5)."
        ),
        start: str = typer.Option(..., "--start", help="Start time, ISO-8601 (UTC if no zone)."),
        hours: float = typer.Option(24.0, "--hours", help="Length of the search window in hours."),
        eclipses: bool = typer.Option(False, "--eclipses", help="Also list eclipses (DE421 Sun)."),
        as_json: bool = typer.Option(
            False, "--json", help="Print one JSON object instead of tables."
        ),
    ) -> None:
        """Passes (AOS, TCA, LOS, maximum elevation) and optionally eclipses, in UTC."""
        t0 = parse_utc(start)
        if not hours > 0:
            raise ConfigError(f"--hours must be > 0, got {hours}")
        stations = [station_from_spec(s, min_elev) for s in station]
        constellation = Constellation.from_file(tle, sat or None)
        duration_s = hours * 3600.0
        warn_stale_tles(constellation, t0, t0 + timedelta(seconds=duration_s))
        track = constellation.propagate(TimeGrid.regular(t0, duration_s, _STEP_S))
        contacts = find_contacts(constellation, stations, t0, duration_s, track=track)
        shadows = (
            find_eclipses(constellation, SunEphemeris(), t0, duration_s, track=track)
            if eclipses
            else []
        )
        result: dict[str, list[dict[str, Any]]] = {
            "passes": [
                {
                    "satellite": c.satellite,
                    "station": c.station,
                    "aos": format_utc(c.aos),
                    "tca": format_utc(c.tca),
                    "los": format_utc(c.los),
                    "max_elevation_deg": round(c.max_elevation_deg, 3),
                    # cut by the search window: AOS or LOS is the window's edge, so TCA and
                    # the maximum elevation are only the best inside the window
                    "truncated": c.truncated,
                }
                for c in contacts
            ],
            "eclipses": [
                {
                    "satellite": e.satellite,
                    "start": format_utc(e.start),
                    "end": format_utc(e.end),
                    "truncated": e.truncated,
                }
                for e in shadows
            ],
        }
        if as_json:
            typer.echo(json.dumps(result))
            return
        console = Console(width=120)
        table = Table(title=f"passes from {format_utc(t0)} for {hours:g} h")
        for col in (
            "satellite",
            "station",
            "AOS (UTC)",
            "TCA (UTC)",
            "LOS (UTC)",
            "min",
            "max el deg",
        ):
            table.add_column(col, justify="right" if col in ("min", "max el deg") else "left")
        t1 = t0 + timedelta(seconds=duration_s)
        for c in contacts:
            first, last = _cut_marks(c.truncated, c.aos, c.los, t0, t1)
            table.add_row(
                c.satellite,
                c.station,
                format_utc(c.aos)[:-5] + first,
                format_utc(c.tca)[:-5],
                format_utc(c.los)[:-5] + last,
                f"{c.duration_s / 60.0:.1f}",
                f"{c.max_elevation_deg:.1f}",
            )
        console.print(table)
        if any(c.truncated for c in contacts):
            console.print("* cut by the search window")
        if eclipses:
            et = Table(title="eclipses (Sun centre hidden by the Earth)")
            for col in ("satellite", "start (UTC)", "end (UTC)", "min"):
                et.add_column(col)
            for e in shadows:
                first, last = _cut_marks(e.truncated, e.start, e.end, t0, t1)
                et.add_row(
                    e.satellite,
                    format_utc(e.start)[:-5] + first,
                    format_utc(e.end)[:-5] + last,
                    f"{e.duration_s / 60:.1f}",
                )
            console.print(et)
            if any(e.truncated for e in shadows):
                console.print("* cut by the search window")


def _cut_marks(
    truncated: bool, start: datetime, end: datetime, t0: datetime, t1: datetime
) -> tuple[str, str]:
    """``*`` on the end(s) of a window the search window cut: the one at its edge."""
    if not truncated:
        return "", ""
    return ("*" if start <= t0 else ""), ("*" if end >= t1 else "")
