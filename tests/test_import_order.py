"""Every edgeinfer module imports on its own, first, in a fresh set of edgeinfer modules: an
import cycle that only bites in one order (``import edgeinfer.relay.drive`` before
``edgeinfer.mission`` raised ImportError) fails here, naming the module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import importlib, pkgutil, sys
import edgeinfer

names = sorted(
    m.name
    for m in pkgutil.walk_packages(edgeinfer.__path__, "edgeinfer.")
    if ".train" not in m.name  # training scripts need the optional torch
)
failed = []
for name in names:
    for loaded in [k for k in sys.modules if k == "edgeinfer" or k.startswith("edgeinfer.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:  # report every module that fails, not only the first
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print(len(names))
print("\n".join(failed))
"""


def test_every_module_imports_first() -> None:
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[1],
        check=True,
    )
    count, *failures = done.stdout.strip().splitlines()
    assert int(count) > 150
    assert [f for f in failures if f] == []
