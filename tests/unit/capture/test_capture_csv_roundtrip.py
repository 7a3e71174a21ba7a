"""A capture CSV written by the capture stage reads back in the evaluate stage to exactly what was written."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messplus_core.capture.merge import write_capture_csv
from messplus_core.data.capture_csv import load_capture
from messplus_core.specs import BenchmarkSpec, ModelZoo

CATS = ("small", "large")
ZOO = ModelZoo.from_mapping({"name": "z", "models": [{"category": c, "model": c, "cost_rank": i} for i, c in enumerate(CATS)]})
SPEC = BenchmarkSpec.from_mapping("demo", {"metric": "acc", "alpha": 0.5})

# Any Unicode scalar value (UTF-8 cannot hold lone surrogates), with the characters CSV readers trip on made likely.
tricky = st.sampled_from(["\r", "\n", "\r\n", "\x00", '"', ",", "\ufeff", "\u2028", "\x85", "\x1a", " ", "\t", "NA", "None"])
texts = st.lists(st.one_of(tricky, st.text(max_size=6)), max_size=6).map("".join)
cost = st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False)
row = st.tuples(texts, st.tuples(*[st.tuples(st.sampled_from([0.0, 1.0]), st.one_of(cost, st.just(math.nan)), cost)
                                   for _ in CATS]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row, min_size=1, max_size=6))
def test_capture_csv_round_trip(rows):
    cols: dict[str, list] = {"doc_id": list(range(len(rows))), "input_text": [t for t, _ in rows],
                             "benchmark_name": ["demo"] * len(rows)}
    for m, cat in enumerate(CATS):
        cols[f"label_{cat}"] = [r[m][0] for _, r in rows]
        cols[f"acc_{cat}"] = [r[m][0] for _, r in rows]
        cols[f"energy_consumption_{cat}"] = [r[m][1] for _, r in rows]
        cols[f"inference_time_{cat}"] = [r[m][2] for _, r in rows]
    frame = pd.DataFrame(cols)
    with tempfile.TemporaryDirectory() as tmp:
        write_capture_csv(frame, Path(tmp) / "demo.csv")
        data = load_capture(tmp, SPEC, ZOO, cost="time", drop_incomplete=False)
    assert data.texts == tuple(frame["input_text"])
    np.testing.assert_array_equal(data.doc_ids, frame["doc_id"])
    for m, cat in enumerate(CATS):
        np.testing.assert_array_equal(data.labels[:, m], frame[f"label_{cat}"])
        np.testing.assert_array_equal(data.energy[:, m], frame[f"energy_consumption_{cat}"])  # NaN where NaN, else exact
        np.testing.assert_array_equal(data.time[:, m], frame[f"inference_time_{cat}"])
