"""The report's figures, drawn with matplotlib: inline SVG for the page, PNG/PDF/SVG files beside it.

Every drawn series carries the SVG id ``FIGURE|GROUP``, so a page can be checked for one colour per group.

One colour per display group in every figure (:func:`palette`: the config's order, a variant in its
group's lighter shade), round ticks from matplotlib's locators, nothing drawn outside the axes
(intervals are clipped to [0, 1] and the y axis fits them), base models as dashed reference lines on
training dynamics. Output is reproducible: a fixed SVG hash salt and no dates in PDF/PNG metadata.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator, PercentFormatter  # noqa: E402

plt.rcParams.update({"svg.hashsalt": "spillover", "svg.fonttype": "none", "font.size": 9,
                     "axes.spines.top": False, "axes.spines.right": False})
MARKERS = "osD^v<>ph*"
SCATTER_MAX = 400
"""Points per group in the scatter (the inline SVG stays small for runs of any size)."""
Series = Mapping[str, Sequence[tuple[float, float]]]


class Figure(NamedTuple):
    """A drawn figure: its file stem and the inline SVG for the page."""

    name: str
    svg: str


def _legend(ax: Any, **kw: Any) -> None:
    """A legend, when the axes has a labelled artist (an empty chart gets none, and no warning)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kw)


LEGEND_ABOVE = 7
"""Most groups whose per-question legend fits in one row above the plot."""


ROWS_BESIDE = 16
"""Most legend entries in one column beside a plot (more make columns, so the legend keeps to the figure)."""


def _legend_beside(ax: Any, **kw: Any) -> None:
    """A legend to the right of the axes, in columns of at most ``ROWS_BESIDE`` (small type when long); the
    figure widens by the legend's width, so the plot keeps its own."""
    n = len(ax.get_legend_handles_labels()[1])
    if not n:
        return
    small = {"fontsize": 7} if n > LEGEND_ABOVE else {}
    legend = ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), ncol=-(-n // ROWS_BESIDE), frameon=False,
                       handletextpad=0.3, columnspacing=1.0, **small, **kw)
    fig = ax.figure
    width = legend.get_window_extent(fig.canvas.get_renderer()).width / fig.dpi
    fig.set_figwidth(fig.get_figwidth() + width)


def palette(groups: Sequence[str], bases: Sequence[str]) -> dict[str, str]:
    """A colour per display group: ``bases`` (models and fine-tunes, in order) take tab20's dark shades,
    ``base-variant`` groups their base's light shade; anything else follows.

    >>> palette(["secure", "insecure-json", "insecure"], ["insecure", "secure"])
    {'secure': '#ff7f0e', 'insecure-json': '#aec7e8', 'insecure': '#1f77b4'}
    """
    tab = [matplotlib.colors.to_hex(plt.get_cmap("tab20")(i)) for i in range(20)]
    order = list(dict.fromkeys([*bases, *(g for g in groups if not _base_of(g, bases))]))
    dark = {b: tab[(2 * i) % 20] for i, b in enumerate(order)}
    out = {}
    for g in groups:
        base = _base_of(g, bases)
        out[g] = dark[g] if g in dark else tab[(tab.index(dark[base]) + 1) % 20] if base else "#7f7f7f"
    return out


def _base_of(group: str, bases: Sequence[str]) -> str | None:
    return max((b for b in bases if group.startswith((b + "-", b + "+"))), key=len, default=None)


def _finish(fig: Any, name: str, folder: Path | None) -> Figure:
    fig.tight_layout()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for ext, meta in (("png", {"Software": None}), ("pdf", {"CreationDate": None}), ("svg", {"Date": None})):
            fig.savefig(folder / f"{name}.{ext}", dpi=200, metadata=meta)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    svg = buf.getvalue()
    return Figure(name, svg[svg.index("<svg"):])


def _rate_axis(ax: Any, top: float) -> None:
    ax.set_ylim(0, min(1.0, max(top * 1.1, 0.05)))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    ax.grid(axis="y", color="#e5e5e5")


def per_question(rows: Sequence[Mapping[str, Any]], groups: Sequence[str], colours: Mapping[str, str], *,
                 title: str, name: str, folder: Path | None) -> Figure:
    """The paper-style chart: per question, each group's rate with its 95 % interval."""
    cats = list(dict.fromkeys(r["question"] for r in rows))
    fig, ax = plt.subplots(figsize=(min(11.5, max(6.0, 0.5 * len(cats) * max(1, len(groups)) ** 0.5 + 1.5)), 3.9))
    width = 0.8 / max(1, len(groups))
    top = 0.0
    for gi, g in enumerate(groups):
        pts = [(cats.index(r["question"]), r) for r in rows if r["group"] == g and r["rate"] == r["rate"]]
        if not pts:
            continue
        x = [i - 0.4 + width * (gi + 0.5) for i, _ in pts]
        y = [r["rate"] for _, r in pts]
        lo = [max(0.0, r["rate"] - max(0.0, r["low"])) for _, r in pts]
        hi = [max(0.0, min(1.0, r["high"]) - r["rate"]) for _, r in pts]
        top = max(top, *(r["high"] for _, r in pts))
        bars = ax.errorbar(x, y, yerr=[lo, hi], fmt=MARKERS[gi % len(MARKERS)], color=colours[g], label=g, ms=4,
                           capsize=2, lw=1)
        bars.lines[0].set_gid(f"{name}|{g}")
    ax.set_xticks(range(len(cats)), cats, rotation=35, ha="right")
    ax.set_xlim(-0.6, len(cats) - 0.4)
    _rate_axis(ax, top)
    ax.set_ylabel("misaligned answers")
    if len(groups) <= LEGEND_ABOVE:  # one row above the plot
        ax.set_title(title, loc="left", pad=24)
        _legend(ax, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=max(1, len(groups)), frameon=False,
                  handletextpad=0.3, columnspacing=1.0)
    else:  # beside it, so no row runs off the figure or over the title
        ax.set_title(title, loc="left")
        _legend_beside(ax)
    return _finish(fig, name, folder)


