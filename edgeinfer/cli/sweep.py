"""``edgeinfer sweep MISSION.toml --set KEY=V1,V2,... [--set ...] [--out DIR]``: run the
cartesian product of variants of one mission as parallel Ray tasks and compare them
(sweep.csv, sweep.json, sweep.html in ``--out``; docs/operators.md).

Exit status: 0 when every variant ran; 2 when one or more failed while running. The tables
are written first either way (a failed variant is a row marked failed, with its error), and
the last line names the failed variants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from edgeinfer.errors import EdgeInferError
from edgeinfer.mission.sweep import SweepResult, run_sweep
from edgeinfer.mission.sweep_table import STATUS_FAILED, describe_value, is_label

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


#: Width of the table when stdout is not a terminal (a pipe, a file): wide enough that no
#: column is cut (rich would use 80 columns).
PIPE_WIDTH = 1000


class SweepFailed(EdgeInferError, RuntimeError):
    """Variants of a sweep failed while running (the tables, with their rows marked failed,
    are written)."""


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if is_label(value):
        return describe_value(value)
    if isinstance(value, float):
        if value == 0:
            return "0"
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

        def progress(done: int, total: int, name: str, error: str) -> None:
            if error:
                line = f"[{done}/{total}] {escape(name)} [bold red]FAILED[/]: {escape(error)}"
                err.print(line, highlight=False, soft_wrap=True)
            else:
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
        console = Console()
        if not console.is_terminal:
            console = Console(width=PIPE_WIDTH)
        console.print(sweep_table(result, out))
        for name in ("csv", "json", "report"):
            err.print(f"wrote {result.files[name]}")
        if result.failed:
            raise SweepFailed(_failed_line(result))


def sweep_table(result: SweepResult, out: Path) -> Table:
    """The terminal table: a row per variant, "FAILED" beside the variants that failed."""
    table = Table(title=f"sweep -> {out}")
    table.add_column("variant")
    for key in result.keys:
        table.add_column(key)
    for _, label in SHOWN:
        table.add_column(label, justify="right")
    for row in result.rows:
        label = str(row["variant"]).split("-", 1)[0]
        if row.get("status") == STATUS_FAILED:
            label += " FAILED"
        cells = [label, *(_fmt(row[k]) for k in result.keys)]
        table.add_row(*cells, *(_fmt(row.get(k)) for k, _ in SHOWN))
    return table


def _failed_line(result: SweepResult) -> str:
    """The CLI's last line when variants failed: which, why, and where the tables are."""
    failed = "; ".join(f"{r['variant']}: {r['error']}" for r in result.failed)
    return (
        f"{len(result.failed)} of {len(result.rows)} variants failed ({failed}); every "
        f"variant's row, the failed ones marked failed, is in {result.files['csv']}, "
        f"{result.files['json'].name} and {result.files['report'].name}"
    )
