"""Plain, picklable settings of satellite nodes (built from a mission config by
:mod:`edgeinfer.mission.build`; the node package does not depend on the config schema)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edgeinfer.budget import PowerConfig, ThermalConfig
from edgeinfer.link import LinkFaults
from edgeinfer.node.costs import CostModel
from edgeinfer.scene import RasterScene, open_scene

#: Alert priority = base of its detector + round(50 * confidence), capped at 255.
CONFIDENCE_PRIORITY_SPAN = 50
DEFAULT_PRIORITY = {"fire": 200, "ship": 150}
OTHER_PRIORITY = 100


@dataclass(frozen=True)
class SceneRef:
    """How a worker opens a scene: ``key`` is the mission's scene id (alerts carry it)."""

    key: str
    source: str
    product: str = "auto"
    bands: tuple[str, ...] | None = None

    def open(self) -> RasterScene:
        return open_scene(self.source, product=self.product, bands=self.bands, scene_id=self.key)


@dataclass(frozen=True)
class DetectionSettings:
    """Which detectors run and how (the arguments of :func:`edgeinfer.detect.detect_scene`)."""

    detectors: tuple[str, ...] = ("cloud", "fire", "ship")
    cloud_threshold: float = 0.7
    provider: str = "cpu"
    tile_size: int = 512
    overlap: int = 64
    # tiles per session.run; None: by the provider that runs, resolved in the satellite's
    # process (InferenceEngine.batch_size)
    batch_size: int | None = None
    threads: int = 1
    lanes: int | None = None  # copies of the models run in parallel (edgeinfer.detect.lanes)
    models_dir: str | None = None
    require_signature: bool = False
    trusted_keys: tuple[str, ...] = ()
    models: tuple[str, ...] = ()  # preferred over the default where they fit (registry.select)


@dataclass(frozen=True)
class DownlinkSettings:
    """Alerts only, or alerts then image chips (``alerts+chips``) within limits."""

    policy: str = "alerts"
    chip_size_px: int = 32
    max_chips_per_capture: int = 4
    max_chip_bytes_per_pass: int | None = None
    min_chip_priority: int = 0
    batch_packets: int = 1024
    priority: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PRIORITY))

    @property
    def chips(self) -> bool:
        return self.policy == "alerts+chips" and self.max_chips_per_capture > 0

    def priority_of(self, detector: str, confidence: float) -> int:
        base = self.priority.get(detector, OTHER_PRIORITY)
        bonus = round(CONFIDENCE_PRIORITY_SPAN * min(max(confidence, 0.0), 1.0))
        return int(min(255, base + bonus))


@dataclass(frozen=True)
class BudgetSettings:
    """Power and thermal configs, storage size, and what to do with refused tiles."""

    power: PowerConfig = field(default_factory=PowerConfig)
    thermal: ThermalConfig = field(default_factory=ThermalConfig)
    storage_bytes: int = 295 * 10**9
    on_refusal: str = "defer"
    max_defer_s: float | None = None


@dataclass(frozen=True)
class HazardSettings:
    """What goes wrong on board and how it is mitigated (a mission's ``[faults]`` table).

    ``link``: seeded packet loss, corruption and acknowledgement loss (its ``seed`` is
    replaced by the node's). ``seu_rate_factor``: multiple of the reference upset rate
    (edgeinfer.faults.REFERENCE_SEU_PER_BIT_DAY; 0: no upsets) applied to ``seu_targets``
    (``weights``, ``tiles``, ``records``). Mitigations: ``scrubbing`` (weight checksum,
    golden reload; ``scrub_interval_s`` 0 = before every inference), ``tmr`` (three weight
    copies, majority vote, 3x accelerator time), ``record_crc`` (CRC-32 of stored records
    checked before sending). ``trusted_keys``: PEM public keys that may sign model updates
    (none: the development key).
    """

    link: LinkFaults = field(default_factory=LinkFaults)
    retransmit_rounds: int = 0
    seu_rate_factor: float = 0.0
    seu_targets: tuple[str, ...] = ()
    scrubbing: bool = False
    scrub_interval_s: float = 0.0
    tmr: bool = False
    record_crc: bool = True
    trusted_keys: tuple[str, ...] = ()

    def upsets(self, target: str) -> bool:
        """Whether upsets hit ``target`` (weights, tiles or records)."""
        return self.seu_rate_factor > 0 and target in self.seu_targets

    @property
    def guarded_weights(self) -> bool:
        """Whether detectors run through the fault guard (upsets in weights, or TMR)."""
        return self.upsets("weights") or self.tmr


@dataclass(frozen=True)
class NodeSettings:
    """Everything a satellite node needs besides its identity and the orbit plan.

    ``start_posix_s`` maps mission seconds to the link's time scale (POSIX seconds);
    ``state_dir`` holds the onboard SQLite queues and the checkpoints of the satellite
    groups (None: in memory, no checkpoints). ``hazards``: faults and mitigations.
    """

    detection: DetectionSettings
    downlink: DownlinkSettings
    budgets: BudgetSettings
    cost: CostModel
    start_posix_s: float
    seed: int = 0
    state_dir: Path | None = None
    max_cached_tile_bytes: int = 256 * 2**20
    hazards: HazardSettings = field(default_factory=HazardSettings)
    on_tile_error: str = "invalid"
