"""DN -> physical value conversions applied band by band as a scene is read.

Each calibration is a small frozen value with ``apply(dn) -> float32``. Results that are
not finite (e.g. a logarithm of a non-positive radiance) are marked invalid by the reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


class Calibration(Protocol):
    def apply(self, dn: npt.NDArray[Any]) -> FloatArray:
        """DN (native dtype) -> float32 physical values."""
        ...  # pragma: no cover


@dataclass(frozen=True)
class LinearCalibration:
    """``value = dn * scale + offset`` (GDAL band scale/offset; Landsat reflectance with the
    sun-elevation division folded into ``scale`` and ``offset``; Sentinel-2
    ``(dn + add_offset) / quantification``)."""

    scale: float = 1.0
    offset: float = 0.0

    def apply(self, dn: npt.NDArray[Any]) -> FloatArray:
        if dn.dtype.kind == "f" and dn.dtype.itemsize > 4:
            out = (dn * self.scale + self.offset).astype(np.float32)
            return out
        out = dn.astype(np.float32, copy=True)
        if self.scale != 1.0:
            out *= np.float32(self.scale)
        if self.offset != 0.0:
            out += np.float32(self.offset)
        return out


@dataclass(frozen=True)
class ThermalCalibration:
    """TIRS DN -> at-sensor brightness temperature in kelvin (USGS LSDS-1574 section 5.2):
    ``L = RADIANCE_MULT * dn + RADIANCE_ADD``; ``T = K2 / ln(K1 / L + 1)``."""

    radiance_mult: float
    radiance_add: float
    k1: float
    k2: float

    def apply(self, dn: npt.NDArray[Any]) -> FloatArray:
        radiance = dn.astype(np.float64) * self.radiance_mult + self.radiance_add
        with np.errstate(divide="ignore", invalid="ignore"):
            temperature = self.k2 / np.log(self.k1 / radiance + 1.0)
        temperature[radiance <= 0] = np.nan
        return temperature.astype(np.float32)


@dataclass(frozen=True)
class DecibelCalibration:
    """Backscatter stored in decibels -> linear power: ``10 ** (dB / 10)`` (REFERENCE.md,
    Sentinel-1 calibration: dB = 10*log10(sigma0))."""

    def apply(self, dn: npt.NDArray[Any]) -> FloatArray:
        with np.errstate(over="ignore", invalid="ignore"):
            out: FloatArray = np.power(np.float32(10.0), dn.astype(np.float32) / np.float32(10.0))
        return out


@dataclass(frozen=True)
class ModulusCalibration:
    """Complex samples (single-look complex) -> amplitude ``|z|``."""

    def apply(self, dn: npt.NDArray[Any]) -> FloatArray:
        out: FloatArray = np.abs(dn).astype(np.float32)
        return out
