"""How :func:`edgeinfer.detect.pipeline.detect_scene` keeps the cores busy: a reader thread
that reads tiles ahead (:func:`prefetched`), and lanes, independent copies of the detectors
that run batches of one scene at the same time (:func:`plan_lanes`, :func:`ordered_parallel`).

On these per-pixel graphs onnxruntime's intra-op threads scale poorly: one session with 2
threads runs a batch only ~1.2x faster than with 1 (``benchmarks/bench_spinning.py``: 0.83x
the wall time at 1.12x the CPU), while two single-threaded sessions working on two batches
run ~2x as many tiles (``benchmarks/run_all.py``'s bare paths: 2 x 1 threads ran 1.57-1.59x
the tiles/s of 1 x 2 in runs G and H, docs/performance.md).
So :func:`edgeinfer.detect.pipeline.detect_scene` splits its threads into *lanes*: each lane
holds its own sessions (onnxruntime sessions are safe to share between threads, but each
:class:`~edgeinfer.detect.runtime.Detector` keeps its own batch buffers) with
``threads // lanes`` intra-op threads, and takes the next batch as soon as it is free.
onnxruntime releases the GIL inside ``session.run``, so the lanes really run in parallel.

Results come back in the order the batches went in, so alerts, counters and masks are
exactly those of one lane (tested). Each lane costs its own sessions and arenas in memory
(``benchmarks/bench_lanes.py`` measures both the speed and the memory), so the automatic
choice stops at :data:`MAX_AUTO_LANES`, and GPU providers get :data:`GPU_LANES` (measured).
"""

from __future__ import annotations

import dataclasses
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from edgeinfer.detect.metadata import ModelInfo
from edgeinfer.detect.runtime import Detector, RuntimeOptions, gpu_requested
from edgeinfer.errors import ConfigError
from edgeinfer.scene.types import Tile

#: The most lanes ``lanes = None`` picks: each lane holds its own sessions and arenas (~0.5 GiB
#: for the three Sentinel-2 detectors at batch 2, ``benchmarks/bench_lanes.py``).
MAX_AUTO_LANES = 4

#: Tiles per ``session.run`` when none is given, on CPU. These per-pixel graphs are limited by
#: memory traffic, and onnxruntime's intermediates grow with the batch: on the benchmark scene
#: ``detect_scene`` with 2 lanes ran 1.15x the tiles/s at batch 1 than at batch 2, for 0.82x
#: the CPU seconds and 0.71x the peak RSS (``benchmarks/bench_lanes.py``, docs/performance.md).
CPU_BATCH_SIZE = 1
#: ... and on a GPU, where a batch amortises the transfers and the kernel launches. On an
#: H100 (``benchmarks/gpu_check.py``, 384 tiles of the coast scene, docs/performance.md "GPU")
#: batches of 2 and 8 ran alike with 2 lanes (103-115 against 108 tiles/s).
GPU_BATCH_SIZE = 2
#: Lanes on a GPU when none are given: the host prepares each batch (band selection, scaling,
#: the copies) on the lane's thread while the GPU waits, so two lanes overlap one's
#: preparation with the other's graph. On the H100: 1 lane 68-76 tiles/s, 2 lanes 103-115,
#: 4 lanes 96-105 (batch 2, same alerts in each).
GPU_LANES = 2

Item = TypeVar("Item")
Lane = TypeVar("Lane")
Out = TypeVar("Out")


def default_batch_size(provider: str) -> int:
    """Tiles per batch when none is given: :data:`GPU_BATCH_SIZE` where ``provider`` resolves
    to a GPU provider with this onnxruntime, :data:`CPU_BATCH_SIZE` otherwise."""
    return planned_batch(None, gpu_requested(provider))


def planned_batch(batch_size: int | None, on_gpu: bool) -> int:
    """``batch_size``, or (None) the automatic choice for sessions planned on a GPU
    (:data:`GPU_BATCH_SIZE`) or on the CPU (:data:`CPU_BATCH_SIZE`)."""
    if batch_size is not None:
        return batch_size
    return GPU_BATCH_SIZE if on_gpu else CPU_BATCH_SIZE


