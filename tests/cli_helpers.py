"""The CLI's error contract, as the tests check it: the error is ONE last line on stderr,
``edgeinfer: error: ...``, with no traceback (edgeinfer.cli.main)."""

from __future__ import annotations

PREFIX = "edgeinfer: error: "


def last_error_line(err: str) -> str:
    """The one error line of ``err`` (captured stderr), which must be its last line, with
    no traceback anywhere."""
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith(PREFIX)]
    assert len(errors) == 1 and lines[-1] == errors[0], lines
    assert "Traceback" not in err
    return errors[0]
