"""report.html: one self-contained page (figures inlined as base64 PNG, no external assets)."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edgeinfer.mission.outputs import GroundAlert
from edgeinfer.mission.plan import MissionPlan
from edgeinfer.mission.scenes import MissionScene
from edgeinfer.report import figures

#: (metrics key, label) of the summary table, in order.
SUMMARY_ROWS: tuple[tuple[str, str], ...] = (
    ("satellites", "satellites"),
    ("scenes_captured", "scenes captured"),
    ("tiles_captured", "tiles captured"),
    ("tiles_cloudy", "tiles dropped as cloudy"),
    ("tiles_inferred", "tiles inferred"),
    ("tiles_skipped_power", "tiles skipped (power)"),
    ("tiles_skipped_thermal", "tiles skipped (thermal)"),
    ("tiles_skipped_storage", "tiles skipped (storage)"),
    ("alerts_raised", "alerts raised"),
    ("alerts_delivered", "alerts delivered"),
    ("truth_recall", "truth recall"),
    ("raw_bytes_captured", "raw bytes captured"),
    ("compressed_bytes_captured", "DEFLATE GeoTIFF bytes"),
    ("bytes_downlinked", "bytes downlinked"),
    ("bandwidth_saved", "bandwidth saved (vs raw)"),
    ("bandwidth_saved_vs_compressed", "bandwidth saved (vs compressed)"),
    ("alert_latency_p50_s", "alert latency p50 (s)"),
    ("alert_latency_p95_s", "alert latency p95 (s)"),
    ("energy_used_wh", "energy used (Wh)"),
    ("min_soc", "minimum battery SoC"),
    ("peak_temperature_c", "peak temperature (°C)"),
    ("contact_minutes", "contact minutes"),
    ("inference_modelled_s", "inference, modelled on the accelerator (s)"),
    ("inference_measured_s", "inference, measured on this host (s)"),
)
SATELLITE_COLUMNS = (
    "scenes_captured",
    "tiles_inferred",
    "alerts_raised",
    "alerts_delivered",
    "bytes_downlinked",
    "bandwidth_saved",
    "min_soc",
    "peak_temperature_c",
    "contact_minutes",
    "alert_latency_p95_s",
)

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
figure{margin:1.5em 0}img{max-width:100%}figcaption{color:#555;font-size:90%}
.bad{color:#b00}.problems{border:2px solid #b00;background:#fff6f6;padding:0 1em;margin:1em 0}
.clean{border:1px solid #6a6;background:#f6fff6;padding:.5em 1em}
"""


def _fmt(value: Any) -> str:
    """A cell: "–" for no value, yes/no, numbers with thousands separators, tiny non-zero
    floats in three significant digits (never a misleading 0.000000), text escaped."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if abs(value) >= 1e5:
            return f"{value:,.0f}"
        if 0 < abs(value) < 1e-3:
            return f"{value:.3g}"
        return f"{value:.6f}" if abs(value) < 1 else f"{value:,.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return html.escape(str(value))


def _img(data: bytes, caption: str) -> str:
    b64 = base64.b64encode(data).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{b64}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def render_report(
    metrics: Mapping[str, Any],
    plan: MissionPlan,
    alerts: Sequence[GroundAlert],
    scenes: Sequence[MissionScene],
    reports: Mapping[int, Mapping[str, Any]],
    soc: npt.NDArray[np.float32],
    temperature_c: npt.NDArray[np.float32],
) -> str:
    """The page as a string."""
    # both import this module's helpers
    from edgeinfer.report.economics import operator_sections
    from edgeinfer.report.problems import problems_section

    total = metrics["total"]
    run = metrics.get("run", {})
    title = f"edgeinfer mission {run.get('mission', '')}"
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td><td>{_fmt(total.get(key))}</td></tr>"
        for key, label in SUMMARY_ROWS
    )
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in SATELLITE_COLUMNS)
    sat_rows = "".join(
        f"<tr><td>{html.escape(name)}</td>"
        + "".join(f"<td>{_fmt(m.get(c))}</td>" for c in SATELLITE_COLUMNS)
        + "</tr>"
        for name, m in metrics["satellites"].items()
    )
    n_sats = len(plan.satellites)
    shown = (
        f" Only the first {figures.MAX_SATELLITE_ROWS} of the {n_sats} satellites are drawn; "
        "every satellite's minimum SoC and peak temperature are in the Satellites table."
        if n_sats > figures.MAX_SATELLITE_ROWS
        else ""
    )
    figs = [
        _img(
            figures.budgets_figure(plan, soc, temperature_c),
            "Battery state of charge (green) and node temperature (orange) per satellite; "
            f"eclipses shaded.{shown}",
        ),
        _img(figures.passes_figure(plan, reports), "Contacts and the bytes of each pass."),
        _img(figures.latency_figure(alerts), "Latency of delivered alerts, capture to ground."),
        _img(figures.map_figure(scenes, alerts), "Delivered alerts over the scene footprints."),
        _img(figures.bytes_figure(metrics), "Raw vs downlinked bytes per satellite."),
    ]
    missed = total.get("truth_missed") or []
    missed_html = (
        f"<p>True objects not delivered: {html.escape(', '.join(missed))}</p>" if missed else ""
    )
    wall = run.get("wall_s", {})
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Start {html.escape(str(run.get("start")))}, {_fmt(run.get("duration_s"))} s simulated at
{_fmt(run.get("time_step_s"))} s budget steps; accelerator profile
<b>{html.escape(str(run.get("accelerator")))}</b>; {run.get("actors")} actor(s) x
{run.get("satellites_per_actor")} satellite(s); wall time {_fmt(wall.get("total_s"))} s.
Inference time is given twice: <i>modelled</i> (the accelerator profile's cost model, which
drives the budgets and makes runs reproducible) and <i>measured</i> (this host's onnxruntime
wall time).</p>
{problems_section(metrics)}
<h2>Summary</h2><table>{rows}</table>{missed_html}
<h2>Satellites</h2><table><tr><th>satellite</th>{head}</tr>{sat_rows}</table>
{operator_sections(metrics)}
<h2>Figures</h2>{"".join(figs)}
</body></html>
"""


def write_report(
    path: Path,
    metrics: Mapping[str, Any],
    plan: MissionPlan,
    alerts: Sequence[GroundAlert],
    scenes: Sequence[MissionScene],
    reports: Mapping[int, Mapping[str, Any]],
    soc: npt.NDArray[np.float32],
    temperature_c: npt.NDArray[np.float32],
) -> Path:
    """Write report.html; returns its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        render_report(metrics, plan, alerts, scenes, reports, soc, temperature_c), encoding="utf-8"
    )
    return path
