"""Run every benchmark and write ONE JSON object with issue 7's ratios.

    .venv/bin/python benchmarks/run_all.py --json OUT [--grid 16x12] [--rss-grid 8x6]
        [--repeat 3] [--skip ray_data,naive,...] [--work DIR] [--quick] [--scale]

Ratios, each from measurements of this one run (docs/performance.md explains them):

* ``pipeline_vs_bare``: tiles/s of the whole path (scene on disk -> tiles -> detectors ->
  alerts through the Ray satellite actors) / tiles/s of bare onnxruntime on the same tiles
  preloaded in memory with the same total threads (the ceiling: the better of its two thread
  layouts);
* ``vs_ray_data``: pipeline / Ray Data ``map_batches`` with the same Detectors as a user first
  writes it (onnxruntime's default threads in each actor; paths_ray.py);
* ``vs_ray_data_tuned`` (no bar): pipeline / the same Ray Data given the pipeline's thread
  plan (one single-thread session per actor), the strongest Ray Data we could write;
* ``vs_naive``: pipeline / a naive loop (rasterio window read + ``session.run`` per tile);
* ``rss_ratio_4x``: peak RSS of a satellite actor capturing a scene of 4x the area / capturing
  the base scene;
* ``sim_speedup``: simulated s per wall s of the sample mission with 8 satellites over 24 h,
  real inference included;
* ``orbit_budget_speedup``: the same without inference (plan, contacts, power and thermal).

The pipeline workload is the sample's Sentinel-2 coast mirror-tiled to ``--grid`` tiles of
512 px (default 16 x 12 = 192), captured once per satellite actor (one per core), so 384 tiles
on a 2-core machine (the size of issue 7's Ray Data reference). Also run: the existing
``bench_models.py`` (per-model cost per tile), ``bench_orbit.py`` and
``bench_tiling_memory.py``; ``--scale`` adds ``bench_scale.py`` (1 to 64 satellites, ~8 min).
Every number is printed with its absolute values, the machine and the load average; on a
machine shared with other work, compare the ``*_cpu`` ratios (tiles per CPU second of the
processes doing the work), which other processes' load does not move the way it moves wall
time.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import io
import json
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

SCHEMA = "edgeinfer.run_all/1"
#: issue 7's bars: (comparison, threshold).
BARS: dict[str, tuple[str, float]] = {
    "pipeline_vs_bare": (">=", 0.90),
    "vs_ray_data": (">=", 2.0),
    "vs_naive": (">=", 1.2),
    "rss_ratio_4x": ("<=", 1.1),
    "sim_speedup": (">=", 1000.0),
    "orbit_budget_speedup": (">=", 50_000.0),
}
SECTIONS = ("pipeline", "ray_data", "naive", "rss", "mission", "orbit", "models", "tiling_memory")


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def best_tiles_per_s(results: list[Mapping[str, Any]]) -> float | None:
    """The highest ``tiles_per_s`` of some path measurements (None if there are none)."""
    values = [float(r["tiles_per_s"]) for r in results if r.get("tiles_per_s")]
    return max(values) if values else None


def best_tiles_per_cpu_s(results: list[Mapping[str, Any]]) -> float | None:
    """The highest tiles per CPU second (of the processes doing the work) of some path
    measurements: throughput per core, which other processes' load on the machine does not
    change the way it changes wall time."""
    values = [r["tiles"] / r["cpu_s"] for r in results if r.get("cpu_s")]
    return max(values) if values else None


#: The throughput ratios: ratio name -> the path the pipeline is divided by (each also per
#: CPU second, as ``NAME_cpu``).
VERSUS: dict[str, str] = {
    "pipeline_vs_bare": "bare",
    "vs_ray_data": "ray_data",
    "vs_ray_data_tuned": "ray_data_tuned",
    "vs_naive": "naive",
}


def compute_ratios(m: Mapping[str, Any]) -> dict[str, float | None]:
    """Issue 7's ratios from the measurements ``m`` (the ``measurements`` object)."""
    pipeline = m.get("pipeline", [])
    out: dict[str, float | None] = {}
    for name, other in VERSUS.items():
        path = m.get(other, [])
        out[name] = ratio(best_tiles_per_s(pipeline), best_tiles_per_s(path))
        out[f"{name}_cpu"] = ratio(best_tiles_per_cpu_s(pipeline), best_tiles_per_cpu_s(path))
    rss = m.get("rss") or {}
    mission = m.get("mission") or {}
    orbit = m.get("orbit") or {}
    out["rss_ratio_4x"] = ratio(rss.get("peak_rss_mib_4x"), rss.get("peak_rss_mib_base"))
    out["sim_speedup"] = mission.get("sim_s_per_wall_s")
    out["orbit_budget_speedup"] = orbit.get("sim_s_per_wall_s")
    return out


