"""``edgeinfer eval``: score the detectors (one command per detector family).

A thin layer: each module named in :data:`EVAL_MODULES` lives in :mod:`edgeinfer.eval` and
adds its own command to the ``eval`` sub-app with ``register(eval_app)``. Library errors
propagate to :func:`edgeinfer.cli.main.main`, which prints them as one line. Every ``eval``
command's output files (``--json``, and ``--plot`` where it has one) are checked here, before
it evaluates (:mod:`edgeinfer.cli.outputs`).
"""

from __future__ import annotations

import importlib

import typer

from edgeinfer.cli.outputs import checks_outputs

# edgeinfer.eval modules that contribute commands, in the order `edgeinfer eval --help` lists.
EVAL_MODULES: tuple[str, ...] = ("fire", "cloud", "ship", "ship_chips")


def register(app: typer.Typer) -> None:
    """Add the ``eval`` sub-command group to ``app``."""
    eval_app = typer.Typer(
        name="eval",
        help="Score the detectors on real and physics-based truth; --json writes the results.",
        no_args_is_help=True,
    )
    for name in EVAL_MODULES:
        importlib.import_module(f"edgeinfer.eval.{name}").register(eval_app)
    check = checks_outputs(json_out="--json", plot="--plot")
    for command in eval_app.registered_commands:
        if command.callback is not None:
            command.callback = check(command.callback)
    app.add_typer(eval_app, name="eval")
