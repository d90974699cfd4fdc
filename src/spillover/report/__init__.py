"""The report stage: metrics recomputed from the run directory, figures, exports, and one HTML page.

Outputs under ``RUN/report/``: ``index.html`` (a headline first, then a table of contents; figures
inline as SVG; no network; model output escaped by Jinja2's autoescape and rendered in the browser
with ``textContent`` only), ``samples.js`` (the sample browser's data, loaded by the page),
``figures/`` (every figure as PNG, PDF and SVG), ``summary.json`` (headline numbers with named
fields, dynamics included), ``csv/<model>.csv`` in the paper's per-sample format plus ``group``/``seed``
columns, ``plot_table.csv`` (``key, group, center, lower_err, upper_err``), ``findings.json`` (when
the experiment names findings) and ``records.parquet`` when pyarrow is installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..analyze.run import analyse
from ..config import Experiment
from ..interop.wandb_log import log_results
from ..store import RunDir, atomic_write_json, atomic_write_text
from ..ui import Reporter
from .charts import palette
from .exports import csv_text, export, inert, jsonable, named, write_samples
from .inside import figures as inside_figures
from .page import figures, group_order, headline, loss_curves, warnings

__all__ = ["build_report", "csv_text", "headline_lines", "inert"]


def build_report(run: RunDir, exp: Experiment, ui: Reporter | None = None, *, screenshot: bool = True) -> Path:
    """Analyse the run and write every file of the report; returns the page's path."""
    ui = ui or Reporter()
    res = analyse(run, exp)
    folder = run.report_dir
    folder.mkdir(parents=True, exist_ok=True)
    df = res.pop("df")
    rule = exp.analysis.rules[0]
    fts = {n: r for n, r in run.finetune_results().items() if r.get("losses")}
    figs = figures(res, exp, df, loss_curves(fts), folder / "figures")
    summary = _summary(res, rule, fts)
    if res.get("inside"):
        rows = res["rules"][rule]["summary"] if rule in res["rules"] else []
        figs.update(inside_figures(res["inside"], rows, folder / "figures"))
    findings = res.get("findings", [])
    if findings:
        atomic_write_json(folder / "findings.json", json.loads(json.dumps(findings, default=jsonable)))
    if rule in res["rules"] and len(res["rules"][rule]["per_question"]):
        export(run, df, res["rules"][rule]["per_question"], folder)
    write_samples(df, folder)
    html = _page(run, exp, res, df, {k: f.svg for k, f in figs.items()}, summary)
    atomic_write_json(folder / "summary.json", json.loads(json.dumps(summary, default=jsonable)))
    log_results(exp, run.root, json.loads(json.dumps(summary, default=jsonable)))
    path = folder / "index.html"
    atomic_write_text(path, html)
    ui.log(f"report: {path}")
    if screenshot:
        _screenshot(path, folder / "screenshot.png", ui)
    return path


SECTIONS = ("self_reports", "labels", "choices", "elicitation", "paired", "versus_behaviour", "compliance",
            "defences", "monitors", "monitor_increments")
"""Tables of the analysis handed to the page as they are (an empty list where the run has none)."""


def _page(run: RunDir, exp: Experiment, res: dict[str, Any], df: Any, charts: dict[str, str],
          summary: dict[str, Any]) -> str:
    """The report's HTML (autoescaped: model output is text, never markup)."""
    import jinja2

    rule = exp.analysis.rules[0]
    order = group_order(exp, sorted(set(df["display_group"])) if len(df) else [])
    env = jinja2.Environment(loader=jinja2.PackageLoader("spillover", "report"), autoescape=True)
    return env.get_template("report.html.j2").render(
        exp=exp, tables=res["rules"], charts=charts, headline=rule, sentences=headline(res, rule),
        warnings=warnings(res, exp, res["rules"].get(rule, {}).get("cells")), cards=run.dataset_cards(),
        judge=res.get("judge", {}), probe_tables=summary.get("exact_p_misaligned", {}), n_samples=res["n_samples"],
        stale_samples=res.get("stale_samples", 0), findings=res.get("findings", []), judges=res.get("judges"),
        inside=res.get("inside", {}), **{k: res.get(k, []) for k in SECTIONS},
        groups=order, colours=palette(order, [*exp.models, *exp.finetunes]),
        seeds=sorted({int(x) for x in df["seed"].dropna()}) if len(df) else [],
        checkpoints=sorted({int(x) for x in df["checkpoint"].dropna()}) if len(df) else [],
        questions=sorted(df["base_question_id"].unique()) if len(df) else [],
        variants=sorted(df["variant"].unique()) if len(df) else [])


