"""Planck radiance and the reflectance-equivalent signal of a sub-pixel fire.

A fire covering a fraction ``f`` of a pixel at temperature ``T`` adds ``f * L(lambda, T)`` of
radiance (blackbody, emissivity 1, no atmosphere) in each band, averaged over the band's
spectral response (a boxcar between the band edges, :class:`edgeinfer.scene.bands.Band`), and
replaces ``f`` of the background. In TOA-reflectance units that is

    rho = pi * L * d^2 / (E_sun * cos(theta_s))

with the solar spectral irradiance ``E_sun`` at 1 AU taken as a 5772 K blackbody seen under the
solar solid angle (IAU 2015 Resolution B3 nominal solar values: T_eff = 5772 K,
R_sun = 6.957e8 m; 1 AU = 1.495978707e11 m). The blackbody Sun is within ~20 % of measured
solar spectra (e.g. Thuillier 2003) in the NIR and SWIR bands that matter for fire detection
(OLI B5/B6/B7: 992/203/75 here against the commonly quoted 951/247/85 W m-2 um-1) [derived].
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from edgeinfer.scene.bands import Band

H_J_S = 6.62607015e-34  # Planck constant (SI 2019, exact)
C_M_S = 2.99792458e8  # speed of light (exact)
K_J_K = 1.380649e-23  # Boltzmann constant (SI 2019, exact)
SUN_T_K = 5772.0  # IAU 2015 B3 nominal effective temperature
SUN_R_M = 6.957e8  # IAU 2015 B3 nominal solar radius
AU_M = 1.495978707e11  # IAU 2012 B2


def planck_radiance_w_m2_sr_um(
    wavelength_um: npt.ArrayLike, temperature_k: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Spectral radiance of a blackbody in W m^-2 sr^-1 um^-1."""
    lam_m = np.asarray(wavelength_um, dtype=np.float64) * 1e-6
    t = np.asarray(temperature_k, dtype=np.float64)
    x = H_J_S * C_M_S / (lam_m * K_J_K * t)
    with np.errstate(over="ignore"):
        radiance_per_m = 2.0 * H_J_S * C_M_S**2 / lam_m**5 / np.expm1(x)
    return np.asarray(radiance_per_m * 1e-6)


def band_radiance_w_m2_sr_um(band: Band, temperature_k: float, samples: int = 64) -> float:
    """Blackbody radiance averaged over ``band``'s boxcar response."""
    edges = band.edges_nm
    if edges is None:
        raise ValueError(f"band {band.name} has no wavelength; cannot integrate Planck radiance")
    lam_um = np.linspace(edges[0], edges[1], samples) / 1000.0
    return float(np.mean(planck_radiance_w_m2_sr_um(lam_um, temperature_k)))


def solar_irradiance_w_m2_um(band: Band) -> float:
    """Band-averaged solar spectral irradiance at 1 AU (blackbody Sun, see module doc)."""
    omega = (SUN_R_M / AU_M) ** 2 * math.pi  # solid angle of the Sun from 1 AU, sr
    return band_radiance_w_m2_sr_um(band, SUN_T_K) * omega


def fire_reflectance(
    band: Band,
    temperature_k: float,
    fraction: float,
    sun_elevation_deg: float = 45.0,
    earth_sun_distance_au: float = 1.0,
) -> float:
    """TOA-reflectance-equivalent signal of a fire filling ``fraction`` of a pixel.

    The caller mixes it with the background as ``(1 - fraction) * rho_bg + this``.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fire fraction must be within [0, 1], got {fraction}")
    radiance = fraction * band_radiance_w_m2_sr_um(band, temperature_k)
    cos_sz = math.sin(math.radians(sun_elevation_deg))
    return math.pi * radiance * earth_sun_distance_au**2 / (solar_irradiance_w_m2_um(band) * cos_sz)
