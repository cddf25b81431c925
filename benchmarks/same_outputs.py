"""Do two ``edgeinfer run`` output folders hold the same mission results?

    .venv/bin/python benchmarks/same_outputs.py BEFORE_DIR AFTER_DIR

How a speed-up is checked to change nothing (docs/performance.md, "What was made faster"):
run the same mission with the same models and scenes before and after the change, then
compare. Compared: ``alerts.geojson`` byte for byte; every field of ``metrics.json`` except
wall-clock timings and process ids (listed by ``HOST_FIELDS``); each satellite's onboard link
database (``onboard/*.sqlite``) statement for statement; and the ground database row for row
(its row ids and insertion order depend on which satellite actor reached the ground first, so
rows are compared as a sorted set without them). Exit status 0 when everything matches.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
from pathlib import Path
from typing import Any

#: metrics.json fields that measure the host, not the mission (keys matching this pattern).
HOST_FIELDS = re.compile(
    r"wall|timings|measured|pids?\b|per_wall_second|check_s|build_s|vote_s|lanes?\b"
)
_ROW_ID = re.compile(r"^(INSERT INTO \"?(?:alerts|chips)\"? VALUES\()\d+,")


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": [1]}}`` -> ``{".a.b[0]": 1}``."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}"))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = value
    return out


def metrics_differences(a: Path, b: Path) -> list[tuple[str, Any, Any]]:
    """Mission fields of two metrics.json files that differ (output paths normalised)."""
    fa = flatten(json.loads(a.read_text()))
    fb = flatten(json.loads(b.read_text()))
    out = []
    for key in sorted(set(fa) | set(fb)):
        if HOST_FIELDS.search(key):
            continue
        va, vb = (_local(f.get(key, "<absent>"), a.parent, b.parent) for f in (fa, fb))
        if va != vb:
            out.append((key, va, vb))
    return out


def _local(value: Any, *folders: Path) -> Any:
    """``value`` with the output folders' paths replaced by ``OUT`` (longest first)."""
    if isinstance(value, str):
        for folder in sorted(map(str, folders), key=len, reverse=True):
            value = value.replace(folder, "OUT")
    return value


def dump(path: Path, unordered: bool = False) -> list[str]:
    """The SQL statements that rebuild a database (sorted, without row ids, if ``unordered``)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        lines = list(con.iterdump())
    finally:
        con.close()
    return sorted(_ROW_ID.sub(r"\1", line) for line in lines) if unordered else lines


def compare(a: Path, b: Path) -> list[str]:
    """What differs between output folders ``a`` and ``b`` (empty: the same results)."""
    problems = []
    if (a / "alerts.geojson").read_bytes() != (b / "alerts.geojson").read_bytes():
        problems.append("alerts.geojson differs")
    for key, va, vb in metrics_differences(a / "metrics.json", b / "metrics.json"):
        problems.append(f"metrics.json {key}: {va!r} != {vb!r}")
    onboard_a = sorted(p.name for p in (a / "onboard").glob("*.sqlite"))
    onboard_b = sorted(p.name for p in (b / "onboard").glob("*.sqlite"))
    if onboard_a != onboard_b:
        problems.append(f"onboard databases differ: {onboard_a} != {onboard_b}")
    for name in sorted(set(onboard_a) & set(onboard_b)):
        if dump(a / "onboard" / name) != dump(b / "onboard" / name):
            problems.append(f"onboard/{name} differs")
    if dump(a / "ground.sqlite", unordered=True) != dump(b / "ground.sqlite", unordered=True):
        problems.append("ground.sqlite differs")
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    a = p.parse_args(argv)
    problems = compare(a.before, a.after)
    alerts = len(json.loads((a.after / "alerts.geojson").read_text())["features"])
    if not problems:
        print(f"same results: {alerts} alerts, metrics, onboard and ground databases")
        return 0
    for line in problems[:40]:
        print(line)
    print(f"{len(problems)} differences")
    return 1


if __name__ == "__main__":
    sys.exit(main())
