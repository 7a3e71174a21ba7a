"""Per-document energy and time windows (Zeus), with an honest "missing".

Each document's requests run inside one window. Energy is what Zeus can see:
the GPUs the model runs on (NVML) plus CPU packages and DRAM (RAPL) where
the machine exposes them. Where nothing is visible (a laptop, a VM, this
project's CI), energy is recorded as missing (None in shards, NaN in the
CSV), never as 0. `energy.fallback=time_x_power` opts into an estimate,
time x a configured wattage, which the manifest labels as an estimate.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from messplus_core.errors import ConfigError

log = logging.getLogger(__name__)

FALLBACKS = ("none", "time_x_power")
WINDOW = "document"


class _DropNoRocmWarning(logging.Filter):
    """Zeus looks for AMD GPUs whenever NVML is absent (every CPU-only machine) and warns that `amdsmi` cannot load
    ROCm's `libamd_smi.so` (its KeyError on that name). Without ROCm there is no AMD GPU to measure, and the meter
    states what it measures (`EnergyMeter.source`), so that one line is noise; every other Zeus record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Failed to import amdsmi due to a key error") and "libamd_smi.so" in message)


logging.getLogger("zeus.device.gpu.amd").addFilter(_DropNoRocmWarning())


@dataclass(frozen=True)
class EnergySettings:
    """`energy.*` of the capture config (`conf/capture.yaml`, the only place its defaults are written).

    fallback: `none` (energy missing where Zeus sees no source) or `time_x_power` (an estimate: time x `watts`).
    watts: average power draw in W for `time_x_power`; None otherwise. Raises ConfigError for an unknown
    fallback, or `time_x_power` without watts > 0.
    """

    fallback: str
    watts: float | None

    def __post_init__(self) -> None:
        if self.fallback not in FALLBACKS:
            raise ConfigError(f"energy.fallback must be one of {list(FALLBACKS)}, got {self.fallback!r}.")
        if self.fallback == "time_x_power" and not (self.watts and self.watts > 0):
            raise ConfigError("energy.fallback=time_x_power needs energy.watts=<average power draw in W, > 0>.")


@dataclass(frozen=True)
class Reading:
    """One window: wall time, total energy (None when unmeasured) and its parts by source."""

    time_s: float
    energy_j: float | None
    parts: dict[str, float] = field(default_factory=dict)


def zeus_monitor(gpus: Sequence[int]) -> Any:
    """A `zeus.monitor.ZeusMonitor` on GPU indices `gpus` (as NVML sees them under CUDA_VISIBLE_DEVICES), with
    `approx_instant_energy=True` (NVML's energy counter updates every 20-100 ms, so a very short window would read 0;
    Zeus then uses power x time). Raises ConfigError naming the indices when Zeus cannot see them (no GPU: Zeus's
    ValueError "No GPUs available.")."""
    from zeus.monitor import ZeusMonitor

    try:
        return ZeusMonitor(gpu_indices=list(gpus), approx_instant_energy=True)
    except ValueError as err:  # e.g. "No GPUs available." for indices Zeus cannot see
        raise ConfigError(f"Zeus cannot monitor GPU(s) {list(gpus)}: {err}") from err


class EnergyMeter:
    """Opens one Zeus window per document on the model's GPUs (and RAPL zones, if any)."""

    def __init__(self, gpus: Sequence[int], settings: EnergySettings) -> None:
        self._monitor = zeus_monitor(gpus)
        self._settings = settings
        n_gpu, n_cpu = len(self._monitor.gpu_indices), len(self._monitor.cpu_indices)
        self.measured = bool(n_gpu or n_cpu)
        if self.measured:
            zones = ([f"GPU {list(self._monitor.gpu_indices)} (NVML)"] if n_gpu else []) + (
                [f"CPU/DRAM RAPL zones {list(self._monitor.cpu_indices)}"] if n_cpu else []
            )
            self.source = "measured by Zeus: " + " + ".join(zones)
        elif settings.fallback == "time_x_power":
            self.source = f"ESTIMATE, not measured: inference time x {settings.watts} W (energy.fallback=time_x_power)"
        else:
            self.source = (
                "not measured: Zeus sees no GPU and no RAPL zone on this machine; energy is NaN "
                "(optimise cost=time, or opt into energy.fallback=time_x_power energy.watts=W)"
            )

    def begin(self) -> float:
        """Open the window; returns the start time for `end`."""
        self._monitor.begin_window(WINDOW)
        return time.perf_counter()

    def end(self, started: float) -> Reading:
        """Close the window opened by `begin`: wall time (s) and energy (J) summed over Zeus' GPU, CPU and DRAM
        parts; without a source, time x `energy.watts` if that fallback is on, else None (never 0)."""
        elapsed = time.perf_counter() - started
        m = self._monitor.end_window(WINDOW)
        parts: dict[str, float] = {f"gpu{i}": float(j) for i, j in (m.gpu_energy or {}).items()}
        parts |= {f"cpu{i}": float(j) for i, j in (m.cpu_energy or {}).items()}
        parts |= {f"dram{i}": float(j) for i, j in (m.dram_energy or {}).items()}
        if self.measured:
            energy: float | None = math.fsum(parts.values())
        elif self._settings.fallback == "time_x_power":
            energy = elapsed * float(self._settings.watts or 0.0)
        else:
            energy = None
        return Reading(time_s=elapsed, energy_j=energy, parts=parts)
