"""The capture CSV schema and its loader.

A capture folder holds, per benchmark, either one `<benchmark>.csv` (what our
capture stage writes) or a folder `<benchmark>/` of shards (what the authors'
capture wrote), and optionally a `manifest.json` naming the zoo that made it.
Every row is one request (`doc_id`, `input_text`) and, per model category X,
its satisfaction label and measured cost: `label_X`, `acc_X|acc_norm_X`,
`energy_consumption_X` (J), `inference_time_X` (s).

Rules (all checked before any compute; every error names the file, the
physical line where the row starts, the doc_id and the fix):

- Text columns (`input_text`, `benchmark_name`, ...) are read verbatim: `NA`,
  `None` or an empty field are texts, never missing values. Only the numeric
  columns above know missing values.
- A request is (benchmark, doc_id) with one text: rows repeating a doc_id are
  the same request measured again only if their text and labels agree; their
  energy and time are averaged. Anything else is an error naming the files.
- `label_X` is the satisfaction; where the benchmark's metric column
  (`acc_X` / `acc_norm_X`) is present too, both must agree. Without `label_X`
  the metric column is used, and the log says so.
- Missing costs follow one rule per benchmark, whatever the file split: the
  optimised cost (`cost=`) must be present in every row; the other cost may be
  missing anywhere, and figures that include a missing value are reported as
  n/a (NaN), never as a number. `drop_incomplete=True` drops (and counts) rows
  whose label or optimised cost is missing instead of refusing them.

`CaptureData.digest` is a SHA-256 of exactly what was loaded (after the rules
above and the merging of repeats); run identities include it, so a changed
capture is never served from runs made on the old one.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from messplus_core.core.stream import CostKind
from messplus_core.data.schema import (BENCHMARK_COLUMN, ID_COLUMN, MANIFEST, NUMERIC_PREFIXES, TEXT_COLUMN, cost_cols,
                                       energy_col, label_col, metric_col, time_col, token_cols)
from messplus_core.errors import CaptureError, ConfigError
from messplus_core.specs import BenchmarkSpec, ModelZoo

MAX_LISTED = 10
DISAGREEMENTS_LISTED = 5  # rows shown per disagreeing label column (every column is named)
#: Strings that mean "missing" in a numeric column (pandas' defaults, empty field included). Text columns have none.
NA_STRINGS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
              "NA", "NULL", "NaN", "None", "n/a", "nan", "null")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadReport:
    """Coverage of one benchmark's capture: what was read, merged, dropped, and where the labels came from."""

    files: tuple[str, ...]
    rows: int
    unique_docs: int
    merged_rows: int
    docs_with_repeats: int
    missing_energy: bool
    missing_time: bool = False
    dropped_rows: int = 0  # drop_incomplete=true: rows without a label or the optimised cost
    label_source: str = "label_X"  # or the metric column used where label_X is absent

    def describe(self, benchmark: str) -> str:
        """One log line: rows, files, unique docs, and each merge, drop or missing cost that happened."""
        text = f"{benchmark}: {self.rows} rows from {len(self.files)} file(s), {self.unique_docs} unique docs"
        if self.dropped_rows:
            text += f"; dropped {self.dropped_rows} incomplete rows (drop_incomplete=true)"
        if self.merged_rows:
            text += (
                f"; merged {self.merged_rows} repeated rows of {self.docs_with_repeats} doc_ids "
                "(same text and labels; energy and time averaged over the repeats)"
            )
        if self.label_source != "label_X":
            text += f"; satisfaction from {self.label_source}"
        if self.missing_energy:
            text += "; energy not measured for some requests (NaN: energy figures including them are n/a)"
        if self.missing_time:
            text += "; time not measured for some requests (NaN: time figures including them are n/a)"
        return text


@dataclass(frozen=True)
class CaptureData:
    """One benchmark's requests, sorted by doc_id, with per-model columns in zoo order."""

    benchmark: str
    categories: tuple[str, ...]
    doc_ids: np.ndarray  # (N,) int64
    texts: tuple[str, ...]
    labels: np.ndarray  # (N, M) int8 in {0, 1} (binary benchmark) or float64 scores in [0, 1] (graded)
    energy: np.ndarray  # (N, M) float64, J (NaN where not measured)
    time: np.ndarray  # (N, M) float64, s (NaN where not measured)
    report: LoadReport
    digest: str = ""  # SHA-256 of everything above that a run reads (see `data_digest`)
    tokens: np.ndarray | None = None  # (N, M, 2) float64 prompt and generated tokens (generation captures), else None

    @property
    def n(self) -> int:
        """N, the number of unique requests."""
        return len(self.doc_ids)

    def cost(self, kind: CostKind) -> np.ndarray:
        """(N, M) float64 per-request cost of each model: `energy` in J or `time` in s (NaN where unmeasured)."""
        return self.energy if kind == "energy" else self.time


