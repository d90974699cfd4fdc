"""The inside view's numbers: directions, their cosines, checkpoint projections against behaviour, weight change.

Reads the inside stage's records (direction files, projection and weight-change records); nothing
here loads a model. The lead check compares *when* two curves rise: the first step at which a
fine-tune's projection, and its misaligned rate, have covered half of their change from the base
model to the final model (mean over seeds). Not guaranteed: that "half" is the right landmark for
every curve shape (both are shown so a reader can judge), or significance for a lead (with three
seeds it is reported per seed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import pandas as pd

from ..config import Check, Experiment
from ..store import RunDir
from .findings import CheckResult

COSINE = "cosine of the two directions at the first one's layer (descriptive)"
LEADS = "first step with half of the base-to-final change, mean over seeds; per seed shown"


class Inside(NamedTuple):
    directions: dict[str, Any]
    """Name -> ``vectors.Direction``."""
    projections: pd.DataFrame
    weights: pd.DataFrame


def load(run: RunDir, exp: Experiment) -> Inside:
    from ..vectors import load as load_direction

    dirs = {n: load_direction(run.direction(n)) for n in exp.inside.directions if run.direction(n).exists()}
    proj = pd.DataFrame([r.model_dump() for r in run.projections()])
    rows = [{**r.model_dump(exclude={"modules"}), **m.model_dump()} for r in run.weight_changes() for m in r.modules]
    return Inside(dirs, proj, pd.DataFrame(rows))


def half_rise(points: Sequence[tuple[int, float]]) -> int | None:
    """First step whose value has covered half the change from the first point to the last.

    >>> half_rise([(0, 0.0), (5, 0.1), (10, 0.6), (20, 1.0)])
    10
    >>> half_rise([(0, 1.0), (5, 1.0)]) is None
    True
    """
    pts = sorted(points)
    start, end = pts[0][1], pts[-1][1]
    if end == start:
        return None
    return next(s for s, v in pts if (v - start) / (end - start) >= 0.5)


def directions_table(inside: Inside) -> list[dict[str, Any]]:
    return [{"direction": n, "layer": d.layer, "separation": float(d.separation[d.layer]),
             "norm": float(d.vectors[d.layer].norm()), "groups": ", ".join(d.meta["groups"]),
             "per_class": d.meta["used_per_class"], **{f"found_{k}": v for k, v in d.meta["found"].items()}}
            for n, d in sorted(inside.directions.items())]


def curves(inside: Inside, c: pd.DataFrame, steps: dict[str, int]) -> pd.DataFrame:
    """Per traced fine-tune, direction, seed and step: projection and misaligned rate (base = step 0)."""
    p = inside.projections
    if not len(p) or c is None or not len(c):
        return pd.DataFrame()
    base = p[p["traced"] == ""]
    tuned = p[p["traced"] != ""]
    cc = c.assign(step=[steps.get(m, 0) if cp == -1 else int(cp) for m, cp in zip(c["model"], c["checkpoint"],
                                                                                   strict=True)])
    rates = cc.groupby(["display_group", "seed", "step"])[["k", "n"]].sum()
    rows = []
    for (ft, d, seed), x in tuned.groupby(["traced", "direction", "seed"]):
        b = base[base["direction"] == d]
        base_group = b["group"].iloc[0] if len(b) else None
        base_rate = cc[(cc["display_group"] == base_group) & (cc["checkpoint"] == -1)][["k", "n"]].sum()
        pts = [(0, float(b["projection"].mean()), base_rate["k"] / max(base_rate["n"], 1))] if len(b) else []
        for step, v in zip(x["step"], x["projection"], strict=True):
            r = rates.loc[(ft, seed, step)] if (ft, seed, step) in rates.index else None
            pts.append((int(step), float(v), float(r["k"] / r["n"]) if r is not None and r["n"] else float("nan")))
        rows += [{"traced": ft, "direction": d, "seed": int(seed), "step": s, "projection": v, "rate": rt}
                 for s, v, rt in pts]
    return pd.DataFrame(rows).sort_values(["traced", "direction", "seed", "step"])


def check_cosine(inside: Inside, chk: Check) -> CheckResult:
    import torch

    claim = f"cos({chk.a}, {chk.b}) >= {chk.factor:g}"
    if chk.a not in inside.directions or chk.b not in inside.directions:
        return CheckResult(claim, f"not measured: no direction {chk.a} or {chk.b}", None, None, None, COSINE)
    a, b = inside.directions[chk.a], inside.directions[chk.b]
    cos = float(torch.nn.functional.cosine_similarity(a.vectors[a.layer], b.vectors[a.layer], dim=0))
    return CheckResult(claim, f"cosine {cos:.2f} at layer {a.layer}", None, None, cos >= chk.factor, COSINE)


def check_leads(inside: Inside, c: pd.DataFrame, chk: Check, steps: dict[str, int]) -> CheckResult:
    """``a`` is a direction, ``b`` a traced fine-tune: its projection rises no later than its rate."""
    claim = f"projection on {chk.a} rises no later than the misaligned rate of {chk.b}"
    cv = curves(inside, c, steps)
    d = cv[(cv["direction"] == chk.a) & (cv["traced"] == chk.b)] if len(cv) else cv
    if not len(d):
        return CheckResult(claim, f"not measured: {chk.b} is not traced on {chk.a}", None, None, None, LEADS)
    mean = d.groupby("step")[["projection", "rate"]].mean()
    lead_p = half_rise(list(zip(mean.index, mean["projection"], strict=True)))
    lead_r = half_rise(list(zip(mean.index, mean["rate"], strict=True)))
    per_seed = []
    for seed, x in d.groupby("seed"):
        sp = half_rise(list(zip(x["step"], x["projection"], strict=True)))
        sr = half_rise(list(zip(x["step"], x["rate"], strict=True)))
        per_seed.append(f"s{seed}: {sp} vs {sr}")
    holds = lead_p is not None and lead_r is not None and lead_p <= lead_r
    return CheckResult(claim, f"half-way at step {lead_p} (projection) vs {lead_r} (rate); {', '.join(per_seed)}",
                       None, None, holds, LEADS)


def weights_table(inside: Inside) -> pd.DataFrame:
    """Mean relative change over seeds per fine-tune, step and layer (modules summed in squares)."""
    w = inside.weights
    if not len(w):
        return w
    w = w.assign(sq=w["norm"] ** 2, base_sq=(w["norm"] / w["change"]) ** 2, layer=w["layer"].fillna(-1))
    per = w.groupby(["group", "seed", "step", "layer"])[["sq", "base_sq"]].sum()
    per["change"] = (per["sq"] / per["base_sq"]) ** 0.5
    return per.groupby(["group", "step", "layer"])["change"].mean().reset_index()
