"""Entry point of the ``edgeinfer`` command.

Each subcommand lives in its own module with a ``register(app)`` function. Library errors
(:class:`edgeinfer.errors.EdgeInferError`) become one line on stderr and exit code 2, never a
traceback; ``-v`` shows debug logs, ``-q`` only warnings.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from edgeinfer.errors import EdgeInferError

# Subcommand modules, in the order `edgeinfer --help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "detect",
    "models",
    "evaluate",
    "passes",
    "run",
    "sweep",
    "faults",
    "bench",
)

GDAL_CACHE_MB = 64  # per process; see edgeinfer.scene.set_gdal_cache_mb

app = typer.Typer(
    name="edgeinfer",
    help="Orbital edge inference: detect fires, ships and clouds on board; downlink only alerts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors."),
) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("edgeinfer").setLevel(level)
    # Streaming tiling decodes each block about once: a small GDAL block cache keeps memory
    # flat whatever the scene size (GDAL's default is 5 % of RAM per process).
    from edgeinfer.scene import set_gdal_cache_mb

    set_gdal_cache_mb(GDAL_CACHE_MB)


for _name in COMMAND_MODULES:
    importlib.import_module(f"edgeinfer.cli.{_name}").register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (2 for a library error, one line, no traceback).

    Usage errors (unknown option, missing argument) are handled by click in standalone mode:
    usage and the error on stderr, exit code 2.
    """
    try:
        app(args=argv, standalone_mode=True, prog_name="edgeinfer")
    except EdgeInferError as exc:
        typer.echo(f"edgeinfer: error: {exc}", err=True)
        return 2
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
