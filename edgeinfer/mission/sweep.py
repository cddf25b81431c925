"""What-if sweeps: one mission, the cartesian product of ``--set KEY=V1,V2,...`` variants, run
as parallel Ray tasks, compared in one table (sweep.csv, sweep.json) and page (sweep.html); the
table and its files are :mod:`edgeinfer.mission.sweep_table`.

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

A variant that fails while it runs (a scene that cannot be opened, a worker that dies, any
error inside ``run_mission``) is data, not the end of the sweep: the others run on, and its row
says ``status = "failed"`` with the ``error``, its figures empty. Swept dates and times are
written as ISO-8601 UTC text (``2023-10-25T03:00:00.000Z``).
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeinfer.errors import ConfigError, EdgeInferError
from edgeinfer.mission.config import MissionConfig
from edgeinfer.mission.driver import run_mission
from edgeinfer.mission.loading import load_mission, parse_value
from edgeinfer.mission.sweep_table import COLUMNS as COLUMNS
from edgeinfer.mission.sweep_table import (
    STATUS_FAILED,
    STATUS_NOT_RUN,
    STATUS_OK,
    failed_row,
    write_sweep,
)
from edgeinfer.mission.sweep_table import TIMING_COLUMNS as TIMING_COLUMNS
from edgeinfer.mission.sweep_table import describe_value as describe_value
from edgeinfer.mission.sweep_table import sweep_row as sweep_row
from edgeinfer.output_files import make_output_folder

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str, str], None]
"""Called with (variants done, variants, name of the one just done, its error: "" if it
succeeded)."""


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


def variant_name(index: int, overrides: Mapping[str, Any]) -> str:
    """A folder name: ``v03-constellation.n_satellites=8-crosslinks.enabled=true``."""
    parts = [f"v{index:02d}"]
    for key, value in overrides.items():
        parts.append(f"{key}={describe_value(value)}")
    name = re.sub(r"[^A-Za-z0-9._=+-]+", "_", "-".join(parts))
    return name[:120]


@dataclass
class SweepResult:
    """The table (one row per variant, in variant order; a failed variant's row has
    ``status = "failed"`` and its ``error``) and the files written."""

    out_dir: Path
    rows: list[dict[str, Any]]
    keys: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The rows of the variants that failed."""
        return [r for r in self.rows if r.get("status") == STATUS_FAILED]


@dataclass(frozen=True)
class _Outcome:
    """What one variant gave: its metrics, or the one-line text of its error (``ran``
    False: the sweep was interrupted before it finished)."""

    metrics: dict[str, Any] | None
    error: str = ""
    ran: bool = True


_NOT_RUN = _Outcome(None, "not run: the sweep was interrupted (Ctrl-C) before it finished", False)


def _failure(name: str, exc: Exception) -> _Outcome:
    """The outcome of a variant that raised ``exc``: its message on one line. Logged at INFO
    (the row and the caller's progress carry it); an error edgeinfer did not raise on purpose
    (a bug, a dead worker) at ERROR with its traceback."""
    expected = isinstance(exc, EdgeInferError)
    text = str(exc) if expected else f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split()) or type(exc).__name__
    if expected:
        logger.info("variant %s failed: %s", name, text)
    else:
        logger.error("variant %s failed: %s", name, text, exc_info=exc)
    return _Outcome(None, text)


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
    sweep.html into ``out_dir`` (each variant's outputs in ``out_dir/NAME``). A variant that
    fails while it runs does not stop the others: its row is marked failed
    (:attr:`SweepResult.failed`) and the tables are written all the same."""
    axes = [a if isinstance(a, SweepAxis) else parse_axis(a) for a in sets]
    if not axes:
        raise ConfigError("a sweep needs at least one --set KEY=V1,V2,...")
    combos = variants(axes)
    base = _as_overrides(base_overrides)
    both = [a.key for a in axes if a.key in base]
    if both:
        raise ConfigError(
            f"{both[0]} is given by both --base and --set; a swept key takes its values from "
            f"--set only: drop it from --base, or list the value in --set {both[0]}=..."
        )
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
    outcomes: list[_Outcome] = []  # filled as variants finish, kept if interrupted
    try:
        if use_ray:
            _run_on_ray(configs, dirs, names, address, progress, outcomes)
        else:
            _run_here(configs, dirs, names, progress, outcomes)
    except KeyboardInterrupt:  # Ctrl-C: the finished variants' table first, then stop
        _tabulate(out, axes, combos, names, dirs, outcomes, configs[0])
        logger.warning(
            "sweep interrupted: %d of %d variants finished; tables written to %s",
            sum(o.ran for o in outcomes),
            len(configs),
            out,
        )
        raise
    return _tabulate(out, axes, combos, names, dirs, outcomes, configs[0])


def _tabulate(
    out: Path,
    axes: Sequence[SweepAxis],
    combos: Sequence[Mapping[str, Any]],
    names: Sequence[str],
    dirs: Sequence[Path],
    outcomes: Sequence[_Outcome],
    first: MissionConfig,
) -> SweepResult:
    """One row per variant (those without an outcome: not run) and the three tables."""
    rows = []
    padded = [*outcomes, *[_NOT_RUN] * (len(names) - len(outcomes))]
    for name, combo, outcome, d in zip(names, combos, padded, dirs, strict=True):
        if outcome.metrics is not None:
            figures = {"status": STATUS_OK, **sweep_row(outcome.metrics), "error": ""}
        else:
            figures = failed_row(outcome.error, STATUS_FAILED if outcome.ran else STATUS_NOT_RUN)
        rows.append({"variant": name, **combo, **figures, "out_dir": str(d)})
    keys = [a.key for a in axes]
    result = SweepResult(out, rows, keys)
    result.files = write_sweep(out, rows, keys, first.mission.name)
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
    out: list[_Outcome],
) -> None:
    """Run the variants here, one by one, appending each outcome to ``out``."""
    for i, (config, d) in enumerate(zip(configs, dirs, strict=True)):
        try:
            outcome = _Outcome(_run_one(config, str(d)))
        except Exception as exc:  # one variant's failure is its row, not the sweep's end
            outcome = _failure(names[i], exc)
        out.append(outcome)
        if progress is not None:
            progress(i + 1, len(configs), names[i], outcome.error)


def _run_on_ray(
    configs: Sequence[MissionConfig],
    dirs: Sequence[Path],
    names: Sequence[str],
    address: str | None,
    progress: Progress | None,
    out: list[_Outcome],
) -> None:
    """Run the variants as Ray tasks; ``out`` gets every outcome in variant order at the
    end, or, if interrupted, those finished so far (the others as not run)."""
    import ray

    from edgeinfer.mission.actors import RayExecutor

    executor = RayExecutor(address, configs[0].execution.satellite_resource)
    try:
        task = ray.remote(num_cpus=1)(_run_one)
        refs = [task.remote(c, str(d)) for c, d in zip(configs, dirs, strict=True)]
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[_Outcome | None] = [None] * len(refs)
        waiting = list(refs)
        try:
            while waiting:
                done, waiting = ray.wait(waiting, num_returns=1)
                i = index[done[0]]
                try:
                    outcome = _Outcome(executor.get(done[0]))
                except Exception as exc:  # the task's error, or its worker's death
                    outcome = _failure(names[i], exc)
                results[i] = outcome
                if progress is not None:
                    done_n = sum(r is not None for r in results)
                    progress(done_n, len(refs), names[i], outcome.error)
        finally:  # in variant order; unfinished ones (an interrupt) as not run
            out.extend(r if r is not None else _NOT_RUN for r in results)
    finally:
        executor.shutdown()
