"""Did every alert reach the ground exactly once, intact? Counted, never assumed (issue 6).

The satellites keep every record they raise (``raised``: satellite -> alert id -> record
bytes, kept apart from the onboard store that upsets may damage); the ground database holds
what arrived. From the two:

* ``alerts_lost``: raised alerts whose id never reached the ground;
* ``duplicates_delivered``: rows of the ground's ``alerts`` table that repeat an earlier one,
  by (satellite, alert id) or by content (the record without its sequence field: the same
  detection raised twice, e.g. by a replay that did not know it had already raised it);
* ``corrupted_accepted``: delivered records that differ from the raised record of the same
  id (or have no raised record at all).

Plus the fault counters of the satellites' link statistics and upset reports, summed under
``total`` and kept per satellite.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from edgeinfer.link import DeliveredAlert

#: Byte offset of the record's sequence number (edgeinfer.detect.records: the last field).
SEQUENCE_OFFSET = 44

#: Link counters of each satellite's onboard store (docs/link.md), copied into the metrics.
LINK_COUNTERS = (
    "packets_lost",
    "packets_corrupted",
    "acks_lost",
    "store_crc_failures",
    "packets_expired",
)
#: Upset and mitigation counters of each satellite (edgeinfer.node.hazards).
HAZARD_COUNTERS = (
    "seu_weight_upsets",
    "seu_weight_bits",
    "seu_tile_upsets",
    "seu_tile_bits",
    "seu_record_upsets",
    "seu_record_bits",
    "scrubs",
    "weight_checks",
    "model_failures",
    "tmr_votes",
)
#: Ground counters (edgeinfer.link.GroundStation.counters) reported beside them.
GROUND_COUNTERS = {
    "crc_failures": "ground_crc_failures",
    "duplicates_discarded": "duplicates_discarded",
    "key_conflicts": "key_conflicts",
    "malformed": "ground_malformed",
}


def ground_rows(
    path: Path | None, exported: Sequence[DeliveredAlert]
) -> list[tuple[int, int, bytes]]:
    """(satellite, alert id, payload) of every row of the ground's ``alerts`` table, in
    arrival order (from the database file; from the exported list when there is none)."""
    if path is None or not Path(path).is_file():
        return [(a.sat_index, a.alert_id, bytes(a.payload)) for a in exported]
    con = sqlite3.connect(path)
    try:
        rows = con.execute("SELECT sat_index, alert_id, payload FROM alerts ORDER BY id").fetchall()
    finally:
        con.close()
    return [(int(s), int(a), bytes(p)) for s, a, p in rows]


def integrity(
    rows: Iterable[tuple[int, int, bytes]], raised: Mapping[int, Mapping[int, bytes]]
) -> dict[int, dict[str, int]]:
    """Per satellite: alerts_raised, alerts_delivered (distinct ids), alerts_lost,
    duplicates_delivered, corrupted_accepted."""
    out = {s: _zero(len(r)) for s, r in raised.items()}
    ids: set[tuple[int, int]] = set()
    contents: set[tuple[int, bytes]] = set()
    for sat, alert_id, payload in rows:
        counts = out.setdefault(sat, _zero(0))
        content = (sat, payload[:SEQUENCE_OFFSET])
        if (sat, alert_id) in ids or content in contents:
            counts["duplicates_delivered"] += 1
        if (sat, alert_id) not in ids:
            counts["alerts_delivered"] += 1
            if raised.get(sat, {}).get(alert_id) != payload:
                counts["corrupted_accepted"] += 1
        ids.add((sat, alert_id))
        contents.add(content)
    for sat, records in raised.items():
        out[sat]["alerts_lost"] = sum((sat, i) not in ids for i in records)
    return out


def _zero(raised: int) -> dict[str, int]:
    return {
        "alerts_raised": raised,
        "alerts_delivered": 0,
        "alerts_lost": 0,
        "duplicates_delivered": 0,
        "corrupted_accepted": 0,
    }


def add_reliability(
    metrics: dict[str, Any],
    reports: Mapping[int, Mapping[str, Any]],
    checks: Mapping[int, Mapping[str, int]],
    ground_counters: Mapping[str, int],
    restarts: int,
) -> None:
    """Put the integrity checks and fault counters into ``metrics`` (per satellite and
    total). ``restarts``: actor restarts of all groups (a group's satellites share one)."""
    total = metrics["total"]
    summed = ("alerts_lost", "duplicates_delivered", "corrupted_accepted")
    for key in (*summed, *LINK_COUNTERS, *HAZARD_COUNTERS):
        total[key] = 0
    for index, rep in reports.items():
        row = metrics["satellites"][str(rep["satellite"])]
        check = checks.get(index, _zero(0))
        for key in summed:
            row[key] = int(check[key])
            total[key] += int(check[key])
        for key in LINK_COUNTERS:
            row[key] = int(rep["link"].get(key, 0))
            total[key] += row[key]
        for key in HAZARD_COUNTERS:
            row[key] = int(rep.get("hazards", {}).get(key, 0))
            total[key] += row[key]
        row["actor_restarts"] = int(rep.get("actor_restarts", 0))
    # alerts delivered under an id no satellite raised (only if a record arrives from nowhere)
    extra = {s: c for s, c in checks.items() if s not in reports}
    for check in extra.values():
        total["corrupted_accepted"] += int(check["corrupted_accepted"])
        total["duplicates_delivered"] += int(check["duplicates_delivered"])
    total["actor_restarts"] = int(restarts)
    for key, name in GROUND_COUNTERS.items():
        total[name] = int(ground_counters.get(key, 0))
    metrics["model_updates"] = [
        {"satellite": rep["satellite"], **entry}
        for _, rep in sorted(reports.items())
        for entry in rep.get("model_updates", {}).get("log", [])
    ]


def failed_scenes(
    at_open: Sequence[Mapping[str, Any]], reports: Mapping[int, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Scenes the mission could not use, or not wholly: those refused when the driver opened
    them, then those that failed on board (capture, unreadable tiles, detection), once per
    (scene, stage, error) with the satellites that met it."""
    out: list[dict[str, Any]] = [dict(f) for f in at_open]
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for index in sorted(reports):
        rep = reports[index]
        for f in rep.get("failures", []):
            key = (str(f["scene"]), str(f["stage"]), str(f["error"]))
            entry = seen.get(key)
            if entry is None:
                entry = {
                    "scene": key[0],
                    "stage": key[1],
                    "error": key[2],
                    "first_t_s": round(float(f["t_s"]), 3),
                    "satellites": [],
                }
                seen[key] = entry
                out.append(entry)
            if rep["satellite"] not in entry["satellites"]:
                entry["satellites"].append(rep["satellite"])
    return out
