"""Where a satellite's time goes: profile one capture of the benchmark scene with pyinstrument.

    .venv/bin/python benchmarks/profile_pipeline.py [--grid 8x6] [--work DIR] [--json OUT]
        [--html OUT.html]

Runs ONE ``SatelliteGroup`` (the class the Ray actors host) in this process, with one
satellite and one onnxruntime thread (what each actor runs with on a 2-core machine; the
session then runs in the calling thread), on the ``run_all.py`` workload scene: a warm-up
capture, then one measured capture (read, cloud screen, budgets, fire and ship models,
alerts, packets). The functions in ``TIMED`` are wrapped to add up CPU time per stage
(:class:`CpuStages`), which a loaded machine does not distort; ``--html`` also records a
pyinstrument (wall-clock) profile of the same capture.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

#: (stage, module, attribute path) of the functions timed; a call's CPU time goes to its
#: stage minus the time of the timed calls inside it (so each stage counts its own work).
TIMED: tuple[tuple[str, str, str], ...] = (
    ("onnxruntime session.run", "onnxruntime", "InferenceSession.run"),
    (
        "read tiles (rasterio, masks, calibration)",
        "edgeinfer.scene.raster",
        "RasterScene.read_arrays",
    ),
    (
        "detector batching (bands, scaling, outputs)",
        "edgeinfer.detect.runtime",
        "Detector._run_batch",
    ),
    ("alerts (components, sizes, lon/lat)", "edgeinfer.node.engine", "objects_from_output"),
    ("cloud fraction", "edgeinfer.node.engine", "cloud_fraction"),
    ("alert records, packets, onboard queue", "edgeinfer.node.satellite", "SatelliteNode._raise"),
    ("budgets (power, thermal, backlog)", "edgeinfer.node.fleet", "Fleet.advance"),
)


class CpuStages:
    """Wraps the ``TIMED`` functions to add up the calling thread's CPU time per stage
    (``time.thread_time``: unlike a sampling profiler's wall clock, it does not count the time
    the process waits for a core on a loaded machine)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._stack: list[list[float]] = []
        self._undo: list[tuple[Any, str, Any]] = []

    def _wrap(self, stage: str, fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            frame = [time.thread_time(), 0.0]
            self._stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                self._stack.pop()
                spent = time.thread_time() - frame[0]
                self.seconds[stage] = self.seconds.get(stage, 0.0) + spent - frame[1]
                if self._stack:
                    self._stack[-1][1] += spent

        return timed

    def __enter__(self) -> CpuStages:
        import importlib

        for stage, module, path in TIMED:
            owner: Any = importlib.import_module(module)
            *parents, name = path.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            original = getattr(owner, name)
            own = owner.__dict__.get(name) if isinstance(owner, type) else original
            self._undo.append((owner, name, own))
            setattr(owner, name, self._wrap(stage, original))
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._undo):
            if original is None:  # inherited: drop the wrapper to uncover the base's
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        self._undo.clear()


