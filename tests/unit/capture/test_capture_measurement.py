"""What a window records, and the text a document is routed on."""

from __future__ import annotations

import math

from messplus_core.capture.energy import EnergyMeter, EnergySettings
from messplus_core.capture.lm_eval_runner import request_text


def test_without_an_energy_source_energy_is_missing_not_zero() -> None:
    meter = EnergyMeter([], EnergySettings(fallback="none", watts=None))
    if meter.measured:  # a machine with RAPL: then it must be a real, non-negative reading
        reading = meter.end(meter.begin())
        assert reading.energy_j is not None and reading.energy_j >= 0
        return
    reading = meter.end(meter.begin())
    assert reading.energy_j is None and reading.time_s > 0
    assert meter.source.startswith("not measured")


def test_time_x_power_estimate_is_labelled_an_estimate() -> None:
    meter = EnergyMeter([], EnergySettings(fallback="time_x_power", watts=50.0))
    if meter.measured:
        return  # a measured source always wins over the estimate
    reading = meter.end(meter.begin())
    assert math.isclose(reading.energy_j, reading.time_s * 50.0)
    assert meter.source.startswith("ESTIMATE")


def test_shared_context_is_the_input_text() -> None:
    args = [("Question: 2+2?\nAnswer:", " 4"), ("Question: 2+2?\nAnswer:", " 5")]
    assert request_text(args) == "Question: 2+2?\nAnswer:"


def test_partial_scoring_rebuilds_the_blank_sentence_without_the_options() -> None:
    # winogrande: each option completes the context; the continuation is shared.
    args = [("The trophy did not fit because Sarah", " was too small."), ("The trophy did not fit because Sam", " was too small.")]
    assert request_text(args) == "The trophy did not fit because _ was too small."


def test_zeus_no_rocm_warning_is_dropped_and_other_zeus_warnings_pass(caplog) -> None:
    """`make demo` on a CPU machine printed Zeus's "Failed to import amdsmi due to a key error on: ['libamd_smi.so']"
    when the meter was built; only that line is dropped."""
    import logging

    amd = logging.getLogger("zeus.device.gpu.amd")
    with caplog.at_level(logging.INFO):
        EnergyMeter([], EnergySettings(fallback="none", watts=None))  # a real ZeusMonitor: no NVML here, so Zeus tries amdsmi
        amd.warning("Failed to import amdsmi due to a key error on: [%s]. Ensure that amdsmi is installed on your system.",
                    KeyError("libamd_smi.so"))
        amd.warning("Failed to import amdsmi. Ensure amdsmi's version is at least as high as the current ROCm version.")
    assert "libamd_smi.so" not in caplog.text
    assert [r.getMessage() for r in caplog.records if r.name == amd.name] == [
        "Failed to import amdsmi. Ensure amdsmi's version is at least as high as the current ROCm version."]
