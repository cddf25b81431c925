"""``gpu_check.py``'s ``actors`` step: ``run_all.py``'s pipeline (the Ray satellite actors) and
its bare onnxruntime ceiling, on the CPU and on CUDA, on a machine with a GPU.

The same workload as ``run_all.py`` (the mirror-tiled coast scene, captured once per
satellite; cloud screen, then fire and ship on the clear tiles, then the alerts), the same two
paths (``paths_ray.run_pipeline``, ``paths_local.run_bare`` in its ``threads`` layout), with
``detection.provider`` set to ``cpu`` and to ``cuda``. On CUDA the mission gives every actor
an equal fraction of the GPU (``edgeinfer.mission.capacity``), and bare runs one thread per
core, each with single-thread CUDA sessions of the models, all sharing the one GPU.
Each provider runs ``rounds`` bare/pipeline pairs in turn; the rows keep every run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from paths_local import preload, run_bare
from paths_ray import run_pipeline, start_ray
from workload import make_workload

from edgeinfer.bench import make_scene, tiled_size


def actors(
    work: Path,
    grid: tuple[int, int],
    satellites: int | None,
    rounds: int,
    providers: tuple[str, ...] = ("cpu", "cuda"),
    per_actor: tuple[int | None, ...] = (None,),
) -> list[dict[str, Any]]:
    """Rows of ``{"provider", "path", "tiles_per_s", "alerts", ...}`` (module docstring).
    ``per_actor``: the pipeline's ``execution.satellites_per_actor`` settings to run (None:
    the mission's ``auto``), each against the bare run just before it."""
    import ray

    cpus = os.cpu_count() or 1
    workload = make_workload(work, *grid, captures=satellites or cpus, threads_total=cpus)
    warm = make_scene(work / "warm_2x1.tif", *tiled_size(2, 1))
    start_ray(cpus)
    gpus = float(ray.cluster_resources().get("GPU", 0.0))  # type: ignore[no-untyped-call]
    pre = preload(workload)  # the cloud decisions and every batch's inputs, in host memory
    rows: list[dict[str, Any]] = []
    try:
        for provider in providers:
            for k in range(rounds):
                for group in per_actor:
                    bare = run_bare(workload, pre, "threads", provider)
                    overrides: dict[str, Any] = {"detection.provider": provider}
                    if group is not None:
                        overrides["execution.satellites_per_actor"] = group
                    pipe = run_pipeline(workload, warm, f"pipeline_{provider}", overrides)
                    for result in (bare, pipe):
                        row = {
                            "provider": provider,
                            "round": k,
                            "per_actor_setting": group or "auto",
                            "path": result.name,
                            "ray_gpus": gpus,
                            **result.as_dict(),
                        }
                        rows.append(row)
                        print(f"actors {row}", flush=True)
                    ratio = round(pipe.tiles_per_s / bare.tiles_per_s, 4)
                    rows.append({"provider": provider, "round": k, "pipeline_vs_bare": ratio})
                    print(f"actors {rows[-1]}", flush=True)
    finally:
        pre.items.clear()
        if ray.is_initialized():
            ray.shutdown()
    return rows
