"""One root error for edgeinfer, with subclasses that also subclass the matching builtin.

Every message names the thing that is wrong and the fix, in one line, so the CLI can print it
without a traceback (habit taken from rasterio's ``RasterioIOError(RasterioError, OSError)`` and
torchgeo's ``DatasetNotFoundError(FileNotFoundError)``).
"""

from __future__ import annotations


class EdgeInferError(Exception):
    """Root of every error edgeinfer raises on purpose."""


class SceneError(EdgeInferError, OSError):
    """A scene (raster file, URL, product) cannot be opened or read."""


class OutputError(EdgeInferError, OSError):
    """An output file (alerts, mask, results JSON) cannot be written: the path is a folder, or
    its folder does not accept new files."""


class BandError(EdgeInferError, ValueError):
    """Bands are missing, misnamed, or of the wrong count or dtype."""


class GeoreferenceError(EdgeInferError, ValueError):
    """A georeference (CRS, transform) is missing where it is needed, or is unusable."""


class ModelError(EdgeInferError, ValueError):
    """An ONNX model is missing, malformed, unsigned, or does not fit the scene."""


class UnknownNameError(EdgeInferError, KeyError):
    """A name (detector, product, provider, accelerator, station) is not known.

    The message lists the known names.
    """

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""


class ConfigError(EdgeInferError, ValueError):
    """A mission or option value is invalid; the message names the key, the value and what is
    allowed."""


class OrbitError(EdgeInferError, ValueError):
    """A TLE or orbital element set is malformed, or propagation failed."""


class LinkError(EdgeInferError, ValueError):
    """A packet or alert record is malformed or fails its checksum."""


class GroupLost(EdgeInferError, RuntimeError):
    """A satellite group's process died for good (its restarts were spent): the mission goes
    on without its satellites, and what they had already downlinked is kept."""


def unknown_name(kind: str, name: str, known: list[str] | tuple[str, ...]) -> UnknownNameError:
    """Build an :class:`UnknownNameError` that lists the valid choices."""
    choices = ", ".join(sorted(known)) or "(none)"
    return UnknownNameError(f"unknown {kind} {name!r}; known {kind}s: {choices}")
