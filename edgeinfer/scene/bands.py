"""Named bands: name, wavelength, resolution and physical unit.

Band tables for the products edgeinfer reads. Centre wavelengths and band edges:
- Landsat 8/9 OLI/TIRS: USGS Landsat 8 Data Users Handbook (LSDS-1574), table 1-1.
- Sentinel-2 MSI: ESA Sentinel-2 User Handbook (S2A spectral response, centre/bandwidth).
"""

from __future__ import annotations

from dataclasses import dataclass

# Physical units a band's values can carry after ingestion.
UNITS = ("reflectance", "sigma0", "amplitude", "intensity", "brightness_temperature_k", "dn", "qa")
# The SAR ones: calibrated backscatter, or detected amplitude / intensity (any gain).
SAR_UNITS = ("sigma0", "amplitude", "intensity")


@dataclass(frozen=True)
class Band:
    """One band of a scene, after ingestion.

    ``name`` is the product's own band name (``"B7"``, ``"B8A"``) or the user's, ``unit`` one of
    :data:`UNITS`, ``wavelength_nm`` the centre wavelength (None for SAR or unknown),
    ``bandwidth_nm`` the full width of the pass band, ``resolution_m`` the native pixel size.
    """

    name: str
    unit: str = "dn"
    wavelength_nm: float | None = None
    bandwidth_nm: float | None = None
    resolution_m: float | None = None

    @property
    def edges_nm(self) -> tuple[float, float] | None:
        """(lower, upper) edges of a boxcar spectral response, or None."""
        if self.wavelength_nm is None or self.bandwidth_nm is None:
            return None
        half = self.bandwidth_nm / 2.0
        return (self.wavelength_nm - half, self.wavelength_nm + half)


def _b(name: str, lo_um: float, hi_um: float, res: float, unit: str = "reflectance") -> Band:
    return Band(name, unit, (lo_um + hi_um) * 500.0, (hi_um - lo_um) * 1000.0, res)


# Landsat 8/9 OLI + TIRS (USGS LSDS-1574, table 1-1: band edges in micrometres).
LANDSAT_OLI: dict[str, Band] = {
    "B1": _b("B1", 0.435, 0.451, 30.0),
    "B2": _b("B2", 0.452, 0.512, 30.0),
    "B3": _b("B3", 0.533, 0.590, 30.0),
    "B4": _b("B4", 0.636, 0.673, 30.0),
    "B5": _b("B5", 0.851, 0.879, 30.0),
    "B6": _b("B6", 1.566, 1.651, 30.0),
    "B7": _b("B7", 2.107, 2.294, 30.0),
    "B8": _b("B8", 0.503, 0.676, 15.0),
    "B9": _b("B9", 1.363, 1.384, 30.0),
    "B10": _b("B10", 10.60, 11.19, 100.0, "brightness_temperature_k"),
    "B11": _b("B11", 11.50, 12.51, 100.0, "brightness_temperature_k"),
}

# Sentinel-2A MSI (ESA Sentinel-2 User Handbook: central wavelength and bandwidth in nm).
SENTINEL2_MSI: dict[str, Band] = {
    name: Band(name, "reflectance", c, w, r)
    for name, c, w, r in [
        ("B01", 442.7, 21.0, 60.0),
        ("B02", 492.4, 66.0, 10.0),
        ("B03", 559.8, 36.0, 10.0),
        ("B04", 664.6, 31.0, 10.0),
        ("B05", 704.1, 15.0, 20.0),
        ("B06", 740.5, 15.0, 20.0),
        ("B07", 782.8, 20.0, 20.0),
        ("B08", 832.8, 106.0, 10.0),
        ("B8A", 864.7, 21.0, 20.0),
        ("B09", 945.1, 20.0, 60.0),
        ("B10", 1373.5, 31.0, 60.0),
        ("B11", 1613.7, 91.0, 20.0),
        ("B12", 2202.4, 175.0, 20.0),
    ]
}

# SAR polarisations (transmit, receive), as Sentinel-1 and RADARSAT products name them.
POLARISATIONS = ("HH", "HV", "VH", "VV")

_CANONICAL = {n.upper(): n for n in (*LANDSAT_OLI, *SENTINEL2_MSI, *POLARISATIONS)}


def canonical_band_name(name: str) -> str:
    """A product band or polarisation name in its product's spelling whatever its case
    (``b8a`` -> ``B8A``, ``vv`` -> ``VV``); any other name unchanged."""
    return _CANONICAL.get(name.upper(), name)
