"""The mission configuration: a pydantic v2 schema of the mission TOML, validated once at load.

Every table forbids unknown keys, so a typo is an error that names the key and lists the
allowed ones (:mod:`edgeinfer.mission.loading` turns pydantic's errors into one-line
:class:`~edgeinfer.errors.ConfigError` s). Units are in the key names. Paths are resolved
against the TOML file's folder by the loader (``context={"base_dir": ...}``); URLs are kept.

Defaults of the power and thermal tables are those of :class:`edgeinfer.budget.PowerConfig`
and :class:`edgeinfer.budget.ThermalConfig` (read from them, not copied), except the
accelerator's powers, which come from the accelerator profile.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from edgeinfer.budget import PowerConfig, ThermalConfig, load_accelerators
from edgeinfer.budget.economics import EconomicsConfig
from edgeinfer.mission.config_downlink import DownlinkSection
from edgeinfer.mission.config_faults import FaultsSection, UplinkSection
from edgeinfer.mission.schema import Table, resolve_path
from edgeinfer.orbit.stations import (
    DEFAULT_DOWNLINK_RATE_BPS,
    DEFAULT_MIN_ELEVATION_DEG,
    builtin_stations,
)
from edgeinfer.orbit.timeutil import as_utc
from edgeinfer.relay.config import CrosslinksConfig

_POWER = PowerConfig()
_THERMAL = ThermalConfig()

# The Sentinel-2 on-board store, 2,360 Gbit (../shared/REFERENCE.md, "Downlink and packets").
SENTINEL2_STORE_BYTES = 2360 * 10**9 // 8
# Link efficiency default of edgeinfer.budget.LinkModel [assumption stated there].
DEFAULT_LINK_EFFICIENCY = 0.85
SAR_PRODUCTS = frozenset({"sar"})
DetectorName = Literal["fire", "ship", "cloud"]
_ALL: tuple[DetectorName, ...] = ("cloud", "fire", "ship")


_Table = Table
_resolve = resolve_path


class MissionSection(_Table):
    """``[mission]``: name, start (ISO-8601 UTC), duration, budget time step, seed."""

    name: str = Field(default="mission", min_length=1, max_length=100)
    start: dt.datetime
    duration_h: float = Field(gt=0.0, le=24.0 * 31)
    time_step_s: float = Field(default=10.0, gt=0.0, le=600.0)
    seed: int = Field(default=0, ge=0, lt=2**63)

    @field_validator("start", mode="before")
    @classmethod
    def _iso(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            return text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
        return value

    @field_validator("start")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        return as_utc(value)

    @property
    def duration_s(self) -> float:
        return self.duration_h * 3600.0


class ConstellationSection(_Table):
    """``[constellation]``: a TLE file (``kind = "tle"``) or a generated one (``sso`` or
    ``walker``), and the imager's swath."""

    kind: Literal["sso", "walker", "tle"]
    swath_km: float = Field(gt=0.0, le=3000.0)
    tle_file: str | None = None
    satellites: list[str] | None = None
    n_satellites: int | None = Field(default=None, ge=1, le=256)
    altitude_km: float | None = Field(default=None, gt=150.0, le=5000.0)
    ltdn_h: float = Field(default=10.5, ge=0.0, lt=24.0)
    planes: int = Field(default=1, ge=1)
    phasing: int = Field(default=0, ge=0)
    inclination_deg: float | None = Field(default=None, ge=0.0, le=180.0)
    raan0_deg: float = 0.0
    name_prefix: str | None = None

    @field_validator("tle_file")
    @classmethod
    def _path(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _resolve(value, info)

    @model_validator(mode="after")
    def _kind_fields(self) -> ConstellationSection:
        if self.kind == "tle":
            if self.tle_file is None:
                raise ValueError("kind = 'tle' needs tle_file = 'PATH' (a CelesTrak TLE file)")
            extra = [k for k in ("n_satellites", "altitude_km") if getattr(self, k) is not None]
            if extra:
                raise ValueError(f"{extra[0]} is only for generated constellations (sso, walker)")
            return self
        if self.tle_file is not None or self.satellites is not None:
            raise ValueError(
                f"tle_file and satellites are only for kind = 'tle', not {self.kind!r}"
            )
        if self.n_satellites is None or self.altitude_km is None:
            raise ValueError(f"kind = {self.kind!r} needs n_satellites and altitude_km")
        if self.kind == "walker":
            if self.inclination_deg is None:
                raise ValueError("kind = 'walker' needs inclination_deg (e.g. 53.0)")
            if self.n_satellites % self.planes:
                raise ValueError(
                    f"n_satellites {self.n_satellites} must be a multiple of planes {self.planes}"
                )
            if self.phasing >= self.planes:
                raise ValueError(f"phasing {self.phasing} must be in 0..planes-1")
        elif self.planes != 1 or self.inclination_deg is not None:
            raise ValueError("kind = 'sso' is one sun-synchronous plane: drop planes/inclination")
        return self


class StationSpec(_Table):
    """``[[ground_stations]]``: a built-in station by ``name``, or ``name`` + ``lat_deg``,
    ``lon_deg`` (+ ``alt_m``)."""

    name: str = Field(min_length=1)
    lat_deg: float | None = Field(default=None, ge=-90.0, le=90.0)
    lon_deg: float | None = Field(default=None, ge=-180.0, le=360.0)
    alt_m: float = 0.0
    min_elevation_deg: float = Field(default=DEFAULT_MIN_ELEVATION_DEG, ge=-5.0, lt=90.0)
    downlink_rate_bps: float = Field(default=DEFAULT_DOWNLINK_RATE_BPS, gt=0.0)

    @model_validator(mode="after")
    def _site(self) -> StationSpec:
        if (self.lat_deg is None) != (self.lon_deg is None):
            raise ValueError("give both lat_deg and lon_deg, or neither (a built-in station)")
        if self.lat_deg is None and self.name.lower() not in builtin_stations():
            known = ", ".join(s.name for s in builtin_stations().values())
            raise ValueError(
                f"{self.name!r} is not a built-in station ({known}); give lat_deg and lon_deg"
            )
        return self


class SceneSpec(_Table):
    """``[[scenes]]``: a raster product placed on Earth by its georeference."""

    path: str = Field(min_length=1)
    product: Literal["auto", "geotiff", "landsat", "sentinel2", "sar"] = "auto"
    bands: list[str] | None = None
    scene_id: str | None = None
    truth: str | None = None
    daylight_only: bool | None = None

    @field_validator("path", "truth")
    @classmethod
    def _paths(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _resolve(value, info)


class ImagingSection(_Table):
    """``[imaging]``: when a swath overflight counts as a capture."""

    min_sun_elevation_deg: float = Field(default=0.0, ge=-90.0, le=90.0)
    min_coverage: float = Field(default=1.0, gt=0.0, le=1.0)
    search_step_s: float = Field(default=10.0, gt=0.0, le=60.0)


class DetectionSection(_Table):
    """``[detection]``: detectors and how they run (see ``edgeinfer detect``)."""

    detectors: list[DetectorName] = Field(default_factory=lambda: list(_ALL), min_length=1)
    cloud_threshold: float = Field(default=0.7, ge=0.0, le=1.0)
    provider: Literal["auto", "cpu", "cuda", "tensorrt"] = "cpu"
    tile_size: int = Field(default=512, ge=32, le=8192)
    overlap: int = Field(default=64, ge=0)
    # tiles per session.run ("auto": 1 on CPU, 2 on a GPU, as edgeinfer detect;
    # edgeinfer.detect.lanes.default_batch_size). onnxruntime's arenas grow with the batch
    # (the sample's Sentinel-2 scene, all models, one process: peak RSS 2.09 GB at 8, 1.23 GB
    # at 4, 0.72 GB at 2), and on CPU a smaller batch is also cheaper (docs/performance.md).
    batch_size: int | Literal["auto"] = "auto"
    threads: int | Literal["auto"] = "auto"
    # copies of the models in each satellite actor, running batches in parallel, the threads
    # shared between them ("auto": one per thread, at most 4, on CPU; two on a GPU;
    # edgeinfer.detect.lanes, docs/performance.md). Only an actor with more than one thread
    # (fewer satellites than cores, or --no-ray) gets more than one lane.
    lanes: int | Literal["auto"] = "auto"
    models_dir: str | None = None
    # models to fly instead of the registry's default where they fit a scene's bands and
    # product (e.g. ["ship_optical_union"]); other scenes keep the default (docs/missions.md)
    models: list[str] = Field(default_factory=list, max_length=64)
    # Larger scenes are reported as failed instead of tiled (a 20,000 x 20,000 px product;
    # a Sentinel-2 tile is 10,980 x 10,980 at 10 m, a Landsat scene ~7,800 x 7,700).
    max_scene_pixels: int = Field(default=400_000_000, ge=1)
    # load only models whose detached .sig verifies against trusted_keys (PEM public keys;
    # none: the development key models/keys/edgeinfer-dev.pub); docs/reliability.md
    require_signature: bool = True
    trusted_keys: list[str] = Field(default_factory=list)

    @field_validator("models_dir")
    @classmethod
    def _path(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _resolve(value, info)

    @field_validator("trusted_keys")
    @classmethod
    def _keys(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return [str(_resolve(v, info)) for v in value]

    @field_validator("threads", "lanes", "batch_size")
    @classmethod
    def _threads(cls, value: int | str, info: ValidationInfo) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"{info.field_name} must be >= 1 or 'auto'")
        if info.field_name == "batch_size" and isinstance(value, int) and value > 1024:
            raise ValueError("batch_size must be at most 1024 (or 'auto')")
        return value

    @model_validator(mode="after")
    def _overlap(self) -> DetectionSection:
        if self.overlap >= self.tile_size:
            raise ValueError(f"overlap {self.overlap} must be smaller than tile_size")
        return self


class AcceleratorSection(_Table):
    """``[accelerator]``: the profile (edgeinfer/data/accelerators.toml) and optional host
    costs per model (ms per tile_size x tile_size tile on the host, see costs.py)."""

    profile: str = "jetson_orin_nano"
    host_ms_per_tile: dict[str, float] = Field(default_factory=dict)

    @field_validator("profile")
    @classmethod
    def _known(cls, value: str) -> str:
        key = value.strip().lower().replace("-", "_").replace(" ", "_")
        known = load_accelerators()
        if key not in known:
            raise ValueError(f"unknown accelerator profile; choose one of {', '.join(known)}")
        return key

    @field_validator("host_ms_per_tile")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in value.items() if not (v > 0 and math.isfinite(v))]
        if bad:
            raise ValueError(f"host_ms_per_tile.{bad[0]} must be a number > 0")
        return value


class PowerSection(_Table):
    """``[budgets.power]`` (accelerator powers come from the profile)."""

    solar_array_w: float = Field(default=_POWER.solar_array_w, ge=0.0)
    battery_capacity_wh: float = Field(default=_POWER.battery_capacity_wh, gt=0.0)
    initial_soc: float = Field(default=_POWER.initial_soc, ge=0.0, le=1.0)
    min_soc: float = Field(default=_POWER.min_soc, ge=0.0, le=1.0)
    bus_w: float = Field(default=_POWER.bus_w, ge=0.0)
    imager_w: float = Field(default=_POWER.imager_w, ge=0.0)
    radio_tx_w: float = Field(default=_POWER.radio_tx_w, ge=0.0)
    charge_efficiency: float = Field(default=_POWER.charge_efficiency, gt=0.0, le=1.0)


class ThermalSection(_Table):
    """``[budgets.thermal]``, the fields of :class:`edgeinfer.budget.ThermalConfig`."""

    heat_capacity_j_per_k: float = Field(default=_THERMAL.heat_capacity_j_per_k, gt=0.0)
    radiator_area_m2: float = Field(default=_THERMAL.radiator_area_m2, ge=0.0)
    emissivity: float = Field(default=_THERMAL.emissivity, ge=0.0, le=1.0)
    sink_temperature_k: float = Field(default=_THERMAL.sink_temperature_k, ge=0.0)
    solar_absorptivity: float = Field(default=_THERMAL.solar_absorptivity, ge=0.0, le=1.0)
    sunlit_area_m2: float = Field(default=_THERMAL.sunlit_area_m2, ge=0.0)
    initial_temperature_c: float = Field(default=_THERMAL.initial_temperature_c, gt=-273.15)
    throttle_above_c: float = _THERMAL.throttle_above_c
    resume_below_c: float = _THERMAL.resume_below_c

    @model_validator(mode="after")
    def _hysteresis(self) -> ThermalSection:
        if self.resume_below_c > self.throttle_above_c:
            raise ValueError("resume_below_c must be <= throttle_above_c")
        return self


class BudgetsSection(_Table):
    """``[budgets]``: power, thermal, onboard storage, link efficiency, and what happens to
    tiles the budgets refuse (``defer``: wait for energy or cooling; ``skip``: drop them)."""

    power: PowerSection = Field(default_factory=lambda: PowerSection())
    thermal: ThermalSection = Field(default_factory=lambda: ThermalSection())
    storage_bytes: int = Field(default=SENTINEL2_STORE_BYTES, gt=0)
    link_efficiency: float = Field(default=DEFAULT_LINK_EFFICIENCY, gt=0.0, le=1.0)
    on_refusal: Literal["defer", "skip"] = "defer"
    max_defer_s: float | None = Field(default=None, gt=0.0)


class OutputSection(_Table):
    """``[output]``: what is written besides metrics.json and alerts.geojson."""

    report: bool = True
    onboard_databases: bool = True


class ExecutionSection(_Table):
    """``[execution]``: how satellites map to Ray actor processes (docs/design.md, Missions)."""

    satellites_per_actor: int | Literal["auto"] = "auto"
    cpus_per_actor: float | Literal["auto"] = "auto"
    satellite_resource: str = Field(default="edgeinfer_satellite_slot", min_length=1)
    windows: int = Field(default=48, ge=1, le=10_000)
    state_dir: str | None = None

    @field_validator("satellites_per_actor")
    @classmethod
    def _spa(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("satellites_per_actor must be >= 1 or 'auto'")
        return value

    @field_validator("cpus_per_actor")
    @classmethod
    def _cpus(cls, value: float | str) -> float | str:
        if not isinstance(value, str) and not 0.0 < value <= 256.0:
            raise ValueError("cpus_per_actor must be in (0, 256] or 'auto'")
        return value

    @field_validator("satellite_resource")
    @classmethod
    def _resource(cls, value: str) -> str:
        # Ray reads a resource named *_group_* as a placement-group resource; actors then hang
        # (../shared/ENVIRONMENT.md).
        if "_group_" in value:
            raise ValueError("a Ray resource name must not contain '_group_'")
        return value

    @field_validator("state_dir")
    @classmethod
    def _path(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _resolve(value, info)


class MissionConfig(_Table):
    """A whole mission, as loaded from TOML (see docs/missions.md for every key)."""

    mission: MissionSection
    constellation: ConstellationSection
    ground_stations: list[StationSpec] = Field(min_length=1)
    scenes: list[SceneSpec] = Field(min_length=1)
    imaging: ImagingSection = Field(default_factory=lambda: ImagingSection())
    detection: DetectionSection = Field(default_factory=lambda: DetectionSection())
    accelerator: AcceleratorSection = Field(default_factory=lambda: AcceleratorSection())
    budgets: BudgetsSection = Field(default_factory=lambda: BudgetsSection())
    downlink: DownlinkSection = Field(default_factory=lambda: DownlinkSection())
    output: OutputSection = Field(default_factory=lambda: OutputSection())
    execution: ExecutionSection = Field(default_factory=lambda: ExecutionSection())
    faults: FaultsSection = Field(default_factory=lambda: FaultsSection())
    uplink: UplinkSection = Field(default_factory=lambda: UplinkSection())
    crosslinks: CrosslinksConfig = Field(default_factory=lambda: CrosslinksConfig())
    economics: EconomicsConfig = Field(default_factory=lambda: EconomicsConfig())
    source: str | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> MissionConfig:
        names = [s.name.lower() for s in self.ground_stations]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"ground station {dup[0]!r} is listed twice; give unique names")
        ids = [s.scene_id for s in self.scenes if s.scene_id is not None]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"scene_id {dup[0]!r} is used twice; give unique scene ids")
        hours = self.mission.duration_h
        late = [t for t in self.faults.kill_times_h if t >= hours]
        if late:
            raise ValueError(
                f"faults.kill_times_h: {late[0]} h is not inside the mission (0 < t < {hours} h)"
            )
        late = [m.at_h for m in self.uplink.models if m.at_h >= hours]
        if late:
            raise ValueError(
                f"uplink.models: at_h = {late[0]} is not inside the mission (0 <= t < {hours} h)"
            )
        return self

    def power_config(self) -> PowerConfig:
        """The satellites' :class:`PowerConfig`, with the accelerator profile's powers."""
        profile = load_accelerators()[self.accelerator.profile]
        return PowerConfig.with_accelerator(profile, **self.budgets.power.model_dump())

    def thermal_config(self) -> ThermalConfig:
        return ThermalConfig(**self.budgets.thermal.model_dump())
