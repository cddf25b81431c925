"""Two of ``run_all.py``'s paths that run in this process: bare onnxruntime (the ceiling) and
the naive loop a user writes first.

* **bare**: the workload's tiles are read, cut and turned into model inputs BEFORE the clock
  starts (every model's ``x`` and ``valid`` batches, and which tiles the cloud screen keeps);
  timed is only ``session.run``: the cloud model on every non-empty tile, fire and ship on the
  clear ones, once per capture. Two ways to spend the same total threads: ``threads`` Python
  threads, each with its own single-threaded sessions, pulling batches from one queue; or one
  thread whose sessions use all of them (intra-op). The better one is the ceiling.
* **naive**: one process, onnxruntime's default session options, and per tile: a rasterio
  window read (padded with nodata past the scene edge), DN -> reflectance, the validity mask,
  ``session.run`` of each model on that one tile, the cloud decision and the alerts.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from workload import Workload

from edgeinfer.detect import Detector, ModelInfo, RuntimeOptions, objects_from_output
from edgeinfer.detect.pipeline import cloud_fraction
from edgeinfer.detect.runtime import DetectorOutput
from edgeinfer.scene import Tile, iter_tiles, open_scene, tile_windows

OUTPUTS = ["class", "confidence"]
Feeds = dict[str, np.ndarray]


@dataclass
class PathResult:
    """One timed path: wall seconds for ``tiles`` tiles, CPU seconds of the processes that
    did the work (None where unknown), alerts found, and details."""

    name: str
    seconds: float
    tiles: int
    cpu_s: float | None = None
    alerts: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def tiles_per_s(self) -> float:
        return self.tiles / self.seconds if self.seconds > 0 else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 4),
            "tiles": self.tiles,
            "tiles_per_s": round(self.tiles_per_s, 4),
            "cpu_s": None if self.cpu_s is None else round(self.cpu_s, 3),
            "alerts": self.alerts,
            **self.detail,
        }


def model_inputs(info: ModelInfo, tiles: Sequence[Tile]) -> Feeds:
    """The ``x``/``valid`` (and aux) inputs of ``tiles`` for ``info``, as the runtime makes
    them (bands by name, the model's scaling, 0 on invalid pixels)."""
    index = [tiles[0].band_names.index(b) for b in info.bands]
    x = np.stack([t.data[index] for t in tiles]).astype(np.float32)
    valid = np.stack([t.valid for t in tiles])[:, np.newaxis].astype(np.float32)
    info.scaling.apply(x)
    x *= valid
    feeds: Feeds = {"x": x, "valid": valid}
    if "pixel_size_m" in info.aux_inputs:
        feeds["pixel_size_m"] = np.array([tiles[0].pixel_size_m], dtype=np.float32)
    return feeds


@dataclass
class Preloaded:
    """Bare's inputs: (detector, feeds) batches of one capture, in pipeline order."""

    items: list[tuple[str, Feeds]]
    tiles: int
    nonempty: int
    clear: int


def preload(workload: Workload) -> Preloaded:
    """Read and cut the scene, decide the cloud screen and build every batch's inputs."""
    b = workload.batch_size
    with open_scene(workload.scene.path) as scene:
        tiles = list(iter_tiles(scene, workload.tile_size, workload.overlap, workload.bands))
    nonempty = [t for t in tiles if t.valid.any()]
    cloud = Detector(workload.models["cloud"], RuntimeOptions("cpu", intra_op_threads=1), b)
    outs = cloud.run(nonempty)
    clear = [
        t
        for t, o in zip(nonempty, outs, strict=True)
        if cloud_fraction(o, t.valid) <= workload.cloud_threshold
    ]
    items: list[tuple[str, Feeds]] = []
    for detector, members in (("cloud", nonempty), ("fire", clear), ("ship", clear)):
        info = workload.models[detector]
        for start in range(0, len(members), b):
            items.append((detector, model_inputs(info, members[start : start + b])))
    return Preloaded(items, len(tiles), len(nonempty), len(clear))


def _sessions(workload: Workload, intra_threads: int, provider: str = "cpu") -> dict[str, Any]:
    options = RuntimeOptions(provider, intra_op_threads=intra_threads)
    return {
        d: Detector(m, options, workload.batch_size).session for d, m in workload.models.items()
    }


def run_bare(workload: Workload, pre: Preloaded, mode: str, provider: str = "cpu") -> PathResult:
    """Time only ``session.run`` over the preloaded batches of every capture. ``mode``:
    ``threads`` (T threads x 1-thread sessions) or ``intra`` (1 thread x T-thread sessions).
    ``provider``: where the sessions run (``cuda``: the inputs are copied from host memory in
    every ``session.run``, as plain onnxruntime does)."""
    threads = workload.threads_total
    n_workers, intra = (threads, 1) if mode == "threads" else (1, threads)
    sessions = [_sessions(workload, intra, provider) for _ in range(n_workers)]
    for s in sessions:  # warm-up: first runs allocate onnxruntime's arenas
        for detector, feeds in pre.items[:6]:
            s[detector].run(OUTPUTS, feeds)
    work: queue.SimpleQueue[tuple[str, Feeds] | None] = queue.SimpleQueue()
    for _ in range(workload.captures):
        for item in pre.items:
            work.put(item)
    for _ in range(n_workers):
        work.put(None)

    session_cpu: list[float] = []  # each worker thread's CPU seconds (its session.run calls)

    def worker(own: dict[str, Any]) -> None:
        c0 = time.thread_time()
        while (item := work.get()) is not None:
            own[item[0]].run(OUTPUTS, item[1])
        session_cpu.append(time.thread_time() - c0)

    pool = [threading.Thread(target=worker, args=(s,)) for s in sessions]
    c0, t0 = time.process_time(), time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return PathResult(
        f"bare_{mode}" if provider == "cpu" else f"bare_{mode}_{provider}",
        seconds,
        workload.captures * pre.tiles,
        cpu,
        None,
        {
            "workers": n_workers,
            "intra_op_threads": intra,
            "session_runs": len(pre.items),
            "runs_on": sorted({s.get_providers()[0] for s in sessions[0].values()}),
            # with one-thread sessions the same measure as the pipeline's session_run_cpu_s;
            # intra-op threads other than the calling one are not in it
            "session_run_cpu_s": round(sum(session_cpu), 3) if intra == 1 else None,
        },
    )


def run_naive(workload: Workload) -> PathResult:
    """The naive loop (module docstring); alerts as the pipeline makes them."""
    import onnxruntime as ort
    import rasterio
    from affine import Affine

    sessions = {
        d: ort.InferenceSession(str(m.path), providers=["CPUExecutionProvider"])
        for d, m in workload.models.items()
    }
    size = workload.tile_size
    alerts = tiles = 0
    c0, t0 = time.process_time(), time.perf_counter()
    with rasterio.open(workload.scene.path) as ds:
        scale = np.float32(ds.scales[0])
        nodata = ds.nodata
        with open_scene(workload.scene.path) as scene:  # georeference and bands for alerts
            bands = tuple(b for b in scene.bands)
            transform, crs, pixel_m = scene.transform, scene.crs, scene.pixel_size_m
        for _ in range(workload.captures):
            for window, core in tile_windows(ds.width, ds.height, size, workload.overlap):
                tiles += 1
                # the window is clipped at the right and bottom edges: pad with nodata
                dn = np.full((ds.count, size, size), nodata, dtype=ds.dtypes[0])
                dn[:, : int(window.height), : int(window.width)] = ds.read(window=window)
                valid = np.all(dn != nodata, axis=0)
                if not valid.any():
                    continue
                data = dn.astype(np.float32) * scale
                data[:, ~valid] = 0.0
                tile = Tile(
                    scene_id=workload.scene.path.stem,
                    tile_id=f"r{window.row_off}_c{window.col_off}",
                    data=data,
                    valid=valid,
                    window=window,
                    core=core,
                    bands=bands,
                    transform=transform @ Affine.translation(window.col_off, window.row_off)
                    if transform is not None
                    else None,
                    crs=crs,
                    pixel_size_m=pixel_m,
                )
                outs = {}
                for detector in ("cloud", "fire", "ship"):
                    info = workload.models[detector]
                    cls, conf = sessions[detector].run(OUTPUTS, model_inputs(info, [tile]))
                    outs[detector] = DetectorOutput(tile.tile_id, cls[0, 0], conf[0, 0])
                    if detector == "cloud":
                        if cloud_fraction(outs["cloud"], valid) > workload.cloud_threshold:
                            break
                    else:
                        alerts += len(objects_from_output(tile, outs[detector], info))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return PathResult("naive", seconds, tiles, cpu, alerts, {"intra_op_threads": "default"})
