"""Known, benign log messages counted instead of printed once per file.

GDAL reports through rasterio's ``rasterio._env`` logger while a :class:`rasterio.Env` is
active and prints ``Warning 1: ...`` to stderr itself otherwise (for instance when a dataset
opened in one block is read after it). :func:`counting_gdal_message` keeps an Env active for
its whole block, so every message goes to that logger, and drops the records whose text holds
one known fragment, counting them and the files they name; every other message passes
unchanged. :func:`gdal_messages_once` lets each distinct GDAL message through once (libtiff
repeats a file's directory warning each time it reads the directory while a scene is
opened). :func:`counting_log_message` does the same for one of edgeinfer's own messages
(e.g. the reflectance scale assumed for each of many windows), letting the first through.
The caller states the count once, with why the message is harmless.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TypeVar

import rasterio

# libtiff, on a TIFF with more samples per pixel than its Photometric tag accounts for and no
# ExtraSamples tag (OpenSARShip's 2-band float32 chips, written by MATLAB): the extra band
# is declared an "extra sample" and read with its values unchanged.
TIFF_NO_EXTRASAMPLES = (
    "TIFFReadDirectory:Sum of Photometric type-related color channels and ExtraSamples "
    "doesn't match SamplesPerPixel"
)
_GDAL_LOGGER = "rasterio._env"
F = TypeVar("F", bound=logging.Filter)


def gdal_text(record: logging.LogRecord) -> str:
    """GDAL's own message in a record of rasterio's logger."""
    # rasterio logs "%s in %s" % (GDAL error code, GDAL's message)
    args = record.args if isinstance(record.args, tuple) else ()
    return str(args[-1]) if len(args) == 2 else record.getMessage()


class MessageCount(logging.Filter):
    """Counts the records holding ``fragment``; lets the first ``keep`` of them through and
    drops the rest. Every other record passes."""

    def __init__(self, fragment: str, keep: int = 0) -> None:
        super().__init__()
        self.fragment = fragment
        self.keep = keep
        self.count = 0

    def text(self, record: logging.LogRecord) -> str:
        return record.getMessage()

    def filter(self, record: logging.LogRecord) -> bool:
        text = self.text(record)
        if self.fragment not in text:
            return True
        self.count += 1
        self.seen(text)
        return self.count <= self.keep

    def seen(self, text: str) -> None:
        """Called with the text of each counted record."""


class GdalMessageCount(MessageCount):
    """Drops and counts the GDAL records holding ``fragment``; ``files`` are the file names
    GDAL put before it (``NAME: fragment``; a message raised while reading has none)."""

    def __init__(self, fragment: str) -> None:
        super().__init__(fragment)
        self.files: set[str] = set()

    def text(self, record: logging.LogRecord) -> str:
        return gdal_text(record)

    def seen(self, text: str) -> None:
        name = text.split(self.fragment, 1)[0].rstrip(": ")
        if name:
            self.files.add(name)


@contextmanager
def _filtered(logger_name: str, log_filter: F) -> Iterator[F]:
    """``log_filter`` on the logger ``logger_name`` within the block; on GDAL's logger, with a
    :class:`rasterio.Env` active so that GDAL logs its messages instead of printing them."""
    logger = logging.getLogger(logger_name)
    logger.addFilter(log_filter)
    try:
        with rasterio.Env() if logger_name == _GDAL_LOGGER else nullcontext():
            yield log_filter
    finally:
        logger.removeFilter(log_filter)


def counting_gdal_message(fragment: str) -> AbstractContextManager[GdalMessageCount]:
    """Within the block, GDAL messages containing ``fragment`` are counted, not printed."""
    return _filtered(_GDAL_LOGGER, GdalMessageCount(fragment))


def counting_log_message(logger_name: str, fragment: str) -> AbstractContextManager[MessageCount]:
    """Within the block, the first record of ``logger_name`` containing ``fragment`` is
    logged and the later ones are only counted (``count`` includes the first)."""
    return _filtered(logger_name, MessageCount(fragment, keep=1))


_FILE_PREFIX = re.compile(r"^\S+\.\w+: ")  # "chip.tif: " before a message GDAL raised at open


class _FirstOfEach(logging.Filter):
    """Lets each distinct GDAL message through once, with or without a file name before it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        text = _FILE_PREFIX.sub("", gdal_text(record))
        if text in self.seen:
            return False
        self.seen.add(text)
        return True


def gdal_messages_once() -> AbstractContextManager[logging.Filter]:
    """Within the block GDAL's messages go to rasterio's logger, each distinct one once."""
    return _filtered(_GDAL_LOGGER, _FirstOfEach())
