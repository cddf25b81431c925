"""The one place that creates onnxruntime sessions, and the batching :class:`Detector`.

Providers: ``auto`` (CUDA when this onnxruntime offers it, else CPU; TensorRT only on request
because it builds an engine per input shape, which takes minutes), ``cpu``, ``cuda``,
``tensorrt`` (TensorRT, then CUDA, then CPU). Asking for a provider this onnxruntime lacks
falls back to CPU with a warning. Asking for CUDA when onnxruntime-gpu is installed but the
CUDA libraries are not makes onnxruntime log an error and silently fall back
(../shared/ENVIRONMENT.md), so the provider that actually runs is read back from
``session.get_providers()`` and logged.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from edgeinfer.detect.metadata import ModelInfo
from edgeinfer.errors import ConfigError, ModelError, unknown_name
from edgeinfer.scene.types import Tile

logger = logging.getLogger(__name__)

PROVIDERS: tuple[str, ...] = ("auto", "cpu", "cuda", "tensorrt")
_ORT_NAMES = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
_SHORT = {v: k for k, v in _ORT_NAMES.items()}
_CHAINS = {
    "auto": ("cuda", "cpu"),
    "cpu": ("cpu",),
    "cuda": ("cuda", "cpu"),
    "tensorrt": ("tensorrt", "cuda", "cpu"),
}
OPTIMIZATIONS: tuple[str, ...] = ("disable", "basic", "extended", "all")
IO_BINDING: tuple[str, ...] = ("auto", "on", "off")
_OUTPUTS = ["class", "confidence"]


def import_onnxruntime() -> Any:
    """Import onnxruntime, or raise :class:`ModelError` saying how to install it."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelError(
            "onnxruntime is not installed; run `pip install edgeinfer[cpu]` "
            "(or `pip install edgeinfer[gpu]` for CUDA, never both)"
        ) from exc
    return onnxruntime


