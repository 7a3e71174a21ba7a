"""results.csv and summary.md from finished run records.

summary.md has one section for the main grid and one per scenario. Each
section holds the paper-style table (satisfaction / cost per request / total,
SLA met) at each column's alpha, then the comparison tables users cite: every
router's cost as a multiple of MESS+'s, of the static optimum and of the
oracle (how far from the limit), and MESS+ against the best other router.
A router that misses alpha keeps its ratio, flagged: being cheaper while
missing the SLA is not a win.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .scenarios import NO_SCENARIO

BOUNDS = ("static_optimum", "oracle")
MESS = "mess_plus"
MESS_FULL = "mess_plus (full stream)"
#: The (V, c) each MESS+ preset is shown at: {preset: (V, c)}.
TableSetting = dict[str, tuple[float, float]]


def at_table_setting(router: str, V: float, c: float, table: TableSetting) -> bool:
    """Whether a row belongs in the tables: every non-MESS+ row, and each MESS+ preset at its table (V, c)."""
    if router not in table:
        return True
    tv, tc = table[router]
    return abs(V - tv) <= 1e-12 * abs(tv) and abs(c - tc) <= 1e-12 * abs(tc)


def at_table_settings(frame: pd.DataFrame, table: TableSetting) -> pd.Series:
    """Boolean mask of the frame's rows that `at_table_setting` keeps."""
    keep = [at_table_setting(r, v, c, table) for r, v, c in zip(frame["router"], frame["V"], frame["c"])]
    return pd.Series(keep, index=frame.index, dtype=bool)


def setting_text(table: TableSetting) -> str:
    return "; ".join(f"{name} with V={V:g}, c={c:g}" for name, (V, c) in table.items())


@dataclass(frozen=True)
class Column:
    """One column of a summary table: a stream (benchmark or concatenated scenario) at one alpha."""

    name: str
    alpha: float


def results_frame(records: Sequence[dict[str, Any]], bound_rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    rows = [r["row"] for r in records] + list(bound_rows)
    frame = pd.DataFrame(rows)
    order = {"mess_plus": 0, "mess_plus_paper": 1, "educated_guess": 2, "static_optimum": 8, "oracle": 9}
    frame["_order"] = frame["router"].map(lambda r: order.get(r, 3))
    frame["_scenario"] = frame["scenario"] != NO_SCENARIO
    frame = frame.sort_values(["_scenario", "scenario", "benchmark", "_order", "router", "split", "alpha", "V", "c", "seed"],
                              na_position="first")
    return frame.drop(columns=["_order", "_scenario"]).reset_index(drop=True)


def section_rows(frame: pd.DataFrame, scenario: str, columns: Sequence[Column], table: TableSetting,
                 main_split: str) -> pd.DataFrame:
    """The section's rows at each column's alpha, each MESS+ preset at its table (V, c), with an `entry` (table row) name.

    Every router is shown on `main_split`; under the train/test protocol each
    MESS+ preset on the full stream is an extra entry.
    """
    part = frame[frame["scenario"] == scenario]
    keep = []
    for col in columns:
        rows = part[(part["benchmark"] == col.name) & ((part["alpha"] - col.alpha).abs() < 1e-12)]
        rows = rows[at_table_settings(rows, table)]
        main = rows[rows["split"] == main_split]
        keep.append(main.assign(entry=main["router"]))
        if main_split != "full":
            full = rows[rows["router"].isin(list(table)) & (rows["split"] == "full")]
            keep.append(full.assign(entry=full["router"] + " (full stream)"))
    return pd.concat(keep) if keep else frame.iloc[:0].assign(entry=[])


COST_COLUMNS = {"energy": ("energy_j_per_request", "energy_j_total", "J", 1e6, "MJ"),
                "time": ("time_s_per_request", "time_s_total", "s", 3600.0, "h")}


def num(x: float) -> str:
    """A cost for a table: one decimal for joules-sized values, three significant digits for small ones (ms, MJ)."""
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.3g}"


def _sla_mark(group: pd.DataFrame) -> str:
    met = int(group["sla_met"].sum())
    return "✓" if met == len(group) else ("✗" if met == 0 else f"{met}/{len(group)}")


def _cell(group: pd.DataFrame, cost: str) -> str:
    per_request, total_col, unit, scale, total_unit = COST_COLUMNS[cost]
    sat = group["satisfaction"] * 100
    energy = group[per_request]
    # float noise (e.g. 4e-19 across identical single-model runs) is shown as 0
    spread = lambda s, fmt: f" ± {fmt(s.std(ddof=0) if s.std(ddof=0) > 1e-9 * abs(s.mean()) else 0.0)}" if len(s) > 1 else ""
    total = group[total_col].mean() / scale
    energy_text = "n/a" if math.isnan(energy.mean()) else f"{num(energy.mean())}{spread(energy, num)} {unit} ({num(total)} {total_unit})"
    return f"{sat.mean():.1f}{spread(sat, lambda x: f'{x:.1f}')} % / {energy_text} {_sla_mark(group)}"


