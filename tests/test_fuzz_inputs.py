"""Fuzzing the inputs (hypothesis): mutated GeoTIFFs through open_scene + detect_scene, and
mutated mission files through load_mission. Whatever the damage, the only exceptions are
edgeinfer's own (EdgeInferError subclasses, one line), and nothing hangs. Bounded: 50
examples each, a deadline per example, no shrinking of slow cases beyond that."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import pytest
from bad_scenes import small_valid
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeinfer.detect import detect_scene
from edgeinfer.errors import EdgeInferError
from edgeinfer.mission import load_mission, sample_mission_path
from edgeinfer.scene import open_scene

# A fuzzed header can declare any size; like a mission (detection.max_scene_pixels), the
# harness refuses scenes it would not tile instead of streaming billions of empty pixels.
MAX_PIXELS = 4 * 512 * 512
FUZZ = settings(
    max_examples=50,
    deadline=dt.timedelta(seconds=30),
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
_counter = itertools.count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def tiffs(folder: Path) -> dict[bool, bytes]:
    """The same small scene DEFLATE-compressed (flips break blocks) and raw (flips reach the
    detector as absurd values, NaN and inf)."""
    return {
        packed: small_valid(
            folder / f"valid{packed}.tif", 256, "deflate" if packed else None
        ).read_bytes()
        for packed in (True, False)
    }


def _mutate(data: bytes, flips: list[int], cut: int | None) -> bytes:
    out = bytearray(data)
    for bit in flips:
        out[(bit // 8) % len(out)] ^= 1 << (bit % 8)
    return bytes(out if cut is None else out[: cut % (len(out) + 1)])


def _detect(path: Path) -> int:
    with open_scene(path, product="sar") as scene:
        if scene.width * scene.height > MAX_PIXELS:
            return -1
        result = detect_scene(scene, ["ship"], provider="cpu", tile_size=256, overlap=0, threads=1)
        return len(result.alerts)


def test_the_unmutated_tiffs_run(folder: Path, tiffs: dict[bool, bytes]) -> None:
    for packed, data in tiffs.items():
        path = folder / f"plain{packed}.tif"
        path.write_bytes(data)
        assert _detect(path) == 1  # the bright blob


@pytest.mark.slow
@pytest.mark.timeout(600)
@FUZZ
@given(
    packed=st.booleans(),
    flips=st.lists(st.integers(min_value=0, max_value=2**24), max_size=24),
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=2**20)),
)
def test_mutated_geotiffs_raise_only_edgeinfer_errors(
    folder: Path, tiffs: dict[bool, bytes], packed: bool, flips: list[int], cut: int | None
) -> None:
    path = folder / f"m{next(_counter)}.tif"
    path.write_bytes(_mutate(tiffs[packed], flips, cut))
    try:
        _detect(path)
    except EdgeInferError as exc:
        assert str(exc) and "\n" not in str(exc).strip()
    finally:
        path.unlink()


SAMPLE = sample_mission_path().read_bytes()


@pytest.mark.timeout(300)
@FUZZ
@given(
    flips=st.lists(st.integers(min_value=0, max_value=8 * len(SAMPLE)), max_size=8),
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=len(SAMPLE))),
    insert=st.one_of(st.none(), st.tuples(st.integers(0, len(SAMPLE)), st.binary(max_size=12))),
)
def test_mutated_mission_files_raise_only_config_errors(
    folder: Path, flips: list[int], cut: int | None, insert: tuple[int, bytes] | None
) -> None:
    data = _mutate(SAMPLE, flips, cut)
    if insert is not None:
        at, extra = insert
        data = data[:at] + extra + data[at:]
    path = sample_mission_path().parent / f".fuzz-{next(_counter)}.toml"  # relative paths hold
    path.write_bytes(data)
    try:
        config = load_mission(path)
    except EdgeInferError as exc:
        assert str(exc) and "Traceback" not in str(exc)
    else:
        assert config.mission.duration_h > 0 and config.scenes
    finally:
        path.unlink()


def test_mutation_changes_bytes() -> None:
    data = bytes(16)
    assert _mutate(data, [0, 9], None)[:2] == b"\x01\x02"
    assert _mutate(data, [], 5) == bytes(5)
    assert np.frombuffer(_mutate(data, [127], None), np.uint8)[-1] == 0x80