def profile_capture(work: Path, grid: tuple[int, int], html: bool = False) -> dict[str, Any]:
    """Profile one satellite's capture of the ``grid`` benchmark scene (module docstring)."""
    import numpy as np
    from pyinstrument import Profiler
    from workload import make_workload

    from edgeinfer.bench import make_scene, tiled_size
    from edgeinfer.mission import load_mission
    from edgeinfer.mission.actors import ACTOR_GDAL_CACHE_MB
    from edgeinfer.mission.build import node_settings
    from edgeinfer.node.events import Capture
    from edgeinfer.node.group import SatelliteGroup
    from edgeinfer.node.settings import SceneRef
    from edgeinfer.scene import set_gdal_cache_mb

    # the GDAL block cache each satellite actor runs with (GDAL's default, 5 % of RAM, takes
    # fresh memory for every block of a first pass: 4.3 against 1.6-2.0 ms to read a tile)
    set_gdal_cache_mb(ACTOR_GDAL_CACHE_MB)
    workload = make_workload(work, *grid, captures=1, threads_total=1)
    warm = make_scene(work / "warm_2x1.tif", *tiled_size(2, 1))
    config = load_mission(None, {"constellation.n_satellites": 1})
    settings = node_settings(config, 1, config.mission.start.timestamp(), None)

    class _Ground:
        def receive(self, packets: Any, t_s: float, station: str) -> list[Any]:
            return []

    refs = [SceneRef("bench", str(workload.scene.path)), SceneRef("warm", str(warm.path))]
    group = SatelliteGroup([(0, "BENCH-0")], settings, refs, _Ground())
    steps = 360
    duty = (np.ones((1, steps)), np.zeros((1, steps)), np.zeros((1, steps)))
    windows: list[tuple[float, list[Any]]] = [
        (50.0, [Capture(0.0, 0, "warm", 0.0, 0.0)]),
        (3600.0, [Capture(100.0, 0, "bench", 100.0, 100.0)]),
    ]
    legacy: Any = group  # the group API before issue 6: run(events, until_s)
    by_window = "windows" in __import__("inspect").signature(group.configure).parameters
    if by_window:
        group.configure(10.0, 3600.0, *duty, windows)
        group.run(0)
    else:
        group.configure(10.0, 3600.0, *duty)
        legacy.run(windows[0][1], windows[0][0])
    profiler = Profiler(interval=0.001) if html else None
    with CpuStages() as stages:
        c0, t0 = time.thread_time(), time.perf_counter()
        if profiler is not None:
            profiler.start()
        if by_window:
            group.run(1)
        else:
            legacy.run(windows[1][1], windows[1][0])
        if profiler is not None:
            profiler.stop()
        wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    counters = dict(group.nodes[0].counters)
    group.close()
    totals = dict(stages.seconds)
    totals["other (node logic, tiling, Python)"] = cpu - sum(totals.values())
    return {
        "grid": list(grid),
        "tiles": counters["tiles_captured"] - len(tiled_windows(warm)),
        "tiles_inferred_total": counters["tiles_inferred"],
        "alerts_raised_total": counters["alerts_raised"],
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "stages_cpu_s": {k: round(v, 3) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])},
        "stages_share": {k: round(v / cpu, 4) for k, v in totals.items()},
        "profiler": profiler,
    }


def tiled_windows(scene: Any) -> list[Any]:
    from edgeinfer.scene import tile_windows

    return tile_windows(scene.width, scene.height, 512, 64)


def main(argv: list[str] | None = None) -> int:
    from run_all import parse_grid

    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--grid", type=parse_grid, default=(8, 6))
    p.add_argument(
        "--work", type=Path, default=None, help="keep the scene here (default: temp, removed)"
    )
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--html", type=Path, default=None, help="also write pyinstrument's HTML")
    a = p.parse_args(argv)

    from edgeinfer.bench import describe_machine, machine_line
    from edgeinfer.scene import set_gdal_cache_mb

    set_gdal_cache_mb(64)
    from workload import work_folder

    with work_folder(a.work, "edgeinfer-profile-") as work:  # the scene: ~150 MB at 8x6
        result = profile_capture(work, a.grid, html=a.html is not None)
    profiler = result.pop("profiler")
    result["machine"] = describe_machine()
    print(f"machine: {machine_line(result['machine'])}")
    per_tile_ms = result["cpu_s"] / max(result["tiles"], 1) * 1e3
    print(
        f"one capture, {result['tiles']} tiles: {result['wall_s']:.2f} s wall, "
        f"{result['cpu_s']:.2f} s CPU ({per_tile_ms:.1f} ms per tile)"
    )
    print(f"{'stage':<46}{'CPU s':>8}{'share':>8}")
    for stage, seconds in result["stages_cpu_s"].items():
        print(f"{stage:<46}{seconds:>8.2f}{result['stages_share'][stage]:>8.1%}")
    if a.html and profiler is not None:
        a.html.write_text(profiler.output_html())
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
