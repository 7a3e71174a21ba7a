"""results.csv and the paper-style summary.md from finished run records."""

from __future__ import annotations

import math
from typing import Any, Sequence

import pandas as pd

from .zoo import BenchmarkSpec

BOUNDS = ("static_optimum", "oracle")


def results_frame(records: Sequence[dict[str, Any]], bound_rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    rows = [r["row"] for r in records] + list(bound_rows)
    frame = pd.DataFrame(rows)
    order = {"mess_plus": 0, "educated_guess": 1, "static_optimum": 8, "oracle": 9}
    frame["_order"] = frame["router"].map(lambda r: order.get(r, 2))
    frame = frame.sort_values(["benchmark", "_order", "router", "alpha", "V", "c", "seed"], na_position="first")
    return frame.drop(columns="_order").reset_index(drop=True)


def table_rows(frame: pd.DataFrame, benchmarks: Sequence[BenchmarkSpec], V: float, c: float) -> pd.DataFrame:
    """Rows at each benchmark's default alpha; MESS+ at the table's (V, c)."""
    keep = []
    for bench in benchmarks:
        part = frame[(frame["benchmark"] == bench.name) & ((frame["alpha"] - bench.alpha).abs() < 1e-12)]
        is_mess = part["router"] == "mess_plus"
        keep.append(part[~is_mess | (((part["V"] - V).abs() < 1e-15) & ((part["c"] - c).abs() < 1e-15))])
    return pd.concat(keep) if keep else frame.iloc[:0]


COST_COLUMNS = {"energy": ("energy_j_per_request", "energy_j_total", "J", 1e6, "MJ"),
                "time": ("time_s_per_request", "time_s_total", "s", 3600.0, "h")}


def _cell(group: pd.DataFrame, cost: str) -> str:
    per_request, total_col, unit, scale, total_unit = COST_COLUMNS[cost]
    sat = group["satisfaction"] * 100
    energy = group[per_request]
    spread = lambda s: f" ± {s.std(ddof=0):.1f}" if len(s) > 1 else ""
    met = int(group["sla_met"].sum())
    mark = "✓" if met == len(group) else ("✗" if met == 0 else f"{met}/{len(group)}")
    total = group[total_col].mean() / scale
    energy_text = "n/a" if math.isnan(energy.mean()) else f"{energy.mean():.1f}{spread(energy)} {unit} ({total:.3f} {total_unit})"
    return f"{sat.mean():.1f}{spread(sat)} % / {energy_text} {mark}"


def summary_markdown(frame: pd.DataFrame, benchmarks: Sequence[BenchmarkSpec], V: float, c: float, cost: str = "energy",
                     notes: Sequence[str] = ()) -> str:
    table = table_rows(frame, benchmarks, V, c)
    names = [b.name for b in benchmarks]
    routers = list(dict.fromkeys(table["router"]))
    lines = [
        "# MESS+ evaluation summary",
        "",
        f"At each benchmark's default SLA target alpha; MESS+ with V={V:g}, c={c:g}. "
        f"Cells: satisfaction % / {cost} per request ({'total MJ' if cost == 'energy' else 'total hours'}), mean ± std over seeds; "
        "✓ SLA met in every seed, ✗ in none, k/n in some. "
        "`static_optimum` (cheapest fixed mixture, expected values) and `oracle` (per-request hindsight) are bounds, not routers.",
        "",
        "| router | " + " | ".join(f"{n} (α={b.alpha:g})" for n, b in zip(names, benchmarks)) + " | mean |",
        "|---|" + "---|" * (len(names) + 1),
    ]
    for router in routers:
        cells, sats, energies = [], [], []
        for bench in benchmarks:
            group = table[(table["router"] == router) & (table["benchmark"] == bench.name)]
            if group.empty:
                cells.append("–")
                continue
            cells.append(_cell(group, cost))
            sats.append(group["satisfaction"].mean() * 100)
            energies.append(group[COST_COLUMNS[cost][0]].mean())
        mean = f"{sum(sats) / len(sats):.1f} % / {sum(energies) / len(energies):.1f} {COST_COLUMNS[cost][2]}" if sats else "–"
        name = f"*{router}* (bound)" if router in BOUNDS else router
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {mean} |")
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"
