"""Results of a fault campaign: per-arm sums of scores and costs, and the table rows."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from edgeinfer.detect.runtime import Detector
from edgeinfer.eval.matching import MatchResult
from edgeinfer.faults.guard import FaultStats
from edgeinfer.faults.plan import Arm, CampaignConfig
from edgeinfer.faults.records import RecordReport
from edgeinfer.faults.scenes import PixelScore
from edgeinfer.faults.weights import WeightMemory


@dataclass
class ArmResult:
    """Summed scores and costs of one arm."""

    arm: Arm
    captures: int = 0
    matches: dict[str, MatchResult] = field(default_factory=dict)
    cloud: PixelScore = field(default_factory=PixelScore)
    weights: FaultStats = field(default_factory=FaultStats)
    input_upsets: int = 0
    compute_s: float = 0.0
    records: RecordReport | None = None
    runtime_crashes: int = 0
    wall_s: float = 0.0

    def add_match(self, detector: str, result: MatchResult) -> None:
        self.matches[detector] = self.matches.get(detector, MatchResult(0, 0, 0)) + result

    @property
    def objects(self) -> MatchResult:
        total = MatchResult(0, 0, 0)
        for m in self.matches.values():
            total = total + m
        return total

    def f1_scores(self) -> dict[str, float | None]:
        """F1 per object detector, ``objects`` (all objects pooled) and ``cloud_pixels``."""
        out: dict[str, float | None] = {d: m.f1 for d, m in sorted(self.matches.items())}
        out["objects"] = self.objects.f1
        out["cloud_pixels"] = self.cloud.f1 if self.cloud.tp + self.cloud.fn else None
        return out

    def row(self, clean: ArmResult | None) -> dict[str, Any]:
        """JSON-ready summary. ``delta_f1_pct``: relative change of each F1 against
        ``clean`` in %; ``max_abs_delta_f1_pct`` the largest of them (the bar's measure);
        ``compute_x``: modelled on-board compute per capture relative to ``clean``."""
        f1 = self.f1_scores()
        base = clean.f1_scores() if clean else {}
        delta = {
            k: round(100 * (v - b) / b, 3)
            for k, v in f1.items()
            if v is not None and (b := base.get(k))
        }
        per_capture = clean.compute_s / clean.captures if clean and clean.captures else None
        own = self.compute_s / self.captures if self.captures else None
        return {
            "arm": self.arm.name,
            "target": self.arm.target,
            "captures": self.captures,
            "f1": {k: round(v, 4) if v is not None else None for k, v in f1.items()},
            "delta_f1_pct": delta if clean else None,
            "max_abs_delta_f1_pct": max((abs(v) for v in delta.values()), default=0.0)
            if clean
            else None,
            "upsets": self.weights.upset_events
            + self.input_upsets
            + (self.records.upset_events if self.records else 0),
            "model_failures": self.weights.failures,
            "runtime_crashes": self.runtime_crashes,
            "scrubs": self.weights.scrubs,
            "weights": self.weights.as_dict(),
            "compute_x": round(own / per_capture, 4) if own and per_capture else None,
            "records": self.records.as_dict() if self.records else None,
            "wall_s": round(self.wall_s, 2),
        }


@dataclass
class CampaignResult:
    config: CampaignConfig
    models: list[dict[str, Any]]
    arms: list[ArmResult]

    def rows(self) -> list[dict[str, Any]]:
        clean = next((a for a in self.arms if a.arm.target == "none"), None)
        return [a.row(clean) for a in self.arms]

    def to_json(self) -> dict[str, Any]:
        return {
            "config": dataclasses.asdict(self.config),
            "models": self.models,
            "arms": self.rows(),
            "bar": bar(self),
        }


def model_row(name: str, golden: Detector, config: CampaignConfig) -> dict[str, Any]:
    memory = WeightMemory(golden.info.path.read_bytes(), name)
    per_day = config.seu.expected_upsets(memory.bits, 1.0)
    return {
        "model": name,
        "weight_tensors": len(memory.spans),
        "weight_bits": memory.bits,
        "bits_by_dtype": memory.bits_by_dtype(),
        "upsets_per_day_reference": memory.bits * config.seu.rate_per_bit_day,
        "upsets_per_day_campaign": per_day,
    }


def bar(result: CampaignResult, tolerance_pct: float = 0.5) -> dict[str, Any]:
    """Issue 6's bar: with scrubbing (before each use), every F1 (fire, ship, objects, cloud
    pixels) within ``tolerance_pct`` of the clean run; the unmitigated change beside it. A
    scrubbed arm that took no weight upset has tested nothing: the bar then fails
    (``tested`` False) rather than pass on an unchanged F1."""
    rows = {r["arm"]: r for r in result.rows()}
    scrub = rows.get("weights: scrub before use")
    plain = rows.get("weights: unmitigated")
    worst = scrub["max_abs_delta_f1_pct"] if scrub else None
    upsets = int(scrub["upsets"]) if scrub else 0
    return {
        "rate_factor": result.config.rate_factor,
        "scrubbed_max_abs_delta_f1_pct": worst,
        "scrubbed_delta_f1_pct": scrub["delta_f1_pct"] if scrub else None,
        "scrubbed_upsets": upsets,
        "tested": upsets > 0,
        "unmitigated_delta_f1_pct": plain["delta_f1_pct"] if plain else None,
        "tolerance_pct": tolerance_pct,
        "passes": upsets > 0 and worst is not None and worst <= tolerance_pct,
    }
