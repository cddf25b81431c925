"""The machine a benchmark ran on: CPU model, cores, RAM, load, software versions.

Benchmark numbers mean little without it (docs/performance.md): every report carries this
record, read from Linux's ``/proc`` where it exists and from :mod:`platform` / :mod:`os`
elsewhere.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def onnxruntime_package() -> tuple[str | None, str | None]:
    """(distribution name, version) of the installed onnxruntime: ``onnxruntime`` or
    ``onnxruntime-gpu`` (they write the same package folder; docs/install.md)."""
    for dist in ("onnxruntime-gpu", "onnxruntime"):
        version = _version(dist)
        if version is not None:
            return dist, version
    return None, None


def load_average() -> tuple[float, float, float] | None:
    """1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        one, five, fifteen = os.getloadavg()
    except (OSError, AttributeError):
        return None
    return round(one, 2), round(five, 2), round(fifteen, 2)


def describe_machine() -> dict[str, Any]:
    """JSON-ready description of this machine and of the software that was measured."""
    dist, version = onnxruntime_package()
    return {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gib": _ram_gib(),
        "load_average": load_average(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "onnxruntime": f"{dist} {version}" if dist else None,
        "numpy": _version("numpy"),
        "rasterio": _version("rasterio"),
        "ray": _version("ray"),
    }


def machine_line(machine: dict[str, Any]) -> str:
    """One line for a report header: CPU, cores, RAM, load."""
    load = machine.get("load_average")
    load_text = f", load {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}" if load else ""
    return (
        f"{machine.get('cpu_model')} x {machine.get('logical_cores')} cores, "
        f"{machine.get('ram_gib')} GiB RAM{load_text}; {machine.get('onnxruntime')}"
    )
