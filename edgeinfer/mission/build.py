"""From a validated :class:`MissionConfig` to the runtime objects: constellation, stations,
node settings and the satellite-to-process placement."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from edgeinfer.budget import get_accelerator
from edgeinfer.errors import ConfigError, EdgeInferError
from edgeinfer.mission.config import MissionConfig
from edgeinfer.node.costs import CostModel
from edgeinfer.node.settings import (
    BudgetSettings,
    DetectionSettings,
    DownlinkSettings,
    NodeSettings,
)
from edgeinfer.orbit import Constellation, GroundStation, station_from_spec
from edgeinfer.orbit.tle import warn_stale_tles


def build_constellation(config: MissionConfig) -> Constellation:
    """The mission's satellites (TLE file, or generated with the mission start as epoch). TLEs
    whose epoch is far from the mission window are flown, with one WARNING naming them."""
    c = config.constellation
    start = config.mission.start
    try:
        if c.kind == "tle":
            assert c.tle_file is not None  # checked by the schema
            constellation = Constellation.from_file(c.tle_file, c.satellites)
            end = start + timedelta(seconds=config.mission.duration_s)
            warn_stale_tles(constellation, start, end)
            return constellation
        assert c.n_satellites is not None and c.altitude_km is not None
        if c.kind == "sso":
            return Constellation.sun_synchronous(
                start, c.n_satellites, c.altitude_km, c.ltdn_h, name_prefix=c.name_prefix or "SSO"
            )
        assert c.inclination_deg is not None
        return Constellation.walker_delta(
            start,
            c.n_satellites,
            c.planes,
            c.phasing,
            c.altitude_km,
            c.inclination_deg,
            c.raan0_deg,
            name_prefix=c.name_prefix or "WALKER",
        )
    except EdgeInferError as exc:
        where = f"{config.source}: " if config.source else ""
        raise ConfigError(f"{where}constellation: {exc}") from None


def build_stations(config: MissionConfig) -> list[GroundStation]:
    """Ground stations with their masks and downlink rates."""
    out = []
    for s in config.ground_stations:
        if s.lat_deg is None or s.lon_deg is None:
            base = station_from_spec(s.name)
            out.append(
                GroundStation(
                    base.name,
                    base.lat_deg,
                    base.lon_deg,
                    base.alt_m,
                    s.min_elevation_deg,
                    s.downlink_rate_bps,
                    base.source,
                )
            )
        else:
            out.append(
                GroundStation(
                    s.name, s.lat_deg, s.lon_deg, s.alt_m, s.min_elevation_deg, s.downlink_rate_bps
                )
            )
    return out


@dataclass(frozen=True)
class Placement:
    """How satellites map to processes: ``groups`` of (index, name), CPUs per actor and
    onnxruntime threads per actor (docs/design.md, "Missions")."""

    groups: tuple[tuple[tuple[int, str], ...], ...]
    cpus_per_actor: float
    threads: int

    @property
    def satellites_per_actor(self) -> int:
        return max(len(g) for g in self.groups)


def asks_for_gpu(config: MissionConfig) -> bool:
    """Whether the mission's models are to run on a GPU (``detection.provider`` ``cuda`` or
    ``tensorrt``): its actors then ask Ray for a GPU share and are planned for GPU lanes.
    Read from the config, not from the driver's onnxruntime, which may lack the GPU build
    that the cluster's workers have."""
    return config.detection.provider in ("cuda", "tensorrt")


def cpus_per_auto_actor(config: MissionConfig) -> int:
    """CPUs each actor is planned with in ``auto`` mode: 1 on CPU; on a GPU (``cuda``,
    ``tensorrt``) the :data:`~edgeinfer.detect.lanes.GPU_LANES` lanes' worth, so that one
    lane prepares a batch on the host while another's graph runs on the device, and fewer
    processes time-share the GPU. Measured on one H100 with 16 cores
    (``benchmarks/gpu_actors.py``; 16 satellites, 3,072 tiles; docs/performance.md "GPU"):
    8 actors of 2 CPUs ran 237-239 tiles/s, 16 actors of 1 CPU 188-195, 4 of 4 CPUs
    210-225, 2 of 8 148-149, with the same alerts."""
    from edgeinfer.detect.lanes import GPU_LANES

    return GPU_LANES if asks_for_gpu(config) else 1


