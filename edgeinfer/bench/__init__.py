"""Benchmarks of the runtime: ``edgeinfer bench`` (each model x provider x batch size) and
the pieces ``benchmarks/run_all.py`` shares with it (machine record, benchmark scenes).

    from edgeinfer.bench import BenchSettings, run_bench

    report = run_bench(BenchSettings(models=("fire",), providers=("cpu", "cuda")))
"""

from __future__ import annotations

import logging

from edgeinfer.bench.inputs import BenchInput, bench_input, synthetic_tiles
from edgeinfer.bench.latency import (
    ENERGY_BASIS,
    SCHEMA,
    BenchSettings,
    derived_energy_j,
    percentile,
    run_bench,
    select_models,
)
from edgeinfer.bench.machine import describe_machine, load_average, machine_line
from edgeinfer.bench.providers import (
    BENCH_PROVIDERS,
    ProviderStatus,
    after_session,
    check_providers,
    parse_providers,
)
from edgeinfer.bench.scenes import BenchScene, make_scene, sample_dir, tiled_size

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "BENCH_PROVIDERS",
    "ENERGY_BASIS",
    "SCHEMA",
    "BenchInput",
    "BenchScene",
    "BenchSettings",
    "ProviderStatus",
    "after_session",
    "bench_input",
    "check_providers",
    "derived_energy_j",
    "describe_machine",
    "load_average",
    "machine_line",
    "make_scene",
    "parse_providers",
    "percentile",
    "run_bench",
    "sample_dir",
    "select_models",
    "synthetic_tiles",
    "tiled_size",
]