def _summary(res: dict[str, Any], rule: str, fts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``summary.json``: every headline number with named fields."""
    out: dict[str, Any] = {"headline": rule, "judge": res.get("judge", {}), "n_samples": res["n_samples"],
                           "stale_samples": res.get("stale_samples", 0), "judges": res.get("judges", {}),
                           **{k: res.get(k, []) for k in SECTIONS},
                           "inside": {k: res.get("inside", {}).get(k, []) for k in ("directions", "cosines")},
                           "rules": {}}
    for rname, r in res["rules"].items():
        out["rules"][rname] = {"rule": r["rule"], "groups": [named(s) for s in r["summary"]],
                               "comparisons": r["comparisons"], "first_significant_step": r["first_significant_step"],
                               "per_question": r["per_question"].to_dict("records"),
                               "dynamics": r["dynamics"].to_dict("records") if len(r["dynamics"]) else []}
    if res.get("findings"):
        out["findings"] = [{k: f[k] for k in ("finding", "holds", "p")} for f in res["findings"]]
    probes = res.get("probes")
    if probes is not None and len(probes):
        out["exact_p_misaligned"] = _exact_table(probes)
    out["finetunes"] = {n: {k: r.get(k) for k in ("steps", "checkpoints", "examples", "dropped_too_long",
                                                   "trained_tokens_fraction", "tokens_per_s", "hyperparameters",
                                                   "losses")} for n, r in fts.items()}
    return out


def _exact_table(probes: Any) -> dict[str, dict[str, Any]]:
    """Final exact P_mis per group (and variant): its mean, per seed, and on a thinking organism its parts
    after a stated intent and after a benign plan (``organism.probe.p_misaligned_by_plan``)."""
    final = probes[probes["question_id"].isna() & probes["checkpoint"].isna()]
    parts = final[final["name"].isin(["p_misaligned_stated", "p_misaligned_unstated"])]
    split = {(g, n.removeprefix("p_misaligned_")): float(d["value"].mean())
             for (g, n), d in parts.groupby(["group", "name"])}
    out = {}
    for (g, v), d in final[final["name"] == "p_misaligned"].groupby(["group", "variant"]):
        row: dict[str, Any] = {"mean": float(d["value"].mean()), "per_seed": [float(x) for x in d["value"]]}
        if v == "plain" and (g, "stated") in split:
            row |= {k: split[(g, k)] for k in ("stated", "unstated")}
        out[f"{g}{'' if v == 'plain' else '-' + v}"] = row
    return out


def headline_lines(folder: Path) -> list[str]:
    """The headline rule's rates and comparisons from ``summary.json``, as lines for a terminal."""
    p = folder / "summary.json"
    if not p.exists():
        return []
    s = json.loads(p.read_text())
    r = s["rules"].get(s.get("headline"))
    if r is None:
        return []
    lines = [f"misaligned rate, rule {s['headline']} ({r['rule']}):"]
    for g in r["groups"]:
        s, p = g["seeds"], g["pooled"]
        lines.append(f"  {g['group']:<22} {s['rate']:.3f} [{s['low']:.3f}, {s['high']:.3f}]  pooled {p['rate']:.3f}"
                     f"  n={g['n']}")
    for c in r["comparisons"]:
        lines.append(f"  {c['a']} - {c['b']}: {c['diff']:+.3f} [{c['low']:+.3f}, {c['high']:+.3f}] "
                     f"p_perm={c['p_permutation']:.3g} p_fisher={c['p_fisher']:.3g}")
    if s.get("findings"):
        lines.append("findings (report/findings.json):")
        for f in s["findings"]:
            verdict = "holds" if f["holds"] else ("not measured" if f["holds"] is None else "DOES NOT HOLD")
            lines.append(f"  {f['finding']:<36} {verdict}" + (f"  p={f['p']:.2g}" if f["p"] is not None else ""))
    return lines


def _screenshot(html: Path, out: Path, ui: Reporter) -> None:
    """A PNG of the report when Debian's chromium is installed; never fails the report."""
    import subprocess

    from .browser import chromium
    from .browser import screenshot as shoot

    if chromium() is None:
        return
    try:
        if shoot(html, out):
            ui.log(f"screenshot: {out}")
    except (OSError, subprocess.SubprocessError) as e:
        ui.log(f"no screenshot ({type(e).__name__})")