def data_digest(categories: tuple[str, ...], doc_ids: np.ndarray, texts: tuple[str, ...], labels: np.ndarray,
                energy: np.ndarray, time: np.ndarray) -> str:
    """SHA-256 (hex) of a loaded benchmark: categories, doc_ids, texts, labels and both costs (NaN positions included)."""
    h = hashlib.sha256(json.dumps(list(categories)).encode())
    h.update(np.ascontiguousarray(doc_ids, dtype=np.int64).tobytes())
    for text in texts:
        raw = text.encode("utf-8")
        h.update(len(raw).to_bytes(8, "little") + raw)
    h.update(np.ascontiguousarray(labels, dtype=np.int8 if labels.dtype == np.int8 else np.float64).tobytes())
    for values in (energy, time):
        values = np.ascontiguousarray(values, dtype=np.float64)
        h.update(np.isnan(values).tobytes())
        h.update(np.nan_to_num(values, nan=0.0).tobytes())
    return h.hexdigest()


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
    """Sorted names with data in `data_dir`: each `<name>.csv` and each folder holding CSV shards ([] if no folder)."""
    if not data_dir.is_dir():
        return []
    names = {p.stem for p in data_dir.glob("*.csv")}
    names |= {p.name for p in data_dir.iterdir() if p.is_dir() and any(p.glob("*.csv"))}
    return sorted(names)


def check_manifest_zoo(data_dir: Path, zoo: ModelZoo) -> None:
    """Raise when `<data_dir>/manifest.json` names another zoo than `zoo`; without a manifest, warn that it cannot be checked."""
    path = Path(data_dir) / MANIFEST
    if not path.is_file():
        log.warning("%s has no %s (captures not made by this project's capture stage), so the zoo that made it cannot "
                    "be checked: its columns are read as model_zoo '%s' (%s); make sure that zoo produced it.",
                    data_dir, MANIFEST, zoo.name, ", ".join(f"{m.category}={m.model}" for m in zoo.models))
        return
    try:
        named = json.loads(path.read_text(encoding="utf-8")).get("zoo")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as err:
        raise CaptureError(f"{path} is not a readable capture manifest ({err}); restore it or delete it.") from err
    if named is not None and str(named) != zoo.name:
        raise ConfigError(
            f"{path} says this capture was made with model_zoo '{named}', but the evaluate stage was given "
            f"model_zoo '{zoo.name}'. Their categories may match by name, yet they are other models: "
            f"pass model_zoo={named}, or point data_dir=... at a capture of '{zoo.name}'."
        )


