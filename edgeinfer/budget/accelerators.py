"""Accelerator profiles as data: edgeinfer/data/accelerators.toml (sources inside it)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from edgeinfer.errors import ConfigError, unknown_name

_FIELDS = ("active_w", "idle_w", "relative_speed", "tops", "source")


@dataclass(frozen=True)
class AcceleratorProfile:
    """Power and speed of an inference accelerator; ``relative_speed`` is against the host."""

    name: str
    active_w: float
    idle_w: float
    relative_speed: float
    tops: float
    source: str

    def __post_init__(self) -> None:
        if self.active_w < 0 or self.idle_w < 0 or self.idle_w > self.active_w:
            raise ConfigError(
                f"accelerator {self.name!r}: need 0 <= idle_w <= active_w, "
                f"got idle_w={self.idle_w}, active_w={self.active_w}"
            )
        if self.relative_speed <= 0 or self.tops <= 0:
            raise ConfigError(f"accelerator {self.name!r}: relative_speed and tops must be > 0")

    def inference_time_s(self, host_time_s: float) -> float:
        """Time the accelerator needs for work that took ``host_time_s`` on the host."""
        return host_time_s / self.relative_speed

    def energy_wh(self, active_s: float) -> float:
        """Energy (Wh) of ``active_s`` seconds of inference."""
        return self.active_w * active_s / 3600.0


def load_accelerators(path: str | Path | None = None) -> dict[str, AcceleratorProfile]:
    """Profiles from a TOML file (default: the packaged accelerators.toml), keyed by name."""
    try:
        if path is None:
            text = (
                resources.files("edgeinfer").joinpath("data/accelerators.toml").read_text("utf-8")
            )
            where = "edgeinfer/data/accelerators.toml"
        else:
            text = Path(path).read_text("utf-8")
            where = str(path)
        data: dict[str, Any] = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"cannot read accelerator profiles {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"accelerator profiles {path} are not valid TOML: {exc}") from None
    out: dict[str, AcceleratorProfile] = {}
    for name, table in data.items():
        missing = [f for f in _FIELDS if f not in table]
        if missing:
            raise ConfigError(f"{where}: accelerator [{name}] lacks {', '.join(missing)}")
        out[name] = AcceleratorProfile(
            name=name,
            active_w=float(table["active_w"]),
            idle_w=float(table["idle_w"]),
            relative_speed=float(table["relative_speed"]),
            tops=float(table["tops"]),
            source=str(table["source"]),
        )
    return out


def get_accelerator(
    name: str, profiles: dict[str, AcceleratorProfile] | None = None
) -> AcceleratorProfile:
    """One profile by name; an unknown name raises UnknownNameError listing the known ones."""
    table = load_accelerators() if profiles is None else profiles
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in table:
        raise unknown_name("accelerator", name, list(table))
    return table[key]
