"""``run_mission``: the driver of a mission, from TOML to metrics.json, alerts.geojson and
report.html.

1. Load and validate the config; open the scenes on the driver (footprints, raw and DEFLATE
   sizes, truth).
2. Start Ray (or join ``address``) and create the actors: one ground station node and the
   satellite groups (:func:`edgeinfer.mission.build.plan_placement`). They load their models
   while the driver computes the orbit plan, vectorised, once.
3. Hand each group its duty rows, then its events window by window: every window is ONE call
   per group (all calls are queued at once; a group runs ahead of the others as far as its
   events allow). The clock is simulated: nothing sleeps.
4. Gather everything on the driver (reports, budget traces, onboard databases, the ground
   database) and write the outputs into ``out_dir``: never only on a worker's disk.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeinfer.budget import get_accelerator
from edgeinfer.mission.build import (
    build_constellation,
    build_stations,
    node_settings,
    plan_placement,
)
from edgeinfer.mission.config import MissionConfig
from edgeinfer.mission.loading import load_mission
from edgeinfer.mission.metrics import mission_metrics
from edgeinfer.mission.outputs import (
    alerts_geojson,
    decode_alerts,
    match_truth,
    unobservable,
    write_json,
)
from edgeinfer.mission.plan import MissionPlan, plan_mission
from edgeinfer.mission.scenes import MissionScene, open_mission_scenes

logger = logging.getLogger(__name__)

Progress = Callable[[float, float], None]
"""Called with (simulated seconds done, mission seconds) as windows complete."""

MissionSource = MissionConfig | str | Path | Mapping[str, Any] | None


@dataclass
class MissionResult:
    """Where the outputs went and the headline numbers."""

    out_dir: Path
    metrics: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    plan: MissionPlan | None = None

    @property
    def total(self) -> dict[str, Any]:
        return dict(self.metrics["total"])


def run_mission(
    mission: MissionSource = None,
    out_dir: str | Path = "edgeinfer-out",
    *,
    address: str | None = None,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    progress: Progress | None = None,
    use_ray: bool = True,
) -> MissionResult:
    """Run a mission end to end (``mission`` None: the embedded sample) and write its
    outputs into ``out_dir``. ``address``: join that Ray cluster (``auto``, ``ray://H:P`` or
    ``H:P``) instead of starting a local Ray; ``use_ray=False`` runs in this process."""
    t_start = time.perf_counter()
    config = mission if isinstance(mission, MissionConfig) else load_mission(mission, overrides)
    if address is not None and use_ray:
        from edgeinfer.mission.actors import check_reachable

        check_reachable(address)  # before the scenes: a wrong address should fail at once
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state_root = config.execution.state_dir
    state = Path(state_root) if state_root else Path(tempfile.mkdtemp(prefix="edgeinfer-state-"))
    _fresh_state(state)
    scenes = open_mission_scenes(config)
    executor: Any = None
    try:
        constellation = build_constellation(config)
        names = constellation.names
        stations = build_stations(config)
        executor = _executor(config, address, use_ray)
        placement = plan_placement(config, names, executor.cpus, executor.max_actors)
        settings = node_settings(
            config, placement.threads, config.mission.start.timestamp(), state / "onboard"
        )
        ground = executor.ground(state / "ground.sqlite", [s.name for s in stations])
        refs = [s.ref for s in scenes]
        groups = [
            executor.group(g, settings, refs, ground, placement.cpus_per_actor)
            for g in placement.groups
        ]
        t_plan = time.perf_counter()
        plan = plan_mission(
            constellation,
            stations,
            [s.site for s in scenes],
            config.mission.start,
            config.mission.duration_s,
            config.mission.time_step_s,
            config.constellation.swath_km,
            link_efficiency=config.budgets.link_efficiency,
            min_sun_elevation_deg=config.imaging.min_sun_elevation_deg,
            min_coverage=config.imaging.min_coverage,
            search_step_s=config.imaging.search_step_s,
        )
        plan_s = time.perf_counter() - t_plan
        t_sim = time.perf_counter()
        finished = _simulate(
            executor, groups, placement.groups, plan, progress, config.execution.windows
        )
        sim_s = time.perf_counter() - t_sim
        exported = executor.get(executor.call(ground, "export"))
        ground_db = executor.get(executor.call(ground, "snapshot"))
        wall = {"plan_s": plan_s, "simulate_s": sim_s, "total_s": time.perf_counter() - t_start}
        result = _write_outputs(
            config, out, scenes, plan, finished, exported, ground_db, placement, executor, wall
        )
        for handle in [*groups, ground]:
            executor.get(executor.call(handle, "close"))
    finally:
        if executor is not None:
            executor.shutdown()
        for s in scenes:
            s.scene.close()
        if not state_root:
            shutil.rmtree(state, ignore_errors=True)
    return result


def _fresh_state(state: Path) -> None:
    """A run starts from empty onboard queues and ground database (a left-over store would
    reuse packet keys; docs/link.md)."""
    shutil.rmtree(state / "onboard", ignore_errors=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{state / 'ground.sqlite'}{suffix}").unlink(missing_ok=True)


def _executor(config: MissionConfig, address: str | None, use_ray: bool) -> Any:
    if not use_ray:
        from edgeinfer.mission.local import LocalExecutor

        return LocalExecutor()
    from edgeinfer.mission.actors import RayExecutor

    return RayExecutor(address, config.execution.satellite_resource)


def _simulate(
    executor: Any,
    groups: list[Any],
    members: Sequence[Sequence[tuple[int, str]]],
    plan: MissionPlan,
    progress: Progress | None,
    windows: int,
) -> list[dict[str, Any]]:
    """Configure every group, queue every window's call, wait in window order."""
    configs = []
    for handle, sats in zip(groups, members, strict=True):
        rows = [i for i, _ in sats]
        configs.append(
            executor.call(
                handle,
                "configure",
                plan.step_s,
                plan.duration_s,
                plan.sunlit[rows],
                plan.imaging[rows],
                plan.transmitting[rows],
            )
        )
    executor.get(configs)
    n_windows = max(1, min(windows, plan.n_steps))
    bounds = np.linspace(0.0, plan.duration_s, n_windows + 1)
    events = [plan.events([i for i, _ in sats]) for sats in members]
    pending: list[list[Any]] = []
    for w in range(n_windows):
        lo, hi = bounds[w], bounds[w + 1]
        last = w == n_windows - 1
        calls = []
        for handle, evs in zip(groups, events, strict=True):
            mine = [e for e in evs if lo <= e.t_s < hi or (last and e.t_s == hi)]
            calls.append(executor.call(handle, "run", mine, float(hi)))
        pending.append(calls)
    for w, calls in enumerate(pending):
        executor.get(calls)
        if progress is not None:
            progress(float(bounds[w + 1]), plan.duration_s)
    return list(executor.get([executor.call(h, "finish", plan.duration_s) for h in groups]))


