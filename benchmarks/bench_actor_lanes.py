"""Lanes in a satellite actor: one satellite with every core, one lane against ``auto``.

    .venv/bin/python benchmarks/bench_actor_lanes.py [--grid 16x12] [--repeat 2] [--work DIR]

``run_all.py``'s pipeline path (scene on disk -> tiles -> detectors -> alerts, through a Ray
satellite actor) with ONE satellite, so the actor gets every core as threads: with
``[detection] lanes = 1`` (the threads as intra-op threads of one set of sessions, as before
lanes reached the node) and ``lanes = "auto"`` (one single-thread lane per core, up to 4),
alternated ``--repeat`` times in the same Ray. Prints each run, the best tiles/s of each and
their ratio, and checks that both found the same alerts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

SETTINGS: dict[str, dict[str, Any]] = {
    "1 lane": {"detection.lanes": 1},
    "auto": {"detection.lanes": "auto"},
}


def main(argv: list[str] | None = None) -> int:
    from run_all import parse_grid

    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--grid", type=parse_grid, default=(16, 12))
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument(
        "--work", type=Path, default=None, help="keep the scenes here (default: temp, removed)"
    )
    a = p.parse_args(argv)
    from workload import work_folder

    with work_folder(a.work, "edgeinfer-actor-lanes-") as work:  # scenes: ~570 MB at 16x12
        return compare(a, work)


def compare(a: argparse.Namespace, work: Path) -> int:
    """Both lane settings, ``a.repeat`` times each, on scenes made in ``work``."""
    from paths_ray import run_pipeline, start_ray
    from workload import make_workload

    from edgeinfer.bench import describe_machine, machine_line, make_scene, tiled_size

    cols, rows = a.grid
    workload = make_workload(work, cols, rows, captures=1)
    warm = make_scene(work / "warm_2x1.tif", *tiled_size(2, 1))
    print(f"machine: {machine_line(describe_machine())}")
    start_ray(workload.threads_total)
    best: dict[str, float] = {}
    alerts: set[int | None] = set()
    for k in range(a.repeat):
        for label, overrides in SETTINGS.items():
            r = run_pipeline(workload, warm, label, overrides)
            alerts.add(r.alerts)
            best[label] = max(best.get(label, 0.0), r.tiles_per_s)
            print(
                f"{label:>7} ({k + 1}/{a.repeat}): {r.tiles} tiles in {r.seconds:.2f} s = "
                f"{r.tiles_per_s:.2f} tiles/s, CPU {r.cpu_s:.1f} s, {r.alerts} alerts, "
                f"peak RSS {r.detail['peak_rss_mib_per_actor'][0]:.0f} MiB",
                flush=True,
            )
    ratio = best["auto"] / best["1 lane"]
    print(f"best: 1 lane {best['1 lane']:.2f}, auto {best['auto']:.2f} tiles/s: {ratio:.2f}x")
    if len(alerts) != 1:
        print(f"ALERTS DIFFER between runs: {sorted(a for a in alerts if a is not None)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
