"""Onboard budgets: power, thermal, storage and downlink; accelerator profiles as data.

Units are in every name (``battery_capacity_wh``, ``solar_array_w``, ``heat_capacity_j_per_k``,
``capacity_bytes``, ``rate_bps``). Power and thermal states are arrays so that a whole
constellation steps at once (:func:`run_budgets`).
"""

from edgeinfer.budget.accelerators import AcceleratorProfile, get_accelerator, load_accelerators
from edgeinfer.budget.link import DownlinkQueue, LinkModel, QueuedItem, pass_capacity_bytes
from edgeinfer.budget.power import PowerBudget, PowerConfig, PowerStep
from edgeinfer.budget.simulate import BudgetTrace, run_budgets
from edgeinfer.budget.storage import OnboardStorage, StorageCounters, StoredItem
from edgeinfer.budget.thermal import (
    ThermalBudget,
    ThermalConfig,
    ThermalStep,
    equilibrium_temperature_k,
    radiated_w,
)

__all__ = [
    "AcceleratorProfile",
    "BudgetTrace",
    "DownlinkQueue",
    "LinkModel",
    "OnboardStorage",
    "PowerBudget",
    "PowerConfig",
    "PowerStep",
    "QueuedItem",
    "StorageCounters",
    "StoredItem",
    "ThermalBudget",
    "ThermalConfig",
    "ThermalStep",
    "equilibrium_temperature_k",
    "get_accelerator",
    "load_accelerators",
    "pass_capacity_bytes",
    "radiated_w",
    "run_budgets",
]
