"""What reached the ground, decoded on the driver: alert records -> :class:`GroundAlert` s,
matched to the truth, and written as alerts.geojson.

The ground database holds each delivered alert's 48-byte record (``edgeinfer.detect.records``)
with its link header (satellite, detector, priority, capture time) and the station, downlink
time and latency. The record names its scene by a 4-byte hash, which the driver maps back to
the mission's scenes to draw the alert's pixel box as a WGS84 polygon.

Truth matching (docs/missions.md): a true fire or ship counts as delivered when an alert of the
same kind on the same scene reached the ground whose pixel box overlaps the object's box, or
whose centre lies within :data:`MATCH_DISTANCE_PX` pixels of the object's centre.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.detect import AlertRecord, ModelRegistry
from edgeinfer.detect.records import scene_hash
from edgeinfer.errors import EdgeInferError
from edgeinfer.link import DeliveredAlert
from edgeinfer.mission.plan import MissionPlan
from edgeinfer.mission.scenes import MissionScene, TruthObject
from edgeinfer.scene import tile_windows

#: Centre distance (scene pixels) within which an alert matches a true object.
MATCH_DISTANCE_PX = 10.0


@dataclass
class GroundAlert:
    """One alert as the ground has it."""

    satellite: str
    sat_index: int
    station: str
    detector: str
    cls: int
    class_name: str
    confidence: float
    priority: int
    bbox_px: tuple[int, int, int, int]
    pixel_count: int
    centroid_lonlat: tuple[float, float] | None
    scene: str | None
    capture_time_s: float
    downlink_time_s: float
    latency_s: float
    onboard_id: int
    apid: int
    seq_count: int
    truth_id: int | str | None = None

    @property
    def centre_px(self) -> tuple[float, float]:
        c0, r0, c1, r1 = self.bbox_px
        return ((c0 + c1) / 2.0, (r0 + r1) / 2.0)


def decode_alerts(
    delivered: Sequence[DeliveredAlert],
    scenes: Sequence[MissionScene],
    satellites: Sequence[str],
    models_dir: str | None = None,
    prefer: Sequence[str] = (),
) -> list[GroundAlert]:
    """Decode delivered records; sorted by capture time, satellite, detector and box."""
    by_hash = {scene_hash(s.key): s for s in scenes}
    registry = ModelRegistry(models_dir)
    names: dict[tuple[str, str], Any] = {}
    out: list[GroundAlert] = []
    for d in delivered:
        rec = AlertRecord.unpack(d.payload)
        scene = by_hash.get(rec.scene_hash)
        class_name = str(rec.cls)
        if scene is not None:
            key = (scene.key, rec.detector)
            if key not in names:
                try:
                    names[key] = registry.select(
                        rec.detector, scene.scene.band_names, scene.scene.product, prefer
                    )
                except EdgeInferError:
                    names[key] = None
            if names[key] is not None:
                class_name = names[key].class_name(rec.cls)
        out.append(
            GroundAlert(
                satellite=satellites[d.sat_index]
                if d.sat_index < len(satellites)
                else str(d.sat_index),
                sat_index=d.sat_index,
                station=d.station,
                detector=rec.detector,
                cls=rec.cls,
                class_name=class_name,
                confidence=rec.confidence,
                priority=d.priority,
                bbox_px=rec.bbox_px,
                pixel_count=rec.pixel_count,
                centroid_lonlat=rec.lonlat,
                scene=None if scene is None else scene.key,
                capture_time_s=d.capture_time_s,
                downlink_time_s=d.downlink_time_s,
                latency_s=d.latency_s,
                onboard_id=d.alert_id,
                apid=d.key.apid,
                seq_count=d.key.full_seq,
            )
        )
    out.sort(key=lambda a: (a.capture_time_s, a.sat_index, a.detector, a.bbox_px, a.onboard_id))
    return out


def match_truth(
    alerts: Sequence[GroundAlert], truth: Sequence[TruthObject]
) -> set[tuple[str, Any]]:
    """Mark each alert's matched truth object (``truth_id``); returns the matched
    (scene, object id) pairs."""
    by_scene: dict[tuple[str, str], list[TruthObject]] = {}
    for t in truth:
        by_scene.setdefault((t.scene, t.kind), []).append(t)
    found: set[tuple[str, Any]] = set()
    for a in alerts:
        if a.scene is None:
            continue
        best: TruthObject | None = None
        best_d = math.inf
        for t in by_scene.get((a.scene, a.detector), []):
            d = math.dist(a.centre_px, t.centre_px)
            if (_overlap(a.bbox_px, t.bbox_px) or d <= MATCH_DISTANCE_PX) and d < best_d:
                best, best_d = t, d
        if best is not None:
            a.truth_id = best.object_id
            found.add((best.scene, best.object_id))
    return found


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def unobservable(
    scenes: Sequence[MissionScene], captures: Sequence[dict[str, Any]], tile_size: int, overlap: int
) -> set[tuple[str, Any]]:
    """True objects no satellite could report: in every capture of their scene, the tile that
    owns the object's centre was dropped by the cloud screen. (A scene never captured is a
    planning miss, not unobservable.)"""
    out: set[tuple[str, Any]] = set()
    for s in scenes:
        mine = [c for c in captures if c["scene"] == s.key]
        if not mine or not s.truth:
            continue
        windows = tile_windows(s.scene.width, s.scene.height, tile_size, overlap)
        always = set.intersection(*(set(c.get("cloudy_tiles", [])) for c in mine))
        for t in s.truth:
            tile = _owner(windows, t.centre_px)
            if tile is not None and tile in always:
                out.add((s.key, t.object_id))
    return out


def _owner(windows: list[Any], centre: tuple[float, float]) -> str | None:
    cx, cy = centre
    for window, core in windows:
        if core.col_off <= cx < core.col_off + core.width and (
            core.row_off <= cy < core.row_off + core.height
        ):
            return f"r{int(window.row_off)}_c{int(window.col_off)}"
    return None


def alerts_geojson(alerts: Sequence[GroundAlert], scenes: Sequence[MissionScene]) -> dict[str, Any]:
    """GeoJSON FeatureCollection (RFC 7946) of the delivered alerts, deterministic: features
    in :func:`decode_alerts` order, numbers rounded (lon/lat 1e-8 deg, times 1 ms)."""
    by_key = {s.key: s for s in scenes}
    features = []
    for a in alerts:
        scene = by_key.get(a.scene) if a.scene else None
        geometry: dict[str, Any] | None = None
        if scene is not None and scene.scene.is_georeferenced:
            c0, r0, c1, r1 = a.bbox_px
            lon, lat = scene.scene.pixel_to_lonlat([c0, c1, c1, c0], [r0, r0, r1, r1])
            ring = [[round(float(x), 8), round(float(y), 8)] for x, y in zip(lon, lat, strict=True)]
            if _area(ring) < 0:
                ring.reverse()
            geometry = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
        elif a.centroid_lonlat is not None:
            geometry = {"type": "Point", "coordinates": list(a.centroid_lonlat)}
        features.append(
            {
                "type": "Feature",
                "id": f"{a.satellite}/{a.onboard_id}",
                "geometry": geometry,
                "properties": {
                    "satellite": a.satellite,
                    "station": a.station,
                    "detector": a.detector,
                    "class": a.cls,
                    "class_name": a.class_name,
                    "confidence": round(a.confidence, 5),
                    "priority": a.priority,
                    "scene_id": a.scene,
                    "bbox_px": list(a.bbox_px),
                    "pixel_count": a.pixel_count,
                    "centroid_lon": a.centroid_lonlat[0] if a.centroid_lonlat else None,
                    "centroid_lat": a.centroid_lonlat[1] if a.centroid_lonlat else None,
                    "capture_time": _iso(a.capture_time_s),
                    "downlink_time": _iso(a.downlink_time_s),
                    "latency_s": round(a.latency_s, 3),
                    "apid": a.apid,
                    "sequence": a.seq_count,
                    "truth_id": a.truth_id,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _area(ring: list[list[float]]) -> float:
    return 0.5 * sum(
        x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True)
    )


def _iso(posix_s: float) -> str:
    when = dt.datetime.fromtimestamp(round(posix_s, 3), dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def write_json(path: Path, data: Any) -> Path:
    """JSON with sorted keys, 1-space indent, no NaN (NaN/inf become null)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(data), indent=1, sort_keys=True, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _finite(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_db(path: Path, blob: bytes) -> Path:
    """Write an SQLite image and leave it a plain (rollback-journal) file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(blob)
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA journal_mode=DELETE")
    finally:
        con.close()
    return path


def plan_json(plan: MissionPlan) -> dict[str, Any]:
    names = plan.satellites
    return {
        "start": plan.start.isoformat(),
        "duration_s": plan.duration_s,
        "step_s": plan.step_s,
        "satellites": list(names),
        "captures": [
            {
                "satellite": names[c.sat],
                "scene": c.scene,
                "t_s": round(c.t_s, 3),
                "start_s": round(c.start_s, 3),
                "end_s": round(c.end_s, 3),
                "sun_elevation_deg": None
                if c.sun_elevation_deg is None
                else round(c.sun_elevation_deg, 3),
            }
            for c in plan.captures
        ],
        "passes": [
            {
                "satellite": names[p.sat],
                "station": p.station,
                "aos_s": round(p.t_s, 3),
                "los_s": round(p.los_s, 3),
                "capacity_bytes": p.capacity_bytes,
                "max_elevation_deg": round(p.max_elevation_deg, 3),
            }
            for p in plan.passes
        ],
        "eclipses": [
            {"satellite": names[s], "start_s": round(a, 3), "end_s": round(b, 3)}
            for s, a, b in plan.eclipses
        ],
    }


#: What a run writes into its ``--out`` folder (and nothing else of it is removed).
RUN_FILES: tuple[str, ...] = (
    "alerts.geojson",
    "plan.json",
    "metrics.json",
    "report.html",
    "ground.sqlite",
)


def clear_run_outputs(out: Path) -> None:
    """Remove an earlier run's outputs from ``out`` (the :data:`RUN_FILES` and the onboard
    databases ``onboard/sat*.link.sqlite``), so the folder never holds files of two runs, e.g.
    a bigger constellation's extra onboard databases or metrics beside a newer ground
    database. Other files are left alone."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    for db in (out / "onboard").glob("sat*.link.sqlite"):
        db.unlink()
