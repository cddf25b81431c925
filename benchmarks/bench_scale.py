"""Satellites per machine: wall time and peak memory of whole missions with 1 to 64 satellites.

Each mission is the embedded sample mission (``edgeinfer run``: the two generated sample
scenes, a 786 km 10:30 sun-synchronous plane, Svalbard and Matera, 24 h at 10 s steps; only
``constellation.n_satellites`` changes) run by the CLI in a FRESH process (its own session), in
two modes:

* ``ray``: ``edgeinfer run`` as a user runs it: a local Ray started for the run, satellites in
  ``satellites_per_actor = "auto"`` groups (one actor per CPU, docs/design.md "Missions").
  Memory is the whole process tree: the driver, Ray's daemons (GCS, raylet, agents, monitors,
  idle workers) and the actors;
* ``no-ray``: ``edgeinfer run --no-ray``: every satellite in the driver process, one set of
  detector sessions (the per-process number: what one actor holding all the satellites costs).

While a mission runs, every process of its session is sampled from /proc every
``--interval`` s: ``peak RSS`` is the largest SUM of resident set sizes seen at one instant
(shared pages counted once per process, so an upper bound), ``peak PSS`` the same with
proportional set sizes (shared pages split between the processes that map them: what the tree
really occupies). The driver's exact peak RSS comes from ``wait4`` (``ru_maxrss``). Wall time
is the whole command, Python start-up and Ray start included; ``mission wall`` is the driver's
own ``metrics.json`` ``run.wall_s.total_s``.

The check (issue 8): wall time grows no worse than linearly with the number of satellites:
for every pair of sizes n < m, wall(m) / wall(n) <= m / n; wall(64) / wall(1) is printed
beside 64. Linux only (/proc).

    .venv/bin/python benchmarks/bench_scale.py [--satellites 1,8,32,64] [--hours 24]
        [--modes ray,no-ray] [--json OUT]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EDGEINFER = shutil.which("edgeinfer", path=str(Path(sys.executable).parent)) or "edgeinfer"
MIB = 1024 * 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _session_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return None if fields[0] == "Z" else int(fields[3])


def _kib(path: Path, key: str) -> int:
    """A ``key: N kB`` line of a /proc status-like file, in KiB (0 when unreadable)."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (0 when gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (proc(5))


def _role(pid: int, driver: int) -> str:
    if pid == driver:
        return "driver"
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return "ray"
    return "actors" if cmd.startswith("ray::_RemoteSatelliteGroup") else "ray"


