"""``run_all.py``'s paths on Ray: the pipeline through the satellite actors, and Ray Data.

* **pipeline**: the mission's own Ray actors (``edgeinfer.mission.actors``, placed by
  ``plan_placement``: one actor per core, ``intra_op_num_threads`` = its CPU share) hosting
  ``SatelliteGroup`` s built from the sample mission's settings (cloud, fire, ship; CPU; 512 px
  tiles, 64 px overlap; batch 2; Jetson Orin Nano budgets). Each satellite captures its copy
  of the workload scene at once (one ``run`` call per group; the budgets are always sunlit,
  so they grant every tile): the node reads the tiles through rasterio, screens clouds, runs
  fire and ship on each clear tile while it is in memory (detections made at capture,
  edgeinfer.node.flush), queues the tiles for the budgets and, as they complete them, turns
  the alerts into CCSDS packets in its onboard queue. Timed: from the calls to the last
  group's answer. Every group first captures a small warm-up scene (sessions and arenas warm,
  as bare's are).
* **ray_data**: ``ray.data`` as a user would first write it: the driver tiles the scene with
  ``iter_tiles``, ``ray.data.from_items`` carries the tiles, ``map_batches`` with a callable
  class holding the same ``Detector`` s (the same models, provider and batch; one actor per
  core) runs the cloud screen, fire, ship and the alerts and returns alert counts. Its
  onnxruntime sessions keep onnxruntime's default thread pool (one intra-op thread per core,
  spinning), as ``ort.InferenceSession(path)`` in a user's class does: issue 7's reference
  measurement (0.26-0.29x of bare) matches this, not a tuned thread plan.
  ``ray_data_read_in_actors`` is the variant that ships only windows and reads in the actors.
* **ray_data_tuned** (and ``ray_data_tuned_read_in_actors``): the same with the pipeline's own
  thread plan, one single-thread session per actor: Ray Data given what edgeinfer's
  ``plan_placement`` does for the pipeline; reported beside, as the strongest baseline.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import ray
from paths_local import PathResult
from workload import Workload

from edgeinfer.bench import BenchScene
from edgeinfer.detect import Detector, RuntimeOptions, load_model_info, objects_from_output
from edgeinfer.detect.pipeline import cloud_fraction
from edgeinfer.mission.actors import loopback_address
from edgeinfer.scene import Tile, iter_tiles, open_scene, tile_windows

SLOT = "edgeinfer_satellite_slot"


def start_ray(cpus: int) -> None:
    """One local Ray for every Ray path (loopback, no dashboard)."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    # this script's module is not importable in Ray's workers: ship its functions and the
    # Ray Data class by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # type: ignore[no-untyped-call]
    if not ray.is_initialized():
        ray.init(
            _node_ip_address=loopback_address(),
            include_dashboard=False,
            num_cpus=cpus,
            resources={SLOT: 1024},
            log_to_driver=False,
            logging_level=logging.WARNING,
        )


def _peak_rss_mib(_self: Any) -> float:
    """Peak resident set size of the calling process (Linux VmHWM), MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _clocks(self: Any) -> tuple[float, float, float]:
    """The group's process CPU seconds, then the wall and the CPU seconds its detectors spent
    inside ``session.run`` (every lane; the CPU is the calling threads', the sessions' own with
    one-thread sessions, so wall minus CPU is time spent waiting for a core)."""
    return time.process_time(), float(self.engine.session_s), float(self.engine.session_cpu_s)


def _providers(self: Any) -> dict[str, str]:
    """The provider each of the group's models runs on."""
    return dict(self.engine.providers())