def read_capture_csv(path: Path) -> pd.DataFrame:
    """One capture CSV with text columns verbatim (no NA parsing) and NA strings only in the numeric columns.

    Raises CaptureError for a 0-byte file (a header-only file gives an empty
    frame) or a file pandas cannot parse.
    """
    if path.stat().st_size == 0:
        raise CaptureError(
            f"{path} is empty (0 bytes), not even a header: an interrupted write or copy. Delete it "
            "(or restore it from the capture) and rerun; a file with only the header line is accepted."
        )
    try:
        header = list(pd.read_csv(path, nrows=0, encoding="utf-8").columns)
        numeric = [c for c in header if c == ID_COLUMN or c.startswith(NUMERIC_PREFIXES)]
        return pd.read_csv(path, keep_default_na=False, na_values={c: list(NA_STRINGS) for c in numeric},
                           dtype={c: str for c in header if c not in numeric}, encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as err:
        raise CaptureError(f"{path}: not a readable CSV ({err}). Re-export it or remove it from the capture folder.") from err


def record_lines(path: Path) -> tuple[int, ...] | None:
    """The physical line (1-based; line 1 is the header) where each data row starts; None if unreadable.

    Quoted fields may span several lines, so a row's line is not its index + 2.
    Blank lines are skipped, as pandas skips them. Cached per file version.
    """
    stat = path.stat()
    return _record_lines(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _record_lines(path: Path, mtime_ns: int, size: int) -> tuple[int, ...] | None:
    starts: list[int] = []
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            previous = 0
            for record in reader:
                if record:
                    starts.append(previous + 1)
                previous = reader.line_num
    except (csv.Error, UnicodeDecodeError, OSError):
        return None
    return tuple(starts[1:])  # the first record is the header


def where(frame: pd.DataFrame, bad: np.ndarray, files: Sequence[Path] | Mapping[int, Path],
          column: str | Sequence[str] | None = None, limit: int = MAX_LISTED) -> str:
    """'FILE line L (doc_id D): value' for the first `limit` offending rows of a frame read by `_read_file`;
    with several columns (values compared), each is named: 'FILE line L (doc_id D): label_small=0 vs acc_norm_small=1'."""
    parts = []
    for i in np.flatnonzero(bad)[:limit]:
        path = files[int(frame["_file"].iloc[i])]
        row = int(frame["_row"].iloc[i])
        lines = record_lines(path)
        at = f"line {lines[row]}" if lines is not None and row < len(lines) else f"data row {row + 1} (header excluded)"
        if column is None:
            value = ""
        elif isinstance(column, str):
            value = f": {_shown(frame[column].iloc[i])}"
        else:
            value = ": " + " vs ".join(f"{c}={_shown(frame[c].iloc[i])}" for c in column)
        parts.append(f"{path.name} {at} (doc_id {frame['doc_id'].iloc[i]}){value}")
    more = f" and {int(bad.sum()) - limit} more" if bad.sum() > limit else ""
    return ", ".join(parts) + more


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str) else f"{float(value):g}"


def _label_columns(frame: pd.DataFrame, path: Path, zoo: ModelZoo, spec: BenchmarkSpec) -> dict[str, str]:
    """Map each category to the column holding its label; raise on anything missing."""
    missing = [c for c in (ID_COLUMN, TEXT_COLUMN) if c not in frame.columns]
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


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def _read_file(path: Path, index: int, zoo: ModelZoo, spec: BenchmarkSpec) -> tuple[pd.DataFrame, list[str], list[tuple[str, str]]]:
    """One file as (doc_id, input_text, label_X, energy_X, time_X, _file, _row), checked value by value;
    also the metric columns used as labels (label_X absent), and (column, description with its first rows) for each
    label column that disagrees with the benchmark's metric column beside it (`load_capture` reports them all at once)."""
    frame = read_capture_csv(path)
    files = {index: path}
    label_cols = _label_columns(frame, path, zoo, spec)
    frame["_file"], frame["_row"] = index, np.arange(len(frame))

    def check(column: str, bad: np.ndarray, rule: str, fix: str) -> None:
        if bad.any():
            raise CaptureError(f"{path}: column '{column}' {rule} in {int(bad.sum())} row(s): "
                               f"{where(frame, bad, files, column)}. {fix}")

    raw_ids = frame[ID_COLUMN]
    doc_ids = pd.to_numeric(raw_ids, errors="coerce")
    check(ID_COLUMN, (doc_ids.isna() | (doc_ids % 1 != 0)).to_numpy(), "is not an integer", "Every row needs an integer doc_id.")
    frame[ID_COLUMN] = doc_ids.astype(np.int64)
    if BENCHMARK_COLUMN in frame.columns:
        check(BENCHMARK_COLUMN, ~frame[BENCHMARK_COLUMN].isin([spec.name, spec.task, ""]).to_numpy(),
              f"names another benchmark than '{spec.name}'",
              "A request is a doc_id within one benchmark: move those rows to that benchmark's file or folder.")
    out = pd.DataFrame({ID_COLUMN: frame[ID_COLUMN], TEXT_COLUMN: frame[TEXT_COLUMN], "_file": index, "_row": frame["_row"]})
    from_metric = []
    disagreeing: list[tuple[str, str]] = []
    for cat in zoo.categories:
        col = label_cols[cat]
        values = _numbers(frame, col)
        if spec.kind == "binary" and spec.threshold is None:
            check(col, ~np.isin(values, (0.0, 1.0)) & ~np.isnan(values), "is not 0 or 1",
                  f"Labels of the binary benchmark '{spec.name}' are 0 or 1; for scores in [0, 1] declare "
                  "`satisfaction: {kind: graded}` (or a threshold) in its conf/benchmark YAML.")
        else:
            check(col, ~((values >= 0.0) & (values <= 1.0)) & ~np.isnan(values), "is not a score in [0, 1]",
                  f"Satisfaction scores of '{spec.name}' ({spec.metric}) lie in [0, 1]; re-capture or fix those rows.")
        metric = metric_col(spec.metric, cat)
        if col == label_col(cat) and metric in frame.columns:
            other = _numbers(frame, metric)
            differ = (values != other) & ~(np.isnan(values) & np.isnan(other))
            if differ.any():
                disagreeing.append((col, f"{path}: '{col}' disagrees with '{metric}' in {int(differ.sum())} row(s): "
                                         f"{where(frame, differ, files, (col, metric), limit=DISAGREEMENTS_LISTED)}"))
        elif col != label_col(cat):
            from_metric.append(col)
        if spec.threshold is not None:  # binary from a graded score: 1[score >= threshold]
            values = np.where(np.isnan(values), np.nan, (values >= spec.threshold).astype(float))
        out[label_col(cat)] = values
        for col in token_cols(cat):
            if col in frame.columns:
                tokens = _numbers(frame, col)
                check(col, ~(tokens >= 0), "is not a token count >= 0", "Re-capture those requests.")
                out[col] = tokens
        for cost in (energy_col(cat), time_col(cat)):
            values = _numbers(frame, cost)
            check(cost, np.isinf(values), "is infinite", "Costs are measured joules or seconds; re-capture those requests.")
            check(cost, values < 0, "is negative", "Costs are measured joules or seconds, never negative.")
            out[cost] = values
    return out, from_metric, disagreeing


def _incomplete(frame: pd.DataFrame, cats: tuple[str, ...], cost: CostKind) -> np.ndarray:
    """Rows without a label or without the optimised cost of some category."""
    need = [label_col(c) for c in cats] + cost_cols(cost, cats)
    return frame[need].isna().any(axis=1).to_numpy()


def _refuse_incomplete(frame: pd.DataFrame, files: list[Path], spec: BenchmarkSpec, cats: tuple[str, ...],
                       cost: CostKind) -> None:
    """Raise for rows missing a label or the optimised cost, suggesting only fixes that work for this data."""
    bad = _incomplete(frame, cats, cost)
    if not bad.any():
        return
    columns = [c for c in [label_col(x) for x in cats] + cost_cols(cost, cats) if frame.loc[bad, c].isna().any()]
    other: CostKind = "time" if cost == "energy" else "energy"
    fixes = []
    if not _incomplete(frame, cats, other).any():
        fixes.append(f"cost={other} (optimise {other}, which every row has; {cost} figures are then n/a where missing)")
    if bad.sum() < len(frame):
        fixes.append(f"drop_incomplete=true (drops these {int(bad.sum())} of {len(frame)} rows and counts them in the report)")
    fixes.append("re-capture those requests")
    raise CaptureError(
        f"benchmark '{spec.name}': {int(bad.sum())} of {len(frame)} rows lack a value routing needs (cost={cost}) "
        f"in {columns}: {where(frame, bad, files)}. Fixes: " + "; or ".join(fixes) + "."
    )


def load_capture(data_dir: str | Path, spec: BenchmarkSpec, zoo: ModelZoo, cost: CostKind,
                 drop_incomplete: bool) -> CaptureData:
    """Read, validate and de-duplicate one benchmark's capture (see the module docstring for the rules).

    Reads `<data_dir>/<spec.name>.csv`, or the CSV shards in `<data_dir>/<spec.name>/`, with one label, energy
    (J) and time (s) column per category of `zoo`. Returns a `CaptureData` of the N unique requests sorted by
    doc_id: labels (N, M) int8 (float64 scores for a graded benchmark), energy and time (N, M) float64.
    `cost` is the cost routers optimise: it must be present in every row (`drop_incomplete=True` drops and
    counts rows lacking it or a label instead). Raises CaptureError (file, line, doc_id and fix named) for
    missing files or columns, unreadable CSVs, bad values, conflicting repeats of a doc_id and rows without
    the optimised cost.
    """
    data_dir = Path(data_dir)
    files = capture_files(data_dir, spec.name)
    parts = [_read_file(p, i, zoo, spec) for i, p in enumerate(files)]
    disagreeing = [d for _, _, found in parts for d in found]
    if disagreeing:
        columns = list(dict.fromkeys(col for col, _ in disagreeing))
        raise CaptureError(f"benchmark '{spec.name}' scores by {spec.metric}, and {len(columns)} label column(s) "
                           f"{columns} disagree with it: {'; '.join(d for _, d in disagreeing)}. Both columns of a pair "
                           "claim to be the satisfaction of that model; correct the wrong one, or delete one column of "
                           "each pair to use the other.")
    frame = pd.concat([f for f, _, _ in parts], ignore_index=True)
    from_metric = sorted({c for _, cols, _ in parts for c in cols})
    if from_metric:
        log.info("%s: no label_X column in some file(s); the satisfaction is read from the benchmark's metric %s",
                 spec.name, from_metric)
    if frame.empty:
        raise CaptureError(f"benchmark '{spec.name}': the CSV file(s) {[str(p) for p in files]} hold no rows.")
    cats = tuple(zoo.categories)
    labels = [label_col(c) for c in cats]
    costs = [energy_col(c) for c in cats] + [time_col(c) for c in cats]
    tokens = [col for c in cats for col in token_cols(c)]
    has_tokens = all(col in frame.columns for col in tokens) and not frame[tokens].isna().any().any()

    rows = len(frame)
    dropped = 0
    if drop_incomplete:
        bad = _incomplete(frame, cats, cost)
        dropped = int(bad.sum())
        if dropped == rows:
            raise CaptureError(f"benchmark '{spec.name}': drop_incomplete=true drops every row ({rows}): no row has every "
                               f"label and every {cost} value. Use cost={'time' if cost == 'energy' else 'energy'} or re-capture.")
        frame = frame[~bad].reset_index(drop=True)
    else:
        _refuse_incomplete(frame, files, spec, cats, cost)

    _check_repeats(frame, files, spec, data_dir, labels)
    grouped = frame.groupby(ID_COLUMN, sort=True)
    merged = grouped.agg({TEXT_COLUMN: "first", **{c: "first" for c in labels}, **{c: "mean" for c in costs},
                          **{c: "mean" for c in (tokens if has_tokens else [])}})
    # A repeat without the (non-optimised) cost makes that request's mean unknown, not the other repeats' mean.
    merged[costs] = merged[costs].mask(frame[costs].isna().groupby(frame[ID_COLUMN]).any())
    sizes = grouped.size()
    doc_ids = merged.index.to_numpy(dtype=np.int64)
    texts = tuple(merged[TEXT_COLUMN].astype(str))
    label_arr = merged[labels].to_numpy(dtype=np.float64 if spec.kind == "graded" else np.int8)
    energy = merged[[energy_col(c) for c in cats]].to_numpy(dtype=np.float64)
    time = merged[[time_col(c) for c in cats]].to_numpy(dtype=np.float64)
    report = LoadReport(
        files=tuple(str(p) for p in files),
        rows=rows,
        unique_docs=len(merged),
        merged_rows=int(len(frame) - len(merged)),
        docs_with_repeats=int((sizes > 1).sum()),
        missing_energy=bool(np.isnan(energy).any()),
        missing_time=bool(np.isnan(time).any()),
        dropped_rows=dropped,
        label_source=f"{spec.metric}_X (label_X absent)" if from_metric else "label_X",
    )
    return CaptureData(
        benchmark=spec.name,
        categories=cats,
        doc_ids=doc_ids,
        texts=texts,
        labels=label_arr,
        energy=energy,
        time=time,
        report=report,
        digest=data_digest(cats, doc_ids, texts, label_arr, energy, time),
        tokens=merged[tokens].to_numpy(dtype=np.float64).reshape(len(merged), len(cats), 2) if has_tokens else None,
    )


def _check_repeats(frame: pd.DataFrame, files: list[Path], spec: BenchmarkSpec, data_dir: Path, labels: list[str]) -> None:
    """Rows sharing a doc_id are one request measured again only if text and labels agree; else name the files."""
    repeated = frame[frame[ID_COLUMN].duplicated(keep=False)]
    if repeated.empty:
        return
    grouped = repeated.groupby(ID_COLUMN, sort=True)
    for what, columns, fix in (
        ("different texts", [TEXT_COLUMN], "they are different requests: give them distinct doc_ids, or remove the "
                                            "shard that belongs to another benchmark or task version"),
        ("different labels", labels, "labels of a request must not depend on the run; remove the wrong shard or "
                                     "re-capture those documents"),
    ):
        conflicts = grouped[columns].nunique(dropna=False).gt(1).any(axis=1)
        if conflicts.any():
            ids = conflicts[conflicts].index.tolist()
            shown = []
            for doc in ids[:MAX_LISTED]:
                names = sorted({files[int(i)].name for i in repeated.loc[repeated[ID_COLUMN] == doc, "_file"]})
                shown.append(f"{doc} (in {', '.join(names)})")
            raise CaptureError(
                f"benchmark '{spec.name}' in {data_dir}: {len(ids)} doc_id(s) appear more than once with {what}: "
                f"{', '.join(shown)}{' ...' if len(ids) > MAX_LISTED else ''}. A request is a doc_id within one "
                f"benchmark with one text; {fix}."
            )