@dataclass
class Sampler:
    """Samples the processes of one session until stopped; keeps peaks of the sums."""

    sid: int
    interval_s: float
    peak_rss: int = 0
    peak_pss: int = 0
    peak_processes: int = 0
    peak_by_role: dict[str, int] = field(default_factory=dict)
    peak_actor_rss: int = 0
    samples: int = 0
    cpu_by_pid: dict[int, float] = field(default_factory=dict)

    @property
    def cpu_s(self) -> float:
        """CPU seconds of every process seen (each at its last sample)."""
        return sum(self.cpu_by_pid.values())

    def sample(self) -> None:
        rss_sum = pss_sum = n = 0
        by_role: dict[str, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or _session_of(int(entry.name)) != self.sid:
                continue
            rss = _kib(entry / "status", "VmRSS:") * 1024
            if rss == 0:
                continue
            pss = _kib(entry / "smaps_rollup", "Pss:") * 1024
            pid = int(entry.name)
            self.cpu_by_pid[pid] = max(self.cpu_by_pid.get(pid, 0.0), _cpu_s(pid))
            role = _role(pid, self.sid)
            by_role[role] = by_role.get(role, 0) + rss
            if role == "actors":
                self.peak_actor_rss = max(self.peak_actor_rss, rss)
            rss_sum += rss
            pss_sum += pss
            n += 1
        self.samples += 1
        self.peak_rss = max(self.peak_rss, rss_sum)
        self.peak_pss = max(self.peak_pss, pss_sum)
        self.peak_processes = max(self.peak_processes, n)
        for role, value in by_role.items():
            self.peak_by_role[role] = max(self.peak_by_role.get(role, 0), value)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.sample()
            stop.wait(self.interval_s)


@dataclass
class Row:
    """One mission run: size, mode, placement, work done, time and memory."""

    satellites: int
    mode: str
    actors: int
    satellites_per_actor: int
    captures: int
    tiles_inferred: int
    alerts_delivered: int
    wall_s: float
    mission_wall_s: float
    cpu_s: float
    driver_peak_rss_mib: float
    peak_rss_mib: float
    peak_pss_mib: float
    peak_actor_rss_mib: float
    peak_rss_by_role_mib: dict[str, float]
    processes: int
    load_before: float
    load_after: float


def run_one(n: int, mode: str, hours: float, work: Path, interval_s: float) -> Row:
    """Run one mission in a fresh process (own session) and measure it."""
    out = work / f"{mode}-{n}"
    cmd = [EDGEINFER, "-q", "run", "--out", str(out)]
    cmd += ["--set", f"constellation.n_satellites={n}", "--set", f"mission.duration_h={hours}"]
    if mode == "no-ray":
        cmd.append("--no-ray")
    env = dict(os.environ)
    env.setdefault("RAY_AUTH_MODE", "disabled")  # as .ci/run; ../shared/ENVIRONMENT.md
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # the session holds the driver and every Ray process it starts
    )
    sampler = Sampler(proc.pid, interval_s)
    stop = threading.Event()
    thread = threading.Thread(target=sampler.run, args=(stop,), daemon=True)
    thread.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    thread.join()
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{stderr[-3000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    total, run = metrics["total"], metrics["run"]
    shutil.rmtree(out, ignore_errors=True)
    return Row(
        satellites=n,
        mode=mode,
        actors=int(run["actors"]),
        satellites_per_actor=int(run["satellites_per_actor"]),
        captures=int(total.get("scenes_captured", 0)),
        tiles_inferred=int(total.get("tiles_inferred", 0)),
        alerts_delivered=int(total.get("alerts_delivered", 0)),
        wall_s=round(wall, 2),
        mission_wall_s=float(run["wall_s"]["total_s"]),
        cpu_s=round(sampler.cpu_s, 1),
        driver_peak_rss_mib=round(usage.ru_maxrss * 1024 / MIB, 1),  # ru_maxrss is KiB
        peak_rss_mib=round(sampler.peak_rss / MIB, 1),
        peak_pss_mib=round(sampler.peak_pss / MIB, 1),
        peak_actor_rss_mib=round(sampler.peak_actor_rss / MIB, 1),
        peak_rss_by_role_mib={k: round(v / MIB, 1) for k, v in sampler.peak_by_role.items()},
        processes=sampler.peak_processes,
        load_before=round(load_before, 2),
        load_after=round(os.getloadavg()[0], 2),
    )


def linearity(rows: list[Row]) -> dict[str, Any]:
    """Per mode: wall(m)/wall(n) (and CPU(m)/CPU(n), which other load on the machine hardly
    moves) against m/n for every pair n < m, and the verdict on wall time."""
    out: dict[str, Any] = {}
    for mode in sorted({r.mode for r in rows}):
        mine = sorted((r for r in rows if r.mode == mode), key=lambda r: r.satellites)
        pairs: list[dict[str, Any]] = [
            {
                "from": a.satellites,
                "to": b.satellites,
                "satellite_ratio": b.satellites / a.satellites,
                "wall_ratio": round(b.wall_s / a.wall_s, 3),
                "cpu_ratio": round(b.cpu_s / a.cpu_s, 3) if a.cpu_s else None,
            }
            for i, a in enumerate(mine)
            for b in mine[i + 1 :]
        ]
        out[mode] = {
            "pairs": pairs,
            "no_worse_than_linear": all(p["wall_ratio"] <= p["satellite_ratio"] for p in pairs),
        }
    return out


def table(rows: list[Row]) -> str:
    head = (
        f"{'sats':>4} {'mode':>6} {'actors':>6} {'sat/act':>7} {'capt':>4} {'tiles':>5} "
        f"{'alerts':>6} {'wall s':>7} {'mission s':>9} {'CPU s':>6} {'driver MiB':>10} "
        f"{'RSS MiB':>8} {'PSS MiB':>8} {'actor MiB':>9} {'procs':>5} {'load':>5}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.satellites:>4} {r.mode:>6} {r.actors:>6} {r.satellites_per_actor:>7} "
            f"{r.captures:>4} {r.tiles_inferred:>5} {r.alerts_delivered:>6} {r.wall_s:>7.1f} "
            f"{r.mission_wall_s:>9.1f} {r.cpu_s:>6.1f} {r.driver_peak_rss_mib:>10.0f} "
            f"{r.peak_rss_mib:>8.0f} {r.peak_pss_mib:>8.0f} {r.peak_actor_rss_mib:>9.0f} "
            f"{r.processes:>5} {r.load_before:>5.1f}"
        )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    mem_kib = _kib(Path("/proc/meminfo"), "MemTotal:")
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--satellites", default="1,8,32,64", help="comma-separated sizes")
    parser.add_argument("--hours", type=float, default=24.0, help="mission duration (h)")
    parser.add_argument("--modes", default="ray,no-ray", help="ray, no-ray or both")
    parser.add_argument("--interval", type=float, default=0.25, help="sampling period (s)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    if not Path("/proc/self/status").exists():
        parser.error("needs Linux /proc to sample the process tree")
    sizes = [int(s) for s in args.satellites.split(",") if s.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    info = machine()
    print(f"machine: {info}", flush=True)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as work:
        for mode in modes:
            for n in sizes:
                row = run_one(n, mode, args.hours, Path(work), args.interval)
                rows.append(row)
                print(
                    f"  {mode:>6} {n:>3} satellites: {row.wall_s:.1f} s, "
                    f"peak PSS {row.peak_pss_mib:.0f} MiB",
                    flush=True,
                )
    print(table(rows))
    verdict = linearity(rows)
    for mode, v in verdict.items():
        for p in v["pairs"]:
            print(
                f"{mode}: {p['to']} vs {p['from']} satellites: wall x{p['wall_ratio']:.2f}, "
                f"CPU x{p['cpu_ratio'] or float('nan'):.2f} (linear: x{p['satellite_ratio']:g})"
            )
        print(f"{mode}: wall time no worse than linear for every pair: {v['no_worse_than_linear']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "machine": info,
                    "hours": args.hours,
                    "rows": [asdict(r) for r in rows],
                    "linearity": verdict,
                },
                indent=2,
            )
        )
    return 0 if all(v["no_worse_than_linear"] for v in verdict.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
