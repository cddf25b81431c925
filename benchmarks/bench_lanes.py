"""``edgeinfer detect``'s lanes: one session per model with every thread as intra-op threads
(lanes = 1, how detect ran before lanes) against one single-thread lane per thread, at batch
8, 2 and 1 (the CPU default since session 7), on the run_all workload scene.

    .venv/bin/python benchmarks/bench_lanes.py [--grid 8x6] [--repeat 3] [--json OUT]

Each setting (lanes, batch) runs ``detect_scene`` on the whole scene (disk -> tiles -> cloud
screen -> fire and ship -> alerts) in a fresh child process, alternating settings
``--repeat`` times; the child reports wall seconds, CPU seconds and its peak RSS (``ru_maxrss``).
Prints tiles/s, CPU s and peak RSS per setting (best of the repeats) and their ratios against
lanes = 1 at batch 8 (detect before lanes) measured in the same run, and checks that every
run found the same alerts (in the same order for the same batch).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from child import run_json_child
from run_all import parse_grid
from workload import make_workload


def child(scene: str, lanes: int, threads: int, batch: int) -> dict[str, Any]:
    """One ``detect_scene`` in this process (the child's side)."""
    from edgeinfer.detect.pipeline import detect_scene
    from edgeinfer.scene import open_scene

    with open_scene(scene) as sc:
        c0, t0 = time.process_time(), time.perf_counter()
        result = detect_scene(
            sc, ["cloud", "fire", "ship"], "cpu", batch_size=batch, threads=threads, lanes=lanes
        )
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    return {
        "batch": batch,
        "lanes": result.lanes,
        "threads_per_lane": result.threads_per_lane,
        "tiles": result.tiles_total,
        "alerts": [a.alert_id for a in result.alerts],
        "seconds": wall,
        "cpu_s": cpu,
        "peak_rss_mib": hwm,
    }


def run_child(scene: str, lanes: int, threads: int, batch: int) -> dict[str, Any]:
    return run_json_child(__file__, [scene, str(lanes), str(threads), str(batch)])


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        scene, lanes, threads, batch = sys.argv[2], *(int(v) for v in sys.argv[3:6])
        print(json.dumps(child(scene, lanes, threads, batch)))
        return 0
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--grid", type=parse_grid, default=(8, 6))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)
    threads = os.cpu_count() or 1
    # (lanes, batch); lanes 1 at batch 8: detect before lanes; batch 1: the CPU default now
    settings = ((1, 8), (threads, 8), (1, 2), (threads, 2), (1, 1), (threads, 1))
    runs: dict[tuple[int, int], list[dict[str, Any]]] = {s: [] for s in settings}
    with tempfile.TemporaryDirectory() as tmp:
        workload = make_workload(Path(tmp), *a.grid)
        scene = str(workload.scene.path)
        run_child(scene, 1, threads, 8)  # warm the page cache and the imports
        for k in range(a.repeat):
            for lanes, batch in settings:
                r = run_child(scene, lanes, threads, batch)
                runs[(lanes, batch)].append(r)
                print(
                    f"({k + 1}/{a.repeat}) batch {batch}, lanes {r['lanes']} x "
                    f"{r['threads_per_lane']} "
                    f"threads: {r['tiles'] / r['seconds']:.2f} tiles/s, {r['cpu_s']:.1f} CPU s, "
                    f"peak RSS {r['peak_rss_mib']:.0f} MiB, {len(r['alerts'])} alerts",
                    flush=True,
                )
    # the same alerts everywhere; in the same order for the same batch (alerts come detector
    # by detector within a batch, so the batch size changes their order, not the alerts)
    ordered = {batch: runs[(1, batch)][0]["alerts"] for _, batch in settings}
    same = all(
        r["alerts"] == ordered[batch] and sorted(r["alerts"]) == sorted(ordered[8])
        for (_, batch), rs in runs.items()
        for r in rs
    )
    best = {s: min(rs, key=lambda r: r["seconds"]) for s, rs in runs.items()}
    base = best[settings[0]]
    summary: dict[str, Any] = {"threads": threads, "same_alerts": same, "settings": {}}
    for (lanes, batch), r in best.items():
        row = {
            "batch": batch,
            "lanes": r["lanes"],
            "threads_per_lane": r["threads_per_lane"],
            "tiles_per_s": round(r["tiles"] / r["seconds"], 3),
            "cpu_s": round(r["cpu_s"], 2),
            "peak_rss_mib": round(r["peak_rss_mib"], 1),
            "speed_vs_base": round(base["seconds"] / r["seconds"], 3),
            "cpu_vs_base": round(r["cpu_s"] / base["cpu_s"], 3),
            "rss_vs_base": round(r["peak_rss_mib"] / base["peak_rss_mib"], 3),
        }
        summary["settings"][f"lanes{lanes}_batch{batch}"] = row
        print(
            f"batch {batch}, lanes {row['lanes']} x {row['threads_per_lane']} threads: "
            f"{row['tiles_per_s']} tiles/s ({row['speed_vs_base']}x), CPU "
            f"{row['cpu_vs_base']}x, peak RSS {row['peak_rss_mib']} MiB "
            f"({row['rss_vs_base']}x) [best of {a.repeat}]"
        )
    print(f"same alerts in every run: {same}")
    if a.json is not None:
        a.json.write_text(json.dumps(summary, indent=2))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
