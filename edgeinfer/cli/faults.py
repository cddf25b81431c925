"""``edgeinfer faults``: fault-injection campaigns and their table.

``edgeinfer faults [OPTIONS]`` runs the radiation (SEU) campaign of :mod:`edgeinfer.faults`
on the generated sample scenes and prints detection quality and compute with no faults,
with faults unmitigated and with each mitigation.

Seam for the mission-level chaos run (actor kills, packet loss and corruption from a
mission's ``[faults]`` table): add a command to ``faults_app`` in :func:`register` (e.g.
``@faults_app.command("chaos")`` for ``edgeinfer faults chaos MISSION.toml``); the group's
callback skips the SEU campaign whenever a sub-command is invoked.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from edgeinfer.cli.outputs import check_outputs
from edgeinfer.output_files import write_text_file

_SCENES_HELP = "Folder with the sample scenes (default: sample_data/generated, made if absent)."


def register(app: typer.Typer) -> None:
    """Add the ``faults`` command group to ``app``."""
    faults_app = typer.Typer(
        name="faults",
        help="Fault-injection campaigns: radiation upsets and their mitigations.",
        invoke_without_command=True,
    )

    @faults_app.callback()
    def seu_cmd(
        ctx: typer.Context,
        scenes: Path | None = typer.Option(None, "--scenes", help=_SCENES_HELP),
        factor: float = typer.Option(1000.0, "--factor", help="Multiple of 4.04e-7 SEU/bit/day."),
        days: float = typer.Option(1.0, "--days", help="Days the models stay loaded."),
        captures: int = typer.Option(4, "--captures", help="Captures of each scene per day."),
        trials: int = typer.Option(8, "--trials", help="Independent days per weight arm."),
        input_trials: int = typer.Option(2, "--input-trials", help="Days for the input arm."),
        tile_exposure_s: float = typer.Option(
            600.0, "--tile-exposure-s", help="Seconds a tile sits in memory before inference."
        ),
        record_exposure_days: float = typer.Option(
            0.25, "--record-exposure-days", help="Days a record waits in store for a contact."
        ),
        scrub_interval_s: float | None = typer.Option(
            None, "--scrub-interval-s", help="Periodic scrub interval (default: one orbit)."
        ),
        seed: int = typer.Option(0, "--seed"),
        as_json: Path | None = typer.Option(None, "--json", help="Also write the results here."),
    ) -> None:
        """SEU campaign on the sample scenes: upsets in weights, input tiles and stored
        records; detection F1 and compute without faults, unmitigated and per mitigation."""
        if ctx.invoked_subcommand is not None:
            return  # a later sub-command (e.g. `chaos`) runs instead
        from edgeinfer.faults import CampaignConfig, run_campaign, sample_scenes
        from edgeinfer.faults.results import bar

        check_outputs([("--json", as_json)])  # before the campaign, not after it
        folder = scenes if scenes is not None else _sample_folder()
        extra: dict[str, Any] = {}
        if scrub_interval_s is not None:
            extra["scrub_interval_s"] = scrub_interval_s
        config = CampaignConfig(
            rate_factor=factor,
            days=days,
            captures_per_day=captures,
            trials=trials,
            input_trials=input_trials,
            tile_exposure_s=tile_exposure_s,
            record_exposure_days=record_exposure_days,
            seed=seed,
            **extra,
        )
        with _quiet_injected_faults():
            result = run_campaign(sample_scenes(folder), config)
        console = Console(width=160)
        console.print(_models_table(result.models, factor))
        console.print(_arms_table(result.rows(), factor))
        verdict = bar(result)
        changes = verdict["unmitigated_delta_f1_pct"] or {}
        plain = ", ".join(f"{k} {v:+g}" for k, v in changes.items()) or "none"
        untested = "" if verdict["tested"] else " (no weight upset drawn: nothing was tested)"
        console.print(
            f"bar (SEUs at {factor:g}x, scrub before use: every F1 within "
            f"{verdict['tolerance_pct']} % of clean): largest change "
            f"{verdict['scrubbed_max_abs_delta_f1_pct']} % over "
            f"{verdict['scrubbed_upsets']:,} upsets -> "
            f"{'PASS' if verdict['passes'] else 'FAIL'}{untested}; unmitigated changes (%): "
            f"{plain}"
        )
        if as_json is not None:
            text = json.dumps(result.to_json(), indent=2, sort_keys=True)
            typer.echo(f"wrote {write_text_file(as_json, text, '--json')}")
        if not verdict["passes"]:
            raise typer.Exit(1)  # as `faults chaos`

    from edgeinfer.cli.chaos import register_chaos  # mission-level chaos (kills, link faults)

    register_chaos(faults_app)
    app.add_typer(faults_app, name="faults")


@contextmanager
def _quiet_injected_faults() -> Iterator[None]:
    """The campaign breaks models and records on purpose, hundreds of times: keep the logs
    of those expected failures (counted in the table) out of the console unless -v; the
    loggers' levels are restored afterwards."""
    names = (
        "edgeinfer.link.queue",
        "edgeinfer.detect.runtime",
        "edgeinfer.detect.sessions",
        "edgeinfer.faults",
    )
    loggers = [logging.getLogger(n) for n in names]
    saved = [lg.level for lg in loggers]
    if logging.getLogger("edgeinfer").getEffectiveLevel() > logging.DEBUG:
        for lg in loggers:
            lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, saved, strict=True):
            lg.setLevel(level)


