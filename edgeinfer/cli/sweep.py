"""``edgeinfer sweep MISSION.toml --set KEY=V1,V2,... [--set ...] [--out DIR]``: run the
cartesian product of variants of one mission as parallel Ray tasks and compare them
(sweep.csv, sweep.json, sweep.html in ``--out``; docs/operators.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from edgeinfer.mission.sweep import describe_value, run_sweep

#: Columns of the terminal summary (the files have them all).
SHOWN: tuple[tuple[str, str], ...] = (
    ("alert_latency_p50_s", "p50 s"),
    ("alert_latency_p95_s", "p95 s"),
    ("alerts_delivered", "alerts"),
    ("bandwidth_saved", "bw saved"),
    ("energy_used_wh", "energy Wh"),
    ("tiles_skipped", "skipped"),
    ("alerts_relayed", "relayed"),
    ("break_even_launch_price_usd_per_kg", "break-even $/kg"),
)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool | list | dict):
        return describe_value(value)
    if isinstance(value, float):
        return f"{value:.6f}" if abs(value) < 1 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def register(app: typer.Typer) -> None:
    """Add ``sweep`` to ``app``."""

    @app.command("sweep")
    def sweep_cmd(
        mission: Path | None = typer.Argument(
            None, help="Mission TOML (default: the embedded sample mission)."
        ),
        sets: list[str] = typer.Option(
            ...,
            "--set",
            help="KEY=V1,V2,... values of one key to sweep (repeat for more keys; the "
            "product of all is run), e.g. --set crosslinks.enabled=false,true.",
        ),
        base: list[str] | None = typer.Option(
            None, "--base", help="KEY=VALUE applied to every variant (like run's --set)."
        ),
        out: Path = typer.Option(Path("edgeinfer-sweep"), "--out", "-o", help="Output folder."),
        address: str | None = typer.Option(
            None, "--address", help="Join a Ray cluster instead of starting a local Ray."
        ),
        no_ray: bool = typer.Option(False, "--no-ray", help="Run the variants one by one here."),
    ) -> None:
        """Compare variants of a mission: latency, bandwidth, energy, skipped tiles, economics."""
        err = Console(stderr=True)

        def progress(done: int, total: int, name: str) -> None:
            err.print(f"[{done}/{total}] {name} done")

        result = run_sweep(
            mission,
            sets,
            out,
            base_overrides=base or None,
            use_ray=not no_ray,
            address=address,
            progress=progress,
        )
        keys = result.keys
        table = Table(title=f"sweep -> {out}")
        table.add_column("variant")
        for key in keys:
            table.add_column(key)
        for _, label in SHOWN:
            table.add_column(label, justify="right")
        for row in result.rows:
            cells = [str(row["variant"]).split("-", 1)[0], *(_fmt(row[k]) for k in keys)]
            table.add_row(*cells, *(_fmt(row.get(k)) for k, _ in SHOWN))
        Console().print(table)
        for name in ("csv", "json", "report"):
            err.print(f"wrote {result.files[name]}")