def _write_outputs(
    config: MissionConfig,
    out: Path,
    scenes: list[MissionScene],
    plan: MissionPlan,
    finished: list[dict[str, Any]],
    exported: dict[str, Any],
    ground_db: bytes,
    placement: Any,
    executor: Any,
    wall: dict[str, float],
) -> MissionResult:
    files: dict[str, Path] = {}
    reports: dict[int, dict[str, Any]] = {}
    n = len(plan.satellites)
    soc = np.full((n, plan.n_steps + 1), np.nan, dtype=np.float32)
    temp = np.full_like(soc, np.nan)
    providers: dict[str, str] = {}
    for f in finished:
        reports.update(f["reports"])
        rows = f["satellites"]
        soc[rows] = f["soc"]
        temp[rows] = f["temperature_c"]
        providers.update(f["providers"])
        if config.output.onboard_databases:
            for index, blob in f["databases"].items():
                files[f"onboard_{index}"] = _write_db(
                    out / "onboard" / f"sat{index:03d}.link.sqlite", blob
                )
    if ground_db:
        files["ground_db"] = _write_db(out / "ground.sqlite", ground_db)
    alerts = decode_alerts(exported["alerts"], scenes, plan.satellites, config.detection.models_dir)
    truth = [t for s in scenes for t in s.truth]
    found = match_truth(alerts, truth)
    captures = [c for r in reports.values() for c in r.get("capture_log", [])]
    hidden = unobservable(scenes, captures, config.detection.tile_size, config.detection.overlap)
    chips_by_sat: dict[int, int] = {}
    for chip in exported["chips"]:
        chips_by_sat[chip.sat_index] = chips_by_sat.get(chip.sat_index, 0) + 1
    profile = get_accelerator(config.accelerator.profile)
    run = {
        "mission": config.mission.name,
        "source": config.source,
        "start": config.mission.start.isoformat(),
        "duration_s": plan.duration_s,
        "time_step_s": plan.step_s,
        "seed": config.mission.seed,
        "accelerator": profile.name,
        "accelerator_relative_speed": profile.relative_speed,
        "accelerator_active_w": profile.active_w,
        "satellites_per_actor": placement.satellites_per_actor,
        "actors": len(placement.groups),
        "cpus_per_actor": placement.cpus_per_actor,
        "intra_op_threads": placement.threads,
        "cluster_cpus": executor.cpus,
        "providers": providers,
        "captures_planned": len(plan.captures),
        "passes_planned": len(plan.passes),
        "plan_timings_s": {k: round(v, 4) for k, v in plan.timings_s.items()},
        "wall_s": {k: round(v, 3) for k, v in wall.items()},
        "sim_seconds_per_wall_second": round(plan.duration_s / max(wall["total_s"], 1e-9), 1),
    }
    metrics = mission_metrics(
        reports,
        alerts,
        plan,
        scenes,
        active_w=profile.active_w,
        chips_by_sat=chips_by_sat,
        found=found,
        hidden=hidden,
        ground_counters=exported["counters"],
        run=run,
    )
    metrics["total"]["wall_s"] = round(wall["total_s"], 3)
    files["alerts"] = write_json(out / "alerts.geojson", alerts_geojson(alerts, scenes))
    files["plan"] = write_json(out / "plan.json", _plan_json(plan))
    files["metrics"] = write_json(out / "metrics.json", metrics)
    if config.output.report:
        from edgeinfer.report import write_report

        files["report"] = write_report(
            out / "report.html", metrics, plan, alerts, scenes, reports, soc, temp
        )
    return MissionResult(out, metrics, files, plan)


def _write_db(path: Path, blob: bytes) -> Path:
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


def _plan_json(plan: MissionPlan) -> dict[str, Any]:
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
