"""results.csv and summary.md from finished run records.

summary.md opens with what ran (zoo and each category's model, data folder,
optimised cost and its unit, code version), then one section for the main
grid and one per scenario. Each section holds the paper-style table at the
alpha that ran (satisfaction / cost per request / total, SLA met), the 95%
intervals, every router's cost as a multiple of MESS+'s, of the static
optimum and of the oracle, and one self-explaining verdict per column. A
grid that sweeps alpha gets a table per benchmark across alpha with each
router's AIQ; one that sweeps MESS+'s V or c gets a table across them. A
router that misses alpha keeps its ratio, flagged: cheaper while missing the
SLA is not a win. With the paper's figures (`conf/paper/<zoo>.yaml`), a
section "Against the paper" sets ours beside them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from messplus_core.core.aiq import aiq
from messplus_core.core.uncertainty import Interval, combined_interval
from messplus_core.data.scenarios import NO_SCENARIO
from messplus_core.routers import registry

FULL_SUFFIX = registry.FULL_STREAM_SUFFIX
#: Per-request and total columns of results.csv for each optimised cost kind.
COST_COLUMNS = {"energy": ("energy_j_per_request", "energy_j_total"), "time": ("time_s_per_request", "time_s_total")}
#: The (V, c) each MESS+ preset is shown at in the tables and plots: {preset: (V, c)}.
TableSetting = dict[str, tuple[float, float]]
#: How a total is shown for a unit: (unit of the total, divisor).
TOTAL_UNITS = {"J": ("MJ", 1e6), "s": ("h", 3600.0), "Wh": ("kWh", 1e3)}


@dataclass(frozen=True)
class Column:
    """One column of a summary table: a stream (benchmark or concatenated scenario) at one alpha."""

    name: str
    alpha: float


@dataclass(frozen=True)
class ReportContext:
    """What ran, for the header and the labels: the optimised cost kind and its unit (`cost_unit`), both from the
    evaluate config (`pipeline.report_context`)."""

    cost: str
    cost_unit: str
    zoo: str = ""
    models: Sequence[tuple[str, str]] = ()  # (category, model), cheapest first
    data_dir: str = ""
    version: str = ""
    main_split: str = "full"
    mess_settings: TableSetting = field(default_factory=dict)  # MESS+ preset -> (V, c) in the tables (pipeline.table_setting)
    paper: Mapping[str, Any] | None = None  # conf/paper/<zoo>.yaml

    @property
    def per_request(self) -> str:
        """The results column of the optimised cost per request (`energy_j_per_request` or `time_s_per_request`)."""
        return COST_COLUMNS[self.cost][0]

    @property
    def total(self) -> str:
        """The results column of the optimised cost's total over a run."""
        return COST_COLUMNS[self.cost][1]

    @property
    def total_unit(self) -> tuple[str, float]:
        """(unit, divisor) totals are shown in: J -> MJ / 1e6, s -> h / 3600, Wh -> kWh / 1e3, else as is."""
        return TOTAL_UNITS.get(self.cost_unit, (self.cost_unit, 1.0))


