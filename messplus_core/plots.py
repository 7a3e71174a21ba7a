"""The evaluation plots (PNG), one figure per question, one panel per benchmark."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .report import TableSetting, at_table_setting, at_table_settings, setting_text  # noqa: E402
from .zoo import BenchmarkSpec  # noqa: E402


def _panels(n: int, title: str):
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.suptitle(title)
    return fig, list(axes.flat[:n])


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _default_runs(records: Sequence[dict[str, Any]], bench: BenchmarkSpec, table: TableSetting) -> list[dict[str, Any]]:
    """Records at the benchmark's default alpha; each MESS+ preset only at its table (V, c)."""
    out = []
    for rec in records:
        row = rec["row"]
        if row["benchmark"] != bench.name or abs(row["alpha"] - bench.alpha) > 1e-12:
            continue
        if not at_table_setting(row["router"], row["V"], row["c"], table):
            continue
        out.append(rec)
    return sorted(out, key=lambda r: (r["row"]["router"], r["row"]["seed"]))


def write_plots(records: Sequence[dict[str, Any]], frame: pd.DataFrame, benchmarks: Sequence[BenchmarkSpec],
                categories: Sequence[str], out_dir: Path, table: TableSetting) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    runs = {b.name: _default_runs(records, b, table) for b in benchmarks}
    first_seed = {b.name: min((r["row"]["seed"] for r in runs[b.name]), default=None) for b in benchmarks}

    fig, axes = _panels(len(benchmarks), f"Running satisfaction (first seed; {setting_text(table)})")
    for ax, bench in zip(axes, benchmarks):
        for rec in runs[bench.name]:
            if rec["row"]["seed"] == first_seed[bench.name]:
                h = rec["history"]
                ax.plot(h["t"], h["satisfaction"], label=rec["row"]["router"], lw=2.2 if rec["row"]["router"] == "mess_plus" else 1)
        ax.axhline(bench.alpha, color="k", ls="--", lw=1, label="α")
        ax.set(title=bench.name, xlabel="request", ylabel="satisfaction so far")
    axes[0].legend(fontsize=7)
    written.append(_save(fig, out_dir / "running_satisfaction.png"))

    if any(rec["row"]["router"] == "mess_plus" for recs in runs.values() for rec in recs):
        written += _mess_plus_plots(runs, first_seed, benchmarks, categories, out_dir)
    written.append(_cost_vs_satisfaction(frame, benchmarks, out_dir, table))
    return written


def _mess_plus_plots(runs: dict[str, list[dict[str, Any]]], first_seed: dict[str, Any], benchmarks: Sequence[BenchmarkSpec],
                     categories: Sequence[str], out_dir: Path) -> list[Path]:
    written = []
    fig, axes = _panels(len(benchmarks), "MESS+ virtual queue Q (decision queue, every seed)")
    for ax, bench in zip(axes, benchmarks):
        for rec in runs[bench.name]:
            if rec["row"]["router"] == "mess_plus":
                ax.plot(rec["history"]["t"], rec["history"]["Q"], label=f"seed {rec['row']['seed']}")
        ax.set(title=bench.name, xlabel="request", ylabel="Q")
    axes[0].legend(fontsize=7)
    written.append(_save(fig, out_dir / "queue.png"))

    fig, axes = _panels(len(benchmarks), "MESS+ model mix so far (first seed; exploration served by the largest)")
    for ax, bench in zip(axes, benchmarks):
        for rec in runs[bench.name]:
            if rec["row"]["router"] == "mess_plus" and rec["row"]["seed"] == first_seed[bench.name]:
                h = rec["history"]
                ax.stackplot(h["t"], *[h[f"share_{cat}"] for cat in categories], labels=list(categories), alpha=0.8)
        ax.set(title=bench.name, xlabel="request", ylabel="share of requests", ylim=(0, 1))
    axes[0].legend(fontsize=7, loc="lower left")
    written.append(_save(fig, out_dir / "model_mix.png"))
    return written


def _cost_vs_satisfaction(frame: pd.DataFrame, benchmarks: Sequence[BenchmarkSpec], out_dir: Path, table: TableSetting) -> Path:
    """Energy per request, or time where routing optimised time (energy may then be unmeasured)."""
    column, label = ("time_s_per_request", "time per request (s)") if (frame["cost"] == "time").any() else \
        ("energy_j_per_request", "energy per request (J)")
    fig, axes = _panels(len(benchmarks), f"{label.split(' per')[0].capitalize()} vs satisfaction across α "
                                         f"(mean over seeds; {setting_text(table)})")
    for ax, bench in zip(axes, benchmarks):
        part = frame[frame["benchmark"] == bench.name]
        part = part[at_table_settings(part, table)]
        means = part.groupby(["router", "alpha"], as_index=False)[[column, "satisfaction"]].mean()
        for router, group in means.groupby("router"):
            group = group.sort_values("alpha")
            style = {"static_optimum": dict(ls="--", marker="s"), "oracle": dict(ls=":", marker="v")}.get(router, dict(ls="-", marker="o"))
            if router.startswith("single_model"):
                style = dict(ls="none", marker="x")
            ax.plot(group[column], group["satisfaction"], label=router, **style)
        for alpha in bench.alpha_sweep:
            ax.axhline(alpha, color="grey", lw=0.5)
        ax.set(title=bench.name, xlabel=label, ylabel="satisfaction", xscale="log")
    axes[0].legend(fontsize=7)
    return _save(fig, out_dir / "cost_vs_satisfaction.png")
