"""The "What went wrong" section of report.html, placed above the summary so that a run with
failed scenes, lost satellites or link faults never reads like a clean run.

It shows only what is not zero or empty (every counter stays in metrics.json): the scenes the
mission could not use, wholly or in part, with their errors; the satellite groups lost for
good with their satellites; and the integrity and fault counters the CLI prints (alerts lost,
duplicates, corrupted alerts accepted, actor restarts, packets lost or corrupted, ...). A run
where all of them are zero says so, naming what was checked.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from edgeinfer.report.html import _fmt

#: (metrics key under "total", label) of the counters that are zero in a run where nothing
#: went wrong, in the order shown.
PROBLEM_COUNTERS: tuple[tuple[str, str], ...] = (
    ("scenes_failed", "scenes that failed (wholly or in part)"),
    ("captures_failed", "captures that failed"),
    ("tiles_unreadable", "tiles that could not be read"),
    ("tiles_failed", "tiles whose detection failed"),
    ("satellites_lost", "satellites lost (their process died for good)"),
    ("actor_restarts", "actor restarts"),
    ("alerts_lost", "alerts raised that never reached the ground (lost, or on board at the end)"),
    ("duplicates_delivered", "duplicate alerts delivered"),
    ("corrupted_accepted", "corrupted alerts accepted by the ground"),
    ("packets_lost", "packets lost"),
    ("packets_corrupted", "packets corrupted"),
    ("acks_lost", "acknowledgements lost"),
    ("retransmissions", "retransmissions"),
    ("packets_expired", "packets expired on board"),
    ("store_crc_failures", "stored records failing their CRC (not sent)"),
    ("ground_crc_failures", "CRC failures on the ground"),
    ("seu_weight_upsets", "model weight upsets"),
    ("seu_tile_upsets", "tile upsets"),
    ("seu_record_upsets", "alert record upsets"),
    ("model_failures", "model failures"),
)
#: (metrics key under "crosslinks", label): relay counters shown the same way.
RELAY_COUNTERS: tuple[tuple[str, str], ...] = (
    ("relayed_alerts_lost_with_groups", "relayed alerts lost with their custodian's group"),
)


def _nonzero(values: Mapping[str, Any], counters: Sequence[tuple[str, str]]) -> list[str]:
    return [
        f"<tr><td>{html.escape(label)}</td><td>{_fmt(values[key])}</td></tr>"
        for key, label in counters
        if values.get(key)
    ]


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table of already-escaped cells, the last column left-aligned (error texts)."""
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{c}</td>" for c in row[:-1])
        + f"<td style='text-align:left'>{row[-1]}</td></tr>"
        for row in rows
    )
    return f"<table><tr>{th}</tr>{body}</table>"


def _failed_scenes(failed: Sequence[Mapping[str, Any]]) -> str:
    rows = [
        (
            html.escape(str(f.get("scene"))),
            html.escape(str(f.get("stage", ""))),
            html.escape(", ".join(str(s) for s in f.get("satellites", [])) or "all"),
            html.escape(str(f.get("error"))),
        )
        for f in failed
    ]
    head = ("scene", "stage", "satellites", "error")
    return f"<h3>Scenes the mission could not use ({len(failed)})</h3>{_table(head, rows)}"


def _lost_groups(lost: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for g in lost:
        window = g.get("window")
        delivered = sum((g.get("alerts_delivered") or {}).values())
        rows.append(
            (
                _fmt(g.get("group")),
                html.escape(", ".join(str(s) for s in g.get("satellites", []))),
                "its final report" if window is None else f"window {_fmt(window)}",
                _fmt(delivered),
                html.escape(str(g.get("error"))),
            )
        )
    head = ("group", "satellites", "lost in", "alerts it had delivered", "error")
    return (
        f"<h3>Satellite groups lost ({len(lost)})</h3><p>The mission went on without them; "
        "their satellites have no report, so the per-satellite table and the totals cover "
        f"the others.</p>{_table(head, rows)}"
    )


def problems_section(metrics: Mapping[str, Any]) -> str:
    """The section as HTML: a red box listing what went wrong, or a short clean line."""
    total = metrics.get("total", {})
    failed = metrics.get("failed_scenes") or []
    lost = metrics.get("lost_groups") or []
    counters = _nonzero(total, PROBLEM_COUNTERS)
    counters += _nonzero(metrics.get("crosslinks") or {}, RELAY_COUNTERS)
    if not (failed or lost or counters):
        checked = ", ".join(label for _, label in PROBLEM_COUNTERS)
        return (
            '<div class="clean"><h2>What went wrong</h2><p>Nothing: no scene failed, no '
            f"satellite group was lost, and these counters are all zero: {html.escape(checked)}."
            "</p></div>"
        )
    parts = ['<div class="problems"><h2>What went wrong</h2>']
    if counters:
        parts.append(
            "<p>Counters that are not zero (all of them are in metrics.json, "
            "docs/missions.md):</p><table>" + "".join(counters) + "</table>"
        )
    if failed:
        parts.append(_failed_scenes(failed))
    if lost:
        parts.append(_lost_groups(lost))
    parts.append("</div>")
    return "".join(parts)
