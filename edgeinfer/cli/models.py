"""``edgeinfer models``: list, show and build the detector models.

A thin layer over :mod:`edgeinfer.detect.registry` and :mod:`edgeinfer.models_build.registry`;
library errors propagate to :func:`edgeinfer.cli.main.main`, which prints them as one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from edgeinfer.detect.registry import ModelRegistry, default_models_dir

_DIR_HELP = "Models directory (default: $EDGEINFER_MODELS, else models/ in the repository)."


def register(app: typer.Typer) -> None:
    """Add the ``models`` sub-command group to ``app``."""
    models_app = typer.Typer(
        name="models",
        help="List, show and build the ONNX detector models.",
        no_args_is_help=True,
    )

    @models_app.command("list")
    def list_cmd(
        models_dir: Path | None = typer.Option(None, "--models-dir", help=_DIR_HELP),
    ) -> None:
        """Table of the models: name, detector, product, bands, version."""
        registry = ModelRegistry(models_dir)
        models = registry.list_models()
        if not models:
            typer.echo(f"no models in {registry.models_dir}; run `edgeinfer models build`")
            return
        table = Table(title=f"models in {registry.models_dir}")
        for column in ("name", "detector", "product", "bands", "version"):
            table.add_column(column, overflow="fold")
        for m in models:
            table.add_row(m.name, m.detector, m.product, ",".join(m.bands), m.version)
        Console(width=120).print(table)

    @models_app.command("show")
    def show_cmd(
        name: str = typer.Argument(..., help="Model name (see `edgeinfer models list`)."),
        models_dir: Path | None = typer.Option(None, "--models-dir", help=_DIR_HELP),
    ) -> None:
        """The model's card (models/NAME.md) if there is one, then its metadata."""
        registry = ModelRegistry(models_dir)
        info = registry.get_model(name)
        card = info.path.with_suffix(".md")
        if card.is_file():
            typer.echo(card.read_text(encoding="utf-8").rstrip())
            typer.echo("")
        typer.echo(f"## metadata of {info.path}")
        typer.echo(f"sha256: {info.sha256}")
        for key, value in info.metadata.items():
            typer.echo(f"edgeinfer.{key}: {_pretty(value)}")

    @models_app.command("build")
    def build_cmd(
        names: list[str] | None = typer.Argument(None, help="Models to build (default: all)."),
        out: Path | None = typer.Option(None, "--out", help="Output directory. " + _DIR_HELP),
    ) -> None:
        """Write the models (deterministic ONNX graphs) into the models directory."""
        from edgeinfer.models_build.registry import build_all

        out_dir = out if out is not None else default_models_dir()
        written = build_all(out_dir, list(names) if names else None)
        if not written:
            typer.echo("no model builders are registered yet; nothing written")
        for path in written:
            typer.echo(f"wrote {path}")

    app.add_typer(models_app, name="models")


def _pretty(value: str) -> str:
    """Compact JSON for structured metadata values, the text itself otherwise."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return value
    if isinstance(parsed, dict | list):
        return json.dumps(parsed, sort_keys=True)
    return value
