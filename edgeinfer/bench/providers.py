"""Which execution providers can be benchmarked here, and why not when they cannot.

A benchmark must never skip a provider silently (issue 7): each requested provider is
reported available or unavailable WITH the reason. Two ways to be unavailable:

* the installed onnxruntime does not offer it (the CPU package offers only
  ``CPUExecutionProvider``; CUDA and TensorRT come with ``onnxruntime-gpu``, the ``gpu`` extra,
  which replaces ``onnxruntime``: ../shared/ENVIRONMENT.md);
* it is offered, but the session falls back to another provider (onnxruntime-gpu without the
  CUDA libraries or without a GPU logs an error and runs on CPU: ENVIRONMENT.md), which
  :func:`after_session` finds by reading back the provider the session actually runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from edgeinfer.bench.machine import onnxruntime_package
from edgeinfer.detect.runtime import available_providers, onnxruntime_name
from edgeinfer.errors import ModelError, unknown_name

#: Providers ``edgeinfer bench`` knows (``auto`` is a runtime choice, not a benchmark row).
BENCH_PROVIDERS: tuple[str, ...] = ("cpu", "cuda", "tensorrt")

_NEEDS = {
    "cuda": (
        "install the gpu extra (`pip install edgeinfer[gpu]`: onnxruntime-gpu, which replaces "
        "onnxruntime) on a machine with an NVIDIA GPU and its CUDA libraries"
    ),
    "tensorrt": (
        "install the gpu extra (`pip install edgeinfer[gpu]`) and NVIDIA TensorRT on a machine "
        "with an NVIDIA GPU"
    ),
    "cpu": "install the cpu extra (`pip install edgeinfer[cpu]`)",
}


@dataclass(frozen=True)
class ProviderStatus:
    """A provider's availability; ``reason`` says why it is unavailable."""

    name: str
    available: bool
    reason: str = ""
    onnxruntime_name: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "available": self.available,
            "reason": self.reason or None,
            "onnxruntime_name": self.onnxruntime_name,
        }


def parse_providers(text: str | Sequence[str]) -> list[str]:
    """``"cpu,cuda"`` -> ``["cpu", "cuda"]``, validated (unknown names list the known)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names = list(dict.fromkeys(p.strip().lower() for p in items if p.strip()))
    for name in names:
        if name not in BENCH_PROVIDERS:
            raise unknown_name("provider", name, BENCH_PROVIDERS)
    if not names:
        raise unknown_name("provider", "", BENCH_PROVIDERS)
    return names


def check_providers(
    names: Sequence[str], offered: Sequence[str] | None = None
) -> dict[str, ProviderStatus]:
    """Status of each of ``names`` before any session is made. ``offered``: the onnxruntime
    provider names to check against (default: what the installed onnxruntime offers)."""
    dist, version = onnxruntime_package()
    runtime = f"{dist} {version}" if dist else "onnxruntime"
    if offered is None:
        try:
            offered = available_providers()
        except ModelError as exc:
            return {n: ProviderStatus(n, False, str(exc), onnxruntime_name(n)) for n in names}
    out: dict[str, ProviderStatus] = {}
    for name in parse_providers(list(names)):
        ort_name = onnxruntime_name(name)
        if ort_name in offered:
            out[name] = ProviderStatus(name, True, "", ort_name)
        else:
            reason = (
                f"this {runtime} offers only {', '.join(offered) or 'no provider'}; "
                f"for {name}, {_NEEDS[name]}"
            )
            out[name] = ProviderStatus(name, False, reason, ort_name)
    return out


def after_session(status: ProviderStatus, actual: str) -> ProviderStatus:
    """``status`` once a session asked for it runs on ``actual`` (``cpu|cuda|tensorrt``):
    unavailable when onnxruntime fell back to another provider."""
    if not status.available or actual == status.name:
        return status
    reason = (
        f"onnxruntime offers {status.onnxruntime_name} but the session runs on {actual} "
        f"(missing GPU or libraries?); {_NEEDS[status.name]}"
    )
    return replace(status, available=False, reason=reason)
