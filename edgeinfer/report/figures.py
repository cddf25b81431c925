"""The report's figures, drawn with matplotlib's Agg backend and returned as PNG bytes.

Each function takes plain data (the plan, traces, decoded ground alerts, metrics) and makes
one figure; nothing here touches Ray or the files of a run.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from edgeinfer.mission.outputs import GroundAlert
from edgeinfer.mission.plan import MissionPlan
from edgeinfer.mission.scenes import MissionScene

MAX_SATELLITE_ROWS = 8
_DETECTOR_COLOURS = {"fire": "tab:red", "ship": "tab:blue", "cloud": "tab:gray"}


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes (then closed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def budgets_figure(
    plan: MissionPlan, soc: npt.NDArray[np.float32], temperature_c: npt.NDArray[np.float32]
) -> bytes:
    """Battery state of charge and node temperature of each satellite over the mission, with
    its eclipses shaded (at most :data:`MAX_SATELLITE_ROWS` satellites)."""
    n = min(len(plan.satellites), MAX_SATELLITE_ROWS)
    hours = plan.step_edges_s() / 3600.0
    fig, axes = plt.subplots(n, 1, figsize=(9, 1.6 * n + 0.6), sharex=True, squeeze=False)
    for s in range(n):
        ax = axes[s, 0]
        for sat, a, b in plan.eclipses:
            if sat == s:
                ax.axvspan(a / 3600.0, b / 3600.0, color="0.85", lw=0)
        ax.plot(hours, 100.0 * soc[s], color="tab:green", lw=1.2)
        ax.set_ylabel("SoC %", color="tab:green")
        ax.set_ylim(0, 105)
        tx = ax.twinx()
        tx.plot(hours, temperature_c[s], color="tab:orange", lw=1.0)
        tx.set_ylabel("°C", color="tab:orange")
        ax.set_title(plan.satellites[s], fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("hours since mission start (grey: eclipse)")
    fig.suptitle("Battery state of charge and node temperature", fontsize=11)
    return png(fig)


def passes_figure(plan: MissionPlan, reports: Mapping[int, Mapping[str, Any]]) -> bytes:
    """Contact windows per satellite (coloured by station) and the bytes each pass carried."""
    stations = sorted({p.station for p in plan.passes})
    colours = {s: plt.get_cmap("tab10")(i % 10) for i, s in enumerate(stations)}
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    for p in plan.passes:
        top.broken_barh(
            [(p.t_s / 3600.0, p.duration_s / 3600.0)], (p.sat - 0.4, 0.8), color=colours[p.station]
        )
    for c in plan.captures:
        top.plot(c.t_s / 3600.0, c.sat, marker="v", color="k", ms=5)
    top.set_yticks(range(len(plan.satellites)), plan.satellites, fontsize=7)
    top.set_title("Contacts (bars, by station) and captures (triangles)", fontsize=10)
    empty = 0
    for rep in reports.values():
        for log in rep.get("pass_log", []):
            if log["bytes_sent"] <= 0:
                empty += 1
                continue
            bottom.bar(
                log["aos_s"] / 3600.0,
                log["bytes_sent"],
                width=0.12,
                color=colours.get(log["station"], "k"),
            )
    bottom.set_title(f"Bytes per pass ({empty} passes had nothing to send)", fontsize=10)
    bottom.set_yscale("log")
    bottom.set_ylim(bottom=1.0)
    bottom.set_ylabel("bytes sent in the pass")
    bottom.set_xlabel("hours since mission start")
    handles = [Rectangle((0, 0), 1, 1, color=colours[s]) for s in stations]
    bottom.legend(handles, stations, fontsize=8, loc="upper right")
    return png(fig)


def latency_figure(alerts: Sequence[GroundAlert]) -> bytes:
    """Histogram of alert latency (capture to ground), in minutes, by detector."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if alerts:
        groups = sorted({a.detector for a in alerts})
        data = [[a.latency_s / 60.0 for a in alerts if a.detector == d] for d in groups]
        ax.hist(
            data,
            bins=20,
            stacked=True,
            label=groups,
            color=[_DETECTOR_COLOURS.get(d, "k") for d in groups],
        )
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no alert reached the ground", ha="center", transform=ax.transAxes)
    ax.set_xlabel("latency from capture to ground (minutes)")
    ax.set_ylabel("alerts")
    ax.set_title("Alert latency", fontsize=10)
    return png(fig)


def map_figure(scenes: Sequence[MissionScene], alerts: Sequence[GroundAlert]) -> bytes:
    """Delivered alerts (filled) and true objects (hollow) over each scene's footprint."""
    n = max(1, len(scenes))
    fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 4.2), squeeze=False)
    for ax, scene in zip(axes[0], scenes, strict=False):
        ring = [*scene.site.footprint_lonlat, scene.site.footprint_lonlat[0]]
        ax.plot([p[0] for p in ring], [p[1] for p in ring], color="k", lw=1)
        for t in scene.truth:
            c0, r0, c1, r1 = t.bbox_px
            lon, lat = scene.scene.pixel_to_lonlat([(c0 + c1) / 2], [(r0 + r1) / 2])
            ax.plot(
                lon, lat, marker="o", mfc="none", ms=9, color=_DETECTOR_COLOURS.get(t.kind, "k")
            )
        for a in alerts:
            if a.scene == scene.key and a.centroid_lonlat is not None:
                ax.plot(
                    *a.centroid_lonlat,
                    marker=".",
                    ms=6,
                    color=_DETECTOR_COLOURS.get(a.detector, "k"),
                )
        ax.set_title(f"{scene.key} ({scene.scene.product})", fontsize=10)
        ax.set_xlabel("longitude (deg)")
        ax.set_ylabel("latitude (deg)")
        ax.set_aspect(1.0 / max(np.cos(np.radians(ring[0][1])), 0.1))
        ax.ticklabel_format(useOffset=False)
        ax.tick_params(labelsize=7)
    fig.suptitle(
        "Alerts on the ground (dots) and true objects (circles): red fire, blue ship", fontsize=10
    )
    return png(fig)


def bytes_figure(metrics: Mapping[str, Any]) -> bytes:
    """Raw, DEFLATE-compressed and downlinked bytes per satellite (log scale)."""
    sats = list(metrics["satellites"])
    rows = [metrics["satellites"][s] for s in sats]
    x = np.arange(len(sats))
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(sats) + 2), 3.8))
    series = [
        ("raw captured", "raw_bytes_captured", "tab:gray"),
        ("DEFLATE GeoTIFF", "compressed_bytes_captured", "tab:olive"),
        ("downlinked", "bytes_downlinked", "tab:blue"),
    ]
    for k, (label, key, colour) in enumerate(series):
        values = [max(float(r.get(key) or 0), 1.0) for r in rows]
        ax.bar(x + (k - 1) * 0.27, values, width=0.27, label=label, color=colour)
    ax.set_yscale("log")
    ax.set_xticks(x, sats, rotation=30, fontsize=8)
    ax.set_ylabel("bytes")
    ax.legend(fontsize=8)
    ax.set_title("What the satellites saw vs what they sent down", fontsize=10)
    return png(fig)
