"""What-if sweeps: one mission, the cartesian product of ``--set KEY=V1,V2,...`` variants, run
as parallel Ray tasks, compared in one table (sweep.csv, sweep.json) and page (sweep.html).

How variants run (a choice, docs/operators.md): each variant is ONE Ray task that runs a whole
mission in its own worker process with ``run_mission(..., use_ray=False)`` (every satellite in
that process, the in-process executor the tests show gives the same alerts as Ray). Missions
are independent, so a task per mission parallelises them with no actor plumbing, and a worker
process is reused by later tasks. Tasks ask for one CPU and, unless the variant says otherwise,
run onnxruntime with one thread (``detection.threads = 1``: threads change speed, never
results). Scenes are shared, not copied: a task receives the validated config, which names the
scenes by path or URL, and reads them itself, so every worker must reach the same paths (one
machine, or shared storage). Each variant writes its outputs into its own subfolder.

Metrics depend only on the config and seed (docs/design.md), so a variant's row equals what
``edgeinfer run`` gives for the same overrides; only wall times differ.
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeinfer.errors import ConfigError
from edgeinfer.mission.config import MissionConfig
from edgeinfer.mission.driver import run_mission
from edgeinfer.mission.loading import load_mission, parse_value
from edgeinfer.output_files import make_output_folder

logger = logging.getLogger(__name__)

#: (column, metrics key under "total" or a computed name), in table order.
COLUMNS: tuple[str, ...] = (
    "alert_latency_p50_s",
    "alert_latency_p95_s",
    "alerts_raised",
    "alerts_delivered",
    "alerts_delivered_share",
    "truth_recall",
    "bytes_downlinked",
    "bandwidth_saved",
    "bandwidth_saved_vs_compressed",
    "energy_used_wh",
    "inference_energy_wh",
    "tiles_skipped",
    "tiles_inferred",
    "contact_minutes",
    "alerts_relayed",
    "crosslink_energy_wh",
    "added_mass_kg",
    "break_even_launch_price_usd_per_kg",
    "cost_per_alert_usd_low",
    "cost_per_alert_usd_high",
    "wall_s",
)
#: Columns that vary between otherwise identical runs (host timing), left out of comparisons.
TIMING_COLUMNS = frozenset({"wall_s"})
_SKIPPED = ("tiles_skipped_power", "tiles_skipped_thermal", "tiles_skipped_storage")

Progress = Callable[[int, int, str], None]
"""Called with (variants done, variants, name of the one just done)."""


@dataclass(frozen=True)
class SweepAxis:
    """One ``--set KEY=V1,V2,...``: a key and its values (parsed as TOML)."""

    key: str
    values: tuple[Any, ...]


def split_values(text: str) -> list[str]:
    """Split ``V1,V2,...`` at top-level commas (not inside [], {} or quotes)."""
    parts: list[str] = []
    cur: list[str] = []
    depth, quote = 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur).strip())
    return parts


def parse_axis(text: str) -> SweepAxis:
    """``KEY=V1,V2,...`` -> :class:`SweepAxis` (values as TOML reads them, else text)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or not raw.strip():
        raise ConfigError(
            f"--set {text!r} is not KEY=V1,V2,... (e.g. --set constellation.n_satellites=4,8)"
        )
    values = split_values(raw)
    if any(not v for v in values):
        raise ConfigError(f"--set {text!r} has an empty value; separate values with commas")
    return SweepAxis(key, tuple(parse_value(v) for v in values))


def variants(axes: Sequence[SweepAxis]) -> list[dict[str, Any]]:
    """The cartesian product of the axes, first axis slowest: ``[{key: value, ...}, ...]``."""
    keys = [a.key for a in axes]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ConfigError(f"--set {dup} is given twice; list all its values in one --set")
    return [
        dict(zip(keys, combo, strict=True))
        for combo in itertools.product(*(a.values for a in axes))
    ]


