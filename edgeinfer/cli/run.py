"""``edgeinfer run [MISSION.toml]``: a whole constellation mission on Ray, with a progress bar
over mission time and a summary table; outputs in ``--out``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from edgeinfer import api

#: (metrics key under "total", label) of the summary table.
SUMMARY: tuple[tuple[str, str], ...] = (
    ("satellites", "satellites"),
    ("scenes_captured", "scenes captured"),
    ("tiles_captured", "tiles captured"),
    ("tiles_cloudy", "tiles dropped as cloudy"),
    ("tiles_inferred", "tiles inferred"),
    ("tiles_skipped_power", "tiles skipped for power"),
    ("tiles_skipped_thermal", "tiles skipped for thermal"),
    ("tiles_skipped_storage", "tiles skipped for storage"),
    ("alerts_raised", "alerts raised"),
    ("alerts_delivered", "alerts delivered"),
    ("alerts_lost", "alerts lost"),
    ("duplicates_delivered", "duplicates delivered"),
    ("corrupted_accepted", "corrupted alerts accepted"),
    ("truth_recall", "truth recall"),
    ("raw_bytes_captured", "raw bytes captured"),
    ("bytes_downlinked", "bytes downlinked"),
    ("bandwidth_saved", "bandwidth saved"),
    ("bandwidth_saved_vs_compressed", "bandwidth saved vs DEFLATE"),
    ("alert_latency_p50_s", "alert latency p50 (s)"),
    ("alert_latency_p95_s", "alert latency p95 (s)"),
    ("energy_used_wh", "energy used (Wh)"),
    ("min_soc", "minimum battery SoC"),
    ("peak_temperature_c", "peak temperature (°C)"),
    ("contact_minutes", "contact minutes"),
    ("inference_modelled_s", "inference modelled (s)"),
    ("inference_measured_s", "inference measured (s)"),
    ("actor_restarts", "actor restarts"),
    ("packets_lost", "packets lost"),
    ("packets_corrupted", "packets corrupted"),
    ("retransmissions", "retransmissions"),
    ("scenes_failed", "scenes failed"),
    ("wall_s", "wall time (s)"),
)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6f}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def summary_table(metrics: dict[str, Any], out_dir: Path) -> Table:
    """The end-of-run table of the mission's totals."""
    total = metrics["total"]
    table = Table(title=f"mission {metrics['run'].get('mission', '')} -> {out_dir}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, label in SUMMARY:
        table.add_row(label, _fmt(total.get(key)))
    return table


def register(app: typer.Typer) -> None:
    """Add ``run`` to ``app``."""

    @app.command("run")
    def run_cmd(
        mission: Path | None = typer.Argument(
            None, help="Mission TOML (default: the embedded sample mission)."
        ),
        out: Path = typer.Option(Path("edgeinfer-out"), "--out", "-o", help="Output folder."),
        address: str | None = typer.Option(
            None,
            "--address",
            help="Join a Ray cluster (auto, ray://HOST:PORT or HOST:PORT) instead of starting "
            "a local Ray for the run.",
        ),
        overrides: list[str] | None = typer.Option(
            None, "--set", help="Override a mission key, e.g. --set mission.duration_h=6."
        ),
        no_ray: bool = typer.Option(
            False, "--no-ray", help="Run every satellite in this process (no Ray)."
        ),
    ) -> None:
        """Simulate a constellation: capture scenes, detect on board, downlink only alerts."""
        console = Console(stderr=True)
        config = api.load_mission(mission, overrides or None)
        hours = config.mission.duration_h
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:.1f}/{task.total:.1f} h simulated"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(f"mission {config.mission.name}", total=hours)

            def progress(done_s: float, total_s: float) -> None:
                bar.update(task, completed=done_s / 3600.0)

            result = api.run_mission(
                config, out, address=address, progress=progress, use_ray=not no_ray
            )
        Console().print(summary_table(result.metrics, out))
        failed = result.metrics.get("failed_scenes", [])
        if failed:
            console.print(f"[bold red]{len(failed)} scene problem(s)[/], the mission went on:")
            for f in failed:
                console.print(f"  {f['scene']}: {f['error']}", markup=False, highlight=False)
        lost = result.metrics.get("lost_groups", [])
        if lost:
            console.print(
                f"[bold red]{len(lost)} satellite group(s) lost[/] (their processes died and "
                "Ray would not restart them), the mission went on without them:"
            )
            for g in lost:
                names = ", ".join(g["satellites"])
                delivered = sum(g["alerts_delivered"].values())
                line = f"  {names}: {delivered} alert(s) had reached the ground; {g['error']}"
                console.print(line, markup=False, highlight=False)
        for name in ("metrics", "alerts", "report", "ground_db"):
            if name in result.files:
                console.print(f"wrote {result.files[name]}")
