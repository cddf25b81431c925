"""SEU campaigns: detection quality and compute with no faults, with faults, and with each
mitigation, on scenes with known truth.

Time model (docs/reliability.md): in each trial the models are loaded at t = 0 and stay in
memory for ``days`` (default one day in orbit, no reboot); every scene is captured
``captures_per_day`` times, at the middle of equal slices of the day, and run through the
on-board pipeline (cloud screen first, tiles more than ``cloud_threshold`` cloudy skip the
other detectors; edgeinfer.detect.pipeline). Weight upsets accumulate from t = 0; scrubbing
checks before every inference or every ``scrub_interval_s`` (default one orbit at 786 km);
TMR keeps three independently upset copies. Input tiles take the upsets of the
``tile_exposure_s`` they sit in memory between readout and inference; stored alert records
those of the ``record_exposure_days`` they wait for a contact.

Arms share random streams (the same trial of the same model sees the same upset draws), so
their differences are the mitigations', not the dice's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeinfer.detect.alerts import Alert, objects_from_output
from edgeinfer.detect.metadata import ModelInfo
from edgeinfer.detect.pipeline import cloud_fraction
from edgeinfer.detect.registry import ModelRegistry
from edgeinfer.detect.runtime import Detector, DetectorOutput, RuntimeOptions
from edgeinfer.errors import ModelError
from edgeinfer.faults.guard import FaultedDetector
from edgeinfer.faults.plan import OBJECT_DETECTORS, Arm, CampaignConfig, default_arms
from edgeinfer.faults.records import RecordReport, store_and_send
from edgeinfer.faults.results import ArmResult, CampaignResult, model_row
from edgeinfer.faults.sandbox import Sandbox
from edgeinfer.faults.scenes import CampaignScene, alert_boxes, cloud_pixels, match_alerts
from edgeinfer.faults.seu import upset_tile
from edgeinfer.scene.types import Tile

logger = logging.getLogger(__name__)


@dataclass
class _Setup:
    """Models chosen per scene, golden detectors, clean outputs and unit costs."""

    chosen: list[dict[str, ModelInfo]]
    golden: dict[str, Detector]
    clean: dict[tuple[int, str], dict[str, DetectorOutput]]
    tile_s: dict[str, float]
    reload_s: dict[str, float]
    options: RuntimeOptions
    sandbox: Sandbox | None = None


def run_campaign(
    scenes: Sequence[CampaignScene],
    config: CampaignConfig | None = None,
    arms: Sequence[Arm] | None = None,
    registry: ModelRegistry | None = None,
) -> CampaignResult:
    """Run every arm over ``scenes``; see the module docstring for the time model."""
    config = config or CampaignConfig()
    arms = list(arms) if arms is not None else default_arms(config)
    setup = _setup(scenes, config, registry or ModelRegistry())
    results: list[ArmResult] = []
    clean_alerts: list[list[Alert]] = []  # trial 0, capture -> alerts (records arms)
    with Sandbox(setup.options, config.memory_limit_mb) as sandbox:
        setup.sandbox = sandbox
        for arm in arms:
            t0, crashes = time.perf_counter(), sandbox.crashes
            result = ArmResult(arm)
            if arm.target == "records":
                _record_arm(result, scenes, config, setup, clean_alerts)
            else:
                trials = config.input_trials if arm.target == "inputs" else config.trials
                trials = 1 if arm.target == "none" else trials
                for trial in range(trials):
                    _trial(result, scenes, config, setup, trial, clean_alerts)
            result.runtime_crashes = sandbox.crashes - crashes
            result.wall_s = time.perf_counter() - t0
            logger.debug("campaign arm %r: %s", arm.name, result.row(None))
            results.append(result)
    models = [model_row(name, d, config) for name, d in sorted(setup.golden.items())]
    return CampaignResult(config, models, results)


def _setup(
    scenes: Sequence[CampaignScene], config: CampaignConfig, registry: ModelRegistry
) -> _Setup:
    options = RuntimeOptions(provider=config.provider, intra_op_threads=config.threads)
    setup = _Setup([], {}, {}, {}, {}, options)
    for index, scene in enumerate(scenes):
        chosen: dict[str, ModelInfo] = {}
        for detector in ("cloud", *OBJECT_DETECTORS):
            try:
                chosen[detector] = registry.select(detector, scene.band_names, scene.product)
            except ModelError as exc:
                logger.info("scene %s: no %s model (%s)", scene.name, detector, exc)
        setup.chosen.append(chosen)
        valid = [t for t in scene.tiles if t.valid.any()]
        for info in chosen.values():
            if info.name not in setup.golden:
                t0 = time.perf_counter()
                setup.golden[info.name] = Detector(info, options, config.batch_size)
                setup.reload_s[info.name] = time.perf_counter() - t0
            golden = setup.golden[info.name]
            before, tiles_before = golden.inference_s, golden.tiles_run
            outs = golden.run(valid)
            setup.clean[(index, info.name)] = {
                t.tile_id: o for t, o in zip(valid, outs, strict=True)
            }
            spent = golden.inference_s - before
            setup.tile_s[info.name] = spent / max(1, golden.tiles_run - tiles_before)
    return setup


def _runners(
    setup: _Setup, config: CampaignConfig, arm: Arm, trial: int
) -> dict[str, FaultedDetector]:
    seu = config.seu if arm.target == "weights" else None
    names = sorted(setup.golden)
    return {
        name: FaultedDetector(
            setup.golden[name].info,
            setup.options,
            config.batch_size,
            seu=seu,
            mitigations=arm.mitigations,
            seed=[config.seed, trial, names.index(name)],
            golden=setup.golden[name],
            memory_limit_mb=config.memory_limit_mb,
            sandbox=setup.sandbox,
        )
        for name in names
    }


def _trial(
    result: ArmResult,
    scenes: Sequence[CampaignScene],
    config: CampaignConfig,
    setup: _Setup,
    trial: int,
    clean_alerts: list[list[Alert]],
) -> None:
    runners = _runners(setup, config, result.arm, trial)
    seu = config.seu
    for k, t_s in enumerate(config.capture_times_s()):
        for runner in runners.values():
            runner.advance_to(t_s)
        capture_alerts: list[Alert] = []
        for index, scene in enumerate(scenes):
            tiles = scene.tiles
            if result.arm.target == "inputs":
                rng = np.random.default_rng([config.seed, trial, k, index, 1])
                upset = [upset_tile(t, seu, config.tile_exposure_s, rng) for t in tiles]
                tiles = [t for t, _ in upset]
                result.input_upsets += sum(u.events for _, u in upset)
            alerts = _capture(result, scene, index, tiles, runners, setup, config)
            capture_alerts.extend(alerts)
            result.captures += 1
        if result.arm.target == "none" and trial == 0:
            clean_alerts.append(capture_alerts)
    for name, runner in runners.items():
        stats = runner.stats
        result.weights.add(stats)
        result.compute_s += (
            stats.copy_tile_runs * setup.tile_s[name]
            + stats.check_s
            + stats.vote_s
            + stats.scrubs * setup.reload_s[name]
        )


def _capture(
    result: ArmResult,
    scene: CampaignScene,
    index: int,
    tiles: list[Tile],
    runners: dict[str, FaultedDetector],
    setup: _Setup,
    config: CampaignConfig,
) -> list[Alert]:
    """One capture of one scene through the on-board pipeline; scores it into ``result``."""
    chosen = setup.chosen[index]
    originals = {id(t) for t in scene.tiles}
    valid = [t for t in tiles if t.valid.any()]
    kept = valid
    if "cloud" in chosen:
        name = chosen["cloud"].name
        outs = _run(runners[name], valid, setup.clean[(index, name)], originals, config)
        kept = [
            t
            for t, o in zip(valid, outs, strict=True)
            if cloud_fraction(o, t.valid) <= config.cloud_threshold
        ]
        if scene.cloud_truth is not None:
            result.cloud.add(cloud_pixels(valid, outs, scene.cloud_truth))
    alerts: list[Alert] = []
    for detector in OBJECT_DETECTORS:
        if detector not in chosen:
            continue
        runner = runners[chosen[detector].name]
        cache = setup.clean[(index, runner.info.name)]
        outs = _run(runner, kept, cache, originals, config)
        for tile, out in zip(kept, outs, strict=True):
            alerts.extend(objects_from_output(tile, out, runner.info))
        truth = scene.truth.get(detector, [])
        result.add_match(detector, match_alerts(alert_boxes(alerts, detector), truth))
    return alerts


def _run(
    runner: FaultedDetector,
    tiles: list[Tile],
    cache: dict[str, DetectorOutput],
    originals: set[int],
    config: CampaignConfig,
) -> list[DetectorOutput]:
    """Run ``tiles`` in batches; batches of unmodified tiles may reuse the clean outputs."""
    out: list[DetectorOutput] = []
    for start in range(0, len(tiles), config.batch_size):
        batch = tiles[start : start + config.batch_size]
        pristine = all(id(t) in originals for t in batch)
        clean = [cache[t.tile_id] for t in batch] if pristine else None
        out.extend(runner.run(batch, clean=clean))
    return out


def _record_arm(
    result: ArmResult,
    scenes: Sequence[CampaignScene],
    config: CampaignConfig,
    setup: _Setup,
    clean_alerts: list[list[Alert]],
) -> None:
    """Store the clean run's alerts under upsets and send them (see faults.records)."""
    if not clean_alerts:  # the clean arm did not run first: run its captures now
        scratch = ArmResult(Arm("clean", "none"))
        _trial(scratch, scenes, config, setup, 0, clean_alerts)
    report = RecordReport()
    for trial in range(config.trials):
        rng = np.random.default_rng([config.seed, trial, 2])
        one, intact = store_and_send(
            clean_alerts,
            config.seu,
            config.record_exposure_days,
            rng,
            verify_crc=result.arm.record_crc,
        )
        report.add(one)
        flat = iter(intact)
        for alerts in clean_alerts:
            delivered = [a for a in alerts if next(flat)]
            for index, scene in enumerate(scenes):
                mine = [a for a in delivered if a.scene_id == _scene_id(scene)]
                for detector in OBJECT_DETECTORS:
                    if detector in setup.chosen[index]:
                        boxes = alert_boxes(mine, detector)
                        result.add_match(
                            detector, match_alerts(boxes, scene.truth.get(detector, []))
                        )
            result.captures += len(scenes)
    result.records = report


def _scene_id(scene: CampaignScene) -> str:
    return scene.tiles[0].scene_id if scene.tiles else scene.name
