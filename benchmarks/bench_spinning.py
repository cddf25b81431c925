"""onnxruntime intra-op threads with and without spinning, on the run_all workload's inputs.

    .venv/bin/python benchmarks/bench_spinning.py [--grid 4x3] [--batches 40]

What a lone satellite actor (given every core as intra-op threads) pays: wall and CPU
seconds of ``session.run`` over the same preloaded batches for 1 thread, 2 threads spinning
(onnxruntime's default) and 2 threads with ``session.intra_op.allow_spinning = 0``, each
twice, interleaved; prints the ratios against 1 thread measured in this process.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import onnxruntime as ort
from paths_local import preload
from run_all import parse_grid
from workload import make_workload

SETTINGS = ((1, None), (2, None), (2, "0"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--grid", type=parse_grid, default=(4, 3))
    p.add_argument("--batches", type=int, default=40)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workload = make_workload(Path(tmp), *a.grid)
        items = preload(workload).items[: a.batches]
    best: dict[tuple[int, str | None], tuple[float, float]] = {}
    for _ in range(2):
        for threads, spin in SETTINGS:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            if spin is not None:
                options.add_session_config_entry("session.intra_op.allow_spinning", spin)
            sessions = {
                d: ort.InferenceSession(str(m.path), options, providers=["CPUExecutionProvider"])
                for d, m in workload.models.items()
            }
            for detector, feeds in items[:4]:  # warm the arenas
                sessions[detector].run(None, feeds)
            t0, c0 = time.perf_counter(), time.process_time()
            for detector, feeds in items:
                sessions[detector].run(None, feeds)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            key = (threads, spin)
            best[key] = min(best.get(key, (wall, cpu)), (wall, cpu))
            print(f"threads {threads}, spinning {spin != '0'}: {wall:.2f} s wall, {cpu:.2f} CPU s")
    base_wall, base_cpu = best[(1, None)]
    for (threads, spin), (wall, cpu) in best.items():
        print(
            f"threads {threads}, spinning {spin != '0'}: wall {wall / base_wall:.2f}x, "
            f"CPU {cpu / base_cpu:.2f}x of 1 thread (best of 2)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
