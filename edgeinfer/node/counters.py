"""The counters every satellite node keeps (metrics.json sums them under ``total``;
docs/missions.md explains each)."""

from __future__ import annotations

COUNTERS: tuple[str, ...] = (
    "scenes_captured",
    "tiles_captured",
    "tiles_empty",
    "tiles_cloudy",
    "tiles_inferred",
    "tiles_without_detector",
    "tiles_deferred_power",
    "tiles_deferred_thermal",
    "tiles_skipped_power",
    "tiles_skipped_thermal",
    "tiles_skipped_storage",
    "tiles_unfinished",
    "alerts_raised",
    "chips_raised",
    "raw_bytes_captured",
    "passes",
    "captures_failed",
    "tiles_unreadable",
    "tiles_failed",
    "model_updates_accepted",
    "model_updates_refused",
)
