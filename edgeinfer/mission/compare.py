"""A mission with its ``[faults]`` and the same mission without them, side by side: did the
faults really happen, and did every alert still reach the ground exactly once, intact?

Used by ``edgeinfer faults chaos MISSION.toml``; the comparison is what issue 6's bars ask
of ``sample_data/missions/chaos.toml``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeinfer.errors import ConfigError
from edgeinfer.mission.config import MissionConfig
from edgeinfer.mission.config_faults import FaultsSection
from edgeinfer.mission.driver import MissionResult, run_mission
from edgeinfer.mission.loading import load_mission
from edgeinfer.mission.outputs import write_json
from edgeinfer.output_files import make_output_folder

#: Rows of the comparison: (metrics key under "total", label).
ROWS: tuple[tuple[str, str], ...] = (
    ("alerts_raised", "alerts raised"),
    ("alerts_delivered", "alerts delivered"),
    ("alerts_lost", "alerts lost"),
    ("duplicates_delivered", "duplicates delivered"),
    ("corrupted_accepted", "corrupted alerts accepted"),
    ("actor_restarts", "actor restarts"),
    ("packets_sent", "packets sent"),
    ("packets_lost", "packets lost"),
    ("packets_corrupted", "packets corrupted"),
    ("acks_lost", "acknowledgements lost"),
    ("retransmissions", "retransmissions"),
    ("duplicates_discarded", "duplicates discarded by the ground"),
    ("ground_crc_failures", "CRC failures on the ground"),
    ("store_crc_failures", "stored records failing their CRC"),
    ("seu_weight_upsets", "weight upsets"),
    ("seu_tile_upsets", "tile upsets"),
    ("seu_record_upsets", "record upsets"),
    ("scrubs", "weight scrubs"),
    ("bytes_downlinked", "bytes downlinked"),
    ("alert_latency_p50_s", "alert latency p50 (s)"),
    ("alert_latency_p95_s", "alert latency p95 (s)"),
    ("truth_recall", "truth recall"),
    ("wall_s", "wall time (s)"),
)


def delivered_alerts(result: MissionResult) -> set[tuple[Any, ...]]:
    """The alerts a mission delivered, whatever the time and station: id, scene, detector,
    box, capture time and confidence of each (from its alerts.geojson)."""
    features = json.loads((result.out_dir / "alerts.geojson").read_text())["features"]
    return {
        (
            f["id"],
            f["properties"]["scene_id"],
            f["properties"]["detector"],
            tuple(f["properties"]["bbox_px"]),
            f["properties"]["capture_time"],
            f["properties"]["confidence"],
        )
        for f in features
    }


#: The chaos-run counter that shows each radiation upset target was hit.
_SEU_COUNTERS = {
    "weights": "seu_weight_upsets",
    "tiles": "seu_tile_upsets",
    "records": "seu_record_upsets",
}


def configured_faults(faults: FaultsSection) -> dict[str, tuple[str, ...]]:
    """The fault kinds ``[faults]`` asks for, each with the chaos run's counters (under
    ``total``) whose sum shows that it happened."""
    kinds: dict[str, tuple[str, ...]] = {}
    if faults.kills:
        kinds["actor kills"] = ("actor_restarts",)
    if faults.packet_loss_prob > 0:
        kinds["packet loss"] = ("packets_lost",)
    if faults.packet_corrupt_prob > 0:
        kinds["packet corruption"] = ("packets_corrupted",)
    if faults.ack_loss_prob > 0:
        kinds["acknowledgement loss"] = ("acks_lost",)
    if faults.seu:
        kinds["radiation upsets"] = tuple(_SEU_COUNTERS[t] for t in faults.seu_targets)
    return kinds


@dataclass
class ChaosComparison:
    """Both runs and what they show; ``faults``: the chaos run's ``[faults]``."""

    clean: MissionResult
    chaos: MissionResult
    faults: FaultsSection

    def delivered(self, result: MissionResult) -> set[tuple[Any, ...]]:
        return delivered_alerts(result)

    @property
    def same_alerts(self) -> bool:
        return self.delivered(self.clean) == self.delivered(self.chaos)

    def faults_seen(self) -> dict[str, int]:
        """How often each configured fault kind happened in the chaos run (its counters)."""
        t = self.chaos.total
        return {
            kind: sum(int(t.get(k) or 0) for k in keys)
            for kind, keys in configured_faults(self.faults).items()
        }

    def bars(self) -> dict[str, bool]:
        """Issue 6's bars on the chaos run's totals. Faults happened: every kind of fault the
        mission configures occurred at least once (a kind that was never drawn leaves the
        comparison untested for it)."""
        t = self.chaos.total
        seen = self.faults_seen()
        return {
            "counters_present": all(k in t for k, _ in ROWS[:9]),
            "faults_happened": bool(seen) and all(n > 0 for n in seen.values()),
            "nothing_lost_duplicated_or_corrupted": all(
                t.get(k) == 0 for k in ("alerts_lost", "duplicates_delivered", "corrupted_accepted")
            ),
            "same_alerts_as_without_faults": self.same_alerts,
        }

    def rows(self) -> list[tuple[str, Any, Any]]:
        c, x = self.clean.total, self.chaos.total
        return [(label, c.get(key), x.get(key)) for key, label in ROWS]

    def to_json(self) -> dict[str, Any]:
        return {
            "clean": {k: self.clean.total.get(k) for k, _ in ROWS},
            "chaos": {k: self.chaos.total.get(k) for k, _ in ROWS},
            "faults": self.chaos.metrics["run"].get("faults", {}),
            "faults_seen": self.faults_seen(),
            "bars": self.bars(),
        }


def without_faults(config: MissionConfig) -> MissionConfig:
    """The same mission with an empty ``[faults]`` table (uplinks, a mission event, stay)."""
    return config.model_copy(update={"faults": FaultsSection()})


def compare_chaos(
    mission: MissionConfig | str | Path | None,
    out_dir: str | Path,
    *,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    address: str | None = None,
    use_ray: bool = True,
) -> ChaosComparison:
    """Run the mission without its faults into ``out_dir/clean``, then with them into
    ``out_dir/chaos``; write ``out_dir/chaos_vs_clean.json``."""
    config = mission if isinstance(mission, MissionConfig) else load_mission(mission, overrides)
    if not config.faults.any:
        raise ConfigError(
            f"mission {config.mission.name!r} has no [faults] to compare; add a [faults] table "
            "(e.g. kill_every_orbit = true, packet_loss_prob = 0.05) or use "
            "sample_data/missions/chaos.toml"
        )
    out = make_output_folder(out_dir)  # before either run: a bad --out is one line
    session = None
    if use_ray and address is None:
        from edgeinfer.mission.actors import RayExecutor

        # one local Ray for both runs (a run started by run_mission would end with it)
        session = RayExecutor(None, config.execution.satellite_resource)
    try:
        clean = run_mission(without_faults(config), out / "clean", address=address, use_ray=use_ray)
        chaos = run_mission(config, out / "chaos", address=address, use_ray=use_ray)
    finally:
        if session is not None:
            session.shutdown()
    result = ChaosComparison(clean, chaos, config.faults)
    write_json(out / "chaos_vs_clean.json", result.to_json())
    return result