def plan_placement(
    config: MissionConfig,
    names: tuple[str, ...],
    cluster_cpus: float,
    max_actors: int | None = None,
    cpu_share: Callable[[int], float] | None = None,
) -> Placement:
    """Groups of satellites per actor. ``auto``: one actor per available CPU (at most one
    per satellite; on a GPU one per :func:`cpus_per_auto_actor` CPUs), satellites spread
    evenly, so a 2-core machine runs 2 processes whether the mission has 4 or 64 satellites.
    ``max_actors`` caps the count (1 in-process; on Ray the one-CPU actors that fit the nodes
    with satellite slots). ``cpu_share(n)``: the CPUs each of n actors can have so that all
    fit on the nodes (default: an even split of ``cluster_cpus``); used when
    ``cpus_per_actor`` is ``auto``."""
    e = config.execution
    n = len(names)
    cpus = max(1.0, float(cluster_cpus))
    if e.satellites_per_actor == "auto":
        n_actors = max(1, min(n, int(cpus // cpus_per_auto_actor(config))))
    else:
        n_actors = math.ceil(n / e.satellites_per_actor)
    if max_actors is not None:
        n_actors = max(1, min(n_actors, max_actors))
    base, extra = divmod(n, n_actors)
    groups = []
    start = 0
    for a in range(n_actors):
        size = base + (a < extra)
        groups.append(tuple((i, names[i]) for i in range(start, start + size)))
        start += size
    if e.cpus_per_actor != "auto":
        per_actor = float(e.cpus_per_actor)
    else:
        per_actor = cpu_share(n_actors) if cpu_share is not None else cpus / n_actors
    d = config.detection
    threads = d.threads if isinstance(d.threads, int) else max(1, int(per_actor))
    return Placement(tuple(groups), per_actor, threads)


def node_settings(
    config: MissionConfig, threads: int, start_posix_s: float, state_dir: Path | None
) -> NodeSettings:
    """Settings shared by every satellite node of the mission."""
    d = config.detection
    dl = config.downlink
    b = config.budgets
    profile = get_accelerator(config.accelerator.profile)
    try:
        power = config.power_config()
        thermal = config.thermal_config()
    except EdgeInferError as exc:
        raise ConfigError(f"budgets: {exc}") from None
    priority = {"fire": 200, "ship": 150, **dl.priority}
    return NodeSettings(
        detection=DetectionSettings(
            detectors=tuple(dict.fromkeys(d.detectors)),
            cloud_threshold=d.cloud_threshold,
            provider=d.provider,
            tile_size=d.tile_size,
            overlap=d.overlap,
            batch_size=None if d.batch_size == "auto" else d.batch_size,
            threads=threads,
            lanes=None if d.lanes == "auto" else d.lanes,
            models_dir=d.models_dir,
            models=tuple(d.models),
        ),
        downlink=DownlinkSettings(
            policy=dl.policy,
            chip_size_px=dl.chip_size_px,
            max_chips_per_capture=dl.max_chips_per_capture,
            max_chip_bytes_per_pass=dl.max_chip_bytes_per_pass,
            min_chip_priority=dl.min_chip_priority,
            batch_packets=dl.batch_packets,
            priority=priority,
        ),
        budgets=BudgetSettings(
            power=power,
            thermal=thermal,
            storage_bytes=b.storage_bytes,
            on_refusal=b.on_refusal,
            max_defer_s=b.max_defer_s,
        ),
        cost=CostModel(profile, d.tile_size, dict(config.accelerator.host_ms_per_tile)),
        start_posix_s=config.mission.start.timestamp(),
        seed=config.mission.seed,
        state_dir=state_dir,
    )
