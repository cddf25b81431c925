"""The batching :class:`Detector`: tiles in, class and confidence maps out, through one
onnxruntime session (created by :mod:`edgeinfer.detect.sessions`, whose names are re-exported
here: ``RuntimeOptions``, ``create_session``, the providers)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from edgeinfer.detect.metadata import ModelInfo
from edgeinfer.detect.sessions import (
    IO_BINDING,
    OPTIMIZATIONS,
    PROVIDERS,
    RuntimeOptions,
    available_providers,
    create_session,
    gpu_requested,
    import_onnxruntime,
    onnxruntime_name,
    requested_providers,
)
from edgeinfer.errors import ConfigError, ModelError
from edgeinfer.scene.types import Scene, Tile

__all__ = [
    "IO_BINDING",
    "OPTIMIZATIONS",
    "PROVIDERS",
    "Detector",
    "DetectorOutput",
    "RuntimeOptions",
    "available_providers",
    "binding_device",
    "check_pixel_size",
    "create_session",
    "gpu_requested",
    "import_onnxruntime",
    "onnxruntime_name",
    "requested_providers",
]

logger = logging.getLogger(__name__)

_OUTPUTS = ["class", "confidence"]


def _no_pixel_size(model: str, scene_id: str) -> ModelError:
    return ModelError(
        f"model {model} needs the pixel size but scene {scene_id} has no georeference to give "
        "it; pass --pixel-size-m M, the ground size of one pixel in metres "
        "(open_scene(..., pixel_size_m=M) in Python)"
    )


def check_pixel_size(models: Iterable[ModelInfo], scene: Scene) -> None:
    """Raise :class:`ModelError` naming ``--pixel-size-m`` if one of ``models`` takes the
    ``pixel_size_m`` input and ``scene`` has none; run before any tile is read or any mask
    file is created."""
    if scene.pixel_size_m is not None:
        return
    for info in models:
        if "pixel_size_m" in info.aux_inputs:
            raise _no_pixel_size(info.name, scene.scene_id)


def warn_short_context(models: Iterable[ModelInfo], overlap: int) -> None:
    """Log a WARNING for each of ``models`` whose windows reach further (``context_px``
    metadata, e.g. 30 px for Schroeder's 61x61 test) than a tile core's context: the tiler
    splits each overlap in half, so a core pixel has ``overlap // 2`` px of its tile around
    it. Objects near tile seams may then be split in two or missed."""
    for info in models:
        try:
            need = int(info.metadata.get("context_px", "0"))
        except ValueError:
            continue
        if need > overlap // 2:
            logger.warning(
                "overlap %d px leaves tile cores %d px of context, but %s looks %d px around "
                "each pixel: objects near tile seams may be split or missed; use --overlap "
                "%d or more (the default is 64)",
                overlap,
                overlap // 2,
                info.name,
                need,
                2 * need,
            )


@dataclass(frozen=True)
class DetectorOutput:
    """One tile's model output: ``cls`` uint8 ``(H, W)`` (0 wherever the tile is invalid) and
    ``confidence`` float32 ``(H, W)`` in [0, 1] (0 wherever invalid)."""

    tile_id: str
    cls: npt.NDArray[np.uint8]
    confidence: npt.NDArray[np.float32]


class Detector:
    """One loaded model that turns batches of tiles into class and confidence maps.

    The session is created once. :meth:`run` selects and orders the model's bands from each
    tile by name, applies the model's scaling, zeroes invalid pixels, feeds ``valid`` and aux
    inputs, runs batches of up to ``batch_size`` tiles through preallocated input buffers and
    forces ``class = 0`` wherever a pixel is invalid.
    """

    def __init__(
        self,
        info: ModelInfo,
        options: RuntimeOptions | None = None,
        batch_size: int = 8,
        model_bytes: bytes | None = None,
        announce: bool = True,
    ) -> None:
        """``model_bytes``: run these bytes instead of reading ``info.path`` (an uplinked
        update already accepted by :func:`edgeinfer.detect.uplink.accept_update`, or a copy
        with injected faults); they are not signature-checked again. ``announce``: log the
        provider at INFO (else DEBUG)."""
        if batch_size < 1:
            raise ConfigError(f"batch_size = {batch_size}: expected an integer >= 1")
        self.info = info
        self.batch_size = batch_size
        source: str | bytes = str(info.path) if model_bytes is None else model_bytes
        if options is not None and options.require_signature and model_bytes is None:
            from edgeinfer.detect.signing import load_trusted_keys, read_verified

            source = read_verified(info.path, load_trusted_keys(options.trusted_keys))
        self.session, self.provider = create_session(
            source, options, label=info.name, announce=announce
        )
        self.binding_device = binding_device(options or RuntimeOptions(), self.provider)
        self.inference_s = 0.0
        self.inference_cpu_s = 0.0
        self.tiles_run = 0
        self._x: npt.NDArray[np.float32] | None = None
        self._valid: npt.NDArray[np.float32] | None = None
        self._ones: list[bool] = []  # per slot of ``_valid``: it holds all ones
        self._check_session()
        self._warned_units: set[str] = set()
        self._announce = announce

    def _check_session(self) -> None:
        where = f"model {self.info.name} ({self.info.path})"
        inputs = {i.name: i for i in self.session.get_inputs()}
        for name, rank in (("x", 4), ("valid", 4), *((a, 1) for a in self.info.aux_inputs)):
            arg = inputs.get(name)
            if arg is None or arg.type != "tensor(float)" or len(arg.shape) != rank:
                got = "absent" if arg is None else f"{arg.type} rank {len(arg.shape)}"
                raise ModelError(
                    f"{where}: input {name!r} is {got}, the contract needs float32 rank {rank}"
                )
        channels = inputs["x"].shape[1]
        if isinstance(channels, int) and channels != len(self.info.bands):
            raise ModelError(
                f"{where}: input x takes {channels} bands but its metadata lists "
                f"{len(self.info.bands)} ({','.join(self.info.bands)}); rebuild it"
            )

    def _band_index(self, tile: Tile) -> list[int]:
        names = tile.band_names
        missing = [b for b in self.info.bands if b not in names]
        if missing:
            raise ModelError(
                f"model {self.info.name} needs bands {','.join(missing)} that scene "
                f"{tile.scene_id} lacks (it has {','.join(names) or 'none'}); name the bands "
                "with --bands or pick the product with --product"
            )
        index = [names.index(b) for b in self.info.bands]
        for j, (i, unit) in enumerate(zip(index, self.info.units, strict=True)):
            band = tile.bands[i]
            if band.name not in self._warned_units and not self.info.takes_unit(j, band.unit):
                self._warned_units.add(band.name)
                logger.log(
                    logging.WARNING if self._announce else logging.DEBUG,
                    "model %s expects band %s in %s but scene %s has it in %s; results may "
                    "be meaningless (check --product)",
                    self.info.name,
                    band.name,
                    unit,
                    tile.scene_id,
                    band.unit,
                )
        return index

    def run(self, tiles: Sequence[Tile]) -> list[DetectorOutput]:
        """Class and confidence maps for ``tiles``, in order, batched by ``batch_size``."""
        results: list[DetectorOutput | None] = [None] * len(tiles)
        groups: dict[tuple[int, int, float | None], list[int]] = {}
        for i, tile in enumerate(tiles):
            h, w = tile.valid.shape
            if tile.data.ndim != 3 or tile.data.shape[1:] != (h, w):
                raise ModelError(
                    f"tile {tile.tile_id} of scene {tile.scene_id} has data {tile.data.shape} "
                    f"and valid {tile.valid.shape}; expected (bands, H, W) and (H, W)"
                )
            size_m = tile.pixel_size_m if "pixel_size_m" in self.info.aux_inputs else None
            groups.setdefault((h, w, size_m), []).append(i)
        for (h, w, size_m), members in groups.items():
            for start in range(0, len(members), self.batch_size):
                chunk = members[start : start + self.batch_size]
                outs = self._run_batch([tiles[i] for i in chunk], h, w, size_m)
                for i, out in zip(chunk, outs, strict=True):
                    results[i] = out
        return [r for r in results if r is not None]

    def _buffers(
        self, n: int, h: int, w: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        c = len(self.info.bands)
        shape = (max(n, self.batch_size), c, h, w)
        if self._x is None or self._x.shape[0] < n or self._x.shape[1:] != shape[1:]:
            self._x = np.empty(shape, dtype=np.float32)
            self._valid = np.empty((shape[0], 1, h, w), dtype=np.float32)
            self._ones = [False] * shape[0]
        assert self._valid is not None
        return self._x[:n], self._valid[:n]

    def _run_batch(
        self, tiles: list[Tile], h: int, w: int, pixel_size_m: float | None
    ) -> list[DetectorOutput]:
        x, valid = self._buffers(len(tiles), h, w)
        partial = []  # tiles with invalid pixels
        for k, tile in enumerate(tiles):
            # one copy straight into the batch buffer (no temporary from fancy indexing)
            np.take(tile.data, self._band_index(tile), axis=0, out=x[k], mode="clip")
            whole = bool(tile.valid.all())
            if not (whole and self._ones[k]):  # a slot of ones stays (most tiles)
                np.copyto(valid[k, 0], tile.valid)
                self._ones[k] = whole
            if not whole:
                partial.append(k)
        self.info.scaling.apply(x)
        for k in partial:  # invalid pixels carry 0 after scaling too (design.md)
            x[k] *= valid[k]
        feeds: dict[str, npt.NDArray[np.float32]] = {"x": x, "valid": valid}
        if "pixel_size_m" in self.info.aux_inputs:
            if pixel_size_m is None:
                raise _no_pixel_size(self.info.name, tiles[0].scene_id)
            feeds["pixel_size_m"] = np.array([pixel_size_m], dtype=np.float32)
        t0 = time.perf_counter()
        c0 = time.thread_time()
        try:
            cls, conf = self._run_session(feeds)
        except Exception as exc:  # onnxruntime's RuntimeException / InvalidArgument
            raise ModelError(
                f"model {self.info.name} failed on scene {tiles[0].scene_id} (tiles {h}x{w}): {exc}"
            ) from exc
        self.inference_s += time.perf_counter() - t0
        self.inference_cpu_s += time.thread_time() - c0  # the calling thread's share
        self.tiles_run += len(tiles)
        n = len(tiles)
        if cls.shape != (n, 1, h, w) or conf.shape != (n, 1, h, w) or cls.dtype != np.uint8:
            raise ModelError(
                f"model {self.info.name} returned class {cls.dtype}{cls.shape} and confidence "
                f"{conf.shape} for {n} tiles of {h}x{w}; the contract needs uint8 [N,1,H,W]"
            )
        if conf.dtype != np.float32 or not conf.flags.writeable:
            conf = conf.astype(np.float32)
        if not cls.flags.writeable:
            cls = cls.copy()
        out: list[DetectorOutput] = []
        partial_set = set(partial)
        for k, tile in enumerate(tiles):
            # views into this batch's fresh output arrays, fixed up in place (no copies)
            c, p = cls[k, 0], conf[k, 0]
            np.clip(p, 0.0, 1.0, out=p)
            if k in partial_set:
                invalid = ~tile.valid
                c[invalid] = 0
                p[invalid] = 0.0
            out.append(DetectorOutput(tile.tile_id, c, p))
        return out

    def _run_session(
        self, feeds: dict[str, npt.NDArray[np.float32]]
    ) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        """``session.run``, or the IOBinding path when :attr:`binding_device` is set."""
        if self.binding_device is None:
            cls, conf = self.session.run(_OUTPUTS, feeds)
            return cls, conf
        binding = self.session.io_binding()
        for name, array in feeds.items():
            binding.bind_cpu_input(name, array)
        for name in _OUTPUTS:
            binding.bind_output(name, self.binding_device)
        self.session.run_with_iobinding(binding)
        cls, conf = binding.copy_outputs_to_cpu()
        return cls, conf


def binding_device(options: RuntimeOptions, provider: str) -> str | None:
    """Where :class:`Detector` binds outputs with IOBinding (``cuda``, ``cpu``), or None for
    plain ``session.run`` (see :attr:`RuntimeOptions.io_binding`)."""
    if options.io_binding == "off":
        return None
    if provider in ("cuda", "tensorrt"):
        return "cuda"
    return "cpu" if options.io_binding == "on" else None
