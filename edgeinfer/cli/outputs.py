"""The one place the CLI checks the files a command will write (``-o``, ``--json``,
``--plot``, ``--mask-out``) before it does the work: a folder or an unwritable path fails at
once with exit 2 and one line, instead of a traceback after the results are computed."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar, cast

from edgeinfer.output_files import check_output_file

F = TypeVar("F", bound=Callable[..., Any])

#: File name suggested when an output option names a folder, by option.
EXAMPLES: dict[str, str] = {
    "--output": "alerts.geojson",
    "--json": "results.json",
    "--plot": "pd.png",
    "--mask-out": "mask.tif",
}


def check_outputs(paths: Iterable[tuple[str, Path | str | None]]) -> None:
    """Check each ``(option, path)`` with :func:`~edgeinfer.output_files.check_output_file`
    (None: the option was not given); raises :class:`~edgeinfer.errors.OutputError`."""
    for option, path in paths:
        if path is not None:
            check_output_file(path, option, EXAMPLES.get(option, ""))


def checks_outputs(**options: str) -> Callable[[F], F]:
    """Decorate a command so the keyword arguments named in ``options`` (parameter name ->
    option, e.g. ``json_out="--json"``) are checked as output files before it runs.
    Parameters the command lacks, or that were not given, are left alone."""

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def checked(*args: Any, **kwargs: Any) -> Any:
            check_outputs((option, kwargs.get(name)) for name, option in options.items())
            return command(*args, **kwargs)

        return cast(F, checked)

    return decorate
