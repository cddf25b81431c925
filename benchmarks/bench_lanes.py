"""``edgeinfer detect``'s lanes: one session per model with every thread as intra-op threads
(lanes = 1, how detect ran before lanes) against one single-thread lane per thread (the
default), on the run_all workload scene.

    .venv/bin/python benchmarks/bench_lanes.py [--grid 8x6] [--repeat 3] [--json OUT]

Each setting runs ``detect_scene`` on the whole scene (disk -> tiles -> cloud screen -> fire
and ship -> alerts, the models' default batch) in a fresh child process, alternating
settings ``--repeat`` times; the child reports wall seconds, CPU seconds and its peak RSS
(VmHWM). Prints tiles/s, CPU s and peak RSS per setting (best of the repeats) and their ratios
against lanes = 1 measured in the same run, and checks that every run found the same alerts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from run_all import parse_grid
from workload import make_workload

HERE = Path(__file__).resolve().parent


def child(scene: str, lanes: int, threads: int) -> dict[str, Any]:
    """One ``detect_scene`` in this process (the child's side)."""
    from edgeinfer.detect.pipeline import detect_scene
    from edgeinfer.scene import open_scene

    with open_scene(scene) as sc:
        c0, t0 = time.process_time(), time.perf_counter()
        result = detect_scene(sc, ["cloud", "fire", "ship"], "cpu", threads=threads, lanes=lanes)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    with open("/proc/self/status") as fh:
        hwm = next(int(x.split()[1]) for x in fh if x.startswith("VmHWM:")) / 1024.0
    return {
        "lanes": result.lanes,
        "threads_per_lane": result.threads_per_lane,
        "tiles": result.tiles_total,
        "alerts": [a.alert_id for a in result.alerts],
        "seconds": wall,
        "cpu_s": cpu,
        "peak_rss_mib": hwm,
    }


def run_child(scene: str, lanes: int, threads: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", scene, str(lanes), str(threads)],
        check=True,
        capture_output=True,
        text=True,
        cwd=HERE,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        scene, lanes, threads = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        print(json.dumps(child(scene, lanes, threads)))
        return 0
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--grid", type=parse_grid, default=(8, 6))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)
    threads = os.cpu_count() or 1
    settings = (1, threads)  # lanes
    runs: dict[int, list[dict[str, Any]]] = {s: [] for s in settings}
    with tempfile.TemporaryDirectory() as tmp:
        workload = make_workload(Path(tmp), *a.grid)
        scene = str(workload.scene.path)
        run_child(scene, 1, threads)  # warm the page cache and the imports
        for k in range(a.repeat):
            for lanes in settings:
                r = run_child(scene, lanes, threads)
                runs[lanes].append(r)
                print(
                    f"({k + 1}/{a.repeat}) lanes {r['lanes']} x {r['threads_per_lane']} "
                    f"threads: {r['tiles'] / r['seconds']:.2f} tiles/s, {r['cpu_s']:.1f} CPU s, "
                    f"peak RSS {r['peak_rss_mib']:.0f} MiB, {len(r['alerts'])} alerts",
                    flush=True,
                )
    reference = runs[1][0]["alerts"]
    same = all(r["alerts"] == reference for rs in runs.values() for r in rs)
    best = {s: min(rs, key=lambda r: r["seconds"]) for s, rs in runs.items()}
    base = best[1]
    summary: dict[str, Any] = {"threads": threads, "same_alerts": same, "settings": {}}
    for lanes, r in best.items():
        row = {
            "lanes": r["lanes"],
            "threads_per_lane": r["threads_per_lane"],
            "tiles_per_s": round(r["tiles"] / r["seconds"], 3),
            "cpu_s": round(r["cpu_s"], 2),
            "peak_rss_mib": round(r["peak_rss_mib"], 1),
            "speed_vs_one_lane": round(base["seconds"] / r["seconds"], 3),
            "cpu_vs_one_lane": round(r["cpu_s"] / base["cpu_s"], 3),
            "rss_vs_one_lane": round(r["peak_rss_mib"] / base["peak_rss_mib"], 3),
        }
        summary["settings"][str(lanes)] = row
        print(
            f"lanes {row['lanes']} x {row['threads_per_lane']} threads: "
            f"{row['tiles_per_s']} tiles/s ({row['speed_vs_one_lane']}x), CPU "
            f"{row['cpu_vs_one_lane']}x, peak RSS {row['peak_rss_mib']} MiB "
            f"({row['rss_vs_one_lane']}x) [best of {a.repeat}]"
        )
    print(f"same alerts in every run: {same}")
    if a.json is not None:
        a.json.write_text(json.dumps(summary, indent=2))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
