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
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeinfer.budget import get_accelerator
from edgeinfer.mission.build import (
    asks_for_gpu,
    build_constellation,
    build_stations,
    node_settings,
    plan_placement,
)
from edgeinfer.mission.config import MissionConfig
from edgeinfer.mission.faultplan import FaultPlan, fault_plan, mission_settings, uplink_events
from edgeinfer.mission.integrity import add_reliability, failed_scenes, ground_rows, integrity
from edgeinfer.mission.loading import load_mission
from edgeinfer.mission.lost import LostGroup, add_lost_groups, lost_satellites, wait_each
from edgeinfer.mission.metrics import mission_metrics
from edgeinfer.mission.models import check_models
from edgeinfer.mission.operators import add_operator_figures, orbit_period_s, prepare_relays
from edgeinfer.mission.outputs import (
    alerts_geojson,
    clear_run_outputs,
    decode_alerts,
    match_truth,
    plan_json,
    unobservable,
    write_db,
    write_json,
)
from edgeinfer.mission.plan import MissionPlan, plan_mission
from edgeinfer.mission.scenes import MissionScene, open_mission_scenes
from edgeinfer.mission.windows import cut_windows, group_events
from edgeinfer.node.events import Uplink
from edgeinfer.output_files import make_output_folder

if TYPE_CHECKING:  # edgeinfer.relay.drive imports this package (mission.lost, mission.plan)
    from edgeinfer.relay.drive import RelayRun

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
    out = make_output_folder(out_dir)  # before the work: a bad --out is one line, not a loss
    check_models(config)  # one line and exit 2 for a missing, malformed or unsigned model
    clear_run_outputs(out)  # an earlier run's files would sit beside this one's
    state_root = config.execution.state_dir
    state = Path(state_root) if state_root else Path(tempfile.mkdtemp(prefix="edgeinfer-state-"))
    failed: list[dict[str, Any]] = []
    scenes: list[MissionScene] = []
    executor: Any = None
    try:  # from here on, whatever stops the run removes the temporary state (finally)
        _fresh_state(state)
        constellation = build_constellation(config)  # a bad TLE or name fails before the scenes
        scenes = open_mission_scenes(config, failed=failed)
        names = constellation.names
        stations = build_stations(config)
        executor = _executor(config, address, use_ray)
        placement = plan_placement(
            config, names, executor.cpus, executor.max_actors, executor.cpu_share
        )
        settings = node_settings(
            config, placement.threads, config.mission.start.timestamp(), state / "onboard"
        )
        settings = mission_settings(settings, config)
        faults = fault_plan(config, constellation, len(placement.groups))
        ground = executor.ground(state / "ground.sqlite", [s.name for s in stations])
        killer = executor.killswitch() if faults.kills else None
        refs = [s.ref for s in scenes]
        groups = [
            executor.group(
                g, settings, refs, ground, placement.cpus_per_actor, killer, faults.max_restarts(k)
            )
            for k, g in enumerate(placement.groups)
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
        relay = prepare_relays(config, constellation, plan)  # None without crosslinks
        plan_s = time.perf_counter() - t_plan
        t_sim = time.perf_counter()
        uplinks = uplink_events(config, plan, names)
        finished, lost = _simulate(
            executor,
            groups,
            placement.groups,
            plan,
            progress,
            config.execution.windows,
            faults,
            uplinks,
            relay,
        )
        sim_s = time.perf_counter() - t_sim
        exported = executor.get(executor.call(ground, "export"))
        ground_db = executor.get(executor.call(ground, "snapshot"))
        fired = executor.get(executor.call(killer, "fired")) if killer is not None else []
        wall = {"plan_s": plan_s, "simulate_s": sim_s, "total_s": time.perf_counter() - t_start}
        chaos: dict[str, Any] = {
            "failed_scenes": failed,
            "faults": {**faults.summary(), "kills_fired": fired},
            "lost": lost,
        }
        result = _write_outputs(
            config,
            out,
            scenes,
            plan,
            finished,
            exported,
            ground_db,
            placement,
            executor,
            wall,
            chaos,
            relay,
            orbit_period_s(constellation),
        )
        for handle in [*(h for k, h in enumerate(groups) if k not in lost), ground]:
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

    return RayExecutor(address, config.execution.satellite_resource, gpu=asks_for_gpu(config))


def _simulate(
    executor: Any,
    groups: list[Any],
    members: Sequence[Sequence[tuple[int, str]]],
    plan: MissionPlan,
    progress: Progress | None,
    windows: int,
    faults: FaultPlan,
    uplinks: Sequence[Uplink],
    relay: RelayRun | None = None,
) -> tuple[list[dict[str, Any]], dict[int, LostGroup]]:
    """Configure every group with its duty rows, its events cut into windows, its kill
    times and the model updates; queue every window's call, wait in window order. Returns
    the final reports of the groups that finished and the groups lost for good
    (edgeinfer.mission.lost), whose later calls are no longer waited for. With
    crosslinks (``relay``), windows also end at relay ticks, where the driver carries
    packets between groups (edgeinfer.relay.drive)."""
    n_windows = max(1, min(windows, plan.n_steps))
    bounds = np.linspace(0.0, plan.duration_s, n_windows + 1)
    if relay is not None:
        bounds = relay.bounds(bounds)
        n_windows = len(bounds) - 1
    configs = []
    for k, (handle, sats) in enumerate(zip(groups, members, strict=True)):
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
                cut_windows(group_events(plan, rows, uplinks), bounds),
                faults.kills_of(k),
                faults.updates,
            )
        )
    executor.get(configs)
    if relay is not None:  # lost groups as below; the relays route around their satellites
        return relay.simulate(executor, groups, members, bounds, progress)
    lost: dict[int, LostGroup] = {}
    pending = [[executor.call(h, "run", w) for h in groups] for w in range(n_windows)]
    for w, calls in enumerate(pending):
        wait_each(executor, {k: c for k, c in enumerate(calls) if k not in lost}, members, w, lost)
        if progress is not None:
            progress(float(bounds[w + 1]), plan.duration_s)
    finish = {
        k: executor.call(h, "finish", plan.duration_s)
        for k, h in enumerate(groups)
        if k not in lost
    }
    return list(wait_each(executor, finish, members, None, lost).values()), lost


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
    chaos: Mapping[str, Any],
    relay: RelayRun | None = None,
    period_s: float = 0.0,
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
                files[f"onboard_{index}"] = write_db(
                    out / "onboard" / f"sat{index:03d}.link.sqlite", blob
                )
    if ground_db:
        files["ground_db"] = write_db(out / "ground.sqlite", ground_db)
    alerts = decode_alerts(
        exported["alerts"],
        scenes,
        plan.satellites,
        config.detection.models_dir,
        config.detection.models,
    )
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
        # the most lanes an actor used, and their threads (edgeinfer.node.engine)
        "lanes": max((f.get("lanes", 1) for f in finished), default=1),
        "threads_per_lane": min(
            (f.get("threads_per_lane") or placement.threads for f in finished),
            default=placement.threads,
        ),
        # tiles per session.run ("auto" resolved: 1 on CPU, 2 on a GPU)
        "batch_size": max((f.get("batch_size", 0) for f in finished), default=0) or None,
        "cluster_cpus": executor.cpus,
        "actor_nodes": executor.actor_nodes(),
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
    raised = {i: r for f in finished for i, r in f["raised"].items()}
    # a lost group's raised records died with it: its delivered alerts are not checked
    gone = lost_satellites(chaos["lost"])
    rows = [r for r in ground_rows(files.get("ground_db"), exported["alerts"]) if r[0] not in gone]
    checks = integrity(rows, raised)
    restarts = sum(int(f["restarts"]) for f in finished)
    add_reliability(metrics, reports, checks, exported["counters"], restarts)
    add_lost_groups(metrics, chaos["lost"], Counter(a.sat_index for a in alerts))
    metrics["failed_scenes"] = failed_scenes(chaos["failed_scenes"], reports)
    metrics["total"]["scenes_failed"] = len({f["scene"] for f in metrics["failed_scenes"]})
    metrics["run"]["faults"] = {
        **chaos["faults"],
        "groups": [
            {
                "group": f["group"],
                "restarts": f["restarts"],
                "pids": f["pids"],
                "wall_s": {k: round(v, 3) for k, v in f["wall_s"].items()},
            }
            for f in finished
        ],
    }
    # the delivered alerts and the plan first: nothing after them may cost them
    files["alerts"] = write_json(out / "alerts.geojson", alerts_geojson(alerts, scenes))
    files["plan"] = write_json(out / "plan.json", plan_json(plan))
    # latency split, relays over crosslinks and economics (docs/operators.md)
    add_operator_figures(metrics, config, plan, exported["alerts"], period_s, relay)
    files["metrics"] = write_json(out / "metrics.json", metrics)
    if config.output.report:
        from edgeinfer.report import write_report

        files["report"] = write_report(
            out / "report.html", metrics, plan, alerts, scenes, reports, soc, temp
        )
    return MissionResult(out, metrics, files, plan)
