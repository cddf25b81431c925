"""metrics.json: per satellite and under ``"total"``.

Definitions (docs/missions.md):

* ``bandwidth_saved`` = 1 - bytes_downlinked / raw_bytes_captured, where bytes_downlinked is
  every byte the radios sent (packets, headers, CRCs, retransmissions) and raw_bytes_captured
  the raw product bytes of every capture (all bands, native dtype);
* ``bandwidth_saved_vs_compressed``: the same against the scenes' lossless DEFLATE GeoTIFF
  size (computed once per scene, counted per capture);
* ``alert_latency_p50_s`` / ``_p95_s``: capture to arrival on the ground, over delivered alerts;
* ``truth_recall``: share of true fires and ships of the scenes' truth files matched by a
  delivered alert; ``truth_unobservable`` counts those the cloud screen hid in every capture,
  and ``truth_recall_observable`` leaves them out;
* inference time twice: ``inference_modelled_s`` (the accelerator profile's cost model that
  drives the budgets) and ``inference_measured_s`` (this host's wall time in onnxruntime).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgeinfer.mission.outputs import GroundAlert
from edgeinfer.mission.plan import MissionPlan
from edgeinfer.mission.scenes import MissionScene
from edgeinfer.node.counters import COUNTERS

_SUMMED = (
    *COUNTERS,
    "energy_used_wh",
    "inference_energy_wh",
    "inference_modelled_s",
    "inference_measured_s",
    "steps_refused_power",
    "steps_refused_thermal",
)


def _saved(sent: float, base: float) -> float | None:
    return None if base <= 0 else 1.0 - sent / base


def _latency(alerts: Sequence[GroundAlert]) -> dict[str, float | None]:
    if not alerts:
        return {
            "alert_latency_p50_s": None,
            "alert_latency_p95_s": None,
            "alert_latency_max_s": None,
        }
    lat = np.array([a.latency_s for a in alerts])
    return {
        "alert_latency_p50_s": round(float(np.percentile(lat, 50)), 3),
        "alert_latency_p95_s": round(float(np.percentile(lat, 95)), 3),
        "alert_latency_max_s": round(float(lat.max()), 3),
    }


def satellite_metrics(
    report: Mapping[str, Any],
    alerts: Sequence[GroundAlert],
    plan: MissionPlan,
    scenes: Mapping[str, MissionScene],
    active_w: float,
    chips_delivered: int,
) -> dict[str, Any]:
    """The figures of one satellite."""
    index = int(report["index"])
    out: dict[str, Any] = {k: report.get(k, 0) for k in COUNTERS}
    link = report["link"]
    compressed = sum(scenes[c["scene"]].compressed_bytes for c in report.get("capture_log", []))
    sent = int(link["bytes_sent"])
    raw = int(report["raw_bytes_captured"])
    passes = [p for p in plan.passes if p.sat == index]
    out.update(
        {
            "alerts_delivered": len(alerts),
            "chips_delivered": chips_delivered,
            "compressed_bytes_captured": compressed,
            "bytes_downlinked": sent,
            "packets_sent": int(link["packets_sent"]),
            "retransmissions": int(link["retransmissions"]),
            "packets_pending_at_end": int(report.get("packets_pending_at_end", 0)),
            "bandwidth_saved": _saved(sent, raw),
            "bandwidth_saved_vs_compressed": _saved(sent, compressed),
            "energy_used_wh": round(float(report["energy_used_wh"]), 4),
            "inference_energy_wh": round(
                active_w * float(report["inference_modelled_s"]) / 3600, 6
            ),
            "min_soc": round(float(report["min_soc"]), 5),
            "peak_temperature_c": round(float(report["peak_temperature_c"]), 3),
            "contact_minutes": round(sum(p.duration_s for p in passes) / 60.0, 3),
            "contacts": len(passes),
            "inference_modelled_s": round(float(report["inference_modelled_s"]), 6),
            "inference_measured_s": round(float(report["inference_measured_s"]), 4),
            "steps_refused_power": int(report.get("steps_refused_power", 0)),
            "steps_refused_thermal": int(report.get("steps_refused_thermal", 0)),
            # days from its TLE epoch to the mission window (0 inside; > 30 warns)
            "tle_epoch_age_days": plan.tle_epoch_age_days.get(plan.satellites[index]),
        }
    )
    out.update(_latency(alerts))
    return out


def mission_metrics(
    reports: Mapping[int, Mapping[str, Any]],
    alerts: Sequence[GroundAlert],
    plan: MissionPlan,
    scenes: Sequence[MissionScene],
    *,
    active_w: float,
    chips_by_sat: Mapping[int, int],
    found: set[tuple[str, Any]],
    hidden: set[tuple[str, Any]],
    ground_counters: Mapping[str, int],
    run: Mapping[str, Any],
) -> dict[str, Any]:
    """The whole metrics.json object."""
    by_key = {s.key: s for s in scenes}
    per_sat: dict[str, dict[str, Any]] = {}
    for index in sorted(reports):
        rep = reports[index]
        mine = [a for a in alerts if a.sat_index == index]
        per_sat[str(rep["satellite"])] = satellite_metrics(
            rep, mine, plan, by_key, active_w, chips_by_sat.get(index, 0)
        )
    total: dict[str, Any] = {}
    rows = list(per_sat.values())
    for key in (
        *_SUMMED,
        "alerts_delivered",
        "chips_delivered",
        "compressed_bytes_captured",
        "bytes_downlinked",
        "packets_sent",
        "retransmissions",
        "packets_pending_at_end",
        "contact_minutes",
        "contacts",
    ):
        total[key] = sum(r.get(key, 0) or 0 for r in rows)
    for key in (
        "energy_used_wh",
        "inference_energy_wh",
        "contact_minutes",
        "inference_modelled_s",
        "inference_measured_s",
    ):
        total[key] = round(float(total[key]), 6)
    total["satellites"] = len(rows)
    total["bandwidth_saved"] = _saved(total["bytes_downlinked"], total["raw_bytes_captured"])
    total["bandwidth_saved_vs_compressed"] = _saved(
        total["bytes_downlinked"], total["compressed_bytes_captured"]
    )
    total["min_soc"] = min((r["min_soc"] for r in rows), default=None)
    total["peak_temperature_c"] = max((r["peak_temperature_c"] for r in rows), default=None)
    ages = [r["tle_epoch_age_days"] for r in rows if r.get("tle_epoch_age_days") is not None]
    total["tle_epoch_age_days"] = max(ages, default=None)  # the oldest TLE's
    total.update(_latency(alerts))
    truth = [t for s in scenes for t in s.truth]
    n_truth = len(truth)
    observable = n_truth - len(hidden)
    found_observable = len(found - hidden)
    total["truth_objects"] = n_truth
    total["truth_delivered"] = len(found)
    total["truth_recall"] = len(found) / n_truth if n_truth else None
    total["truth_unobservable"] = len(hidden)
    total["truth_recall_observable"] = found_observable / observable if observable else None
    total["truth_missed"] = sorted(
        f"{t.scene}:{t.kind}:{t.object_id}" for t in truth if (t.scene, t.object_id) not in found
    )
    total["alerts_matched_to_truth"] = sum(a.truth_id is not None for a in alerts)
    total["ground"] = dict(ground_counters)
    scenes_out = {}
    for s in scenes:
        scenes_out[s.key] = s.summary() | {
            "captures": sum(1 for c in plan.captures if c.scene == s.key),
            "truth_delivered": sum(1 for t in s.truth if (t.scene, t.object_id) in found),
            "alerts_delivered": sum(1 for a in alerts if a.scene == s.key),
        }
    return {"total": total, "satellites": per_sat, "scenes": scenes_out, "run": dict(run)}
