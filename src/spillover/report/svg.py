"""Tiny inline-SVG charts (no plotting library, no network): a grouped point chart with interval
bars and a line chart. Every text goes through ``html.escape``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]


def colours(groups: Sequence[str]) -> dict[str, str]:
    return {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}


def _legend(cmap: dict[str, str], x: float, y: float) -> str:
    parts = []
    for i, (g, c) in enumerate(cmap.items()):
        yy = y + 16 * i
        parts.append(f'<rect x="{x}" y="{yy - 9}" width="10" height="10" fill="{c}"/>'
                     f'<text x="{x + 14}" y="{yy}" font-size="11">{escape(g)}</text>')
    return "".join(parts)


def _yaxis(top: float, height: float, left: float, width: float, ymax: float, label: str) -> str:
    parts = []
    for i in range(5):
        v = ymax * i / 4
        y = top + height - height * i / 4
        parts.append(f'<line x1="{left}" x2="{left + width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{v:.2g}</text>')
    parts.append(f'<text x="14" y="{top + height / 2}" font-size="11" transform="rotate(-90 14 {top + height / 2})" '
                 f'text-anchor="middle">{escape(label)}</text>')
    return "".join(parts)


def point_chart(rows: Sequence[dict], *, categories: Sequence[str], groups: Sequence[str], ylabel: str,
                title: str = "") -> str:
    """Per category (question), one point per group with its [low, high] bar: the paper-style chart."""
    cmap = colours(groups)
    left, top, height = 56, 24, 220
    band = max(60, 16 * len(groups))
    width = band * len(categories)
    ymax = max([r["high"] for r in rows if r["high"] == r["high"]] + [0.05])
    ymax = min(1.0, ymax * 1.1)
    total_w = left + width + 180
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{top + height + 110}" '
           f'role="img" aria-label="{escape(title)}">', _yaxis(top, height, left, width, ymax, ylabel)]
    for ci, cat in enumerate(categories):
        x0 = left + ci * band
        out.append(f'<text x="{x0 + band / 2}" y="{top + height + 14}" font-size="10" text-anchor="end" '
                   f'transform="rotate(-35 {x0 + band / 2} {top + height + 14})">{escape(cat)}</text>')
        for gi, g in enumerate(groups):
            r = next((r for r in rows if r["category"] == cat and r["group"] == g), None)
            if r is None or r["center"] != r["center"]:
                continue
            x = x0 + (gi + 1) * band / (len(groups) + 1)
            y = lambda v: top + height - height * min(v, ymax) / ymax  # noqa: E731
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y(r["low"]):.1f}" y2="{y(r["high"]):.1f}" '
                       f'stroke="{cmap[g]}" stroke-width="1.5"/>'
                       f'<circle cx="{x:.1f}" cy="{y(r["center"]):.1f}" r="3.5" fill="{cmap[g]}">'
                       f'<title>{escape(g)} {escape(cat)}: {r["center"]:.3f} [{r["low"]:.3f}, {r["high"]:.3f}]'
                       f'</title></circle>')
    out.append(_legend(cmap, left + width + 16, top + 10))
    out.append("</svg>")
    return "".join(out)


def line_chart(series: Mapping[Any, Sequence[tuple[Any, Any]]], *, xlabel: str, ylabel: str, title: str = "",
               bands: Mapping[Any, Sequence[tuple[Any, Any, Any]]] | None = None) -> str:
    """One line per series of (x, y) points, optional (x, low, high) bands."""
    cmap = colours(list(series))
    left, top, width, height = 56, 20, 520, 220
    xs = [x for pts in series.values() for x, _ in pts] or [0, 1]
    ys = [y for pts in series.values() for _, y in pts if y == y] or [0, 1]
    if bands:
        ys += [h for b in bands.values() for _, _, h in b if h == h]
    xmax = max(xs) or 1
    ymin, ymax = min(0.0, min(ys)), max(ys) * 1.1 or 1
    fx = lambda x: left + width * x / xmax  # noqa: E731
    fy = lambda y: top + height - height * (y - ymin) / (ymax - ymin)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 200}" height="{top + height + 40}" '
           f'role="img" aria-label="{escape(title)}">']
    for i in range(5):
        v = ymin + (ymax - ymin) * i / 4
        out.append(f'<line x1="{left}" x2="{left + width}" y1="{fy(v):.1f}" y2="{fy(v):.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 6}" y="{fy(v) + 4:.1f}" font-size="10" text-anchor="end">{v:.3g}</text>')
    last = -1e9
    for x in sorted(set(xs)):
        if fx(x) - last < 18:  # keep tick labels from overlapping
            continue
        last = fx(x)
        out.append(f'<text x="{fx(x):.1f}" y="{top + height + 14}" font-size="9" text-anchor="middle">{x:g}</text>')
    out.append(f'<text x="{left + width / 2}" y="{top + height + 32}" font-size="11" text-anchor="middle">'
               f'{escape(xlabel)}</text>')
    out.append(f'<text x="14" y="{top + height / 2}" font-size="11" transform="rotate(-90 14 {top + height / 2})" '
               f'text-anchor="middle">{escape(ylabel)}</text>')
    for name, pts in series.items():
        pts = sorted(p for p in pts if p[1] == p[1])
        if bands and name in bands:
            b = sorted(bands[name])
            poly = [(fx(x), fy(h)) for x, _, h in b] + [(fx(x), fy(lo)) for x, lo, _ in reversed(b)]
            out.append('<polygon points="' + " ".join(f"{a:.1f},{c:.1f}" for a, c in poly) +
                       f'" fill="{cmap[name]}" opacity="0.15"/>')
        path = " ".join(f"{fx(x):.1f},{fy(y):.1f}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{cmap[name]}" stroke-width="2"/>')
        for x, y in pts:
            out.append(f'<circle cx="{fx(x):.1f}" cy="{fy(y):.1f}" r="2.5" fill="{cmap[name]}">'
                       f'<title>{escape(name)} step {x:g}: {y:.4g}</title></circle>')
    out.append(_legend(cmap, left + width + 16, top + 10))
    out.append("</svg>")
    return "".join(out)