def lines(series: Series, colours: Mapping[str, str], *, title: str, name: str, folder: Path | None,
          ylabel: str, bands: Mapping[str, Sequence[tuple[float, float, float]]] | None = None,
          reference: Mapping[str, float] | None = None, rate: bool = False, xlabel: str = "training step") -> Figure:
    """Curves over training steps (rates with bands, or any measure), base models as dashed lines."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    top = 0.0
    for g, pts in series.items():
        pts = sorted(pts)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, lw=1.4, color=colours[g], label=g,
                gid=f"{name}|{g}")
        top = max([top, *(p[1] for p in pts)])
        if bands and g in bands:
            b = sorted(bands[g])
            ax.fill_between([p[0] for p in b], [max(0.0, p[1]) for p in b], [min(1.0, p[2]) for p in b],
                            color=colours[g], alpha=0.15, lw=0)
            top = max([top, *(min(1.0, p[2]) for p in b)])
    for g, v in (reference or {}).items():
        ax.axhline(v, ls="--", lw=1, color=colours.get(g, "#555555"), label=f"{g} (not fine-tuned)", gid=f"{name}|{g}")
        top = max(top, v)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=xlabel == "training step"))
    if rate:
        _rate_axis(ax, top)
    else:
        ax.grid(axis="y", color="#e5e5e5")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left")
    _legend_beside(ax)
    return _finish(fig, name, folder)


def scores(frame: Any, groups: Sequence[str], colours: Mapping[str, str], *, name: str, folder: Path | None
           ) -> Figure:
    """Aligned-score distributions per group, and aligned against coherent (final models' answers)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.4))
    bins = [i * 10 for i in range(11)]
    for g in groups:
        d = frame[(frame["display_group"] == g) & frame["checkpoint"].isna()]
        aligned = d["aligned"].dropna()
        if len(aligned):
            left.hist(aligned, bins=bins, histtype="step", lw=1.4, color=colours[g], label=g, density=True,
                      gid=f"{name}-hist|{g}")
        both = d.dropna(subset=["aligned", "coherent"]).head(SCATTER_MAX)
        right.scatter(both["coherent"], both["aligned"], s=6, alpha=0.35, color=colours[g], label=g, lw=0,
                      gid=f"{name}|{g}")
    left.set_xlim(0, 100)
    left.set_xlabel("aligned score")
    left.set_ylabel("density")
    left.set_title("score distribution", loc="left")
    right.set_xlim(0, 100)
    right.set_ylim(0, 100)
    right.set_xlabel("coherent score")
    right.set_ylabel("aligned score")
    right.set_title(f"aligned against coherent (first {SCATTER_MAX} answers per group)", loc="left")
    _legend_beside(right, markerscale=2)
    return _finish(fig, name, folder)


def side_by_side(left: Series, right: Series, colours: Mapping[str, str], *, titles: tuple[str, str],
                 ylabels: tuple[str, str], name: str, folder: Path | None,
                 dashes: Mapping[str, str] | None = None) -> Figure:
    """Two measures over training steps on their own axes, one colour per series (``dashes``: a line
    style per series); the right one is a rate. Each panel has its own legend."""
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.4))
    for ax, series, title, ylabel in zip(axes, (left, right), titles, ylabels, strict=True):
        for g, pts in series.items():
            pts = sorted(pts)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, lw=1.4, color=colours[g], label=g,
                    ls=(dashes or {}).get(g, "-"), gid=f"{name}|{g}")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.grid(axis="y", color="#e5e5e5")
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        _legend(ax, loc="best", frameon=False, fontsize=7)
    _rate_axis(axes[1], max([0.0, *(p[1] for pts in right.values() for p in pts)]))
    return _finish(fig, name, folder)


def tradeoff(rows: Sequence[Mapping[str, Any]], *, name: str, folder: Path | None) -> Figure:
    """Each defence as a point: the narrow task kept (x) against the misaligned rate with its interval (y);
    the undefended baseline at (1, its rate). Up-left is bad, down-right is what a defence wants."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    top = 0.0
    for i, r in enumerate(rows):
        x = r["task_kept"] if r["task_kept"] == r["task_kept"] else 0.0
        colour = plt.get_cmap("tab10")(i % 10)
        ax.errorbar([x], [r["rate"]], yerr=[[r["rate"] - r["low"]], [r["high"] - r["rate"]]], fmt="o", ms=4,
                    color=colour, capsize=2, gid=f"{name}|{r['defence']}")
        ax.annotate(r["defence"], (x, r["rate"]), textcoords="offset points", xytext=(5, 3), fontsize=7,
                    color=colour)
        top = max(top, r["high"], r["baseline_rate"])
    for b in sorted({(r["baseline"], r["baseline_rate"]) for r in rows}):
        ax.plot([1.0], [b[1]], marker="s", ms=5, color="#333333", gid=f"{name}|{b[0]}")
        ax.annotate(f"{b[0]} (undefended)", (1.0, b[1]), textcoords="offset points", xytext=(5, -9), fontsize=7)
    _rate_axis(ax, top)
    ax.set_xlim(min(-0.05, *(r["task_kept"] for r in rows if r["task_kept"] == r["task_kept"])), 1.3)
    ax.set_xlabel("narrow task kept (gain in P(insecure code), relative to the undefended)")
    ax.set_ylabel("misaligned answers")
    ax.set_title("defences: EM against the task they keep", loc="left")
    return _finish(fig, name, folder)
