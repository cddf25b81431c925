"""Shared test fixtures.

Real third-party data lives in ../shared/data beside the project root (never copied into the
repo). Tests that need it use :func:`shared_path`, which skips with a clear reason where it is
absent (a user's clone).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EDGEINFER_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test if it is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"real test data {path} is absent (it ships beside the project as ../shared/data; "
            "set EDGEINFER_SHARED_DATA to point elsewhere)"
        )
    return path


@pytest.fixture
def shared() -> type:
    """Access to :func:`shared_path` as a fixture: ``shared.path("folder", "file")``."""

    class _Shared:
        path = staticmethod(shared_path)

    return _Shared