def paired_ratios(m: Mapping[str, Any]) -> list[float]:
    """Pipeline / bare tiles/s of each interleaved pair (bare run k, then pipeline run k), in
    run order. No bar: it shows how far one pair's ratio moves on this machine, which the
    best-of-each ratio hides (on this VM the same work varies ~15 % in speed between minutes)."""
    bare = [r for r in m.get("bare", []) if r.get("path", "bare_threads") == "bare_threads"]
    pairs = zip(m.get("pipeline", []), bare, strict=False)
    return [
        round(p["tiles_per_s"] / b["tiles_per_s"], 4)
        for p, b in pairs
        if p.get("tiles_per_s") and b.get("tiles_per_s")
    ]


def judge(ratios: Mapping[str, float | None]) -> dict[str, dict[str, Any]]:
    """Each ratio against its bar: ``met`` is None when the ratio was not measured."""
    out: dict[str, dict[str, Any]] = {}
    for name, (op, bar) in BARS.items():
        value = ratios.get(name)
        met = None if value is None else (value >= bar if op == ">=" else value <= bar)
        out[name] = {"value": value, "bar": f"{op} {bar:g}", "met": met}
    return out


def parse_grid(text: str) -> tuple[int, int]:
    """``"16x12"`` -> ``(16, 12)`` (columns x rows of 512 px tiles)."""
    cols, sep, rows = text.lower().partition("x")
    if not sep or not cols.isdigit() or not rows.isdigit() or int(cols) < 1 or int(rows) < 1:
        raise argparse.ArgumentTypeError(f"grid {text!r}: expected COLSxROWS, e.g. 16x12")
    return int(cols), int(rows)


def parse_skip(text: str) -> set[str]:
    names = {s.strip() for s in text.split(",") if s.strip()}
    unknown = sorted(names - set(SECTIONS))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"--skip {','.join(unknown)}: unknown; choose from {', '.join(SECTIONS)}"
        )
    return names


def _log(text: str) -> None:
    print(text, flush=True)


def _timed(label: str, fn: Callable[[], Any]) -> Any:
    from edgeinfer.bench import load_average

    _log(f"-- {label} (load average {load_average()})")
    t0 = time.perf_counter()
    out = fn()
    _log(f"   {label}: {time.perf_counter() - t0:.1f} s")
    return out


