"""``edgeinfer models``: list, show, build, sign and verify the detector models.

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
from edgeinfer.errors import EdgeInferError, ModelError

_DIR_HELP = "Models directory (default: $EDGEINFER_MODELS, else models/ in the repository)."


def register(app: typer.Typer) -> None:
    """Add the ``models`` sub-command group to ``app``."""
    models_app = typer.Typer(
        name="models",
        help="List, show, build, sign and verify the ONNX detector models.",
        no_args_is_help=True,
    )

    @models_app.command("list")
    def list_cmd(
        models_dir: Path | None = typer.Option(None, "--models-dir", help=_DIR_HELP),
    ) -> None:
        """Table of the models: name, detector, product, bands, version; then the model
        files that cannot be used, each with its reason."""
        registry = ModelRegistry(models_dir)
        models = registry.list_models()
        broken = registry.broken()
        if not models and not broken:
            typer.echo(f"no models in {registry.models_dir}; run `edgeinfer models build`")
            return
        console = Console(width=120)
        if models:
            table = Table(title=f"models in {registry.models_dir}")
            for column in ("name", "detector", "product", "bands", "version"):
                table.add_column(column, overflow="fold")
            for m in models:
                table.add_row(m.name, m.detector, m.product, ",".join(m.bands), m.version)
            console.print(table)
        if broken:
            bad = Table(title=f"broken model files in {registry.models_dir} (not loaded)")
            bad.add_column("file", overflow="fold")
            bad.add_column("problem and fix", overflow="fold")
            for path, exc in broken.items():
                bad.add_row(path.name, str(exc))
            console.print(bad)

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
        key: Path | None = typer.Option(None, "--key", help=_KEY_HELP),
        no_sign: bool = typer.Option(False, "--no-sign", help="Write no .sig files."),
    ) -> None:
        """Write the models (deterministic ONNX graphs) and their signatures."""
        from edgeinfer.models_build.registry import build_all

        out_dir = out if out is not None else default_models_dir()
        written = build_all(
            out_dir, list(names) if names else None, sign=not no_sign, signing_key=key
        )
        if not written:
            typer.echo("no model builders are registered yet; nothing written")
        for path in written:
            typer.echo(f"wrote {path}")

    _register_signing(models_app)
    app.add_typer(models_app, name="models")


_KEY_HELP = "Ed25519 private key (PEM); default: the DEVELOPMENT key models/keys/edgeinfer-dev.pem."


def _register_signing(models_app: typer.Typer) -> None:
    """``models sign``, ``models verify`` and ``models keygen`` (docs/reliability.md)."""
    from edgeinfer.detect import signing

    @models_app.command("sign")
    def sign_cmd(
        targets: list[str] | None = typer.Argument(
            None, help="Model names or .onnx paths (default: every model in the directory)."
        ),
        key: Path | None = typer.Option(None, "--key", help=_KEY_HELP),
        models_dir: Path | None = typer.Option(None, "--models-dir", help=_DIR_HELP),
    ) -> None:
        """Write detached Ed25519 signatures NAME.onnx.sig beside the models."""
        private = signing.load_private_key(key or signing.dev_private_key_path())
        registry = ModelRegistry(models_dir)
        paths = [_model_path(t, registry) for t in targets or []]
        if not targets:
            paths = sorted(registry.models_dir.glob("*.onnx"))
            if not paths:
                typer.echo(f"no models in {registry.models_dir}; nothing signed")
        for path in paths:
            sig = signing.sign_model(path, private)
            typer.echo(
                f"signed {path} -> {sig.name} (key {signing.fingerprint(private.public_key())})"
            )

    @models_app.command("verify")
    def verify_cmd(
        paths: list[Path] = typer.Argument(..., help="Model files (.onnx) to check."),
        pubkey: list[Path] | None = typer.Option(
            None,
            "--pubkey",
            help="Trusted Ed25519 public key (PEM); repeatable. Default: the DEVELOPMENT key "
            "models/keys/edgeinfer-dev.pub.",
        ),
    ) -> None:
        """Check each model's detached signature; a bad or missing one is an error (exit 2)
        whose one line names the file and the problem."""
        keys = signing.load_trusted_keys(list(pubkey or []))
        failures: list[EdgeInferError] = []
        for path in paths:
            try:
                signing.verify_model(path, keys)
            except EdgeInferError as exc:
                failures.append(exc)
            else:
                typer.echo(f"ok {path}")
        if len(failures) == 1:
            raise failures[0]
        if failures:
            for failure in failures:
                typer.echo(f"edgeinfer: error: {failure}", err=True)
            raise ModelError(f"{len(failures)} of {len(paths)} models failed verification")

    @models_app.command("keygen")
    def keygen_cmd(
        directory: Path = typer.Argument(..., help="Folder for NAME.pem and NAME.pub."),
        name: str = typer.Option("mission", "--name", help="File name stem of the pair."),
    ) -> None:
        """Create an Ed25519 key pair for a mission (keep the .pem off the repository)."""
        private, public = signing.generate_keypair(directory, name)
        typer.echo(f"wrote {private} (private: keep it secret) and {public} (trust it on board)")


def _model_path(target: str, registry: ModelRegistry) -> Path:
    """A model name from the registry, or a path to an .onnx file."""
    path = Path(target)
    if path.suffix == ".onnx" or path.exists():
        if not path.is_file():
            raise ModelError(f"model file {path} not found; give a model name or an .onnx path")
        return path
    return registry.get_model(target).path


def _pretty(value: str) -> str:
    """Compact JSON for structured metadata values, the text itself otherwise."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return value
    if isinstance(parsed, dict | list):
        return json.dumps(parsed, sort_keys=True)
    return value
