"""The capture CSV schema and its loader.

A capture folder holds, per benchmark, either one `<benchmark>.csv` (what our
capture stage writes) or a folder `<benchmark>/` of shards (what the authors'
capture wrote). Every row is one request (`doc_id`, `input_text`) and, per
model category X, its satisfaction label and measured cost:
`label_X`, `acc_X|acc_norm_X`, `energy_consumption_X` (J), `inference_time_X` (s).

Everything is validated before any compute, and every error names the file,
column, row or doc_id and says what to do. Repeated doc_ids with identical
labels (the published capture has them) are merged into one row whose energy
and time are the means of the repeats; conflicting labels are an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from .zoo import BenchmarkSpec, ModelZoo

CostKind = Literal["energy", "time"]
MAX_LISTED = 10


class CaptureError(ValueError):
    """The capture data is unusable as given; the message says where and how to fix it."""


def label_col(cat: str) -> str:
    return f"label_{cat}"


def metric_col(metric: str, cat: str) -> str:
    return f"{metric}_{cat}"


def energy_col(cat: str) -> str:
    return f"energy_consumption_{cat}"


def time_col(cat: str) -> str:
    return f"inference_time_{cat}"


@dataclass(frozen=True)
class LoadReport:
    """Coverage of one benchmark's capture: what was read and what was merged."""

    files: tuple[str, ...]
    rows: int
    unique_docs: int
    merged_rows: int
    docs_with_repeats: int
    missing_energy: bool

    def describe(self, benchmark: str) -> str:
        text = f"{benchmark}: {self.rows} rows from {len(self.files)} file(s), {self.unique_docs} unique docs"
        if self.merged_rows:
            text += (
                f"; merged {self.merged_rows} repeated rows of {self.docs_with_repeats} doc_ids "
                "(identical labels; energy and time averaged over the repeats)"
            )
        if self.missing_energy:
            text += "; energy not measured (NaN)"
        return text


@dataclass(frozen=True)
class CaptureData:
    """One benchmark's requests, sorted by doc_id, with per-model columns in zoo order."""

    benchmark: str
    categories: tuple[str, ...]
    doc_ids: np.ndarray  # (N,) int64
    texts: tuple[str, ...]
    labels: np.ndarray  # (N, M) int8 in {0, 1}
    energy: np.ndarray  # (N, M) float64, J (NaN where not measured)
    time: np.ndarray  # (N, M) float64, s
    report: LoadReport

    @property
    def n(self) -> int:
        return len(self.doc_ids)

    def cost(self, kind: CostKind) -> np.ndarray:
        return self.energy if kind == "energy" else self.time


def capture_files(data_dir: Path, benchmark: str) -> list[Path]:
    """`<data_dir>/<benchmark>.csv` if present (a merged capture), else the shards in `<data_dir>/<benchmark>/`."""
    single = data_dir / f"{benchmark}.csv"
    if single.is_file():
        return [single]
    folder = data_dir / benchmark
    shards = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if shards:
        return shards
    available = available_benchmarks(data_dir)
    raise CaptureError(
        f"benchmark '{benchmark}' has no data in {data_dir}: expected {single} or CSV shards in {folder}/. "
        f"Benchmarks with data there: {available or 'none'}. Pick one of those with benchmark=..., "
        "or point data_dir=... at the capture folder that holds it."
    )


def available_benchmarks(data_dir: Path) -> list[str]:
    if not data_dir.is_dir():
        return []
    names = {p.stem for p in data_dir.glob("*.csv")}
    names |= {p.name for p in data_dir.iterdir() if p.is_dir() and any(p.glob("*.csv"))}
    return sorted(names)


def _required_columns(frame: pd.DataFrame, path: Path, zoo: ModelZoo, spec: BenchmarkSpec) -> dict[str, str]:
    """Map each category to the column holding its label; raise on anything missing."""
    missing = [c for c in ("doc_id", "input_text") if c not in frame.columns]
    if missing:
        raise CaptureError(f"{path}: missing column(s) {missing}; a capture CSV starts with doc_id, input_text, benchmark_name.")
    found_cats = sorted({c[len("label_"):] for c in frame.columns if c.startswith("label_")})
    labels: dict[str, str] = {}
    for cat in zoo.categories:
        candidates = [label_col(cat), metric_col(spec.metric, cat)]
        present = next((c for c in candidates if c in frame.columns), None)
        if present is None:
            raise CaptureError(
                f"{path}: no satisfaction column for category '{cat}' of model_zoo '{zoo.name}' "
                f"(looked for {candidates}); categories in this file: {found_cats or 'none'}. "
                "Select the zoo that produced this capture (model_zoo=...) or fix the header."
            )
        labels[cat] = present
        for col in (energy_col(cat), time_col(cat)):
            if col not in frame.columns:
                raise CaptureError(f"{path}: missing column '{col}' for category '{cat}'; every category needs label, energy and time columns.")
    return labels


