"""The capture CSV's column names: the one place both the capture writer (`capture/merge.py`) and the
evaluate loader (`data/capture_csv.py`) take them from.

One row per request: `doc_id`, `input_text`, `benchmark_name`, then per model category X
`label_X`, `<metric>_X`, `energy_consumption_X` (J), `inference_time_X` (s) and, for generation tasks,
`prompt_tokens_X`, `generated_tokens_X`, `generated_text_X`. A capture folder may hold a `manifest.json`.
"""

from __future__ import annotations

from messplus_core.core.stream import CostKind

ID_COLUMN = "doc_id"
TEXT_COLUMN = "input_text"
BENCHMARK_COLUMN = "benchmark_name"
#: Prefixes of the per-category numeric columns (the loader parses only these as numbers).
NUMERIC_PREFIXES = ("label_", "acc_", "energy_consumption_", "inference_time_")
#: The capture folder's description file (written by capture/manifest.py, checked by the loader).
MANIFEST = "manifest.json"


def label_col(cat: str) -> str:
    """Model category `cat`'s satisfaction label (0/1, or a graded score in [0, 1])."""
    return f"label_{cat}"


def metric_col(metric: str, cat: str) -> str:
    """The benchmark metric as lm-eval reports it (e.g. `acc_X`), written next to the label for audit."""
    return f"{metric}_{cat}"


def energy_col(cat: str) -> str:
    """Energy of one request on `cat`, in joules (empty/NaN where unmeasured)."""
    return f"energy_consumption_{cat}"


def time_col(cat: str) -> str:
    """Wall time of one request on `cat`, in seconds."""
    return f"inference_time_{cat}"


def token_cols(cat: str) -> tuple[str, str]:
    """Optional columns of a generation capture: the prompt's and the generated text's token counts."""
    return f"prompt_tokens_{cat}", f"generated_tokens_{cat}"


def cost_cols(kind: CostKind, cats: tuple[str, ...] | list[str]) -> list[str]:
    """The cost column of each category, in the order given: energy (J) or time (s)."""
    return [energy_col(c) if kind == "energy" else time_col(c) for c in cats]


def generated_text_col(cat: str) -> str:
    """The text `cat` generated for a generation task (kept for audit, never read as a number)."""
    return f"generated_text_{cat}"
