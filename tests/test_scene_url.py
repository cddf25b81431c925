"""Scenes from URLs: GDAL /vsicurl/ range reads of a COG served on loopback."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import shared_path
from rasterio.windows import Window

from edgeinfer.errors import SceneError
from edgeinfer.scene import iter_tiles, open_scene


class _RangeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _RangeHandler)
        self.root = root
        self.bytes_sent = 0
        self.requests: list[str] = []
        self.lock = threading.Lock()


class _RangeHandler(BaseHTTPRequestHandler):
    """GET/HEAD with single-range ``Range: bytes=a-b`` support (206 Partial Content)."""

    server: _RangeServer

    def log_message(self, format: str, *args: object) -> None:  # silence stderr
        pass

    def _target(self) -> Path | None:
        path = self.server.root / self.path.lstrip("/").split("?")[0]
        return path if path.is_file() else None

    def do_HEAD(self) -> None:
        target = self._target()
        if target is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(target.stat().st_size))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()

    def do_GET(self) -> None:
        target = self._target()
        if target is None:
            self.send_error(404)
            return
        data = target.read_bytes()
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2) or len(data) - 1), len(data) - 1)
            body = data[start : end + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        # count before sending: the client may return before this thread runs again
        with self.server.lock:
            self.server.bytes_sent += len(body)
            self.server.requests.append(self.headers.get("Range", "(whole)"))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def cog_server() -> Iterator[tuple[_RangeServer, Path]]:
    cog = shared_path("ingestion_rasterio_testdata", "cogeo.tif")
    server = _RangeServer(cog.parent)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, cog
    finally:
        server.shutdown()
        server.server_close()


def test_small_window_reads_only_part_of_the_cog(
    cog_server: tuple[_RangeServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, cog = cog_server
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    # a unique query string: GDAL's /vsicurl/ cache must not answer from an earlier test
    url = f"http://127.0.0.1:{server.server_address[1]}/{cog.name}?t={id(server)}"
    window = Window(600, 100, 64, 64)
    with open_scene(url) as scene:
        assert scene.source == url and (scene.width, scene.height) == (1024, 1024)
        assert scene.scene_id == "cogeo"
        data, valid = scene.read(window)
    with rasterio.open(cog) as ds:
        truth = ds.read(window=window)
        truth_mask = ds.dataset_mask(window=window) > 0
    np.testing.assert_array_equal(valid, truth_mask)
    np.testing.assert_array_equal(data[:, valid], truth[:, valid].astype(np.float32))
    # only byte ranges were requested, and not the whole file
    assert all(r.startswith("bytes=") for r in server.requests), server.requests
    assert server.bytes_sent < cog.stat().st_size, (server.bytes_sent, server.requests)


def test_window_bytes_scale_with_the_window_not_the_file(tmp_path: Path) -> None:
    """A 4096 x 4096 tiled, uncompressed GeoTIFF (256 blocks of 64 KiB): a 64 x 64
    window costs about one block plus GDAL's read-ahead: a few per cent of the file."""
    rng = np.random.default_rng(5)
    path = tmp_path / "noise.tif"
    profile = {
        "driver": "GTiff",
        "width": 4096,
        "height": 4096,
        "count": 1,
        "dtype": "uint8",
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "crs": "EPSG:32631",
        "transform": Affine(10, 0, 5e5, 0, -10, 5e6),
    }
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, 4096, 256):
            block = rng.integers(0, 256, (256, 4096), dtype=np.uint8)
            dst.write(block, 1, window=Window(0, row, 4096, 256))
    server = _RangeServer(tmp_path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/noise.tif"
        with open_scene(url, product="geotiff") as scene:
            after_open = server.bytes_sent
            window = Window(2000, 2000, 64, 64)  # inside one block, away from the probes
            data, _ = scene.read(window)
            window_bytes = server.bytes_sent - after_open
    finally:
        server.shutdown()
        server.server_close()
    with rasterio.open(path) as ds:
        np.testing.assert_array_equal(data[0], ds.read(1, window=window))
    size = path.stat().st_size
    assert 0 < window_bytes < 0.05 * size, (window_bytes, size)
    assert server.bytes_sent < 0.1 * size, (server.bytes_sent, size)


def test_url_tiles_and_missing_url(cog_server: tuple[_RangeServer, Path]) -> None:
    server, cog = cog_server
    port = server.server_address[1]
    with open_scene(f"http://127.0.0.1:{port}/{cog.name}?tiles") as scene:
        tiles = list(iter_tiles(scene, tile_size=512))
    assert len(tiles) == 4 and all(t.valid.any() for t in tiles)
    with pytest.raises(SceneError, match=r"missing\.tif"):
        open_scene(f"http://127.0.0.1:{port}/missing.tif")
