"""The sweep's table: its columns, the row of one variant (from its metrics.json, or its
error when it failed), how swept values are labelled, and the files sweep.csv, sweep.json and
sweep.html (docs/operators.md, "Sweeps").

A failed variant's row has ``status = "failed"``, its ``error`` and empty figures; every other
row has ``status = "ok"``. Swept dates and times (TOML date-times, e.g. ``mission.start``) are
ISO-8601 UTC text in every file and label.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from edgeinfer.orbit.timeutil import format_utc
from edgeinfer.output_files import write_text_file

#: (column, metrics key under "total" or a computed name), in table order.
COLUMNS: tuple[str, ...] = (
    "alert_latency_p50_s",
    "alert_latency_p95_s",
    "alerts_raised",
    "alerts_delivered",
    "alerts_delivered_share",
    "truth_recall",
    "bytes_downlinked",
    "bandwidth_saved",
    "bandwidth_saved_vs_compressed",
    "energy_used_wh",
    "inference_energy_wh",
    "tiles_skipped",
    "tiles_inferred",
    "contact_minutes",
    "alerts_relayed",
    "crosslink_energy_wh",
    "added_mass_kg",
    "break_even_launch_price_usd_per_kg",
    "cost_per_alert_usd_low",
    "cost_per_alert_usd_high",
    "wall_s",
)
#: Columns that vary between otherwise identical runs (host timing), left out of comparisons.
TIMING_COLUMNS = frozenset({"wall_s"})
_SKIPPED = ("tiles_skipped_power", "tiles_skipped_thermal", "tiles_skipped_storage")

#: ``status`` of a variant's row.
STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_NOT_RUN = "not run"  # the sweep was interrupted (Ctrl-C) before this variant finished


def plain_value(value: Any) -> Any:
    """``value`` as JSON can hold it: a TOML date or time as ISO-8601 text (a date-time in
    UTC with a ``Z``, a naive one read as UTC as the mission does); anything else raises
    ``TypeError`` (the contract of ``json.dumps(default=...)``)."""
    if isinstance(value, dt.datetime):
        return format_utc(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def is_label(value: Any) -> bool:
    """Whether a swept value is shown by :func:`describe_value` rather than as a number."""
    return isinstance(value, bool | list | dict | dt.date | dt.time)


def describe_value(value: Any) -> str:
    """A short label of a swept value: ground stations by name, other lists as JSON, dates
    and times as ISO-8601 (UTC)."""
    if isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value):
        return "+".join(str(v["name"]) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.time):
        return str(plain_value(value))
    text = json.dumps(value, default=plain_value) if isinstance(value, list | dict) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def sweep_row(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The table's figures of one mission's metrics.json."""
    total = metrics["total"]
    econ = metrics.get("economics") or {}
    raised = total.get("alerts_raised") or 0
    row: dict[str, Any] = {c: total.get(c) for c in COLUMNS}
    row["alerts_delivered_share"] = (
        None if not raised else round((total.get("alerts_delivered") or 0) / raised, 6)
    )
    row["tiles_skipped"] = sum(int(total.get(k) or 0) for k in _SKIPPED)
    row["added_mass_kg"] = econ.get("added_mass_kg")
    row["break_even_launch_price_usd_per_kg"] = econ.get("break_even_launch_price_usd_per_kg")
    cost = econ.get("cost_per_alert_usd") or {}
    row["cost_per_alert_usd_low"] = cost.get("low")
    row["cost_per_alert_usd_high"] = cost.get("high")
    return row


def failed_row(error: str, status: str = STATUS_FAILED) -> dict[str, Any]:
    """The table's figures of a variant that failed (or, ``status`` :data:`STATUS_NOT_RUN`,
    never finished): every column empty, and its error."""
    return {"status": status, **dict.fromkeys(COLUMNS), "error": error}


def write_sweep(
    out: Path, rows: Sequence[Mapping[str, Any]], keys: Sequence[str], mission: str
) -> dict[str, Path]:
    """sweep.csv, sweep.json and sweep.html of a finished sweep (failed variants included)."""
    columns = ["variant", *keys, "status", *COLUMNS, "error", "out_dir"]
    csv_path = out / "sweep.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _csv(row.get(c)) for c in columns})
    data = {"mission": mission, "keys": list(keys), "rows": list(rows)}
    json_path = write_text_file(
        out / "sweep.json", json.dumps(data, indent=2, default=plain_value), "sweep table"
    )
    from edgeinfer.report.sweep import write_sweep_report

    html_path = write_sweep_report(out / "sweep.html", mission, rows, keys, COLUMNS)
    return {"csv": csv_path, "json": json_path, "report": html_path}


def _csv(value: Any) -> Any:
    if isinstance(value, list | dict | bool):
        return json.dumps(value, default=plain_value)
    if isinstance(value, dt.date | dt.time):
        return plain_value(value)
    return "" if value is None else value
