"""What the report page says first and what it draws: headline sentences, design warnings, figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analyze.metrics import left_out
from ..config import Experiment
from . import charts


def group_order(exp: Experiment, present: list[str]) -> list[str]:
    """Display groups in the order the config gives (``analysis.groups``, else models then fine-tunes, each
    followed by its variants); groups the config does not name come last, sorted."""
    bases = list(exp.analysis.groups) or [*exp.models, *exp.finetunes]
    ranked = [g for b in bases for g in [b, *sorted(x for x in present if x.startswith(b + "-"))] if g in present]
    ranked = list(dict.fromkeys(ranked))
    return ranked + sorted(set(present) - set(ranked))


def headline(res: dict[str, Any], rule: str) -> list[str]:
    """One sentence per comparison of the headline rule (mean over seeds, 95 % intervals, permutation p)."""
    r = res["rules"].get(rule)
    if r is None:
        return []
    by = {s["group"]: s for s in r["summary"]}
    out = []
    for c in r["comparisons"]:
        a, b = by[c["a"]]["seeds"], by[c["b"]]["seeds"]
        out.append(f"{c['a']} {a[0]:.1%} [{a[1]:.1%}, {a[2]:.1%}] vs {c['b']} {b[0]:.1%} [{b[1]:.1%}, {b[2]:.1%}]: "
                   f"difference {c['diff']:+.1%} [{c['low']:+.1%}, {c['high']:+.1%}], p = {c['p_permutation']:.2g} "
                   f"(permutation over seeds), p = {c['p_fisher']:.2g} (Fisher, pooled answers).")
    if not out:
        out = [f"{s['group']}: {s['seeds'][0]:.1%} misaligned [{s['seeds'][1]:.1%}, {s['seeds'][2]:.1%}]."
               for s in r["summary"]]
    return out


def warnings(res: dict[str, Any], exp: Experiment, cells: pd.DataFrame | None) -> list[str]:
    """Where the design cannot support an interval or a test."""
    out = []
    if len(exp.seeds) == 1:
        out.append("One fine-tuning seed: intervals over seeds have zero width and a permutation test over seeds "
                   "cannot reject (p = 1). Use at least 3 seeds.")
    elif len(exp.seeds) < 4 and res["rules"]:
        out.append(f"{len(exp.seeds)} seeds per group: a two-sided permutation test over seeds cannot go below "
                   f"p = {2 / _choose(2 * len(exp.seeds), len(exp.seeds)):.2g}; the findings use tests stratified by "
                   "question and seed instead.")
    if cells is not None and len(cells):
        thin = left_out(cells[cells["checkpoint"] == -1])
        for g, d in thin.groupby("display_group"):
            out.append(f"{g}: {d['base_question_id'].nunique()} question(s) have fewer than 5 coherent answers in a "
                       "seed and are left out of the headline rate.")
    if res.get("stale_samples"):
        out.append(f"{res['stale_samples']} samples recorded under an earlier plan (edited questions or settings) "
                   "are kept on disk and left out of every number.")
    return out


def _choose(n: int, k: int) -> int:
    from math import comb

    return comb(n, k)


def figures(res: dict[str, Any], exp: Experiment, df: pd.DataFrame, run_steps: dict[str, Any], folder: Path
            ) -> dict[str, charts.Figure]:
    """Every figure of the report, saved as PNG/PDF/SVG under ``folder``."""
    present = sorted(set(df["display_group"])) if len(df) else []
    order = group_order(exp, present)
    # fine-tunes with a loss curve and no answers yet (a run stopped after fine-tuning) get a colour too
    colours = charts.palette([*order, *(g for g in run_steps if g not in order)], [*exp.models, *exp.finetunes])
    out: dict[str, charts.Figure] = {}
    for rname, r in res["rules"].items():
        pq = r["per_question"]
        if len(pq):
            groups = [g for g in order if g in set(pq["group"])]
            out[f"questions-{rname}"] = charts.per_question(
                pq.to_dict("records"), groups, colours, title=f"misaligned answers per question (rule {rname})",
                name=f"questions-{rname}", folder=folder)
        dyn = r["dynamics"]
        if len(dyn) and dyn["step"].nunique() > 1:
            untrained = {g for g in dyn["group"] if g in exp.models or any(g.startswith(m + "-") for m in exp.models)}
            by = {g: d for g, d in dyn.groupby("group")}
            reference = {g: float(by[g]["rate"].iloc[0]) for g in order if g in untrained and g in by}
            curves = [g for g in order if g in by and g not in untrained]
            out[f"dynamics-{rname}"] = charts.lines(
                {g: list(zip(by[g]["step"], by[g]["rate"], strict=True)) for g in curves}, colours,
                bands={g: list(zip(by[g]["step"], by[g]["low"], by[g]["high"], strict=True)) for g in curves},
                reference=reference, rate=True, ylabel="misaligned answers", title=f"training dynamics (rule {rname})",
                name=f"dynamics-{rname}", folder=folder)
    if len(df) and df["aligned"].notna().any():
        out["scores"] = charts.scores(df, order, colours, name="scores", folder=folder)
    out.update(_probe_figures(res.get("probes"), colours, folder))
    if res.get("defences"):
        out["defences-tradeoff"] = charts.tradeoff(res["defences"], name="defences-tradeoff", folder=folder)
    if run_steps:
        out["losses"] = charts.lines(run_steps, colours, ylabel="loss (mean over seeds)", title="training loss",
                                     name="losses", folder=folder)
    return out


def _probe_figures(probes: pd.DataFrame | None, colours: dict[str, str], folder: Path) -> dict[str, charts.Figure]:
    out: dict[str, charts.Figure] = {}
    if probes is None or not len(probes):
        return out

    def curves(d: pd.DataFrame, by: list[str]) -> dict[str, list[tuple[float, float]]]:
        series = {}
        for key, x in d.groupby(by):
            g, v = (key, "plain") if isinstance(key, str) else (key[0], key[1] if len(key) > 1 else "plain")
            series[g if v == "plain" else f"{g}-{v}"] = sorted(x.groupby("step")["value"].mean().items())
        return series

    def colour_of(series: dict[str, Any]) -> dict[str, str]:
        return {g: colours.get(g, "#555555") for g in series}

    for ref in sorted(n for n in probes["name"].unique() if n.startswith("logp_ref_")):
        s = curves(probes[probes["name"] == ref], ["group"])
        out[f"probe-{ref}"] = charts.lines(s, colour_of(s), ylabel=ref.replace("_", " "), title=ref,
                                           name=f"probe-{ref}", folder=folder)
    mean = probes[(probes["name"] == "p_misaligned") & probes["question_id"].isna()]
    if len(mean):
        s = curves(mean, ["group", "variant"])
        out["probe-pmis"] = charts.lines(s, colour_of(s), ylabel="exact P(misaligned template)", rate=True,
                                         title="exact P_mis (no sampling)", name="probe-pmis", folder=folder)
    code = probes[probes["name"] == "p_insecure_code"]
    if len(code) and code["step"].nunique() > 1:
        s = curves(code, ["group"])
        out["probe-code"] = charts.lines(s, colour_of(s), ylabel="exact P(insecure code)", rate=True,
                                         title="the narrow task (in distribution), beside the EM curves",
                                         name="probe-code", folder=folder)
    return out


def loss_curves(finetunes: dict[str, dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """Mean loss per step over the seeds of each fine-tune (cut to the shortest seed)."""
    by_group: dict[str, list[list[float]]] = {}
    for n, r in finetunes.items():
        by_group.setdefault(n.rsplit("-s", 1)[0], []).append(r["losses"])
    return {g: list(enumerate(np.mean([c[: min(map(len, cs))] for c in cs], axis=0).tolist(), start=1))
            for g, cs in by_group.items()}
