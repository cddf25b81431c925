"""``run_all.py``'s mission-level speeds, both as simulated seconds per wall second.

* **sim_speedup**: the sample mission (``edgeinfer run``'s default) with 8 satellites over its
  24 h at 10 s steps, through :func:`edgeinfer.api.run_mission` exactly as a user runs it:
  a local Ray started for the run, real reads and real inference on every capture, packets,
  passes, outputs and report. Wall time is the whole call.
* **orbit_budget_speedup**: :func:`edgeinfer.mission.dry_run` of the same 8-satellite mission:
  the orbit plan (propagation, contacts with both stations, eclipses, imaging windows) and
  every satellite's power and thermal budgets stepped through its events, no tiles and no
  inference. Best of ``repeat`` runs (the DE421 Sun ephemeris is loaded once, before).
  PASEOS, the nearest open-source peer, managed 379 simulated s per wall s for 8 satellites x
  24 h at 10 s steps with power and thermal on (issue 7).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

SATELLITES = 8


def sim_speedup(out_dir: Path, satellites: int = SATELLITES) -> dict[str, Any]:
    """Run the sample mission with ``satellites`` satellites; wall time of the whole call."""
    from edgeinfer.api import load_mission, run_mission

    config = load_mission(None, {"constellation.n_satellites": satellites})
    t0 = time.perf_counter()
    result = run_mission(config, out_dir)
    wall = time.perf_counter() - t0
    total = result.metrics["total"]
    run = result.metrics["run"]
    duration = float(config.mission.duration_s)
    return {
        "satellites": satellites,
        "simulated_s": duration,
        "time_step_s": float(config.mission.time_step_s),
        "wall_s": round(wall, 3),
        "sim_s_per_wall_s": round(duration / wall, 1),
        "wall_breakdown_s": run.get("wall_s"),
        "actors": run.get("actors"),
        "tiles_inferred": total.get("tiles_inferred"),
        "alerts_raised": total.get("alerts_raised"),
        "inference_measured_s": total.get("inference_measured_s"),
    }


def orbit_budget_speedup(satellites: int = SATELLITES, repeat: int = 3) -> dict[str, Any]:
    """Best-of-``repeat`` dry run (plan + budgets, no inference) of the sample mission with
    ``satellites`` satellites."""
    from edgeinfer.mission import dry_run, load_mission
    from edgeinfer.orbit import SunEphemeris

    config = load_mission(None, {"constellation.n_satellites": satellites})
    t0 = time.perf_counter()
    sun = SunEphemeris()
    sun_s = time.perf_counter() - t0
    best: Any = None
    best_s = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        run = dry_run(config, sun)
        wall = time.perf_counter() - t0
        if wall < best_s:
            best, best_s = run, wall
    duration = float(config.mission.duration_s)
    plan = best.plan
    return {
        "satellites": satellites,
        "simulated_s": duration,
        "time_step_s": float(config.mission.time_step_s),
        "steps": int(plan.n_steps),
        "wall_s": round(best_s, 4),
        "stages_s": {k: round(v, 4) for k, v in best.wall_s.items()},
        "sun_ephemeris_load_s": round(sun_s, 3),
        "sim_s_per_wall_s": round(duration / best_s, 1),
        "passes": len(plan.passes),
        "eclipses": len(plan.eclipses),
        "captures": len(plan.captures),
        "stations": len(config.ground_stations),
        "repeat": repeat,
        "paseos_reference_sim_s_per_wall_s": 379.0,
    }
