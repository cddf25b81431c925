"""Relay figures for metrics.json: per-alert hop counts, the latency split and per-satellite
crosslink bytes and energy (every mission has the split; without crosslinks every hop count
is 0 and the crosslink share is 0).

The latency of a delivered alert (capture to arrival on the ground) splits into

* ``downlink_s``: from the start of the pass that delivered it (on the satellite that held it
  last) to its arrival: the pass's queue ahead of it at the pass's user rate;
* ``crosslink_s``: on crosslinks, per hop the terminal setup, the serialisation of its batch up
  to and including it, and the light time over the hop's range;
* ``waiting_s``: the rest: on board, from capture through the accelerator's backlog and the
  queues until that pass began (on any of the satellites that held it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgeinfer.link import DeliveredAlert, PacketKey
from edgeinfer.mission.plan import MissionPlan
from edgeinfer.relay.config import CrosslinksConfig
from edgeinfer.relay.drive import RelayLog
from edgeinfer.relay.routing import RelaySchedule

_EPS_S = 1e-3


def _stats(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "p50": None, "p95": None, "max": None}
    arr = np.asarray(values, dtype=np.float64)
    return {
        "mean": round(float(arr.mean()), 3),
        "p50": round(float(np.percentile(arr, 50)), 3),
        "p95": round(float(np.percentile(arr, 95)), 3),
        "max": round(float(arr.max()), 3),
    }


def _pass_start(plan: MissionPlan, sat: int, station: str, t_s: float) -> float | None:
    """Start of ``sat``'s pass over ``station`` that contains ``t_s`` (s from the start)."""
    best = None
    for p in plan.passes:
        if p.sat == sat and p.station == station and p.t_s - _EPS_S <= t_s <= p.los_s + _EPS_S:
            best = p.t_s if best is None else max(best, p.t_s)
    return best


def latency_split(
    delivered: Sequence[DeliveredAlert],
    plan: MissionPlan,
    start_posix_s: float,
    log: RelayLog | None,
) -> list[dict[str, Any]]:
    """One row per delivered alert: origin, key, hops, last holder and the latency split."""
    names = plan.satellites
    rows = []
    for d in delivered:
        key = PacketKey(*d.key)
        hops = log.hops.get(key, 0) if log else 0
        holder = log.holder.get(key, d.sat_index) if log else d.sat_index
        cross = float(log.crosslink_s.get(key, 0.0)) if log else 0.0
        arrival = d.downlink_time_s - start_posix_s
        aos = _pass_start(plan, holder, d.station, arrival)
        down = max(arrival - aos, 0.0) if aos is not None else 0.0
        rows.append(
            {
                "satellite": names[d.sat_index] if d.sat_index < len(names) else d.sat_index,
                "apid": key.apid,
                "epoch": key.epoch,
                "seq_count": key.seq_count,
                "alert_id": d.alert_id,
                "hops": int(hops),
                "delivered_by": names[holder] if holder < len(names) else holder,
                "station": d.station,
                "latency_s": round(d.latency_s, 3),
                "waiting_s": round(d.latency_s - cross - down, 3),
                "crosslink_s": round(cross, 6),
                "downlink_s": round(down, 3),
            }
        )
    rows.sort(key=lambda r: (r["apid"], r["epoch"], r["seq_count"]))
    return rows


def relay_metrics(
    delivered: Sequence[DeliveredAlert],
    plan: MissionPlan,
    start_posix_s: float,
    config: CrosslinksConfig,
    schedule: RelaySchedule | None = None,
    log: RelayLog | None = None,
) -> dict[str, Any]:
    """The ``crosslinks`` object of metrics.json (see the module docstring)."""
    rows = latency_split(delivered, plan, start_posix_s, log)
    hops = Counter(r["hops"] for r in rows)
    names = plan.satellites
    per_sat: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(names):
        per_sat[name] = {
            "crosslink_bytes_sent": int(log.bytes_sent.get(i, 0)) if log else 0,
            "crosslink_bytes_received": int(log.bytes_received.get(i, 0)) if log else 0,
            "crosslink_packets_sent": int(log.packets_sent.get(i, 0)) if log else 0,
            "crosslink_packets_received": int(log.packets_received.get(i, 0)) if log else 0,
            "crosslink_energy_wh": float(f"{log.energy_wh.get(i, 0.0):.6g}") if log else 0.0,
        }
    windows = schedule.plan.windows if schedule is not None else ()
    out: dict[str, Any] = {
        "enabled": bool(config.enabled),
        "rate_bps": config.rate_bps,
        "max_range_km": config.max_range_km,
        "grazing_height_km": config.grazing_height_km,
        "tick_s": config.tick_s,
        "forward_if_no_contact_within_s": config.forward_if_no_contact_within_s,
        "windows": len(windows),
        "window_hours": round(sum(w.duration_s for w in windows) / 3600.0, 3),
        "pairs_linked": len({(w.index_a, w.index_b) for w in windows}),
        "forwards_planned": sum(len(v) for v in schedule.forwards.values()) if schedule else 0,
        "barriers": log.barriers if log else 0,
        "transfers": log.transfers if log else 0,
        "relay_crc_failures": log.crc_failures if log else 0,
        # handed toward a satellite lost before taking custody: back to their senders
        "packets_returned_to_sender": log.returned if log else 0,
        # in the custody of a satellite whose group was lost, never delivered: died with it
        "relayed_alerts_lost_with_groups": len(
            set(log.lost_custody) - {PacketKey(r["apid"], r["epoch"], r["seq_count"]) for r in rows}
        )
        if log
        else 0,
        "alerts_relayed": sum(1 for r in rows if r["hops"] > 0),
        "hops_histogram": {str(h): n for h, n in sorted(hops.items())},
        "hops_max": max(hops, default=0),
        "latency_split_s": {
            part: _stats([r[f"{part}_s"] for r in rows])
            for part in ("waiting", "crosslink", "downlink")
        },
        "satellites": per_sat,
        "alerts": rows,
    }
    return out


def merge_into(metrics: dict[str, Any], relay: Mapping[str, Any]) -> None:
    """Add the relay figures to metrics.json: the ``crosslinks`` object, per-satellite
    crosslink bytes and energy, and their totals."""
    metrics["crosslinks"] = dict(relay)
    sats = metrics.get("satellites", {})
    total = metrics.setdefault("total", {})
    for key in (
        "crosslink_bytes_sent",
        "crosslink_bytes_received",
        "crosslink_packets_sent",
        "crosslink_energy_wh",
    ):
        acc = 0.0
        for name, figures in relay["satellites"].items():
            if name in sats:
                sats[name][key] = figures[key]
            acc += figures[key]
        total[key] = float(f"{acc:.6g}") if key.endswith("_wh") else int(acc)
    total["alerts_relayed"] = relay["alerts_relayed"]
    total["alert_hops_max"] = relay["hops_max"]
    split = relay["latency_split_s"]
    for part in ("waiting", "crosslink", "downlink"):
        total[f"latency_{part}_mean_s"] = split[part]["mean"]