def _sample_folder() -> Path:
    """sample_data/generated of the repository, generated first if a scene is missing."""
    import subprocess
    import sys

    from edgeinfer.errors import SceneError
    from edgeinfer.faults.scenes import SAMPLE_SCENES

    root = Path(__file__).resolve().parents[2] / "sample_data"
    folder = root / "generated"
    if all((folder / f"{name}.tif").is_file() for name in SAMPLE_SCENES):
        return folder
    script = root / "generate.py"
    if not script.is_file():
        raise SceneError(f"sample scenes are missing in {folder}; pass --scenes DIR")
    done = subprocess.run(
        [sys.executable, str(script), "--quiet"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SceneError(f"could not generate the sample scenes with {script}: {tail[0]}")
    return folder


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _models_table(models: list[dict[str, Any]], factor: float) -> Table:
    table = Table(title="weight memory per model (initializers)")
    for column in ("model", "tensors", "bits", "bits by dtype", "upsets/day 1x", f"{factor:g}x"):
        table.add_column(column)
    for m in models:
        table.add_row(
            m["model"],
            str(m["weight_tensors"]),
            str(m["weight_bits"]),
            ", ".join(f"{k} {v}" for k, v in m["bits_by_dtype"].items()),
            f"{m['upsets_per_day_reference']:.2e}",
            f"{m['upsets_per_day_campaign']:.3f}",
        )
    return table


def _score(row: dict[str, Any], key: str) -> str:
    """``F1 (delta %)`` of one score of a row."""
    value = row["f1"].get(key)
    if value is None:
        return "-"
    delta = (row["delta_f1_pct"] or {}).get(key)
    return f"{value:.3f}" + (f" ({delta:+.1f})" if delta is not None else "")


def _arms_table(rows: list[dict[str, Any]], factor: float) -> Table:
    table = Table(
        title=f"SEU campaign at {factor:g}x the reference rate (4.04e-7 /bit/day); "
        "F1 (change vs clean, %)"
    )
    columns = ("arm", "captures", "fire F1", "ship F1", "objects F1", "cloud px F1")
    for column in (*columns, "upsets", "failures", "scrubs", "compute x", "records"):
        table.add_column(column, overflow="fold")
    for r in rows:
        rec = r.get("records")
        notes = (
            f"lost {rec['lost']}/{rec['records']}, reported {rec['reported_corrupt']}, "
            f"wasted sends {rec['wasted_sends']}, corrupt accepted {rec['corrupted_accepted']}"
            if rec
            else ""
        )
        table.add_row(
            r["arm"],
            str(r["captures"]),
            _score(r, "fire"),
            _score(r, "ship"),
            _score(r, "objects"),
            _score(r, "cloud_pixels"),
            str(r["upsets"]),
            str(r["model_failures"]),
            str(r["scrubs"]),
            _fmt(r["compute_x"], 2),
            notes,
        )
    return table
