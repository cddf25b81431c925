"""Shared test fixtures.

Real third-party data lives in ../shared/data beside the project root (never copied into the
repo). Tests that need it use :func:`shared_path`, which skips with a clear reason where it is
absent (a user's clone).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="session")
def ray_session() -> Iterator[Any]:
    """ONE Ray per test session for every module that needs it, on loopback
    (../shared/ENVIRONMENT.md), without the dashboard; shut down at the end."""
    ray = pytest.importorskip("ray")
    from edgeinfer.mission.actors import loopback_address

    before = os.environ.get("RAY_AUTH_MODE")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    started = not ray.is_initialized()
    if started:
        ray.init(
            _node_ip_address=loopback_address(),
            include_dashboard=False,
            num_cpus=2,
            resources={"edgeinfer_satellite_slot": 64},
            log_to_driver=False,
        )
    yield ray
    if started:
        ray.shutdown()
    if before is None:
        os.environ.pop("RAY_AUTH_MODE", None)


@pytest.fixture(scope="session")
def sample_run(ray_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The embedded sample mission run once on Ray for the whole session (the mission tests
    check it; the chaos tests compare against it)."""
    from edgeinfer.mission import run_mission

    return run_mission(None, tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="session")
def s2_ref() -> Any:
    """The sample's Sentinel-2 coast scene as a node's ``SceneRef`` (generated if absent)."""
    from edgeinfer.mission import load_mission
    from edgeinfer.mission.scenes import ensure_sample_data
    from edgeinfer.node import SceneRef

    config = load_mission()
    ensure_sample_data(config)
    return SceneRef("s2_coast", config.scenes[0].path, "sentinel2")


@pytest.fixture(autouse=True)
def _no_root_handler_left_behind() -> Iterator[None]:
    """``edgeinfer.cli.main.main`` configures logging (``basicConfig(force=True)``) with a
    handler on the stderr pytest captures and closes after the test; later tests' log lines
    then hit a closed stream ("--- Logging error ---"). Remove such handlers, and restore the
    root level, after each test."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in before and type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
    root.setLevel(level)