def results_frame(records: Sequence[dict[str, Any]], bound_rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """results.csv as a frame: the runs' rows and the bounds' rows, main grid before scenarios, then by
    benchmark, MESS+ presets first, the educated guess, other routers, the static optimum and the oracle last."""
    rows = [r["row"] for r in records] + list(bound_rows)
    frame = pd.DataFrame(rows)
    frame["_order"] = frame["router"].map(registry.display_order)
    frame["_scenario"] = frame["scenario"] != NO_SCENARIO
    frame = frame.sort_values(["_scenario", "scenario", "benchmark", "_order", "router", "split", "alpha", "V", "c", "seed"],
                              na_position="first")
    return frame.drop(columns=["_order", "_scenario"]).reset_index(drop=True)


def bootstrap_lookup(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """run_id -> that run's bootstrap replicates (records written before intervals existed have none)."""
    return {r["run_id"]: r["bootstrap"] for r in records if r.get("bootstrap")}


def resolve_columns(part: pd.DataFrame, columns: Sequence[Column]) -> tuple[list[Column], list[str]]:
    """Each column at the alpha that ran: its preferred (default) alpha if it ran, else the lowest that ran."""
    out, notes = [], []
    for col in columns:
        alphas = sorted(part.loc[part["benchmark"] == col.name, "alpha"].unique())
        if not alphas:
            continue
        if any(abs(a - col.alpha) < 1e-12 for a in alphas):
            out.append(col)
        else:
            out.append(Column(col.name, float(alphas[0])))
            if len(alphas) == 1:
                notes.append(f"{col.name}: shown at α={alphas[0]:g}, the α that ran (its default is {col.alpha:g}).")
            else:
                notes.append(f"{col.name}: the default α={col.alpha:g} did not run; the main table shows α={alphas[0]:g}, "
                             "the table across α shows all.")
    return out, notes


def is_mess_plus(label: str) -> bool:
    """A results label of a MESS+ preset (`mess_plus_paper`, `mess_plus (full stream)`): the registry's `preset`."""
    return registry.label_is(label, "preset")


def is_bound(label: str) -> bool:
    """A results label of a bound (the static optimum, the oracle): the registry's `bound`."""
    return registry.label_is(label, "bound")


def _at_setting(rows: pd.DataFrame, settings: Mapping[str, tuple[float, float]]) -> pd.DataFrame:
    keep = np.ones(len(rows), dtype=bool)
    for router, (V, c) in settings.items():
        mine = (rows["router"] == router).to_numpy()
        ok = ((rows["V"] - V).abs() <= 1e-12 * max(1.0, V)) & ((rows["c"] - c).abs() <= 1e-12 * max(1.0, c))
        keep &= ~mine | ok.to_numpy()
    return rows[keep]


def with_entries(rows: pd.DataFrame, main_split: str) -> pd.DataFrame:
    """Rows on `main_split` named by router; under the protocol, the routers that learn online (MESS+) on the full
    stream as `<router> (full stream)`, and the bounds on the full stream beside them (`<bound> (full stream)`), so
    that a full-stream entry is measured against the bounds of the same requests (`reference_of`)."""
    main = rows[rows["split"] == main_split]
    keep = [main.assign(entry=main["router"])]
    if main_split != "full":
        on_full = rows["router"].map(lambda r: registry.label_is(r, "learns_online") or registry.label_is(r, "bound"))
        full = rows[(rows["split"] == "full") & on_full]
        if full["router"].map(lambda r: registry.label_is(r, "learns_online")).any():
            keep.append(full.assign(entry=full["router"] + FULL_SUFFIX))
    return pd.concat(keep)


def reference_of(entry: str, reference: str) -> str:
    """The entry a ratio table divides `entry`'s cost by: `reference` on the same split as `entry` (a full-stream
    entry against the reference's full-stream entry: the test part's static optimum is not the full stream's)."""
    return reference + FULL_SUFFIX if entry.endswith(FULL_SUFFIX) else reference


def section_rows(frame: pd.DataFrame, scenario: str, columns: Sequence[Column], ctx: ReportContext) -> pd.DataFrame:
    """The section's rows at each column's alpha, each MESS+ router at its table (V, c), with an `entry` name."""
    part = frame[frame["scenario"] == scenario]
    keep = [part[(part["benchmark"] == col.name) & ((part["alpha"] - col.alpha).abs() < 1e-12)] for col in columns]
    rows = pd.concat(keep) if keep else part.iloc[:0]
    return with_entries(_at_setting(rows, ctx.mess_settings), ctx.main_split)


def num(x: float) -> str:
    """A cost for a table: one decimal for joules-sized values, three significant digits for small ones (ms, MJ)."""
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.3g}"


def _entries(rows: pd.DataFrame) -> list[str]:
    """Table rows in frame order: MESS+ routers first (each followed by its full-stream entry), the bounds last."""
    names = list(dict.fromkeys(rows["entry"]))
    preset = lambda e: registry.display_order(e) if is_mess_plus(e) else math.inf
    return sorted(names, key=lambda e: (is_bound(e), preset(e), e.endswith(FULL_SUFFIX)))


def _display(entry: str) -> str:
    return f"*{entry}* (bound)" if is_bound(entry) else entry


@dataclass(frozen=True)
class Outcome:
    """One entry in one column, averaged over seeds, with its 95% intervals where the runs carry replicates."""

    satisfaction: float
    cost: float  # per request
    overhead: float  # the router's own J per request
    seeds_met: int
    seeds: int
    alpha: float
    sat_interval: Interval | None = None
    cost_interval: Interval | None = None
    explore_share: float = math.nan  # share of requests explored
    explore_cost_share: float = math.nan  # share of the optimised cost spent on explorations (cost=energy only)
    auc: float = math.nan  # MESS+'s predictor held-out AUC, when the run reports `predictor_auc`
    auc_labels: float = math.nan  # labels per seed that AUC rests on (`predictor_auc_labels`)
    largest_share: float = math.nan  # share of requests the most expensive model served (explorations included)
    queue_above: float = math.nan  # share of exploit decisions with the queue above the largest model's threshold

    @property
    def meets(self) -> bool:
        """Strict: mean satisfaction over seeds >= alpha."""
        return self.satisfaction >= self.alpha - 1e-12

    @property
    def meets_within_interval(self) -> bool:
        """alpha at or below the upper end of the satisfaction's 95% interval (a miss the data cannot tell apart)."""
        return self.meets or (self.sat_interval is not None and self.sat_interval.high >= self.alpha - 1e-12)

    @property
    def mark(self) -> str:
        """✓ alpha met in every seed, ✗ in none, k/n in some (strict); ≈ after a mean miss within the 95% interval."""
        mark = "✓" if self.seeds_met == self.seeds else ("✗" if self.seeds_met == 0 else f"{self.seeds_met}/{self.seeds}")
        return mark + (" ≈" if not self.meets and self.meets_within_interval else "")


def outcomes(rows: pd.DataFrame, columns: Sequence[Column], ctx: ReportContext,
             boot: Mapping[str, Mapping[str, list[float]]]) -> dict[tuple[str, str], Outcome]:
    """(entry, column name) -> its Outcome: means over seeds, seeds meeting alpha and 95% bootstrap intervals."""
    out = {}
    alpha_of = {col.name: col.alpha for col in columns}
    for (entry, bench), group in rows.groupby(["entry", "benchmark"], sort=False):
        replicates = [boot.get(rid) for rid in group["run_id"]]
        sat_iv = combined_interval([r and r.get("satisfaction") for r in replicates])
        cost_iv = combined_interval([r and r.get("cost") for r in replicates])
        energy = group["energy_j_total"].sum()
        shares = [c for c in group.columns if c.startswith("share_")]
        out[(entry, bench)] = Outcome(
            satisfaction=float(group["satisfaction"].mean()), cost=float(group[ctx.per_request].mean()),
            overhead=float(np.nan_to_num(group["overhead_j_per_request"].mean())),
            seeds_met=int(group["sla_met"].astype(bool).sum()), seeds=len(group), alpha=alpha_of[bench],
            sat_interval=sat_iv, cost_interval=cost_iv,
            explore_share=float(group["explore_steps"].sum() / group["n_requests"].sum()),
            explore_cost_share=float(group["explore_energy_j"].sum() / energy) if energy > 0 and ctx.cost == "energy" else math.nan,
            auc=_mean(group, "predictor_auc"), auc_labels=_mean(group, "predictor_auc_labels"),
            largest_share=float(group[shares[-1]].mean()) if shares else math.nan,
            queue_above=_mean(group, "exploit_largest_share"))
    return out


def _mean(group: pd.DataFrame, column: str) -> float:
    """Mean of a column over the seeds that report it (NaN when none does, e.g. records written before it existed)."""
    return float(group[column].mean()) if column in group and group[column].notna().any() else math.nan


def _spread(values: pd.Series, fmt) -> str:
    # float noise (e.g. 4e-19 across identical single-model runs) is shown as 0
    if len(values) < 2:
        return ""
    std = values.std(ddof=0)
    return f" ± {fmt(std if std > 1e-9 * abs(values.mean()) else 0.0)}"


def _cell(group: pd.DataFrame, o: Outcome, ctx: ReportContext) -> str:
    sat = group["satisfaction"] * 100
    cost = group[ctx.per_request]
    total_unit, scale = ctx.total_unit
    total = group[ctx.total].mean() / scale
    cost_text = "n/a" if math.isnan(cost.mean()) else \
        f"{num(cost.mean())}{_spread(cost, num)} {ctx.cost_unit} ({num(total)} {total_unit})"
    return f"{sat.mean():.1f}{_spread(sat, lambda x: f'{x:.1f}')} % / {cost_text} {o.mark}"


def _header(columns: Sequence[Column], extra: Sequence[str] = ("mean",)) -> list[str]:
    return ["| router | " + " | ".join(f"{col.name} (α={col.alpha:g})" for col in columns) + " | " + " | ".join(extra) + " |",
            "|---|" + "---|" * (len(columns) + len(extra))]


def paper_table(rows: pd.DataFrame, columns: Sequence[Column], ctx: ReportContext,
                result: Mapping[tuple[str, str], Outcome]) -> list[str]:
    """Satisfaction % / cost per request (total), SLA mark, mean ± std over seeds; a mean column over the columns."""
    lines = _header(columns)
    for entry in _entries(rows):
        cells, sats, costs, met = [], [], [], 0
        for col in columns:
            group = rows[(rows["entry"] == entry) & (rows["benchmark"] == col.name)]
            if group.empty:
                cells.append("–")
                continue
            o = result[(entry, col.name)]
            cells.append(_cell(group, o, ctx))
            sats.append(o.satisfaction * 100)
            costs.append(o.cost)
            met += o.meets
        flag = "✓" if met == len(sats) else ("✗" if met == 0 else f"α met in {met}/{len(sats)}")
        mean = f"{sum(sats) / len(sats):.1f} % / {num(sum(costs) / len(costs))} {ctx.cost_unit} {flag}" if sats else "–"
        lines.append(f"| {_display(entry)} | " + " | ".join(cells) + f" | {mean} |")
    return lines


def interval_table(rows: pd.DataFrame, columns: Sequence[Column], ctx: ReportContext,
                   result: Mapping[tuple[str, str], Outcome]) -> list[str]:
    """95% intervals of satisfaction and cost per request, and α met strictly / within the interval."""
    lines = ["| router | " + " | ".join(f"{col.name} (α={col.alpha:g})" for col in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for entry in _entries(rows):
        if registry.spec_of_label(entry) is not None and registry.spec_of_label(entry).expected is not None:
            continue  # an expected-value bound (the static optimum), not a sample
        cells = []
        for col in columns:
            o = result.get((entry, col.name))
            if o is None or o.sat_interval is None:
                cells.append("–")
                continue
            cost = "n/a" if o.cost_interval is None else \
                f"[{num(o.cost_interval.low)}, {num(o.cost_interval.high)}] {ctx.cost_unit}"
            verdict = f"strict {'✓' if o.meets else '✗'}, in CI {'✓' if o.meets_within_interval else '✗'}"
            cells.append(f"[{o.sat_interval.low * 100:.1f}, {o.sat_interval.high * 100:.1f}] % / {cost}; {verdict}")
        lines.append(f"| {_display(entry)} | " + " | ".join(cells) + " |")
    return lines


def _geomean(values: Sequence[float]) -> float:
    values = [v for v in values if v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else math.nan


def _flag(o: Outcome) -> str:
    """No mark when alpha is met in every seed; else how many seeds met it, after ✗ when the mean misses it."""
    if o.seeds_met == o.seeds:
        return ""
    seeds = f"{o.seeds_met}/{o.seeds}"
    return f" ({seeds} seeds)" if o.meets else f" ✗ ({seeds} seeds)"


def ratio_table(rows: pd.DataFrame, columns: Sequence[Column], reference: str,
                result: Mapping[tuple[str, str], Outcome], own_energy: bool = False) -> list[str]:
    """Each entry's cost per request as a multiple of `reference`'s, flagged where the entry misses alpha;
    `own_energy` adds the router's own J per request (its inference and training, already inside its cost)."""
    lines = _header(columns, ("geo. mean", "own J/request") if own_energy else ("geo. mean",))
    for entry in _entries(rows):
        cells, ratios, overheads = [], [], []
        flagged = False
        for col in columns:
            o, ref = result.get((entry, col.name)), result.get((reference_of(entry, reference), col.name))
            if o is None or ref is None or not ref.cost > 0 or math.isnan(o.cost):
                cells.append("–")
                continue
            ratios.append(o.cost / ref.cost)
            overheads.append(o.overhead)
            flagged |= bool(_flag(o))
            cells.append(f"{o.cost / ref.cost:.2f}×{_flag(o)}")
        mean = _geomean(ratios)
        mean_text = "–" if math.isnan(mean) else f"{mean:.2f}×" + (" ⚠" if flagged else "")
        own = "–" if is_bound(entry) or not overheads else num(sum(overheads) / len(overheads))
        lines.append(f"| {_display(entry)} | " + " | ".join(cells) + f" | {mean_text} |" + (f" {own} |" if own_energy else ""))
    return lines


def best_other(result: Mapping[tuple[str, str], Outcome], bench: str) -> tuple[str, Outcome] | None:
    """The cheapest router other than MESS+ that meets alpha in every seed (the SLA as this project counts it); else
    the cheapest whose mean over seeds meets it; else the most satisfying one."""
    others = [(e, o) for (e, b), o in result.items() if b == bench and not is_bound(e) and not is_mess_plus(e)]
    if not others:
        return None
    for meeting in ([(e, o) for e, o in others if o.seeds_met == o.seeds], [(e, o) for e, o in others if o.meets]):
        if meeting:
            return min(meeting, key=lambda eo: eo[1].cost)
    return max(others, key=lambda eo: (eo[1].satisfaction, -eo[1].cost))


def _why(mess: Outcome, unit: str, other: tuple[str, Outcome] | None = None) -> str:
    """The likely reason a MESS+ run shows: how often the most expensive model served (against `other`), the
    time its queue stood above the largest model's threshold (share of exploit decisions, see
    `experiment.exploit_largest_share`), its explorations (share of requests and of cost) and its predictor's
    held-out AUC (where the run reports one)."""
    bits = []
    theirs = other[1].largest_share if other and math.isfinite(other[1].largest_share) else 0.0
    if math.isfinite(mess.largest_share) and mess.largest_share > theirs + 0.01:  # only where it tells them apart
        against = f" ({other[0]}: {theirs:.0%})" if other else ""
        bits.append(f"the most expensive model served {mess.largest_share:.0%} of requests{against}")
    if math.isfinite(mess.queue_above):
        bits.append(f"queue above the largest model's threshold in {mess.queue_above:.0%} of exploit decisions")
    bits.append(f"explored {mess.explore_share:.0%} of requests")
    if math.isfinite(mess.explore_cost_share):
        bits[-1] += f", {mess.explore_cost_share:.0%} of its cost"
    if math.isfinite(mess.auc):
        on = f" on {mess.auc_labels:.0f} labels a seed" if math.isfinite(mess.auc_labels) else ""
        bits.append(f"predictor held-out AUC {mess.auc:.2f}{on}")
    return "; ".join(bits)


def verdict(name: str, mess: Outcome, other: tuple[str, Outcome] | None, unit: str) -> str:
    """One line that explains itself: against what, by how much, and the likely reason from the run."""
    if not mess.meets:
        gap = (mess.alpha - mess.satisfaction) * 100
        within = "α is inside its 95% interval" if mess.meets_within_interval else "α is outside its 95% interval"
        return (f"**{name} misses α={mess.alpha:g}** by {gap:.1f} points ({mess.satisfaction * 100:.1f} %, "
                f"{mess.seeds_met}/{mess.seeds} seeds meet it; {within}); likely: {_why(mess, unit)}")
    if other is None:
        return "no other router ran"
    other_name, o = other
    if not o.meets:
        return f"{name} wins: meets α, no other router does (best other {other_name} {o.satisfaction * 100:.1f} %)"
    ratio = mess.cost / o.cost if o.cost > 0 else math.inf
    if ratio <= 1:
        return f"{name} wins: {other_name} costs {1 / ratio:.2f}× as much ({num(o.cost)} vs {num(mess.cost)} {unit})"
    if ratio < 1.005:  # shown as 1.00×: not a loss worth a reason
        return f"{name} ties with {other_name}: costs within 0.5% ({num(mess.cost)} vs {num(o.cost)} {unit})"
    robust = (f"; but {other_name} meets α in only {o.seeds_met}/{o.seeds} seeds, {name} in all"
              if mess.seeds_met == mess.seeds and o.seeds_met < o.seeds else "")
    return (f"**{name} loses to {other_name}** by {ratio:.2f}× ({num(mess.cost)} vs {num(o.cost)} {unit}){robust}; "
            f"likely: {_why(mess, unit, other)}")


def versus_table(rows: pd.DataFrame, columns: Sequence[Column], ctx: ReportContext,
                 result: Mapping[tuple[str, str], Outcome]) -> list[str]:
    """Per MESS+ router and column: MESS+ next to the best other router, and a verdict that explains itself."""
    fmt = lambda o: f"{o.satisfaction * 100:.1f} % / {num(o.cost)} {ctx.cost_unit} {o.mark}"
    lines = ["| stream | MESS+ router | MESS+ | best other router | verdict |", "|---|---|---|---|---|"]
    for entry in [e for e in _entries(rows) if is_mess_plus(e) and not e.endswith(FULL_SUFFIX)]:
        for col in columns:
            mess = result.get((entry, col.name))
            if mess is None:
                continue
            other = best_other(result, col.name)
            other_text = "–" if other is None else f"{other[0]}: {fmt(other[1])}"
            lines.append(f"| {col.name} (α={col.alpha:g}) | {entry} | {fmt(mess)} | {other_text} | "
                         f"{verdict(entry, mess, other, ctx.cost_unit)} |")
    return lines


def section(title: str, intro: str, rows: pd.DataFrame, columns: Sequence[Column], ctx: ReportContext,
            boot: Mapping[str, Mapping[str, list[float]]]) -> list[str]:
    """One summary.md section (markdown lines): the main table, the 95% intervals, cost relative to each MESS+
    preset, and MESS+ against the best other router."""
    result = outcomes(rows, columns, ctx, boot)
    lines = [f"## {title}", "", intro, ""] + paper_table(rows, columns, ctx, result)
    lines += ["", "### 95% intervals", "",
              "Percentile bootstrap of the mean over seeds (requests resampled within each seed, 200 replicates). "
              "Strict: mean satisfaction ≥ α; in CI: α at or below the interval's upper end.", ""]
    lines += interval_table(rows, columns, ctx, result)
    mess_entries = [e for e in _entries(rows) if is_mess_plus(e) and not e.endswith(FULL_SUFFIX)]
    for reference in mess_entries:
        lines += ["", f"### Cost relative to {reference}", "",
                  f"Cost per request as a multiple of {reference}'s in the same column (below 1: cheaper). "
                  "(k/n seeds): α met in only k of n seeds; ✗: α missed on average over the seeds. "
                  "A flagged ratio is not a win. Geo. mean: geometric mean over the columns (⚠: some are flagged). "
                  "Own J/request: the router's own inference (and MESS+'s training) energy, charged by the engine "
                  "(`router_energy_j` / `predictor_energy_j`) and included in every figure above.", ""]
        lines += ratio_table(rows, columns, reference, result, own_energy=True)
    if mess_entries:
        lines += ["", "### MESS+ against the best other router", "",
                  "Best other: the cheapest router (not a bound) that meets α in every seed; if none does, the "
                  "cheapest whose mean satisfaction meets α; if none does, the most satisfying one. Likely reasons, from the MESS+ runs (means over seeds): "
                  "the most expensive model's share of requests (beside the best other's, where MESS+'s is higher); "
                  "*queue above the largest model's threshold*: the share of exploit (not exploration) decisions at "
                  "which the virtual queue Q exceeded the point where the exploit rule V·E_m + Q·(α − ŝ_m) switches "
                  "to the most expensive model, i.e. exploit decisions that served it; explorations as a share of "
                  "requests and of the cost; the predictor's held-out AUC (each label an "
                  "exploration reveals, scored before the predictor learns it, pooled over models; presets with a "
                  "per-request predictor only; few labels make it noisy).", ""]
        lines += versus_table(rows, columns, ctx, result)
    for bound in registry.names(bound=True):
        what = bound.replace("_", " ")
        if (rows["entry"] == bound).any():
            lines += ["", f"### How far from the limit: cost as a multiple of the {what}", ""]
            lines += ratio_table(rows, columns, bound, result)
    return lines


def alpha_sweep_tables(frame: pd.DataFrame, scenario: str, ctx: ReportContext) -> list[str]:
    """Per benchmark that ran several alphas: every router across alpha, and its AIQ (see `aiq`)."""
    part = with_entries(_at_setting(frame[frame["scenario"] == scenario], ctx.mess_settings), ctx.main_split)
    lines: list[str] = []
    for bench, rows in part.groupby("benchmark", sort=False):
        alphas = sorted(rows["alpha"].unique())
        if len(alphas) < 2:
            continue
        means = rows.groupby(["entry", "alpha"])[[ctx.per_request, "satisfaction"]].mean()
        per_model = means.index.get_level_values(0).map(lambda e: registry.label_is(e, "per_model")).to_numpy(dtype=bool)
        singles = means[per_model][ctx.per_request]
        c_min, c_max = (singles.min(), singles.max()) if len(singles) else (math.nan, math.nan)
        columns = [Column(bench, float(a)) for a in alphas]
        lines += ["", f"### {bench} across α", "",
                  f"Satisfaction % / cost per request ({ctx.cost_unit}) and SLA mark, mean over seeds. "
                  f"AIQ: area under the router's non-decreasing convex hull of (cost, satisfaction) over these α, "
                  f"normalised between the cheapest ({num(c_min)} {ctx.cost_unit}) and the most expensive "
                  f"({num(c_max)} {ctx.cost_unit}) single model's cost (RouterBench; 0 below the router's cheapest point).",
                  "", "| router | " + " | ".join(f"α={a:g}" for a in alphas) + " | AIQ |", "|---|" + "---|" * (len(alphas) + 1)]
        for entry in _entries(rows):
            cells, points = [], []
            for col in columns:
                group = rows[(rows["entry"] == entry) & ((rows["alpha"] - col.alpha).abs() < 1e-12)]
                if group.empty:
                    cells.append("–")
                    continue
                o = outcomes(group, [col], ctx, {})[(entry, bench)]
                points.append((o.cost, o.satisfaction))
                cells.append(f"{o.satisfaction * 100:.1f} % / {num(o.cost)} {o.mark}")
            score = aiq(points, c_min, c_max)
            lines.append(f"| {_display(entry)} | " + " | ".join(cells) + f" | {'–' if math.isnan(score) else f'{score:.3f}'} |")
    return lines


def mess_setting_table(frame: pd.DataFrame, scenario: str, columns: Sequence[Column], ctx: ReportContext) -> list[str]:
    """Every MESS+ (V, c) that ran, at each column's alpha (only when some MESS+ router ran several)."""
    sweeps = frame["router"].map(lambda r: registry.label_is(r, "sweeps"))
    part = frame[(frame["scenario"] == scenario) & sweeps & (frame["split"] == ctx.main_split)]
    if part.empty or part.groupby("router")[["V", "c"]].apply(lambda g: len(g.drop_duplicates())).max() < 2:
        return []
    lines = ["", "### MESS+ across V and c", "",
             "Satisfaction % / cost per request and SLA mark, mean over seeds; ★ marks the setting the tables above show.", "",
             "| router | V | c | " + " | ".join(f"{col.name} (α={col.alpha:g})" for col in columns) + " |",
             "|---|---|---|" + "---|" * len(columns)]
    for (router, V, c), rows in part.groupby(["router", "V", "c"]):
        cells = []
        for col in columns:
            group = rows[(rows["benchmark"] == col.name) & ((rows["alpha"] - col.alpha).abs() < 1e-12)]
            if group.empty:
                cells.append("–")
                continue
            o = outcomes(group.assign(entry=router), [col], ctx, {})[(router, col.name)]
            cells.append(f"{o.satisfaction * 100:.1f} % / {num(o.cost)} {o.mark}")
        star = " ★" if ctx.mess_settings.get(router) == (float(V), float(c)) else ""
        lines.append(f"| {router}{star} | {V:g} | {c:g} | " + " | ".join(cells) + " |")
    return lines


def against_paper(frame: pd.DataFrame, columns: Sequence[Column], ctx: ReportContext) -> list[str]:
    """The paper's figures (conf/paper/<zoo>.yaml) beside ours at the same alpha, with the ratio ours / paper."""
    paper = ctx.paper or {}
    lines = ["## Against the paper", "", f"Source: {paper.get('source', 'not given')}."]
    if paper.get("note"):
        lines += ["", str(paper["note"]).strip()]
    figures = paper.get("figures") or {}
    table = []
    for col in columns:
        for name, fig in (figures.get(col.name) or {}).items():
            ours_name = fig.get("ours", name)
            rows = frame[(frame["scenario"] == NO_SCENARIO) & (frame["benchmark"] == col.name) & (frame["router"] == ours_name)
                         & ((frame["alpha"] - col.alpha).abs() < 1e-12) & (frame["split"] == ctx.main_split)]
            rows = _at_setting(rows, ctx.mess_settings)
            sat = rows["satisfaction"].mean() * 100 if len(rows) else math.nan
            cost = rows[ctx.per_request].mean() if len(rows) else math.nan
            p_sat, p_cost = fig.get("satisfaction"), fig.get("cost_per_request")
            ratio = lambda ours, theirs: "–" if theirs in (None, 0) or math.isnan(ours) else f"{ours / float(theirs):.2f}×"
            show = lambda v, f: "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f(v)
            table.append(f"| {col.name} (α={col.alpha:g}) | {name} | {ours_name} | {show(p_sat, lambda v: f'{v:.1f} %')} | "
                         f"{show(sat, lambda v: f'{v:.1f} %')} | {ratio(sat, p_sat)} | "
                         f"{show(p_cost, num)} | {show(cost, num)} | {ratio(cost, p_cost)} |")
    if table:
        lines += ["", f"| stream | paper's entry | ours | paper satisfaction | ours | ratio | paper {ctx.cost_unit}/request | "
                      "ours | ratio |", "|---|---|---|---|---|---|---|---|---|"] + table
    else:
        lines += ["", "**The paper's figures are missing**: the data file holds no per-benchmark figure of the paper for "
                      "the benchmarks that ran, so nothing is compared here. Why, and how to fill it: the note above "
                      "(`conf/paper/<zoo>.yaml`)."]
    return lines


def header(ctx: ReportContext) -> list[str]:
    """summary.md's opening lines: zoo, data, optimised cost and unit, MESS+ settings, code version, protocol."""
    total_unit = ctx.total_unit[0]
    protocol = ("Every router is scored on the held-out test part of each seed's stream (the learned routers trained "
                "on the rest); `<MESS+ router> (full stream)` is that router on the whole stream. "
                if ctx.main_split == "test" else "")
    settings = ", ".join(f"{r}: V={V:g}, c={c:g}" for r, (V, c) in ctx.mess_settings.items()) or "none ran"
    lines = ["# MESS+ evaluation summary", ""]
    if ctx.zoo:
        lines += [f"- Zoo `{ctx.zoo}` (cheapest first): " + ", ".join(f"{cat} = {model}" for cat, model in ctx.models)]
    if ctx.data_dir:
        lines += [f"- Data: `{ctx.data_dir}`"]
    column = "energy_consumption_X" if ctx.cost == "energy" else "inference_time_X"
    lines += [f"- Optimised cost: {ctx.cost} (the capture's `{column}`) per request, in {ctx.cost_unit} (totals in {total_unit})",
              f"- MESS+ settings in the tables: {settings}"]
    if ctx.version:
        lines += [f"- Code version: {ctx.version}"]
    lines += ["", f"{protocol}Cells: satisfaction % / cost per request (total), mean ± std over seeds. "
                  "SLA mark (strict, per seed): ✓ α met in every seed, ✗ in none, k/n in some; in the mean column: the columns "
                  "whose mean over seeds meets α (✓ all, ✗ none); "
                  "≈ after it: the mean misses α but α lies inside the 95% interval (see each section's interval table). "
                  + " and ".join(f"`{b}` ({registry.get(b).describe})" for b in registry.names(bound=True))
                  + " are bounds, not routers.", ""]
    return lines


def summary_markdown(frame: pd.DataFrame, sections: Sequence[tuple[str, str, str, Sequence[Column]]], ctx: ReportContext,
                     notes: Sequence[str] = (), records: Sequence[dict[str, Any]] = ()) -> str:
    """`sections`: (scenario, title, description, preferred columns) in order, the main grid first.

    Columns are drawn at the alpha that ran (`resolve_columns`); `records` supply the bootstrap replicates.
    """
    boot = bootstrap_lookup(records)
    notes = list(notes)
    lines = header(ctx)
    for scenario, title, description, preferred in sections:
        part = frame[frame["scenario"] == scenario]
        columns, column_notes = resolve_columns(part, preferred)
        notes += column_notes
        rows = section_rows(frame, scenario, columns, ctx)
        if rows.empty:
            continue
        lines += section(title, description, rows, columns, ctx, boot)
        lines += alpha_sweep_tables(frame, scenario, ctx)
        lines += mess_setting_table(frame, scenario, columns, ctx) + [""]
        if scenario == NO_SCENARIO and ctx.paper is not None:
            lines += against_paper(frame, columns, ctx) + [""]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"
