"""Benchmarks that measure a process's peak memory run each setting in a child process of
their own script; the child prints one JSON object as its last line of output."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def run_json_child(
    script: str | Path, args: Sequence[str], env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Run ``python script --child ARGS`` (cwd: the script's folder) and return the JSON
    object on the last line of its output; a failing child raises ``CalledProcessError``."""
    out = subprocess.run(
        [sys.executable, str(script), "--child", *args],
        env=None if env is None else dict(env),
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(script).resolve().parent,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result