@dataclass(frozen=True)
class RuntimeOptions:
    """How sessions run: provider name, threads (None = onnxruntime's default) and graph
    optimisation level. Validated on creation.

    ``require_signature``: a :class:`Detector` loads a model file only when its detached
    signature (``NAME.onnx.sig``, :mod:`edgeinfer.detect.signing`) verifies against
    ``trusted_keys`` (paths of PEM public keys; empty: the development key), else raises
    :class:`ModelError`. Missions require it; ``edgeinfer detect`` does not by default
    (docs/reliability.md).

    ``memory_limit_mb``: run the session on a CPU memory arena capped at this size and
    silence onnxruntime's own log: an allocation beyond the cap fails the run with
    :class:`ModelError` instead of exhausting the host, as on an accelerator with fixed
    memory. Fault injection needs it (a flipped bit in a ``Pad`` constant can ask for
    terabytes). The arena is onnxruntime's process-wide environment allocator, shared by
    every capped session of the process; the last cap set applies to sessions created after.

    ``allow_spinning``: whether idle intra-op threads spin-wait (onnxruntime's default) or
    sleep (ours). Measured with 2 threads on the benchmark workload
    (``benchmarks/bench_spinning.py``): spinning 0.81x the wall time of 1 thread at 1.60x its
    CPU seconds, sleeping 0.83x at 1.12x. CPU seconds are power on board, so off unless asked.

    ``io_binding``: run through onnxruntime's IOBinding (inputs bound from host memory,
    outputs bound on the provider's device and copied back once per batch) instead of
    ``session.run``. ``auto``: on when the session runs on CUDA or TensorRT, off on CPU, where
    it gains nothing; ``on`` forces it (also on CPU, which is how the GPU code path is tested
    on machines without a GPU).
    """

    provider: str = "auto"
    intra_op_threads: int | None = None
    inter_op_threads: int | None = None
    optimization: str = "all"
    require_signature: bool = False
    trusted_keys: tuple[str, ...] = ()
    memory_limit_mb: int | None = None
    io_binding: str = "auto"
    allow_spinning: bool = False

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise unknown_name("provider", self.provider, PROVIDERS)
        if self.io_binding not in IO_BINDING:
            raise unknown_name("io_binding setting", self.io_binding, IO_BINDING)
        if self.optimization not in OPTIMIZATIONS:
            raise unknown_name("optimization level", self.optimization, OPTIMIZATIONS)
        for key in ("intra_op_threads", "inter_op_threads"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ConfigError(f"{key} = {value!r}: expected an integer >= 0 (0 = default)")
        if isinstance(self.trusted_keys, str | bytes) or not all(
            isinstance(k, str | os.PathLike) for k in self.trusted_keys
        ):
            raise ConfigError(
                f"trusted_keys = {self.trusted_keys!r}: expected a list of public key paths"
            )
        object.__setattr__(self, "trusted_keys", tuple(str(k) for k in self.trusted_keys))
        if self.memory_limit_mb is not None and (
            not isinstance(self.memory_limit_mb, int) or self.memory_limit_mb < 1
        ):
            raise ConfigError(
                f"memory_limit_mb = {self.memory_limit_mb!r}: expected an integer >= 1"
            )


def onnxruntime_name(provider: str) -> str:
    """onnxruntime's name of a provider (``cuda`` -> ``CUDAExecutionProvider``)."""
    if provider not in _ORT_NAMES:
        raise unknown_name("provider", provider, tuple(_ORT_NAMES))
    return _ORT_NAMES[provider]


def available_providers() -> tuple[str, ...]:
    """The execution providers (onnxruntime names) the installed onnxruntime offers."""
    return tuple(import_onnxruntime().get_available_providers())


def _chain(provider: str, available: Sequence[str]) -> tuple[list[str], list[str]]:
    """``provider``'s onnxruntime names in order, and those of them ``available``."""
    if provider not in PROVIDERS:
        raise unknown_name("provider", provider, PROVIDERS)
    chain = [_ORT_NAMES[p] for p in _CHAINS[provider]]
    return chain, [p for p in chain if p in available]


def gpu_requested(provider: str) -> bool:
    """Whether ``provider`` resolves to a GPU provider with this onnxruntime. Logs nothing:
    a fallback is logged when the sessions are created."""
    usable = _chain(provider, available_providers())[1]
    return bool(usable) and usable[0] != "CPUExecutionProvider"


def requested_providers(provider: str, available: Sequence[str]) -> list[str]:
    """onnxruntime provider names to ask for, in order, keeping those ``available``."""
    chain, usable = _chain(provider, available)
    if provider != "auto" and chain[0] not in available:
        logger.warning(
            "provider %s requested but this onnxruntime offers only %s; falling back to %s "
            "(for CUDA/TensorRT install `edgeinfer[gpu]` instead of `edgeinfer[cpu]`)",
            provider,
            ", ".join(available),
            usable[0] if usable else "CPUExecutionProvider",
        )
    return usable or ["CPUExecutionProvider"]


def create_session(
    path: str | bytes, options: RuntimeOptions | None = None, label: str = "", announce: bool = True
) -> tuple[Any, str]:
    """Create an ``onnxruntime.InferenceSession`` for the model at ``path`` (or from the
    model's serialized bytes).

    Returns the session and the short name (``cpu|cuda|tensorrt``) of the provider that
    actually runs it, which is also logged at INFO (at DEBUG with ``announce`` False: the
    further copies of a model that :mod:`edgeinfer.detect.lanes` loads).
    """
    ort = import_onnxruntime()
    options = options or RuntimeOptions()
    so = ort.SessionOptions()
    if options.intra_op_threads is not None:
        so.intra_op_num_threads = options.intra_op_threads
    if options.inter_op_threads is not None:
        so.inter_op_num_threads = options.inter_op_threads
    so.add_session_config_entry(
        "session.intra_op.allow_spinning", "1" if options.allow_spinning else "0"
    )
    so.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[options.optimization]
    if options.memory_limit_mb is not None:
        _cap_arena(ort, options.memory_limit_mb)
        so.add_session_config_entry("session.use_env_allocators", "1")
        so.log_severity_level = 4  # fatal only: failures still raise, as ModelError
    providers = requested_providers(options.provider, ort.get_available_providers())
    label = label or (path if isinstance(path, str) else f"<{len(path)} bytes>")
    try:
        model = path if isinstance(path, bytes) else str(path)
        session = ort.InferenceSession(model, sess_options=so, providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/RuntimeException
        raise ModelError(
            f"onnxruntime cannot load model {label} ({exc}); rebuild the models with "
            "`edgeinfer models build`"
        ) from exc
    actual_full = session.get_providers()[0]
    actual = _SHORT.get(actual_full, actual_full)
    if providers[0] != actual_full:
        logger.warning(
            "model %s: asked for %s but onnxruntime runs %s (missing GPU libraries?)",
            label,
            providers[0],
            actual_full,
        )
    logger.log(
        logging.INFO if announce else logging.DEBUG,
        "model %s runs on %s (%s)",
        label,
        actual,
        actual_full,
    )
    return session, actual


# The arena cap registered in each process (pid -> MiB): onnxruntime's environment
# allocator is process-wide, so this mirrors its state instead of re-registering per session.
_ARENA_CAP_MB: dict[int, int] = {}


def _cap_arena(ort: Any, limit_mb: int) -> None:
    """Register onnxruntime's shared CPU arena with ``max_mem`` = ``limit_mb`` MiB (once per
    process and cap)."""
    if _ARENA_CAP_MB.get(os.getpid()) == limit_mb:
        return
    info = ort.OrtMemoryInfo(
        "Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT
    )
    ort.create_and_register_allocator(info, ort.OrtArenaCfg({"max_mem": limit_mb * 2**20}))
    _ARENA_CAP_MB[os.getpid()] = limit_mb


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
        for i, unit in zip(index, self.info.units, strict=True):
            band = tile.bands[i]
            if band.unit != unit and band.name not in self._warned_units:
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
                raise ModelError(
                    f"model {self.info.name} needs the pixel size but scene "
                    f"{tiles[0].scene_id} has none; use a georeferenced scene or a product "
                    "with a known resolution"
                )
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
