"""A synthetic capture for a priced zoo: N models (default 6), two benchmarks, costs in US dollars per request.

    python examples/byo_zoo/make_capture.py OUT_DIR [--models N]

Writes OUT_DIR/support_tickets.csv and OUT_DIR/contract_qa.csv in the capture schema the evaluate stage
reads (README, "Capture stage"): per model category X `label_X`, `acc_X`, `energy_consumption_X` (here the
request's price in $, routed as cost=energy with cost_unit=$) and `inference_time_X` (s). The examples'
zoo YAML names the categories m1..m6 (cheapest first); with --models N pass a zoo with N categories.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

TOPICS = ["billing question", "password reset", "contract clause", "refund dispute", "api error", "legal notice"]


def capture(n: int, models: int, seed: int, benchmark: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    topic = rng.integers(0, len(TOPICS), n)
    difficulty = rng.uniform(0, 1, len(TOPICS))[topic]  # some topics are harder for every model
    cols: dict[str, object] = {"doc_id": np.arange(n), "benchmark_name": benchmark,
                               "input_text": [f"Ticket {i} about a {TOPICS[k]}: please help." for i, k in enumerate(topic)]}
    for m in range(models):
        skill = 0.35 + 0.6 * m / max(1, models - 1)  # larger models answer more
        label = (rng.random(n) < np.clip(skill + 0.3 - 0.6 * difficulty, 0.02, 0.98)).astype(float)
        price = 0.0002 * 2.2 ** m  # $ per request, doubling-ish with size
        cols[f"label_m{m + 1}"] = label
        cols[f"acc_m{m + 1}"] = label
        cols[f"energy_consumption_m{m + 1}"] = price * rng.uniform(0.9, 1.1, n)
        cols[f"inference_time_m{m + 1}"] = 0.05 * 1.8 ** m * rng.uniform(0.8, 1.2, n)
    return pd.DataFrame(cols)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--models", type=int, default=6)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for seed, name in enumerate(("support_tickets", "contract_qa")):
        capture(400, args.models, seed, name).to_csv(args.out_dir / f"{name}.csv", index=False)
    print(f"wrote {args.out_dir}/support_tickets.csv and contract_qa.csv ({args.models} models, costs in $)")


if __name__ == "__main__":
    main()