def measure_pipelines(
    work: Path, grid: tuple[int, int], repeat: int, skip: set[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Bare (both layouts), pipeline (``repeat`` times, interleaved with bare), Ray Data
    (both variants) and naive on one workload; returns (workload, measurements)."""
    from paths_local import preload, run_bare, run_naive
    from paths_ray import run_pipeline, run_ray_data
    from workload import make_workload

    from edgeinfer.bench import make_scene, tiled_size

    workload = _timed("scene", lambda: make_workload(work, *grid))
    warm = make_scene(work / "warm_2x1.tif", *tiled_size(2, 1))
    m: dict[str, Any] = {
        "bare": [],
        "pipeline": [],
        "ray_data": [],
        "ray_data_tuned": [],
        "naive": [],
    }
    pre = _timed("preload for bare", lambda: preload(workload))
    for k in range(repeat):
        r = _timed(f"bare, threads ({k + 1}/{repeat})", lambda: run_bare(workload, pre, "threads"))
        m["bare"].append(_show(r))
        r = _timed(f"pipeline ({k + 1}/{repeat})", lambda: run_pipeline(workload, warm))
        m["pipeline"].append(_show(r))
    m["bare"].append(_show(_timed("bare, intra-op", lambda: run_bare(workload, pre, "intra"))))
    pre.items.clear()  # free the preloaded inputs (GiBs) before the next paths
    if "ray_data" not in skip and not _has_ray_data():
        m["ray_data_unavailable"] = (
            "ray.data needs pandas and pyarrow: pip install edgeinfer[bench]"
        )
        _log(f"   ray data skipped: {m['ray_data_unavailable']}")
    elif "ray_data" not in skip:
        for key, threads in (("ray_data", None), ("ray_data_tuned", 1)):
            for variant in (False, True):

                def ray_data(v: bool = variant, t: int | None = threads) -> Any:
                    return run_ray_data(workload, v, t)

                label = f"{key.replace('_', ' ')} (read in actors: {variant})"
                m[key].append(_show(_timed(label, ray_data)))
    if "naive" not in skip:
        m["naive"].append(_show(_timed("naive loop", lambda: run_naive(workload))))
    return workload.describe(), m


def _has_ray_data() -> bool:
    try:
        import ray.data  # noqa: F401  (needs pandas and pyarrow: the bench extra)
    except ImportError:
        return False
    return True


def _show(result: Any) -> dict[str, Any]:
    from edgeinfer.bench import load_average

    d: dict[str, Any] = {"path": result.name, **result.as_dict(), "load_average": load_average()}
    cpu = f", CPU {d['cpu_s']:.1f} s" if d.get("cpu_s") is not None else ""
    alerts = f", {d['alerts']} alerts" if d.get("alerts") is not None else ""
    inside = ""
    if d.get("session_run_s") is not None:
        cpu_in = d.get("session_run_cpu_s")
        of_it = f", {cpu_in:.1f} CPU s" if cpu_in is not None else ""
        inside = f" ({d['session_run_s']:.1f} s of it inside session.run{of_it})"
    elif d.get("session_run_cpu_s") is not None:
        inside = f" ({d['session_run_cpu_s']:.1f} CPU s in session.run)"
    _log(
        f"   {d['path']}: {d['tiles']} tiles in {d['seconds']:.2f} s = "
        f"{d['tiles_per_s']:.2f} tiles/s{cpu}{inside}{alerts}"
    )
    return d


def measure_rss(work: Path, grid: tuple[int, int]) -> dict[str, Any]:
    """Peak RSS of one satellite actor capturing the base scene, then (a fresh actor) a scene
    of twice the width and height (4x the area)."""
    from paths_ray import run_pipeline
    from workload import make_workload

    from edgeinfer.bench import make_scene, tiled_size

    warm = make_scene(work / "warm_2x1.tif", *tiled_size(2, 1))
    base = make_workload(work, *grid, captures=1, name="rss")
    size = (2 * base.scene.width, 2 * base.scene.height)
    big = dataclasses.replace(base, scene=make_scene(work / "rss4x.tif", *size))
    runs = {}
    for label, wl in (("base", base), ("4x", big)):

        def one(w: Any = wl, name: str = f"rss_{label}") -> Any:
            return run_pipeline(w, warm, name)

        runs[label] = _show(_timed(f"rss {label}", one))
    peak_base = max(runs["base"]["peak_rss_mib_per_actor"])
    peak_4x = max(runs["4x"]["peak_rss_mib_per_actor"])
    return {
        "scene_px_base": [base.scene.width, base.scene.height],
        "scene_px_4x": [big.scene.width, big.scene.height],
        "tiles_base": runs["base"]["tiles"],
        "tiles_4x": runs["4x"]["tiles"],
        "peak_rss_mib_base": peak_base,
        "peak_rss_mib_4x": peak_4x,
        "runs": runs,
    }


def run_script(args: list[str], out: Path) -> dict[str, Any] | None:
    """Run one of the other benchmark scripts with ``--json out``; its JSON (with its exit
    status when not 0: bench_scale.py exits 1 when its own check fails) or None."""
    cmd = [sys.executable, str(HERE / args[0]), *args[1:], "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in done.stdout.strip().splitlines()[-12:]:
        _log(f"   | {line}")
    if not out.exists():
        _log(f"   {args[0]} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        return None
    loaded: dict[str, Any] = json.loads(out.read_text())
    if done.returncode != 0:
        loaded = {"exit_status": done.returncode, **loaded}
    return loaded


def run_orbit_script() -> dict[str, Any]:
    """``bench_orbit.py`` (8 satellites, 24 h, 10 s, 4 stations) in this process."""
    import bench_orbit

    with contextlib.redirect_stdout(io.StringIO()):
        result: dict[str, Any] = bench_orbit.main(["--json"])
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--json", type=Path, default=Path("edgeinfer-out/bench.json"))
    p.add_argument("--grid", type=parse_grid, default=(16, 12), help="pipeline scene tiles")
    p.add_argument("--rss-grid", type=parse_grid, default=(8, 6), help="RSS base scene tiles")
    p.add_argument("--repeat", type=int, default=3, help="bare/pipeline pairs (best kept)")
    p.add_argument("--skip", type=parse_skip, default=set(), help=",".join(SECTIONS))
    p.add_argument("--work", type=Path, default=None, help="keep scenes here (default: temp)")
    p.add_argument("--quick", action="store_true", help="tiny grids, no models/tiling memory")
    p.add_argument(
        "--scale", action="store_true", help="also bench_scale.py (1-64 satellites, ~8 min)"
    )
    a = p.parse_args(argv)
    if a.quick:
        a.grid, a.rss_grid, a.repeat = (3, 2), (2, 2), 1
        a.skip |= {"models", "tiling_memory"}

    from edgeinfer.bench import describe_machine, load_average, machine_line, sample_dir
    from edgeinfer.scene import set_gdal_cache_mb

    set_gdal_cache_mb(64)  # as the CLI and every satellite process (docs/design.md)
    if not (sample_dir() / "s2_coast.tif").exists():
        print("run_all: the sample scenes are missing; run `make sample` first", file=sys.stderr)
        return 2
    t_start = time.perf_counter()
    machine = describe_machine()
    _log(f"machine: {machine_line(machine)}")
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "settings": {
            "grid": a.grid,
            "rss_grid": a.rss_grid,
            "repeat": a.repeat,
            "skip": sorted(a.skip),
        },
    }
    m: dict[str, Any] = {}
    from workload import work_folder

    folder = contextlib.ExitStack()
    work = folder.enter_context(work_folder(a.work, "edgeinfer-bench-"))
    try:
        if "pipeline" not in a.skip or "rss" not in a.skip:
            from paths_ray import start_ray

            _timed("ray start", lambda: start_ray(machine["logical_cores"] or 1))
        if "pipeline" not in a.skip:
            out["workload"], pipes = measure_pipelines(work, a.grid, a.repeat, a.skip)
            m.update(pipes)
        if "rss" not in a.skip:
            m["rss"] = measure_rss(work, a.rss_grid)
        import ray

        if ray.is_initialized():
            ray.shutdown()  # the mission starts its own Ray, as `edgeinfer run` does
        if "mission" not in a.skip:
            from mission_speed import sim_speedup

            m["mission"] = _timed(
                "sample mission, 8 satellites", lambda: sim_speedup(work / "mission")
            )
        if "orbit" not in a.skip:
            from mission_speed import orbit_budget_speedup

            m["orbit"] = _timed("dry run, 8 satellites", orbit_budget_speedup)
            m["bench_orbit"] = _timed("bench_orbit.py", run_orbit_script)
        if "models" not in a.skip:
            m["bench_models"] = _timed(
                "bench_models.py",
                lambda: run_script(
                    ["bench_models.py", "--threads", "1", "--batch", "8", "--repeat", "3"],
                    work / "models.json",
                ),
            )
        if "tiling_memory" not in a.skip:
            m["bench_tiling_memory"] = _timed(
                "bench_tiling_memory.py",
                lambda: run_script(["bench_tiling_memory.py"], work / "tiling.json"),
            )
        if a.scale:
            m["bench_scale"] = _timed(
                "bench_scale.py", lambda: run_script(["bench_scale.py"], work / "scale.json")
            )
    finally:
        folder.close()  # a temporary folder goes, a --work folder stays
    ratios = compute_ratios(m)
    out["ratios"] = ratios
    out["bars"] = judge(ratios)
    out["pipeline_vs_bare_pairs"] = paired_ratios(m)
    out["measurements"] = m
    out["load_average_end"] = load_average()
    out["wall_s"] = round(time.perf_counter() - t_start, 1)
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(out, indent=1, default=str) + "\n")
    _report(out)
    _log(f"wrote {a.json}")
    return 0


def absolute_numbers(m: Mapping[str, Any]) -> dict[str, str]:
    """The absolute numbers behind each ratio, as text (those measured)."""
    tps = {k: best_tiles_per_s(m.get(k, [])) for k in ("pipeline", *VERSUS.values())}
    out: dict[str, str] = {}
    for name, other in VERSUS.items():
        if tps["pipeline"] and tps[other]:
            out[name] = f"pipeline {tps['pipeline']:.2f} / {other} {tps[other]:.2f} tiles/s"
    if m.get("rss"):
        rss = m["rss"]
        out["rss_ratio_4x"] = (
            f"{rss['peak_rss_mib_4x']:.0f} / {rss['peak_rss_mib_base']:.0f} MiB peak RSS "
            f"per satellite actor ({rss['tiles_4x']} / {rss['tiles_base']} tiles)"
        )
    for key in ("mission", "orbit"):
        if m.get(key):
            r = m[key]
            name = "sim_speedup" if key == "mission" else "orbit_budget_speedup"
            out[name] = f"{r['simulated_s']:.0f} simulated s in {r['wall_s']:.3f} wall s"
    return out


def _report(out: Mapping[str, Any]) -> None:
    from edgeinfer.bench import machine_line

    detail = absolute_numbers(out["measurements"])
    _log(f"\nmachine: {machine_line(out['machine'])}; load at end {out['load_average_end']}")
    for name, verdict in out["bars"].items():
        value = verdict["value"]
        if value is None:
            _log(f"{name:<22} not measured")
            continue
        mark = "met" if verdict["met"] else "NOT met"
        _log(f"{name:<22} {value:>12,.3f}  (bar {verdict['bar']}: {mark})  {detail.get(name, '')}")
    tuned = out["ratios"].get("vs_ray_data_tuned")
    if tuned is not None:
        _log(
            f"{'vs_ray_data_tuned':<22} {tuned:>12,.3f}  (no bar: Ray Data with the pipeline's "
            f"thread plan)  {detail.get('vs_ray_data_tuned', '')}"
        )
    for name in (f"{n}_cpu" for n in VERSUS):
        cpu = out["ratios"].get(name)
        if cpu is not None:
            _log(f"{name:<22} {cpu:>12,.3f}  (same ratio in tiles per CPU second; no bar)")
    pairs = out.get("pipeline_vs_bare_pairs") or []
    if pairs:
        text = ", ".join(f"{v:.3f}" for v in pairs)
        _log(
            f"{'pipeline_vs_bare pairs':<22} {text}  (each pipeline run / the bare run just "
            "before it; no bar)"
        )


if __name__ == "__main__":
    sys.exit(main())
