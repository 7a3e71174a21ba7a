"""The evaluation plots (PNG), one figure per question, one panel per benchmark.

Readable from one panel to many and from three models to a dozen: the
figure title is short and the settings go in a subtitle; legends sit
outside the panels, below them; every router keeps one colour across runs
and figures (`router_color`: tab20 for routers, viridis by cost rank for the
single models). Drawn at the alpha that ran and at each MESS+ router's table
(V, c), like summary.md.
"""

from __future__ import annotations

import math
import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from messplus_core.evaluate.report import ReportContext, is_bound, is_mess_plus  # noqa: E402
from messplus_core.routers import registry  # noqa: E402
from messplus_core.core.uncertainty import combined_interval  # noqa: E402

MAX_COLS = 4
TITLE_FONT = 10
LEGEND_FONT = 7


def _category(router: str) -> str | None:
    """The zoo category of a per-model router's label (`single_model:<category>`), else None."""
    return router.split(registry.MODEL_SEPARATOR, 1)[1] if registry.label_is(router, "per_model") \
        and registry.MODEL_SEPARATOR in router else None


def model_color(category: str, categories: Sequence[str]) -> Any:
    """viridis by the model's cost rank in the zoo (cheapest darkest)."""
    rank = categories.index(category) if category in categories else 0
    return plt.get_cmap("viridis")(0.1 + 0.8 * rank / max(1, len(categories) - 1))


def router_color(router: str, categories: Sequence[str]) -> Any:
    """tab20 at the router's registered `colour` slot (none: a stable slot from the name), so a router keeps one
    colour in every run and figure; viridis by cost rank for a per-model router's runs."""
    cat = _category(router)
    if cat is not None:
        return model_color(cat, categories)
    base = router.removesuffix(registry.FULL_STREAM_SUFFIX)
    spec = registry.spec_of_label(base)
    slot = spec.colour if spec is not None and spec.colour is not None else (16 + sum(map(ord, base))) % 20
    return plt.get_cmap("tab20")(slot + (1 if router.endswith(registry.FULL_STREAM_SUFFIX) else 0))


def _panels(n: int, title: str, subtitle: str, legend_rows: int = 1):
    """A figure of n panels (at most MAX_COLS a row) titled `title`; the subtitle (settings) wraps to the width."""
    cols = min(MAX_COLS, n)
    rows = math.ceil(n / cols)
    width = max(5.0, 4.3 * cols)
    # ~0.6 em per character at 10 pt: the longest line that fits 95% of the width
    lines = wrap_settings(subtitle, int(0.95 * width / (0.6 * TITLE_FONT / 72)))
    fig, axes = plt.subplots(rows, cols, figsize=(width, 3.4 * rows + 0.9 + 0.18 * len(lines) + 0.25 * legend_rows),
                             squeeze=False, layout="constrained")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.suptitle("\n".join([title, *lines]), fontsize=TITLE_FONT)
    return fig, list(axes.flat[:n])


def wrap_settings(text: str, width: int) -> list[str]:
    """Lines of at most `width` characters, broken between "; "-separated settings where one fits, else between words."""
    lines: list[str] = []
    for part in text.split("; "):
        if lines and len(lines[-1]) + 2 + len(part) <= width:
            lines[-1] += "; " + part
        else:
            if lines:
                lines[-1] += ";"
            lines += textwrap.wrap(part, width=width, break_on_hyphens=False) or [""]
    return lines or [""]


def _legend(fig, axes) -> None:
    """One legend for the figure, below the panels (never over the data), entries deduplicated."""
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(handles.values(), handles.keys(), loc="outside lower center", fontsize=LEGEND_FONT, frameon=False,
                   ncol=legend_columns(list(handles), fig.get_figwidth()))