def _entries(rows: pd.DataFrame) -> list[str]:
    """Table rows in frame order: the MESS+ presets first (the default, then the others), each followed by its
    full-stream entry; the bounds last."""
    names = list(dict.fromkeys(rows["entry"]))
    preset = lambda e: e.removesuffix(" (full stream)")
    presets = sorted({preset(e) for e in names if preset(e).startswith(MESS)}, key=lambda p: (p != MESS, p))
    rank = lambda e: (e in BOUNDS, presets.index(preset(e)) if preset(e) in presets else len(presets), e.endswith("(full stream)"))
    return sorted(names, key=rank)


def _display(entry: str) -> str:
    return f"*{entry}* (bound)" if entry in BOUNDS else entry


def _header(columns: Sequence[Column], extra: Sequence[str] = ("mean",)) -> list[str]:
    return ["| router | " + " | ".join(f"{col.name} (α={col.alpha:g})" for col in columns) + " | " + " | ".join(extra) + " |",
            "|---|" + "---|" * (len(columns) + len(extra))]


def paper_table(rows: pd.DataFrame, columns: Sequence[Column], cost: str) -> list[str]:
    """Satisfaction % / cost per request (total), SLA met, mean ± std over seeds; a mean column over the columns."""
    lines = _header(columns)
    for entry in _entries(rows):
        cells, sats, costs = [], [], []
        for col in columns:
            group = rows[(rows["entry"] == entry) & (rows["benchmark"] == col.name)]
            if group.empty:
                cells.append("–")
                continue
            cells.append(_cell(group, cost))
            sats.append(group["satisfaction"].mean() * 100)
            costs.append(group[COST_COLUMNS[cost][0]].mean())
        mean = f"{sum(sats) / len(sats):.1f} % / {num(sum(costs) / len(costs))} {COST_COLUMNS[cost][2]}" if sats else "–"
        lines.append(f"| {_display(entry)} | " + " | ".join(cells) + f" | {mean} |")
    return lines


@dataclass(frozen=True)
class Outcome:
    """One entry in one column, averaged over seeds."""

    satisfaction: float
    cost: float  # per request
    overhead: float  # the router's own J per request
    mark: str  # ✓, ✗ or k/n seeds meeting alpha
    meets: bool  # mean satisfaction >= alpha
    seeds: int


def outcomes(rows: pd.DataFrame, columns: Sequence[Column], cost: str) -> dict[tuple[str, str], Outcome]:
    out = {}
    per_request = COST_COLUMNS[cost][0]
    for (entry, bench), group in rows.groupby(["entry", "benchmark"], sort=False):
        alpha = next(col.alpha for col in columns if col.name == bench)
        sat = float(group["satisfaction"].mean())
        overhead = group["overhead_j_per_request"].mean()
        out[(entry, bench)] = Outcome(sat, float(group[per_request].mean()), float(np.nan_to_num(overhead)),
                                      _sla_mark(group), sat >= alpha - 1e-12, len(group))
    return out


