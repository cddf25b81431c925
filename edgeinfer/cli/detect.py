"""``edgeinfer detect SCENE``: one scene in, georeferenced alerts out, and what an alert-only
downlink would cost against the raw product."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from edgeinfer import api
from edgeinfer.cli.outputs import check_outputs, checks_outputs
from edgeinfer.detect.masks import mask_targets
from edgeinfer.detect.registry import ModelRegistry
from edgeinfer.errors import ConfigError

_PROGRESS_MIN_TILES = 16  # show a progress bar only on scenes with at least this many tiles


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def mask_option(mask_out: str | None) -> dict[str, Path] | Path | None:
    """``--mask-out``: ``DET=PATH[,DET=PATH]``, or one ``PATH`` (that file when one detector
    runs, else ``_<detector>`` inserted for each: :func:`edgeinfer.detect.masks.mask_targets`)."""
    if not mask_out:
        return None
    if "=" not in mask_out:
        return Path(mask_out)
    out: dict[str, Path] = {}
    for item in _split(mask_out):
        det, sep, target = item.partition("=")
        if not sep or not target:
            raise ConfigError(f"--mask-out {item!r}: expected DETECTOR=PATH or one PATH")
        out[det.strip()] = Path(target)
    return out


def register(app: typer.Typer) -> None:
    """Add ``detect`` to ``app``."""

    @app.command("detect")
    @checks_outputs(output="--output")
    def detect_cmd(
        scene: list[str] = typer.Argument(
            ..., help="Raster file(s), a product folder, or an http(s) URL of a COG."
        ),
        product: str = typer.Option(
            "auto", "--product", "-p", help="auto|geotiff|landsat|sentinel2|sar"
        ),
        bands: str | None = typer.Option(
            None, "--bands", help="Band names in file order, e.g. B1,B2,B3 (plain stacks)."
        ),
        detectors: str | None = typer.Option(
            None,
            "--detectors",
            "-d",
            help="Comma-separated: fire,ship,cloud. Default: every detector with a model that "
            "fits the scene's bands.",
        ),
        provider: str = typer.Option("auto", "--provider", help="auto|cpu|cuda|tensorrt"),
        output: Path = typer.Option(Path("alerts.geojson"), "--output", "-o"),
        mask_out: str | None = typer.Option(
            None,
            "--mask-out",
            help="Class mask GeoTIFF: PATH (PATH_<detector>.tif for each when several "
            "detectors run), or DET=PATH,DET=PATH.",
        ),
        tile_size: int = typer.Option(512, "--tile", help="Tile size in pixels."),
        overlap: int = typer.Option(64, "--overlap", help="Tile overlap in pixels."),
        threads: int | None = typer.Option(
            None, "--threads", help="onnxruntime threads in all (0 or unset: one per core)."
        ),
        lanes: int | None = typer.Option(
            None,
            "--lanes",
            help="Copies of the models running batches in parallel, sharing --threads "
            "(default: one per thread up to 4 on CPU, 2 on a GPU; results do not change).",
        ),
        batch: int | None = typer.Option(
            None,
            "--batch",
            help="Tiles per session.run (default: 1 on CPU, 2 on a GPU; results do not change).",
        ),
        cloud_threshold: float = typer.Option(
            0.7, "--cloud-threshold", help="Drop tiles above this cloud fraction (Phi-sat-1: 0.7)."
        ),
        acquired: str | None = typer.Option(
            None, "--acquired", help="Acquisition date (ISO), for products without metadata."
        ),
        pixel_size_m: float | None = typer.Option(
            None, "--pixel-size-m", help="Pixel size for chips without georeference."
        ),
        reflectance_scale: float | None = typer.Option(
            None,
            "--reflectance-scale",
            help="DN -> reflectance factor for integer optical stacks without GDAL scales.",
        ),
        compressed: bool = typer.Option(
            False, "--compressed", help="Also compare with the DEFLATE-compressed raw product."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
        require_signature: bool = typer.Option(
            False,
            "--require-signature",
            help="Load only models whose .sig verifies (against --trusted-key, else the "
            "development key).",
        ),
        trusted_key: list[Path] = typer.Option(
            None, "--trusted-key", help="Ed25519 public key (PEM) to verify models; repeatable."
        ),
        models_dir: Path | None = typer.Option(
            None,
            "--models-dir",
            help="Models folder (default: $EDGEINFER_MODELS, else the project's models/).",
        ),
        model: list[str] = typer.Option(
            None,
            "--model",
            help="Use this model (e.g. ship_optical_union) instead of the default where it "
            "fits the scene; repeatable; `edgeinfer models list` names them.",
        ),
    ) -> None:
        """Detect fires, ships and clouds in one scene; write alerts as GeoJSON."""
        console = Console(stderr=True)
        wanted = _split(detectors) or list(api.DETECTORS)
        masks = mask_option(mask_out)
        # every file it may become, whichever detectors turn out to fit the scene
        maybe = {*mask_targets(masks, wanted).values(), *mask_targets(masks, wanted[:1]).values()}
        check_outputs(("--mask-out", path) for path in sorted(maybe))
        source: str | list[str] = scene[0] if len(scene) == 1 else scene
        sc = api.open_scene(
            source,
            product=product,
            bands=_split(bands) or None,
            acquired=acquired,
            pixel_size_m=pixel_size_m,
            reflectance_scale=reflectance_scale,
        )
        try:
            n_tiles = len(api.tile_windows(sc.width, sc.height, tile_size, overlap))
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                disable=n_tiles < _PROGRESS_MIN_TILES or as_json,
                transient=True,
            ) as bar:
                task = bar.add_task(f"tiles of {sc.scene_id}", total=n_tiles)
                result = api.detect_scene(
                    sc,
                    wanted,
                    provider=provider,
                    tile_size=tile_size,
                    overlap=overlap,
                    threads=threads,
                    lanes=lanes,
                    batch_size=batch,
                    cloud_threshold=cloud_threshold,
                    mask_out=masks,
                    progress=lambda done, total: bar.update(task, completed=done),
                    skip_unfit=detectors is None,
                    require_signature=require_signature or bool(trusted_key),
                    trusted_keys=list(trusted_key or []),
                    prefer=list(model or []),
                    registry=ModelRegistry(models_dir),
                )
            compressed_bytes = api.compressed_size_bytes(sc) if compressed else None
        finally:
            sc.close()
        api.write_geojson(output, result.alerts)
        summary = result.summary()
        summary["output"] = str(output)
        if compressed_bytes is not None:
            summary["compressed_bytes"] = compressed_bytes
            summary["ratio_vs_compressed"] = (
                compressed_bytes / result.alert_bytes if result.alert_bytes else None
            )
        if as_json:
            typer.echo(json.dumps(summary, indent=2))
            return
        _print_summary(summary)


def _print_summary(summary: dict[str, Any]) -> None:
    console = Console()
    table = Table(title=f"edgeinfer detect: {summary['scene_id']}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    detectors = ", ".join(f"{d}={m}" for d, m in summary["detectors"].items())
    rows = [
        ("detectors", detectors or "none"),
        ("provider", str(summary["provider"])),
        ("lanes", f"{summary['lanes']} x {summary['threads_per_lane'] or 'default'} threads"),
        ("batch", f"{summary['batch_size']} tiles per session.run"),
        (
            "tiles",
            f"{summary['tiles_total']} total, {summary['tiles_empty']} empty, "
            f"{summary['tiles_cloudy']} dropped cloudy, {summary['tiles_inferred']} inferred",
        ),
        ("alerts", str(summary["alerts"])),
    ]
    for det, per in summary["alerts_per_class"].items():
        rows.append((f"  {det}", ", ".join(f"{k}: {v}" for k, v in per.items())))
    raw, alert_bytes = int(summary["raw_bytes"]), int(summary["alert_bytes"])
    rows += [("raw bytes read", f"{raw:,}"), ("alert bytes", f"{alert_bytes:,}")]
    if summary.get("ratio"):
        rows.append(("raw / alert bytes", f"{summary['ratio']:,.0f}x"))
    if raw:
        rows.append(("bandwidth saved", f"{1 - alert_bytes / raw:.6f}"))
    if "compressed_bytes" in summary:
        rows.append(("DEFLATE raw bytes", f"{summary['compressed_bytes']:,}"))
    for det, why in summary["skipped"].items():
        rows.append((f"skipped {det}", str(why)))
    rows.append(("alerts written", str(summary["output"])))
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
