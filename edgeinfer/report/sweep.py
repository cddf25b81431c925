"""sweep.html: one self-contained page comparing the variants of a sweep (table + figures)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from edgeinfer.output_files import write_text_file
from edgeinfer.report.figures import png
from edgeinfer.report.html import _STYLE, _fmt, _img


def _values(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    return [float(r[key]) if r.get(key) is not None else np.nan for r in rows]


def sweep_figure(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Alert latency p50/p95 (minutes), bytes downlinked and energy per variant."""
    labels = [str(r["variant"]).split("-", 1)[0] for r in rows]
    x = np.arange(len(rows))
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    p50 = np.array(_values(rows, "alert_latency_p50_s")) / 60.0
    p95 = np.array(_values(rows, "alert_latency_p95_s")) / 60.0
    axes[0].bar(x - 0.2, p50, 0.4, label="p50", color="tab:blue")
    axes[0].bar(x + 0.2, p95, 0.4, label="p95", color="tab:orange")
    axes[0].set_ylabel("alert latency (min)")
    axes[0].legend(fontsize=8)
    axes[1].bar(x, _values(rows, "bytes_downlinked"), color="tab:green")
    axes[1].set_ylabel("bytes downlinked")
    axes[2].bar(x, _values(rows, "energy_used_wh"), color="tab:red")
    axes[2].set_ylabel("energy used (Wh)")
    for ax in axes:
        ax.set_xticks(x, labels, fontsize=8)
    fig.tight_layout()
    return png(fig)


def render_sweep_report(
    mission: str, rows: Sequence[Mapping[str, Any]], keys: Sequence[str], columns: Sequence[str]
) -> str:
    """The page as a string: failed variants listed first with their errors, and kept in the
    table (status "failed", no figures)."""
    from edgeinfer.mission.sweep_table import STATUS_FAILED, describe_value, is_label

    cols = ["variant", *keys, "status", *columns]
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in cols)

    def cell(row: Mapping[str, Any], c: str) -> str:
        value = row.get(c)
        if c in keys and is_label(value):
            return html.escape(describe_value(value))
        if c == "status" and value == STATUS_FAILED:
            return f'<b class="bad">{_fmt(value)}</b>'
        return _fmt(value)

    body = "".join("<tr>" + "".join(f"<td>{cell(r, c)}</td>" for c in cols) + "</tr>" for r in rows)
    failed = [r for r in rows if r.get("status") == STATUS_FAILED]
    failed_html = (
        f'<div class="problems"><h2>{len(failed)} of {len(rows)} variants failed</h2><ul>'
        + "".join(
            f"<li><b>{html.escape(str(r['variant']))}</b>: {html.escape(str(r.get('error')))}</li>"
            for r in failed
        )
        + "</ul><p>Their rows below have no figures; the other variants ran to the end.</p></div>"
        if failed
        else ""
    )

    def link(row: Mapping[str, Any]) -> str:
        name = html.escape(str(row["variant"]))
        if row.get("status") == STATUS_FAILED:
            return f"<li>{name}: failed (no report)</li>"
        folder = html.escape(Path(str(row["out_dir"])).name)
        return f'<li><a href="{folder}/report.html">{name}</a></li>'

    links = "".join(link(r) for r in rows)
    fig = _img(sweep_figure(rows), "Alert latency, downlinked bytes and energy per variant.")
    title = f"edgeinfer sweep of {mission}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE} td,th{{font-size:85%}}</style></head><body>
<h1>{html.escape(title)}</h1>
{failed_html}
<p>{len(rows)} variants of the keys {html.escape(", ".join(keys))}: every other key as in the
mission file. Figures are the mission totals of each variant's metrics.json; latencies are
capture to ground over delivered alerts; economics as in each variant's report.</p>
<div style="overflow-x:auto"><table><tr>{head}</tr>{body}</table></div>
{fig}
<h2>Variant reports</h2><ul>{links}</ul>
</body></html>
"""


def write_sweep_report(
    path: Path,
    mission: str,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    columns: Sequence[str],
) -> Path:
    return write_text_file(path, render_sweep_report(mission, rows, keys, columns), "sweep page")