def describe_value(value: Any) -> str:
    """A short label of a swept value: ground stations by name, other lists as JSON."""
    if isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value):
        return "+".join(str(v["name"]) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    text = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def variant_name(index: int, overrides: Mapping[str, Any]) -> str:
    """A folder name: ``v03-constellation.n_satellites=8-crosslinks.enabled=true``."""
    parts = [f"v{index:02d}"]
    for key, value in overrides.items():
        parts.append(f"{key}={describe_value(value)}")
    name = re.sub(r"[^A-Za-z0-9._=+-]+", "_", "-".join(parts))
    return name[:120]


def sweep_row(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The table's figures of one mission's metrics.json."""
    total = metrics["total"]
    econ = metrics.get("economics") or {}
    raised = total.get("alerts_raised") or 0
    row: dict[str, Any] = {c: total.get(c) for c in COLUMNS}
    row["alerts_delivered_share"] = (
        None if not raised else round((total.get("alerts_delivered") or 0) / raised, 6)
    )
    row["tiles_skipped"] = sum(int(total.get(k) or 0) for k in _SKIPPED)
    row["added_mass_kg"] = econ.get("added_mass_kg")
    row["break_even_launch_price_usd_per_kg"] = econ.get("break_even_launch_price_usd_per_kg")
    cost = econ.get("cost_per_alert_usd") or {}
    row["cost_per_alert_usd_low"] = cost.get("low")
    row["cost_per_alert_usd_high"] = cost.get("high")
    return row


@dataclass
class SweepResult:
    """The table (one row per variant, in variant order) and the files written."""

    out_dir: Path
    rows: list[dict[str, Any]]
    keys: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)


def _run_one(config: MissionConfig, out: str) -> dict[str, Any]:
    """One variant, a whole mission in this process (a Ray task body, or a plain call)."""
    return run_mission(config, out, use_ray=False).metrics


def run_sweep(
    mission: str | Path | Mapping[str, Any] | None,
    sets: Sequence[str | SweepAxis],
    out_dir: str | Path = "edgeinfer-sweep",
    *,
    base_overrides: Sequence[str] | Mapping[str, Any] | None = None,
    use_ray: bool = True,
    address: str | None = None,
    progress: Progress | None = None,
) -> SweepResult:
    """Run every variant (see the module docstring) and write sweep.csv, sweep.json and
    sweep.html into ``out_dir`` (each variant's outputs in ``out_dir/NAME``)."""
    axes = [a if isinstance(a, SweepAxis) else parse_axis(a) for a in sets]
    if not axes:
        raise ConfigError("a sweep needs at least one --set KEY=V1,V2,...")
    combos = variants(axes)
    base = _as_overrides(base_overrides)
    configs = []
    for combo in combos:  # validate every variant before running any
        config = load_mission(mission, {**base, **combo})
        if use_ray and "threads" not in config.detection.model_fields_set:
            config = config.model_copy(
                update={"detection": config.detection.model_copy(update={"threads": 1})}
            )
        configs.append(config)
    from edgeinfer.mission.scenes import ensure_sample_data

    ensure_sample_data(configs[0])  # generate the sample scenes once, before any task reads them
    out = make_output_folder(out_dir)
    names = [variant_name(i, c) for i, c in enumerate(combos)]
    dirs = [out / n for n in names]
    metrics = (
        _run_on_ray(configs, dirs, names, address, progress)
        if use_ray
        else _run_here(configs, dirs, names, progress)
    )
    rows = []
    for name, combo, m, d in zip(names, combos, metrics, dirs, strict=True):
        rows.append({"variant": name, **combo, **sweep_row(m), "out_dir": str(d)})
    keys = [a.key for a in axes]
    result = SweepResult(out, rows, keys)
    result.files = write_sweep(out, rows, keys, configs[0].mission.name)
    return result


def _as_overrides(value: Sequence[str] | Mapping[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    out = {}
    for text in value:
        key, sep, raw = text.partition("=")
        if not sep:
            raise ConfigError(f"override {text!r} is not KEY=VALUE (e.g. mission.duration_h=6)")
        out[key.strip()] = parse_value(raw.strip())
    return out


def _run_here(
    configs: Sequence[MissionConfig],
    dirs: Sequence[Path],
    names: Sequence[str],
    progress: Progress | None,
) -> list[dict[str, Any]]:
    out = []
    for i, (config, d) in enumerate(zip(configs, dirs, strict=True)):
        out.append(_run_one(config, str(d)))
        if progress is not None:
            progress(i + 1, len(configs), names[i])
    return out


def _run_on_ray(
    configs: Sequence[MissionConfig],
    dirs: Sequence[Path],
    names: Sequence[str],
    address: str | None,
    progress: Progress | None,
) -> list[dict[str, Any]]:
    import ray

    from edgeinfer.mission.actors import RayExecutor

    executor = RayExecutor(address, configs[0].execution.satellite_resource)
    try:
        task = ray.remote(num_cpus=1)(_run_one)
        refs = [task.remote(c, str(d)) for c, d in zip(configs, dirs, strict=True)]
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[dict[str, Any] | None] = [None] * len(refs)
        waiting = list(refs)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            i = index[done[0]]
            results[i] = executor.get(done[0])
            if progress is not None:
                progress(sum(r is not None for r in results), len(refs), names[i])
        return [r for r in results if r is not None]
    finally:
        executor.shutdown()


def write_sweep(
    out: Path, rows: Sequence[Mapping[str, Any]], keys: Sequence[str], mission: str
) -> dict[str, Path]:
    """sweep.csv, sweep.json and sweep.html of a finished sweep."""
    columns = ["variant", *keys, *COLUMNS, "out_dir"]
    csv_path = out / "sweep.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _csv(row.get(c)) for c in columns})
    json_path = out / "sweep.json"
    json_path.write_text(
        json.dumps({"mission": mission, "keys": list(keys), "rows": list(rows)}, indent=2),
        encoding="utf-8",
    )
    from edgeinfer.report.sweep import write_sweep_report

    html_path = write_sweep_report(out / "sweep.html", mission, rows, keys, COLUMNS)
    return {"csv": csv_path, "json": json_path, "report": html_path}


def _csv(value: Any) -> Any:
    if isinstance(value, list | dict | bool):
        return json.dumps(value)
    return "" if value is None else value
