"""The one place that creates onnxruntime sessions: providers, their fallbacks, and the
options every session is created with (:class:`RuntimeOptions`).

Providers: ``auto`` (CUDA when this onnxruntime offers it, else CPU; TensorRT only on request
because it builds an engine per input shape, which takes minutes), ``cpu``, ``cuda``,
``tensorrt`` (TensorRT, then CUDA, then CPU). Asking for a provider this onnxruntime lacks
falls back to CPU with a warning. Asking for CUDA when onnxruntime-gpu is installed but the
CUDA libraries are not makes onnxruntime log an error and silently fall back
(../shared/ENVIRONMENT.md), so the provider that actually runs is read back from
``session.get_providers()`` and logged.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edgeinfer.errors import ConfigError, ModelError, unknown_name

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


_PRELOADED: list[bool] = []


def preload_gpu_libraries(ort: Any) -> None:
    """Load the CUDA and cuDNN libraries that pip installed beside onnxruntime-gpu (the
    ``nvidia-*`` packages of its ``cuda`` and ``cudnn`` extras, or PyTorch's), once per
    process, with ``onnxruntime.preload_dlls()`` (onnxruntime >= 1.21). Without them on the
    loader's path (``LD_LIBRARY_PATH``, a system CUDA) a CUDA session falls back to the CPU.

    onnxruntime reports a library it cannot load with ``print``; that text goes to this
    module's log (WARNING) instead of stdout, where it would break ``--json`` output. A
    failure is logged, not raised: the session is then created as before and the provider it
    really runs on is read back."""
    if _PRELOADED:
        return
    _PRELOADED.append(True)
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            preload()
    except Exception as exc:  # onnxruntime raises RuntimeError, ctypes OSError
        logger.warning("onnxruntime.preload_dlls() failed (%s); using the loader's path", exc)
    for line in printed.getvalue().splitlines():
        if line.strip():
            logger.warning("onnxruntime.preload_dlls(): %s", line.strip())


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
    if providers[0] != "CPUExecutionProvider":
        preload_gpu_libraries(ort)
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
