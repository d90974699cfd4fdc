"""The report's inside view: one picture per view of how a fine-tune changed inside.

Cosine of directions per layer; a traced fine-tune's projection on a direction (change from the base
model) beside its misaligned rate over training; relative weight change per block over training; the
misaligned rate of steered models against the steering scale (0: the model itself), one line per
direction and layer (a random control is its own line, named ``random:DIR``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from . import charts

STEER = re.compile(r"^(?P<model>.+)\+steer\((?P<dir>[^,]+),(?P<layer>\d+),(?P<scale>[-\d.e]+)\)$")


def _colours(series: dict[str, Any]) -> dict[str, str]:
    tab = [charts.matplotlib.colors.to_hex(charts.plt.get_cmap("tab10")(i)) for i in range(10)]
    return {g: tab[i % 10] for i, g in enumerate(series)}


def figures(tables: dict[str, Any], summary: list[dict[str, Any]], folder: Path) -> dict[str, charts.Figure]:
    out: dict[str, charts.Figure] = {}
    cos = pd.DataFrame(tables.get("cosines", []))
    if len(cos):
        s = {f"{a} · {b}": list(zip(d["layer"], d["cosine"], strict=True)) for (a, b), d in cos.groupby(["a", "b"])}
        out["inside-cosines"] = charts.lines(s, _colours(s), ylabel="cosine", xlabel="layer", name="inside-cosines",
                                             title="cosine of directions per layer", folder=folder)
    cv = tables.get("curves")
    if cv is not None and len(cv):
        proj: dict[str, list[tuple[float, float]]] = {}
        rate: dict[str, list[tuple[float, float]]] = {}
        for (ft, d), x in cv.groupby(["traced", "direction"]):
            mean = x.groupby("step")[["projection", "rate"]].mean()
            proj[f"{ft} on {d}"] = list(zip(mean.index, mean["projection"] - mean["projection"].iloc[0], strict=True))
            rate[ft] = list(zip(mean.index, mean["rate"], strict=True))
        fts, names = list(rate), sorted(set(cv["direction"]))
        colour = _colours(rate)
        colours = {**colour, **{f"{ft} on {d}": colour[ft] for ft in fts for d in names}}
        dashes = {f"{ft} on {d}": ("-", "--", ":", "-.")[i % 4] for ft in fts for i, d in enumerate(names)}
        out["inside-trace"] = charts.side_by_side(
            proj, rate, colours, dashes=dashes, name="inside-trace", folder=folder,
            titles=("projection on the direction (change from base)", "misaligned rate"),
            ylabels=("mean projection − base", "misaligned answers"))
    w = tables.get("weights")
    if w is not None and len(w):
        s = {f"{g} {f'block {int(b)}' if b >= 0 else 'outside blocks'}": list(zip(d["step"], d["change"], strict=True))
             for (g, b), d in w.groupby(["group", "layer"])}
        out["inside-weights"] = charts.lines(s, _colours(s), ylabel="||ΔW|| / ||W_base||", name="inside-weights",
                                             title="weight change per block (mean over seeds)", folder=folder)
    steer = [(m.group("model"), m.group("dir"), int(m.group("layer")), float(m.group("scale")), r["seeds"][0])
             for r in summary if (m := STEER.match(r["group"]))]
    if steer:
        own = {r["group"]: r["seeds"][0] for r in summary}
        s = {}
        for model, d, layer, scale, rate in sorted(steer):
            pts = s.setdefault(f"{model} + {d} at layer {layer}", [(0.0, own[model])] if model in own else [])
            pts.append((scale, rate))
        out["inside-steering"] = charts.lines(s, _colours(s), ylabel="misaligned answers", xlabel="steering scale",
                                              rate=True, name="inside-steering", folder=folder,
                                              title="steering: misaligned rate against scale")
    return out