def _counters(self: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for node in self.nodes.values():
        for key, value in node.counters.items():
            total[key] = total.get(key, 0) + int(value)
    return total


def run_pipeline(
    workload: Workload,
    warm: BenchScene,
    name: str = "pipeline",
    overrides: dict[str, Any] | None = None,
) -> PathResult:
    """The satellite actors on ``workload`` (module docstring); ``detail`` has each actor's
    peak RSS and the nodes' counters. ``overrides``: mission keys (``{"detection.lanes": 1}``)."""
    from edgeinfer.mission import load_mission
    from edgeinfer.mission.actors import RayExecutor
    from edgeinfer.mission.build import node_settings, plan_placement
    from edgeinfer.node.events import Capture
    from edgeinfer.node.settings import SceneRef

    n = workload.captures
    config = load_mission(None, {"constellation.n_satellites": n, **(overrides or {})})
    executor = RayExecutor(None, config.execution.satellite_resource)
    try:
        names = tuple(f"BENCH-{i}" for i in range(n))
        placement = plan_placement(config, names, executor.cpus)
        settings = node_settings(config, placement.threads, config.mission.start.timestamp(), None)
        ground = executor.ground(None, ["bench"])
        warm_ref = SceneRef("warm", str(warm.path))
        groups = []
        for members in placement.groups:
            refs = [SceneRef(f"capture_{i}", str(workload.scene.path)) for i, _ in members]
            groups.append(
                executor.group(
                    members, settings, [*refs, warm_ref], ground, placement.cpus_per_actor
                )
            )
        step_s, duration_s = 10.0, 3600.0
        runs = _Windows(executor, groups, [[i for i, _ in m] for m in placement.groups])
        runs.configure(
            step_s,
            duration_s,
            [
                (50.0, lambda i: Capture(0.0, i, "warm", 0.0, 0.0)),
                (duration_s, lambda i: Capture(100.0, i, f"capture_{i}", 100.0, 100.0)),
            ],
        )
        runs.run(0)  # the warm-up capture
        clocks0 = ray.get([h.__ray_call__.remote(_clocks) for h in groups])
        before = ray.get([h.__ray_call__.remote(_counters) for h in groups])
        t0, driver0 = time.perf_counter(), time.process_time()
        runs.run(1)
        seconds, driver_cpu = time.perf_counter() - t0, time.process_time() - driver0
        clocks1 = ray.get([h.__ray_call__.remote(_clocks) for h in groups])
        rss = ray.get([h.__ray_call__.remote(_peak_rss_mib) for h in groups])
        counts = ray.get([h.__ray_call__.remote(_counters) for h in groups])
        providers = ray.get([h.__ray_call__.remote(_providers) for h in groups])
    finally:
        executor.shutdown()
    total = {
        k: sum(c.get(k, 0) for c in counts) - sum(b.get(k, 0) for b in before) for k in counts[0]
    }
    # each clock's advance over the timed run, summed over the groups
    cpu_actors, session_wall, session_cpu = (
        float(sum(b[k] - a[k] for a, b in zip(clocks0, clocks1, strict=True))) for k in range(3)
    )
    return PathResult(
        name,
        seconds,
        total["tiles_captured"],
        driver_cpu + cpu_actors,
        total["alerts_raised"],
        {
            "actors": len(groups),
            "cpu_s_actors": round(cpu_actors, 3),
            "cpu_s_driver": round(driver_cpu, 3),
            # inside session.run, wall and CPU: cpu_s_actors minus the CPU is the pipeline's
            # own work and Ray's threads in the actors
            "session_run_s": round(session_wall, 3),
            "session_run_cpu_s": round(session_cpu, 3),
            "satellites_per_actor": placement.satellites_per_actor,
            "intra_op_threads": placement.threads,
            "peak_rss_mib_per_actor": [round(r, 1) for r in rss],
            # where each model ran, over every actor: {"cloud_sentinel2": ["cuda"], ...}
            "runs_on": {
                m: sorted({p[m] for p in providers if m in p})
                for m in sorted(set().union(*providers))
            },
            "counters": total,
        },
    )


class _Windows:
    """Drives satellite groups window by window through either group API: ``configure``
    taking the windows of events then ``run(window)`` (checkpointed groups, issue 6), or
    ``run(events, until_s)``."""

    def __init__(self, executor: Any, groups: list[Any], members: list[list[int]]) -> None:
        from edgeinfer.node.group import SatelliteGroup

        self.executor = executor
        self.groups = groups
        self.members = members
        self.by_window = "windows" in inspect.signature(SatelliteGroup.configure).parameters
        self.windows: list[tuple[float, Any]] = []

    def configure(self, step_s: float, duration_s: float, windows: list[tuple[float, Any]]) -> None:
        steps = round(duration_s / step_s)
        self.windows = windows
        calls = []
        for h, sats in zip(self.groups, self.members, strict=True):
            args: list[Any] = [step_s, duration_s, *_duty(len(sats), steps)]
            if self.by_window:
                args.append([(until, [make(i) for i in sats]) for until, make in windows])
            calls.append(self.executor.call(h, "configure", *args))
        self.executor.get(calls)

    def run(self, w: int) -> None:
        until, make = self.windows[w]
        calls = []
        for h, sats in zip(self.groups, self.members, strict=True):
            if self.by_window:
                calls.append(self.executor.call(h, "run", w))
            else:
                calls.append(self.executor.call(h, "run", [make(i) for i in sats], until))
        self.executor.get(calls)


def _duty(k: int, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Always sunlit, not imaging, not transmitting: the budgets grant every tile."""
    return np.ones((k, steps)), np.zeros((k, steps)), np.zeros((k, steps))


class _DetectTiles:
    """Ray Data's callable class: the same Detectors (cloud screen, fire, ship, alerts)."""

    def __init__(
        self,
        models: dict[str, str],
        scene: str,
        tile: int,
        threshold: float,
        batch: int,
        intra_op_threads: int | None = 1,
    ) -> None:
        # None: onnxruntime's defaults, spinning included, as ort.InferenceSession(path) has
        options = RuntimeOptions(
            "cpu", intra_op_threads=intra_op_threads, allow_spinning=intra_op_threads is None
        )
        self.detectors = {
            d: Detector(load_model_info(p), options, batch) for d, p in models.items()
        }
        self.scene = open_scene(scene)
        self.tile = tile
        self.threshold = threshold
        self.cpu0 = time.process_time()  # CPU after loading: what the batches cost is above it

    def _tile(
        self,
        data: np.ndarray,
        valid: np.ndarray,
        col: int,
        row: int,
        cw: int,
        ch: int,
        core: Sequence[int],
    ) -> Tile:
        from affine import Affine
        from rasterio.windows import Window

        s = self.scene
        return Tile(
            scene_id=s.scene_id,
            tile_id=f"r{row}_c{col}",
            data=data,
            valid=valid,
            window=Window(col, row, cw, ch),
            core=Window(*core),
            bands=s.bands,
            transform=s.transform @ Affine.translation(col, row) if s.transform else None,
            crs=s.crs,
            pixel_size_m=s.pixel_size_m,
        )

    def detect(self, tiles: list[Tile]) -> list[int]:
        counts = [0] * len(tiles)
        keep = [k for k, t in enumerate(tiles) if t.valid.any()]
        if not keep:
            return counts
        outs = self.detectors["cloud"].run([tiles[k] for k in keep])
        clear = [
            k
            for k, o in zip(keep, outs, strict=True)
            if cloud_fraction(o, tiles[k].valid) <= self.threshold
        ]
        for d in ("fire", "ship"):
            runner = self.detectors[d]
            for k, out in zip(clear, runner.run([tiles[k] for k in clear]), strict=True):
                counts[k] += len(objects_from_output(tiles[k], out, runner.info))
        return counts

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(batch["col"])
        if "data" in batch:
            datas, valids = list(batch["data"]), list(batch["valid"])
        else:
            from rasterio.windows import Window

            names = tuple(b.name for b in self.scene.bands)
            reads = [
                self.scene.read(Window(int(c), int(r), self.tile, self.tile), names)
                for c, r in zip(batch["col"], batch["row"], strict=True)
            ]
            datas, valids = [a for a, _ in reads], [v for _, v in reads]
        tiles = [
            self._tile(
                datas[k],
                valids[k],
                int(batch["col"][k]),
                int(batch["row"][k]),
                int(batch["width"][k]),
                int(batch["height"][k]),
                batch["core"][k],
            )
            for k in range(n)
        ]
        alerts = np.asarray(self.detect(tiles), dtype=np.int64)
        return {
            "alerts": alerts,
            "pid": np.full(n, os.getpid(), dtype=np.int64),
            "cpu_s": np.full(n, time.process_time() - self.cpu0),
        }


def run_ray_data(
    workload: Workload, read_in_actors: bool = False, intra_op_threads: int | None = 1
) -> PathResult:
    """Ray Data over the workload (module docstring); ``intra_op_threads`` None keeps
    onnxruntime's default thread pool in each actor's sessions."""
    import ray.data

    logging.getLogger("ray.data").setLevel(logging.WARNING)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.verbose_progress = False
    models = {d: str(m.path) for d, m in workload.models.items()}
    t0, c0 = time.perf_counter(), time.process_time()
    items: list[dict[str, Any]] = []
    with open_scene(workload.scene.path) as scene:
        for _ in range(workload.captures):
            if read_in_actors:
                windows = tile_windows(
                    scene.width, scene.height, workload.tile_size, workload.overlap
                )
                for w, core in windows:
                    items.append(
                        _item(int(w.col_off), int(w.row_off), int(w.width), int(w.height), core)
                    )
            else:
                for t in iter_tiles(scene, workload.tile_size, workload.overlap, workload.bands):
                    item = _item(
                        int(t.window.col_off),
                        int(t.window.row_off),
                        int(t.window.width),
                        int(t.window.height),
                        t.core,
                    )
                    item["data"], item["valid"] = t.data, t.valid
                    items.append(item)
    ds = ray.data.from_items(items)
    result = ds.map_batches(
        _DetectTiles,
        fn_constructor_kwargs={
            "models": models,
            "scene": str(workload.scene.path),
            "tile": workload.tile_size,
            "threshold": workload.cloud_threshold,
            "batch": workload.batch_size,
            "intra_op_threads": intra_op_threads,
        },
        batch_size=workload.batch_size,
        compute=ray.data.ActorPoolStrategy(size=workload.threads_total),
        num_cpus=1,
    )
    alerts = 0
    first_s = None
    actor_cpu: dict[int, float] = {}  # actor pid -> its CPU seconds on batches so far
    for row in result.iter_rows():
        if first_s is None:
            first_s = time.perf_counter() - t0
        alerts += int(row["alerts"])
        pid = int(row["pid"])
        actor_cpu[pid] = max(actor_cpu.get(pid, 0.0), float(row["cpu_s"]))
    seconds = time.perf_counter() - t0
    driver_cpu = time.process_time() - c0
    name = "ray_data" if intra_op_threads is None else "ray_data_tuned"
    if read_in_actors:
        name += "_read_in_actors"
    return PathResult(
        name,
        seconds,
        len(items),
        driver_cpu + sum(actor_cpu.values()),
        alerts,
        {
            "actors": workload.threads_total,
            "intra_op_threads": intra_op_threads or "onnxruntime default",
            "first_result_s": None if first_s is None else round(first_s, 3),
            "cpu_s_actors": round(sum(actor_cpu.values()), 3),
            "cpu_s_driver": round(driver_cpu, 3),
        },
    )


def _item(col: int, row: int, width: int, height: int, core: Any) -> dict[str, Any]:
    return {
        "col": col,
        "row": row,
        "width": width,
        "height": height,
        "core": np.array([core.col_off, core.row_off, core.width, core.height], dtype=np.int64),
    }