def legend_columns(labels: Sequence[str], width_in: float, fontsize: float = 7.0) -> int:
    """Legend columns that fit the figure's width: each entry takes its handle and padding (~0.6 in) plus its
    text (~0.6 em per character), and the longest entry sets the column width; the rest wrap onto more rows."""
    entry_in = 0.6 + 0.6 * fontsize / 72 * max(map(len, labels))
    return max(1, min(len(labels), int(0.95 * width_in // entry_in)))


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _settings_text(ctx: ReportContext) -> str:
    return "; ".join(f"{r} V={V:g}, c={c:g}" for r, (V, c) in ctx.mess_settings.items())


def _at_setting(row: dict[str, Any], ctx: ReportContext) -> bool:
    setting = ctx.mess_settings.get(row["router"])
    return setting is None or (abs(row["V"] - setting[0]) <= 1e-12 * max(1, setting[0])
                               and abs(row["c"] - setting[1]) <= 1e-12 * max(1, setting[1]))


def main_alpha(frame: pd.DataFrame, name: str, default: float) -> float:
    """The alpha a benchmark's panels show: its default if it ran, else the lowest that ran (as summary.md)."""
    alphas = sorted(frame.loc[frame["benchmark"] == name, "alpha"].unique())
    return default if not alphas or any(abs(a - default) < 1e-12 for a in alphas) else float(alphas[0])


def _runs(records: Sequence[dict[str, Any]], name: str, alpha: float, ctx: ReportContext,
          categories: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Records of one stream at `alpha`, MESS+ routers only at their table (V, c); MESS+ first, single models
    last in cost order."""
    out = [r for r in records if r["row"]["benchmark"] == name and abs(r["row"]["alpha"] - alpha) < 1e-12
           and _at_setting(r["row"], ctx)]

    return sorted(out, key=lambda rec: (*_order(rec["row"]["router"], categories), rec["row"]["seed"]))


def _order(router: str, categories: Sequence[str]) -> tuple:
    """Legend order: MESS+ routers, other routers, single models cheapest first, the bounds last."""
    cat = _category(router)
    rank = list(categories).index(cat) if cat in categories else -1
    return not is_mess_plus(router), is_bound(router), cat is not None, rank, router


def running_satisfaction(ax, runs: Sequence[dict[str, Any]], alpha: float, categories: Sequence[str]) -> None:
    """Draw each router's satisfaction so far against the request count on `ax` (first seed only), and alpha."""
    first = min((r["row"]["seed"] for r in runs), default=None)
    for rec in runs:
        if rec["row"]["seed"] != first:
            continue
        router, h = rec["row"]["router"], rec["history"]
        mess = is_mess_plus(router)
        ax.plot(h["t"], h["satisfaction"], label=router, color=router_color(router, categories),
                lw=2.0 if mess else 1.0, ls="-" if mess or _category(router) is None else ":", zorder=3 if mess else 2)
    ax.axhline(alpha, color="k", ls="--", lw=1, label="α (SLA target)")
    ax.set(xlabel="request", ylabel="satisfaction so far")


def model_mix(ax, rec: dict[str, Any], categories: Sequence[str]) -> None:
    """Draw one run's share of requests served by each model so far, stacked, on `ax`."""
    h = rec["history"]
    colors = [model_color(cat, categories) for cat in categories]
    ax.stackplot(h["t"], *[h[f"share_{cat}"] for cat in categories], labels=list(categories), colors=colors, alpha=0.85)
    ax.set(xlabel="request", ylabel="share of requests so far", ylim=(0, 1))


def write_plots(records: Sequence[dict[str, Any]], frame: pd.DataFrame, benchmarks: Sequence[Any],
                categories: Sequence[str], out_dir: Path, ctx: ReportContext) -> list[Path]:
    """The main grid's figures: running satisfaction, MESS+ queue and model mix, cost vs satisfaction."""
    out_dir.mkdir(parents=True, exist_ok=True)
    categories = list(categories)
    alphas = {b.name: main_alpha(frame, b.name, b.alpha) for b in benchmarks}
    runs = {b.name: _runs(records, b.name, alphas[b.name], ctx, categories) for b in benchmarks}
    subtitle = f"first seed; {_settings_text(ctx)}" if ctx.mess_settings else "first seed"
    written = []

    fig, axes = _panels(len(benchmarks), "Running satisfaction", subtitle, legend_rows=2)
    for ax, bench in zip(axes, benchmarks):
        running_satisfaction(ax, runs[bench.name], alphas[bench.name], categories)
        ax.set_title(f"{bench.name} (α={alphas[bench.name]:g})", fontsize=9)
    _legend(fig, axes)
    written.append(_save(fig, out_dir / "running_satisfaction.png"))

    mess_routers = sorted({r["row"]["router"] for recs in runs.values() for r in recs if is_mess_plus(r["row"]["router"])})
    if mess_routers:
        written += _mess_plus_plots(runs, alphas, benchmarks, categories, mess_routers, out_dir, ctx)
    written.append(cost_vs_satisfaction(records, frame, benchmarks, categories, out_dir, ctx))
    return written


def _mess_plus_plots(runs: dict[str, list[dict[str, Any]]], alphas: dict[str, float], benchmarks: Sequence[Any],
                     categories: Sequence[str], mess_routers: Sequence[str], out_dir: Path, ctx: ReportContext) -> list[Path]:
    written = []
    fig, axes = _panels(len(benchmarks), "MESS+ virtual queue Q", f"every seed; {_settings_text(ctx)}")
    for ax, bench in zip(axes, benchmarks):
        styles = defaultdict(lambda: ["-", "--", ":", "-."][len(styles) % 4])
        for rec in runs[bench.name]:
            router = rec["row"]["router"]
            if is_mess_plus(router):
                ax.plot(rec["history"]["t"], rec["history"]["Q"], color=router_color(router, categories),
                        ls=styles[rec["row"]["seed"]], lw=1.2, label=f"{router}, seed {rec['row']['seed']}")
        ax.set(xlabel="request", ylabel="Q")
        ax.set_title(f"{bench.name} (α={alphas[bench.name]:g})", fontsize=9)
    _legend(fig, axes)
    written.append(_save(fig, out_dir / "queue.png"))

    for router in mess_routers:
        fig, axes = _panels(len(benchmarks), f"{router}: model mix so far",
                            "first seed; explorations included, served as the preset's explore_serve says")
        for ax, bench in zip(axes, benchmarks):
            mine = [r for r in runs[bench.name] if r["row"]["router"] == router]
            if mine:
                model_mix(ax, mine[0], categories)
            ax.set_title(f"{bench.name} (α={alphas[bench.name]:g})", fontsize=9)
        _legend(fig, axes)
        name = "model_mix.png" if router == mess_routers[0] else f"model_mix_{router}.png"
        written.append(_save(fig, out_dir / name))
    return written


def cost_vs_satisfaction(records: Sequence[dict[str, Any]], frame: pd.DataFrame, benchmarks: Sequence[Any],
                         categories: Sequence[str], out_dir: Path, ctx: ReportContext) -> Path:
    """Cost per request vs satisfaction across the alphas that ran: each router's points labelled with alpha,
    its 95% satisfaction interval as a bar, and the static optimum's and oracle's curves across alpha."""
    column = ctx.per_request
    boot = {r["run_id"]: r.get("bootstrap") for r in records}
    fig, axes = _panels(len(benchmarks), f"Cost vs satisfaction across α",
                        f"mean over seeds, bars: 95% interval; {_settings_text(ctx)}", legend_rows=2)
    for ax, bench in zip(axes, benchmarks):
        part = frame[(frame["benchmark"] == bench.name) & frame.apply(lambda r: _at_setting(r, ctx), axis=1)]
        for router, group in sorted(part.groupby("router", sort=False), key=lambda rg: _order(rg[0], categories)):
            pts = []
            for alpha, rows in group.groupby("alpha"):
                reps = [boot.get(rid) for rid in rows["run_id"]]
                iv = combined_interval([r and r.get("satisfaction") for r in reps])
                pts.append((float(alpha), rows[column].mean(), rows["satisfaction"].mean(), iv))
            pts.sort()
            color = router_color(router, categories)
            xs, ys = [p[1] for p in pts], [p[2] for p in pts]
            if _category(router) is not None:
                ax.plot(xs[:1], ys[:1], ls="none", marker="x", ms=7, color=color, label=router)
                continue
            spec = registry.spec_of_label(router)
            style = dict(spec.plot_style) if spec is not None and spec.plot_style else dict(ls="-", marker="o", ms=4)
            ax.plot(xs, ys, color=color, label=router, lw=1.8 if is_mess_plus(router) else 1.2, **style)
            for alpha, x, y, iv in pts:
                if iv is not None:
                    ax.plot([x, x], [iv.low, iv.high], color=color, lw=0.8)
                if is_mess_plus(router) or is_bound(router):  # bounds label below-left, routers above-right
                    bound = is_bound(router)
                    ax.annotate(f"{alpha:g}", (x, y), textcoords="offset points", xytext=(-3, -8) if bound else (3, 3),
                                ha="right" if bound else "left", fontsize=6, color=color)
        for alpha in sorted(part["alpha"].unique()):
            ax.axhline(alpha, color="grey", lw=0.5, zorder=0)
        log_scale = bool((part[column] > 0).all())  # a zero cost (e.g. unmeasured times) cannot go on a log axis
        ax.set(xlabel=f"cost per request ({ctx.cost_unit}{', log' if log_scale else ''})", ylabel="satisfaction",
               xscale="log" if log_scale else "linear")
        ax.margins(x=0.12, y=0.08)  # room for the alpha labels beside the outermost points
        ax.set_title(bench.name, fontsize=9)
    _legend(fig, axes)
    return _save(fig, out_dir / "cost_vs_satisfaction.png")


def write_scenario_plots(records: Sequence[dict[str, Any]], name: str, alpha: float, boundaries: Sequence[tuple[str, int]],
                         n_total: int, categories: Sequence[str], out_dir: Path, ctx: ReportContext) -> list[Path]:
    """A concatenated scenario stream: running satisfaction and each MESS+ router's model mix, with the parts'
    boundaries marked. `boundaries`: (part name, start index in the whole stream); a test-split run shows the
    stream's tail, so its boundaries shift by the training part's length."""
    out_dir.mkdir(parents=True, exist_ok=True)
    categories = list(categories)
    runs = _runs(records, name, alpha, ctx, categories)
    if not runs:
        return []
    offset = n_total - runs[0]["row"]["n_requests"]
    mess_routers = sorted({r["row"]["router"] for r in runs if is_mess_plus(r["row"]["router"])})
    fig, axes = _panels(1 + len(mess_routers), f"Scenario {name}: running satisfaction and model mix",
                        f"α={alpha:g}; first seed; dotted lines: where the next part starts (the scored part of the stream)", legend_rows=3)
    running_satisfaction(axes[0], runs, alpha, categories)
    axes[0].set_title("running satisfaction", fontsize=9)
    for ax, router in zip(axes[1:], mess_routers):
        model_mix(ax, next(r for r in runs if r["row"]["router"] == router), categories)
        ax.set_title(f"{router}: model mix", fontsize=9)
    ends = [start for _, start in boundaries[1:]] + [n_total]
    for ax in axes:
        for (part, start), end in zip(boundaries, ends):
            lo, hi = max(start - offset, 0), end - offset
            if start - offset > 0:
                ax.axvline(start - offset, color="k", ls=":", lw=1)
            if hi > lo:  # the part's name runs down just right of where it starts: no overlap however short the part
                ax.annotate(part, (lo, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -3), textcoords="offset points",
                            fontsize=7, rotation=90, ha="left", va="top",
                            bbox=dict(boxstyle="round,pad=0.15", fc="white", alpha=0.7, lw=0))
    _legend(fig, axes)
    return [_save(fig, out_dir / f"scenario_{name}.png")]