def plan_lanes(
    threads: int | None, lanes: int | None, on_gpu: bool, cpus: int | None = None
) -> tuple[int, int | None]:
    """``(lanes, intra-op threads per lane)`` for a run given ``threads`` in all (None or 0:
    onnxruntime's default, one per core).

    ``lanes`` None picks them: on a GPU :data:`GPU_LANES` (while one lane's thread prepares a
    batch the other's runs on the device; one where there is a single thread), on CPU one lane
    per thread up to :data:`MAX_AUTO_LANES`, each lane with an equal share of the threads. An
    explicit ``lanes`` gets ``threads // lanes`` threads each (at least one). One lane keeps
    ``threads`` as given."""
    if lanes is not None and (isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 1):
        raise ConfigError(
            f"lanes = {lanes!r}: expected an integer >= 1; leave it out to get one lane per "
            f"thread (at most {MAX_AUTO_LANES}) on CPU"
        )
    total = threads if threads else (cpus or os.cpu_count() or 1)
    if lanes is None:
        lanes = max(1, min(total, GPU_LANES if on_gpu else MAX_AUTO_LANES))
    if lanes == 1:
        return 1, threads
    return lanes, max(1, total // lanes)


def fallback_choices(
    threads: int | None,
    lanes: int | None,
    batch_size: int | None,
    planned_for_gpu: bool,
    providers: Iterable[str],
    plan: tuple[int, int | None],
    batch: int,
) -> tuple[tuple[int, int | None], int] | None:
    """The lanes (with their threads) and the batch to use instead of ``plan`` and ``batch``
    when they were planned for a GPU but the sessions run on the CPU (``providers``, as
    :attr:`Detector.provider`; onnxruntime-gpu lists CUDA on a machine without a usable GPU):
    the automatic choices for the CPU where ``lanes`` and ``batch_size`` were left to them
    (None), the given ones otherwise. None keeps both (they were for the CPU, a GPU runs, or
    nothing changes)."""
    if not planned_for_gpu or any(p != "cpu" for p in providers):
        return None
    replanned = plan if lanes is not None else plan_lanes(threads, None, False)
    rebatched = planned_batch(batch_size, False)
    return None if (replanned, rebatched) == (plan, batch) else (replanned, rebatched)


def build_lanes(
    models: dict[str, ModelInfo],
    options: RuntimeOptions,
    batch_size: int | None,
    threads: int | None,
    lanes: int | None,
) -> tuple[list[dict[str, Detector]], int, int | None, int]:
    """Each lane's detectors (the first lane's log their provider), the number of lanes, the
    threads per lane (:func:`plan_lanes`) and the tiles per batch (``batch_size``, or None:
    :func:`default_batch_size`).

    Planned for the provider asked for; if a GPU provider was planned for but the sessions
    fell back to the CPU (onnxruntime-gpu lists CUDA on a machine without a usable GPU), the
    automatic choices (lanes, batch) are made again for the CPU."""
    asked_gpu = gpu_requested(options.provider)
    batch = planned_batch(batch_size, asked_gpu)

    def crew(per: int | None, announce: bool) -> dict[str, Detector]:
        lane = dataclasses.replace(options, intra_op_threads=per)
        return {d: Detector(m, lane, batch, announce=announce) for d, m in models.items()}

    n, per = plan_lanes(threads, lanes, asked_gpu)
    first = crew(per, True)
    providers = [r.provider for r in first.values()]
    choice = fallback_choices(threads, lanes, batch_size, asked_gpu, providers, (n, per), batch)
    if choice is not None:
        (n, per), batch = choice
        first = crew(per, False)  # the fallback was logged by the first try
    return [first, *(crew(per, False) for _ in range(n - 1))], n, per, batch


def ordered_parallel(
    items: Iterable[Item], work: Callable[[Item, Lane], Out], lanes: Sequence[Lane]
) -> Generator[Out, None, None]:
    """``work(item, lane)`` for each item, in the items' order, on up to ``len(lanes)`` threads,
    each call holding one lane for itself. At most one item more than there are lanes is taken
    from ``items`` ahead of the results (bounded memory). With one lane everything runs in
    the calling thread. An error in ``work`` is raised here, in order; items not yet started
    are then dropped."""
    if len(lanes) == 1:
        only = lanes[0]
        for item in items:
            yield work(item, only)
        return
    free: queue.SimpleQueue[Lane] = queue.SimpleQueue()
    for lane in lanes:
        free.put(lane)

    def run(item: Item) -> Out:
        lane = free.get()
        try:
            return work(item, lane)
        finally:
            free.put(lane)

    pending: deque[Future[Out]] = deque()
    with ThreadPoolExecutor(len(lanes), thread_name_prefix="edgeinfer-lane") as pool:
        try:
            for item in items:
                pending.append(pool.submit(run, item))
                if len(pending) > len(lanes):
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


class _End:
    """The reader thread's last item: the error it stopped on, or None."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def prefetched(tiles: Iterable[Tile], depth: int) -> Generator[Tile, None, None]:
    """``tiles``, read up to ``depth`` ahead by a background thread (``depth`` <= 0: read
    here). An error in the reader is raised here, in order; stopping early (an error while
    processing, a closed generator) stops the reader."""
    if depth <= 0:
        yield from tiles
        return
    ahead: queue.Queue[Tile | _End] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Tile | _End) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for tile in tiles:
                if not put(tile):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(_End(exc))
            return
        put(_End())

    reader = threading.Thread(target=read, name="edgeinfer-tile-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = ahead.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        reader.join()
