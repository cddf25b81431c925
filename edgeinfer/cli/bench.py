"""``edgeinfer bench``: latency, throughput and energy per tile (derived for the CPU, measured
with NVML on a GPU) of each model x provider x batch size, with a progress bar, tables and
``--json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from edgeinfer.bench import BenchSettings, machine_line, run_bench
from edgeinfer.cli.outputs import checks_outputs
from edgeinfer.errors import ConfigError
from edgeinfer.output_files import write_text_file


def _ints(text: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(
            f"{option} {text!r}: expected comma-separated integers, e.g. 1,4,16"
        ) from None


def results_table(report: dict[str, Any]) -> Table:
    """One row per model x provider x batch; unavailable or failed combinations show once per
    model and provider, with the reason printed under the table."""
    table = Table(title=f"edgeinfer bench, {report['settings']['tile_size']} px tiles")
    for name, justify in (
        ("model", "left"),
        ("provider", "left"),
        ("batch", "right"),
        ("p50 ms", "right"),
        ("p99 ms", "right"),
        ("ms/tile", "right"),
        ("tiles/s", "right"),
        ("MP/s", "right"),
        ("status", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    shown: set[tuple[str, str]] = set()
    for r in report["results"]:
        if r["status"] == "ok":
            table.add_row(
                r["model"],
                r["provider"],
                str(r["batch"]),
                f"{r['latency_ms_p50']:.1f}",
                f"{r['latency_ms_p99']:.1f}",
                f"{r['ms_per_tile']:.1f}",
                f"{r['tiles_per_s']:.1f}",
                f"{r['megapixels_per_s']:.2f}",
                "ok" + (" (IOBinding)" if r.get("io_binding") else ""),
            )
        elif (r["model"], r["provider"]) not in shown:
            shown.add((r["model"], r["provider"]))
            table.add_row(r["model"], r["provider"], "all", *["-"] * 5, r["status"])
    return table


def energy_table(report: dict[str, Any]) -> Table | None:
    """Derived energy per tile (mJ) on each accelerator profile, from each model's fastest CPU
    batch size; None without CPU rows."""
    best: dict[str, dict[str, Any]] = {}
    for r in report["results"]:
        if not (r["status"] == "ok" and r.get("energy_j_per_tile_derived")):
            continue
        if r["model"] not in best or r["tiles_per_s"] > best[r["model"]]["tiles_per_s"]:
            best[r["model"]] = r
    if not best:
        return None
    profiles = list(report["accelerators"])
    table = Table(
        title="energy per tile in mJ, DERIVED (host CPU time / relative_speed x active W), "
        "not measured"
    )
    table.add_column("model (batch)")
    for name in profiles:
        table.add_column(name, justify="right")
    for model, r in best.items():
        energy = r["energy_j_per_tile_derived"]
        table.add_row(f"{model} ({r['batch']})", *[f"{energy[p] * 1e3:.3g}" for p in profiles])
    return table


def measured_energy_table(report: dict[str, Any]) -> Table | None:
    """Measured energy per tile (J) of the GPU rows; None where none was measured."""
    rows = [r for r in report["results"] if r.get("energy_j_per_tile_measured")]
    if not rows:
        return None
    meter = report.get("gpu_energy", {})
    table = Table(
        title=f"energy per tile in J, MEASURED on {meter.get('gpu', 'the GPU')} (NVML board "
        f"energy; idle {meter.get('idle_w', 0):.0f} W)"
    )
    for name in ("model", "provider", "batch", "board J", "above idle J", "board W"):
        table.add_column(name, justify="left" if name in ("model", "provider") else "right")
    for r in rows:
        e = r["energy_j_per_tile_measured"]
        table.add_row(
            r["model"],
            r["provider"],
            str(r["batch"]),
            f"{e['board']:.3g}",
            f"{e['above_idle']:.3g}",
            f"{e['board_w']:.0f}",
        )
    return table


def register(app: typer.Typer) -> None:
    """Add ``bench`` to ``app``."""

    @app.command("bench")
    @checks_outputs(json_out="--json")
    def bench_cmd(
        models: str = typer.Option(
            "fire,ship,cloud", "--models", help="Detector kinds or model names, comma-separated."
        ),
        providers: str = typer.Option(
            "cpu,cuda,tensorrt", "--providers", help="Execution providers, comma-separated."
        ),
        tile: int = typer.Option(512, "--tile", help="Tile size in pixels."),
        batch: str = typer.Option("1,4,16", "--batch", help="Batch sizes, comma-separated."),
        threads: int | None = typer.Option(
            None, "--threads", help="onnxruntime intra-op threads (default: onnxruntime's)."
        ),
        repeat: int = typer.Option(5, "--repeat", help="Timed runs per batch size."),
        warmup: int = typer.Option(2, "--warmup", help="Untimed runs first."),
        io_binding: str = typer.Option(
            "auto", "--io-binding", help="auto (on for CUDA/TensorRT), on, off."
        ),
        energy_seconds: float = typer.Option(
            1.0,
            "--energy-seconds",
            help="GPU rows: seconds of batches per row for the measured (NVML) energy; 0: none.",
        ),
        models_dir: Path | None = typer.Option(None, "--models-dir", help="Models folder."),
        json_out: Path | None = typer.Option(None, "--json", help="Write the report as JSON."),
    ) -> None:
        """Benchmark each model x provider x batch size: latency p50/p99, tiles/s, MP/s and
        the energy per tile each accelerator profile would need (derived)."""
        settings = BenchSettings(
            models=tuple(m.strip() for m in models.split(",") if m.strip()),
            providers=tuple(p.strip() for p in providers.split(",") if p.strip()),
            tile_size=tile,
            batches=_ints(batch, "--batch"),
            threads=threads,
            repeat=repeat,
            warmup=warmup,
            io_binding=io_binding,
            models_dir=str(models_dir) if models_dir else None,
            energy_s=energy_seconds,
        )
        err = Console(stderr=True)
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("bench", total=None)

            def progress(done: int, total: int, label: str) -> None:
                bar.update(task, completed=done, total=total, description=label)

            report = run_bench(settings, progress)
        out = Console()
        if not out.is_terminal:  # a file or pipe: wide enough that names are not cut
            out = Console(width=160)
        out.print(f"machine: {machine_line(report['machine'])}")
        for model, source in report["inputs"].items():
            kind = source["kind"]
            out.print(f"input {model}: {kind} ({escape(source['source'])})")
        out.print(results_table(report))
        for name, status in report["providers"].items():
            if not status["available"]:
                out.print(f"[yellow]{name}: unavailable[/yellow]: {escape(status['reason'])}")
        for r in report["results"]:
            if r["status"] == "failed":
                out.print(
                    f"[red]{r['model']} on {r['provider']} failed[/red]: {escape(r['reason'])}"
                )
        for table in (energy_table(report), measured_energy_table(report)):
            if table is not None:
                out.print(table)
        if "unavailable" in report.get("gpu_energy", {}):
            err.print(escape(report["gpu_energy"]["unavailable"]))
        if json_out is not None:
            write_text_file(json_out, json.dumps(report, indent=1) + "\n", "bench report")
            err.print(f"wrote {json_out}")