def _geomean(values: Sequence[float]) -> float:
    values = [v for v in values if v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else math.nan


def _flag(o: Outcome) -> str:
    """No mark when alpha is met in every seed; else how many seeds met it, after ✗ when the mean misses it."""
    if o.mark == "✓":
        return ""
    seeds = o.mark if o.mark != "✗" else f"0/{o.seeds}"
    return f" ({seeds} seeds)" if o.meets else f" ✗ ({seeds} seeds)"


def ratio_table(rows: pd.DataFrame, columns: Sequence[Column], cost: str, reference: str, own_energy: bool = False) -> list[str]:
    """Each entry's cost per request as a multiple of `reference`'s, flagged where the entry misses alpha;
    `own_energy` adds the router's own J per request (its inference and training, already inside its cost)."""
    result = outcomes(rows, columns, cost)
    lines = _header(columns, ("geo. mean", "own J/request") if own_energy else ("geo. mean",))
    for entry in _entries(rows):
        cells, ratios, overheads = [], [], []
        flagged = False
        for col in columns:
            o, ref = result.get((entry, col.name)), result.get((reference, col.name))
            if o is None or ref is None or not ref.cost > 0 or math.isnan(o.cost):
                cells.append("–")
                continue
            ratios.append(o.cost / ref.cost)
            overheads.append(o.overhead)
            flagged |= bool(_flag(o))
            cells.append(f"{o.cost / ref.cost:.2f}×{_flag(o)}")
        mean = _geomean(ratios)
        mean_text = "–" if math.isnan(mean) else f"{mean:.2f}×" + (" ⚠" if flagged else "")
        own = "–" if entry in BOUNDS or not overheads else num(sum(overheads) / len(overheads))
        lines.append(f"| {_display(entry)} | " + " | ".join(cells) + f" | {mean_text} |" + (f" {own} |" if own_energy else ""))
    return lines


def best_other(result: dict[tuple[str, str], Outcome], bench: str) -> tuple[str, Outcome] | None:
    """The cheapest router other than MESS+ that meets alpha (mean over seeds); else the most satisfying one."""
    others = [(e, o) for (e, b), o in result.items() if b == bench and e not in BOUNDS and e not in (MESS, MESS_FULL)]
    if not others:
        return None
    meeting = [(e, o) for e, o in others if o.meets]
    if meeting:
        return min(meeting, key=lambda eo: eo[1].cost)
    return max(others, key=lambda eo: (eo[1].satisfaction, -eo[1].cost))


def verdict(mess: Outcome, other: Outcome | None) -> str:
    if other is None:
        return "no other router ran"
    ratio = mess.cost / other.cost if other.cost > 0 else math.inf
    if not mess.meets:
        return f"**MESS+ misses α** (costs {ratio:.2f}× the best other)"
    if not other.meets:
        return "MESS+ wins: no other router meets α"
    if ratio <= 1:
        return f"MESS+ wins: the best other costs {1 / ratio:.2f}× as much"
    return f"**MESS+ does not win**: it costs {ratio:.2f}× the best other"


def versus_table(rows: pd.DataFrame, columns: Sequence[Column], cost: str) -> list[str]:
    """Per column: MESS+ next to the best other router, and who wins."""
    result = outcomes(rows, columns, cost)
    unit = COST_COLUMNS[cost][2]
    fmt = lambda o: f"{o.satisfaction * 100:.1f} % / {num(o.cost)} {unit} {o.mark}"
    lines = ["| stream | MESS+ | best other router | verdict |", "|---|---|---|---|"]
    for col in columns:
        mess = result.get((MESS, col.name))
        if mess is None:
            continue
        other = best_other(result, col.name)
        other_text = "–" if other is None else f"{other[0]}: {fmt(other[1])}"
        lines.append(f"| {col.name} (α={col.alpha:g}) | {fmt(mess)} | {other_text} | {verdict(mess, other and other[1])} |")
    return lines


def section(title: str, intro: str, rows: pd.DataFrame, columns: Sequence[Column], cost: str) -> list[str]:
    lines = [f"## {title}", "", intro, ""] + paper_table(rows, columns, cost)
    if (rows["entry"] == MESS).any():
        lines += ["", "### Cost relative to MESS+", "",
                  f"{cost.capitalize()} per request as a multiple of MESS+'s in the same column (below 1: cheaper). "
                  "(k/n seeds): α met in only k of n seeds; ✗: α missed on average over the seeds. "
                  "A flagged ratio is not a win. Geo. mean: geometric mean over the columns (⚠: some are flagged). "
                  "Own J/request: the router's own inference (and MESS+'s training) energy, charged by the engine "
                  "(`router_energy_j` / `predictor_energy_j`) and included in every figure above.", ""]
        lines += ratio_table(rows, columns, cost, MESS, own_energy=True)
        lines += ["", "### MESS+ against the best other router", "",
                  "Best other: the cheapest router (not a bound) whose mean satisfaction meets α; "
                  "if none does, the most satisfying one.", ""]
        lines += versus_table(rows, columns, cost)
    for bound, what in (("static_optimum", "static optimum"), ("oracle", "oracle")):
        if (rows["entry"] == bound).any():
            lines += ["", f"### How far from the limit: cost as a multiple of the {what}", ""]
            lines += ratio_table(rows, columns, cost, bound)
    return lines


def summary_markdown(frame: pd.DataFrame, sections: Sequence[tuple[str, str, str, Sequence[Column]]], table: TableSetting,
                     cost: str = "energy", notes: Sequence[str] = (), main_split: str = "full") -> str:
    """`sections`: (scenario, title, description, columns) in order, the main grid first."""
    protocol = ("every router is scored on the held-out test part of each seed's stream (the learned routers trained "
                "on the rest); `<preset> (full stream)` is that MESS+ preset on the whole stream. " if main_split == "test" else "")
    lines = [
        "# MESS+ evaluation summary",
        "",
        f"MESS+: {setting_text(table)}; {protocol}"
        f"Cells: satisfaction % / {cost} per request ({'total MJ' if cost == 'energy' else 'total hours'}), mean ± std over seeds; "
        "✓ SLA met in every seed, ✗ in none, k/n in some. "
        "`static_optimum` (cheapest fixed mixture, expected values) and `oracle` (per-request hindsight) are bounds, not routers.",
        "",
    ]
    for scenario, title, description, columns in sections:
        rows = section_rows(frame, scenario, columns, table, main_split)
        if rows.empty:
            continue
        lines += section(title, description, rows, columns, cost) + [""]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"
