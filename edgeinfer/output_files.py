"""Output files (alerts GeoJSON, results JSON): checked before the work that fills them, and
written so that a failure is one :class:`~edgeinfer.errors.OutputError` naming the path and the
fix, never a bare ``OSError`` after minutes of detection or evaluation."""

from __future__ import annotations

import tempfile
from pathlib import Path

from edgeinfer.errors import OutputError


def _probe(folder: Path) -> None:
    """Create and remove a temporary file in ``folder``: raises the ``OSError`` of a folder
    that does not accept new files."""
    with tempfile.TemporaryFile(dir=folder, prefix=".edgeinfer-probe-"):
        pass


def check_output_file(path: str | Path, what: str = "output file", example: str = "") -> Path:
    """Raise :class:`OutputError` unless ``path`` can be written as a file: it must not be a
    folder, and its nearest existing folder must accept a new file (probed with a temporary
    file that is removed at once; missing folders are not created here). ``what`` names the
    path in the message (e.g. ``--json``); ``example`` is a file name to suggest when ``path``
    is a folder. Returns ``path``."""
    path = Path(path)
    if path.is_dir():
        hint = f", e.g. {path / example}" if example else ""
        raise OutputError(f"{what} {path} is a folder; give a file path{hint}")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(
            f"{what} {path}: {folder} is a file, not a folder; choose a path in a folder"
        )
    try:
        _probe(folder)
    except OSError as exc:
        raise OutputError(
            f"{what} {path} cannot be written: folder {folder} does not accept new files "
            f"({exc.strerror or exc}); choose a writable folder"
        ) from exc
    return path


def write_text_file(path: str | Path, text: str, what: str = "output file") -> Path:
    """Write ``text`` (UTF-8) to ``path``, creating its folders; an ``OSError`` becomes an
    :class:`OutputError` that names ``what`` and ``path``. Returns the path."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(
            f"cannot write {what} {path} ({exc.strerror or exc}); give a file path in a "
            "writable folder"
        ) from exc
    return path


def make_output_folder(path: str | Path, what: str = "--out") -> Path:
    """Create the output folder ``path`` (and its parents) and check that it accepts new
    files, before a run writes into it; any failure is one :class:`OutputError` naming
    ``what`` and ``path``. Returns the path."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what} {path} is a file; give a folder for the outputs")
    try:
        path.mkdir(parents=True, exist_ok=True)
        _probe(path)
    except OSError as exc:
        raise OutputError(
            f"{what} {path} cannot be used as the output folder ({exc.strerror or exc}); "
            "choose a writable folder"
        ) from exc
    return path