def _rows_where(frame: pd.DataFrame, bad: np.ndarray) -> str:
    """Human-readable 'line L (doc_id D)' list for the first offending rows (line 1 is the header)."""
    idx = np.flatnonzero(bad)[:MAX_LISTED]
    return ", ".join(f"line {i + 2} (doc_id {frame['doc_id'].iloc[i]}): {frame['_value'].iloc[i]}" for i in idx)


def _check_values(frame: pd.DataFrame, path: Path, column: str, bad: np.ndarray, rule: str, fix: str) -> None:
    if bad.any():
        shown = frame.assign(_value=frame[column])
        raise CaptureError(f"{path}: column '{column}' {rule} in {int(bad.sum())} row(s): {_rows_where(shown, bad)}. {fix}")


def _read_file(path: Path, zoo: ModelZoo, spec: BenchmarkSpec, cost: CostKind) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype={"input_text": str}, keep_default_na=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise CaptureError(f"{path}: not a readable CSV ({err}). Re-export it or remove it from the capture folder.") from err
    label_cols = _required_columns(frame, path, zoo, spec)
    doc_ids = pd.to_numeric(frame["doc_id"], errors="coerce")
    _check_values(frame, path, "doc_id", doc_ids.isna().to_numpy() | (doc_ids % 1 != 0).to_numpy(), "is not an integer", "Every row needs an integer doc_id.")
    out = pd.DataFrame({"doc_id": doc_ids.astype(np.int64), "input_text": frame["input_text"].fillna("")})
    for cat in zoo.categories:
        col = label_cols[cat]
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        _check_values(frame, path, col, ~np.isin(values, (0.0, 1.0)), "is not 0 or 1", "Labels are the per-request satisfaction, 0 or 1.")
        out[label_col(cat)] = values.astype(np.int8)
        for col, kind in ((energy_col(cat), "energy"), (time_col(cat), "time")):
            values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
            if kind == cost or not np.isnan(values).all():
                # The optimised cost must be complete; the other one may be wholly unmeasured (NaN), not partly.
                _check_values(frame, path, col, ~np.isfinite(values), "is missing or not finite",
                              f"Re-capture those requests, drop them, or optimise the other cost (cost={'time' if kind == 'energy' else 'energy'}).")
            _check_values(frame, path, col, values < 0, "is negative", "Costs are measured joules or seconds, never negative.")
            out[col] = values
    return out


def load_capture(data_dir: str | Path, spec: BenchmarkSpec, zoo: ModelZoo, cost: CostKind = "energy") -> CaptureData:
    """Read, validate and de-duplicate one benchmark's capture."""
    data_dir = Path(data_dir)
    files = capture_files(data_dir, spec.name)
    frame = pd.concat([_read_file(p, zoo, spec, cost) for p in files], ignore_index=True)
    if frame.empty:
        raise CaptureError(f"benchmark '{spec.name}': the CSV file(s) {[str(p) for p in files]} hold no rows.")
    cats = zoo.categories
    labels = [label_col(c) for c in cats]
    costs = [energy_col(c) for c in cats] + [time_col(c) for c in cats]

    grouped = frame.groupby("doc_id", sort=True)
    conflicts = grouped[labels].nunique().gt(1).any(axis=1)
    if conflicts.any():
        ids = conflicts[conflicts].index.tolist()
        raise CaptureError(
            f"benchmark '{spec.name}' in {data_dir}: {len(ids)} doc_id(s) appear more than once with different labels: "
            f"{ids[:MAX_LISTED]}{' ...' if len(ids) > MAX_LISTED else ''}. Labels of a request must not depend on the run; "
            "remove the wrong shard or re-capture those documents."
        )
    merged = grouped.agg({"input_text": "first", **{c: "first" for c in labels}, **{c: "mean" for c in costs}})
    sizes = grouped.size()
    energy = merged[[energy_col(c) for c in cats]].to_numpy(dtype=np.float64)
    report = LoadReport(
        files=tuple(str(p) for p in files),
        rows=len(frame),
        unique_docs=len(merged),
        merged_rows=int(len(frame) - len(merged)),
        docs_with_repeats=int((sizes > 1).sum()),
        missing_energy=bool(np.isnan(energy).any()),
    )
    return CaptureData(
        benchmark=spec.name,
        categories=tuple(cats),
        doc_ids=merged.index.to_numpy(dtype=np.int64),
        texts=tuple(merged["input_text"].astype(str)),
        labels=merged[labels].to_numpy(dtype=np.int8),
        energy=energy,
        time=merged[[time_col(c) for c in cats]].to_numpy(dtype=np.float64),
        report=report,
    )
