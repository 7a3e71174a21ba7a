"""Join a benchmark's unit shards into the CSV the evaluate stage reads.

`<out_dir>/<benchmark>.csv` has one row per doc_id (sorted): `doc_id,
input_text, benchmark_name`, then per category X (cheapest first)
`label_X, <metric>_X, energy_consumption_X` (J, empty = NaN when not
measured) and `inference_time_X` (s); generation tasks add
`prompt_tokens_X, generated_tokens_X, generated_text_X`. The label is the
benchmark's satisfaction metric: lm-eval's per-sample metric (acc, ...) or the
graded score computed from the generated text (bleu1, rouge1). Only documents every model has scored
are written; any others are counted in the manifest.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pandas as pd

from messplus_core.data.schema import (BENCHMARK_COLUMN, ID_COLUMN, TEXT_COLUMN, energy_col, generated_text_col,
                                       label_col, metric_col, time_col, token_cols)
from messplus_core.errors import ConfigError
from messplus_core.specs import BenchmarkSpec, ModelZoo
from messplus_core.util.io import atomic_path
from .documents import check_documents
from .manifest import now_iso, update_manifest
from .shards import check_identity, done_path, read_done, read_shard, shard_path
from .units import CaptureUnit


def write_capture_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a capture CSV atomically so that the evaluate stage reads back exactly these texts, labels and costs.

    Every non-numeric field is quoted (csv.QUOTE_NONNUMERIC): a text holding a
    delimiter, a quote, a lone CR, a NUL or any other character is one quoted
    field whatever the Python version's minimal-quoting rules, and the loader
    reads text columns verbatim. Missing costs are written as empty ("") fields.
    """
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, quoting=csv.QUOTE_NONNUMERIC, encoding="utf-8")


def incomplete_units(out_dir: Path, units: list[CaptureUnit]) -> list[CaptureUnit]:
    """The units among `units` without a done record in `out_dir`."""
    return [u for u in units if read_done(done_path(out_dir, u.benchmark.name, u.model.category)) is None]


def merge_benchmark(out_dir: Path, zoo: ModelZoo, spec: BenchmarkSpec, units: list[CaptureUnit]) -> tuple[Path, dict[str, Any]]:
    """Write `<benchmark>.csv` and its manifest entry; every unit of the benchmark must be complete."""
    missing = incomplete_units(out_dir, units)
    if missing:
        listed = ", ".join(f"unit {u.index} ({u.model.category})" for u in missing)
        raise ConfigError(
            f"benchmark '{spec.name}' cannot be merged yet: {listed} not complete in {out_dir}. "
            "Run those units first (unit=K, or the full capture command)."
        )
    frames: list[pd.DataFrame] = []
    models: list[dict[str, Any]] = []
    for u in units:
        cat = u.model.category
        done = read_done(done_path(out_dir, spec.name, cat))
        assert done is not None
        expected = {"zoo": zoo.name, "benchmark": spec.name, "task": spec.task, "category": cat, "model": u.model.model}
        check_identity(done_path(out_dir, spec.name, cat), done["identity"], expected)
        check_documents(done_path(out_dir, spec.name, cat), done, spec.task)
        records = read_shard(shard_path(out_dir, spec.name, cat)).records
        metrics = done["metrics"]
        if not metrics or spec.metric not in metrics[0]:
            raise ConfigError(f"lm-eval task '{spec.task}' reports no per-sample '{spec.metric}'; fix `metric` in conf/benchmark/{spec.name}.yaml.")
        rows = []
        for m in metrics:
            rec = records.get(int(m[ID_COLUMN]))
            if rec is None:
                raise ConfigError(f"{shard_path(out_dir, spec.name, cat)} lacks doc_id {m['doc_id']} that its done record lists; delete both files to recapture.")
            row = {
                ID_COLUMN: rec.doc_id,
                TEXT_COLUMN: rec.input_text,
                label_col(cat): float(m[spec.metric]),
                metric_col(spec.metric, cat): float(m[spec.metric]),
                energy_col(cat): math.nan if rec.energy_j is None else rec.energy_j,
                time_col(cat): rec.time_s,
            }
            if rec.generated is not None:  # a generation task: token counts and the text, for audit
                row |= {token_cols(cat)[0]: rec.prompt_tokens, token_cols(cat)[1]: rec.generated_tokens,
                        generated_text_col(cat): rec.generated}
            rows.append(row)
        frames.append(pd.DataFrame(rows).set_index(ID_COLUMN))
        models.append({k: v for k, v in done.items() if k != "metrics"} | {"docs": len(rows)})

    texts = frames[0][TEXT_COLUMN]
    joined = pd.concat([f.drop(columns=TEXT_COLUMN) for f in frames], axis=1, join="inner").sort_index()
    all_docs = set().union(*(set(f.index) for f in frames))
    joined.insert(0, BENCHMARK_COLUMN, spec.name)
    joined.insert(0, TEXT_COLUMN, texts.reindex(joined.index))
    joined = joined.reset_index()

    csv_path = Path(out_dir) / f"{spec.name}.csv"
    write_capture_csv(joined, csv_path)
    entry = {
        "csv": csv_path.name,
        "task": spec.task,
        "metric": spec.metric,
        "satisfaction": {"metric": spec.metric, "kind": spec.kind, "threshold": spec.threshold},
        "rows": len(joined),
        "docs_not_scored_by_every_model": len(all_docs) - len(joined),
        "merged_at": now_iso(),
        "started_at": min(m["started_at"] for m in models),
        "finished_at": max(m["finished_at"] for m in models),
        "energy_measured": all(m["energy_measured"] for m in models),
        "models": models,
    }
    return csv_path, entry | {"manifest": str(update_manifest(out_dir, zoo.name, spec.name, entry))}
