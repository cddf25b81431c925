"""Benchmark: orbits and budgets for a constellation over a day.

    .venv/bin/python benchmarks/bench_orbit.py [--sats 8] [--hours 24] [--step 10] [--tle FILE]

Times, for N satellites over H hours at S-second steps: propagation alone (sgp4 SatrecArray +
frames), contact windows against a few stations, eclipse intervals and per-step sunlit flags
(DE421 Sun), and the power + thermal budgets stepped over the whole grid (vectorised over
satellites). Prints wall times and simulated seconds per wall second (mission time; multiply
by N for satellite-seconds). The issue's bar: propagation of 8 satellites x 24 h x 10 s well
under a second; the mission engine wants >= 50,000 simulated s per wall s for the whole of it.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from edgeinfer.budget import PowerConfig, ThermalConfig, get_accelerator, run_budgets
from edgeinfer.orbit import (
    Constellation,
    SunEphemeris,
    TimeGrid,
    find_contacts,
    find_eclipses,
    station_from_spec,
    sunlit,
)

STATIONS = ("Svalbard", "Matera", "Inuvik", "Troll")


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best = float("inf")
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sats", type=int, default=8)
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--step", type=float, default=10.0, help="time step in seconds")
    p.add_argument("--tle", help="use the first --sats satellites of this TLE file instead")
    p.add_argument("--repeat", type=int, default=3, help="best of this many runs per stage")
    p.add_argument("--json", action="store_true", help="print the numbers as one JSON object")
    a = p.parse_args(argv)

    start = datetime(2024, 10, 5, tzinfo=UTC)
    if a.tle:
        full = Constellation.from_file(a.tle)
        c = full.select(list(full.names[: a.sats]))
        start = max(t.epoch for t in c.tles)
    else:
        c = Constellation.walker_delta(start, a.sats, max(1, a.sats // 4), 1, 786.0, 98.55)
    duration = a.hours * 3600.0
    grid = TimeGrid.regular(start, duration, a.step)
    stations = [station_from_spec(s) for s in STATIONS]
    sun = SunEphemeris()

    t_prop, track = _best(lambda: c.propagate(grid), a.repeat)
    t_cont, contacts = _best(
        lambda: find_contacts(c, stations, start, duration, track=track), a.repeat
    )
    t_ecl, eclipses = _best(lambda: find_eclipses(c, sun, start, duration, track=track), a.repeat)
    t_lit, lit = _best(lambda: sunlit(track, sun), a.repeat)

    # radio on during contacts, inference demand 30 % (the mission decides it; a stand-in here)
    tx = np.zeros(lit.shape)
    index = {n: i for i, n in enumerate(c.names)}
    for x in contacts:
        lo = np.searchsorted(grid.offsets_s, grid.offset_of(x.aos))
        hi = np.searchsorted(grid.offsets_s, grid.offset_of(x.los))
        tx[index[x.satellite], lo:hi] = 1.0
    power = PowerConfig.with_accelerator(get_accelerator("jetson_orin_nano"))
    thermal = ThermalConfig()
    demand = np.full(lit.shape, 0.3)
    t_bud, trace = _best(
        lambda: run_budgets(a.step, lit, power, thermal, infer_demand=demand, transmitting=tx),
        a.repeat,
    )
    total = t_prop + t_cont + t_ecl + t_lit + t_bud
    res = {
        "satellites": float(len(c)),
        "steps": float(len(grid)),
        "propagate_s": t_prop,
        "contacts_s": t_cont,
        "eclipses_s": t_ecl,
        "sunlit_flags_s": t_lit,
        "budgets_s": t_bud,
        "total_s": total,
        "sim_s_per_wall_s": duration / total,
        "propagation_sim_s_per_wall_s": duration / t_prop,
        "contacts": float(len(contacts)),
        "eclipses": float(len(eclipses)),
        "mean_eclipse_fraction": float(1.0 - lit.mean()),
        "min_soc": float(trace.soc.min()),
        "max_temperature_c": float(trace.temperature_c.max()),
    }
    if a.json:
        print(json.dumps(res))
    else:
        print(
            f"{len(c)} satellites x {a.hours:g} h at {a.step:g} s ({len(grid)} steps), "
            f"best of {a.repeat}"
        )
        print(
            f"  propagation     {t_prop * 1e3:8.1f} ms  ({duration / t_prop:,.0f} sim s / wall s)"
        )
        print(
            f"  contacts        {t_cont * 1e3:8.1f} ms  "
            f"({len(contacts)} passes, {len(stations)} stations)"
        )
        print(f"  eclipses        {t_ecl * 1e3:8.1f} ms  ({len(eclipses)} intervals)")
        print(f"  sunlit flags    {t_lit * 1e3:8.1f} ms  (eclipse fraction {1.0 - lit.mean():.3f})")
        print(
            f"  power+thermal   {t_bud * 1e3:8.1f} ms  (min SoC {trace.soc.min():.2f}, "
            f"max {trace.temperature_c.max():.1f} C)"
        )
        print(
            f"  total           {total * 1e3:8.1f} ms  -> "
            f"{duration / total:,.0f} simulated s per wall s "
            f"({len(c) * duration / total:,.0f} satellite-s per wall s)"
        )
    return res


if __name__ == "__main__":
    main()
