"""``edgeinfer faults chaos MISSION.toml``: the mission with its ``[faults]`` (actor kills,
lost and corrupted packets, upsets) beside the same mission without them, and issue 6's bars
(docs/reliability.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def register_chaos(faults_app: typer.Typer) -> None:
    """Add ``chaos`` to the ``faults`` command group."""

    @faults_app.command("chaos")
    def chaos_cmd(
        mission: Path | None = typer.Argument(
            None,
            help="Mission TOML with a \\[faults] table (default: sample_data/missions/chaos.toml).",
        ),
        out: Path = typer.Option(Path("edgeinfer-chaos"), "--out", "-o", help="Output folder."),
        overrides: list[str] | None = typer.Option(
            None, "--set", help="Override a mission key, e.g. --set faults.packet_loss_prob=0.1."
        ),
        address: str | None = typer.Option(None, "--address", help="Join this Ray cluster."),
        no_ray: bool = typer.Option(False, "--no-ray", help="In-process (kills are simulated)."),
    ) -> None:
        """Run a mission without its faults, then with them; print both and the bars."""
        from edgeinfer.mission import sample_mission_path
        from edgeinfer.mission.compare import compare_chaos

        path = mission or sample_mission_path().parent / "chaos.toml"
        result = compare_chaos(
            path, out, overrides=overrides or None, address=address, use_ray=not no_ray
        )
        console = Console(width=120)
        table = Table(title=f"{path.name}: without faults vs with them -> {out}")
        for column in ("metric", "without faults", "with faults"):
            table.add_column(column, justify="left" if column == "metric" else "right")
        for label, clean, chaos in result.rows():
            table.add_row(label, _fmt(clean), _fmt(chaos))
        console.print(table)
        bars = result.bars()
        for name, ok in bars.items():
            console.print(f"{'PASS' if ok else 'FAIL'}  {name.replace('_', ' ')}")
            if name == "faults_happened":
                for kind, n in result.faults_seen().items():
                    note = "" if n else " (configured, none drawn)"
                    console.print(f"      {kind}: {n:,}{note}")
        console.print(f"wrote {out / 'chaos_vs_clean.json'}")
        if not all(bars.values()):
            raise typer.Exit(1)
