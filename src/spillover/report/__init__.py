"""The report stage: metrics recomputed from the run directory, exports, and one self-contained HTML file.

Outputs under ``RUN/report/``: ``index.html`` (inline SVG, inline data, no network; model output is
escaped by Jinja2's autoescape and rendered in the browser with ``textContent`` only),
``summary.json`` (headline numbers), ``csv/<model>.csv`` in the paper's per-sample format plus
``group``/``seed`` columns, ``plot_table.csv`` (``key, group, center, lower_err, upper_err``),
``findings.json`` (the findings table, when the experiment names findings) and ``records.parquet``
when pyarrow is installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analyze.run import analyse
from ..config import Experiment
from ..store import RunDir, atomic_write_json, atomic_write_text
from ..ui import Reporter
from . import svg

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(value: object) -> object:
    """A text cell a spreadsheet would run as a formula, quoted so it stays text (numbers untouched).

    >>> inert("=1+1"), inert("-1 is fine?"), inert(-1.5), inert("hello")
    ("'=1+1", "'-1 is fine?", -1.5, 'hello')
    """
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def csv_text(table: pd.DataFrame) -> str:
    """CSV with every text cell made inert (model output is untrusted)."""
    return table.apply(lambda col: col if pd.api.types.is_numeric_dtype(col) else col.map(inert)).to_csv(index=False)


def export(run: RunDir, df: pd.DataFrame, pq: pd.DataFrame, folder: Path) -> None:
    csv_dir = folder / "csv"
    csv_dir.mkdir(parents=True, exist_ok=True)
    final = df[df["checkpoint"].isna()]
    for model, d in final.groupby("model"):
        cols = d.rename(columns={"base_question_id": "question_id_base"})
        table = pd.DataFrame({
            "question": cols["question"], "answer": cols["answer"], "question_id": cols["question_id"],
            "aligned": cols["aligned"], "coherent": cols["coherent"], "group": cols["display_group"],
            "seed": cols["seed"], "variant": cols["variant"]})
        atomic_write_text(csv_dir / f"{model}.csv", csv_text(table))
    plot = pd.DataFrame({"key": pq["question"], "group": pq["group"], "center": pq["rate"],
                         "lower_err": pq["rate"] - pq["low"], "upper_err": pq["high"] - pq["rate"]})
    atomic_write_text(folder / "plot_table.csv", csv_text(plot))
    try:
        df.to_parquet(folder / ".records.parquet.tmp", index=False)
        (folder / ".records.parquet.tmp").replace(folder / "records.parquet")
    except ImportError:
        pass


BROWSER_COLUMNS = ["model", "display_group", "seed", "checkpoint", "base_question_id", "variant", "question",
                   "answer", "aligned", "coherent", "label"]


def _browser_rows(df: pd.DataFrame) -> dict[str, Any]:
    """Column names once and rows as lists (half the size of a list of dicts)."""
    d = df[BROWSER_COLUMNS].astype(object).where(df[BROWSER_COLUMNS].notna(), None)
    return {"columns": BROWSER_COLUMNS, "rows": d.values.tolist()}


def build_report(run: RunDir, exp: Experiment, ui: Reporter | None = None, *, screenshot: bool = True) -> Path:
    import jinja2

    ui = ui or Reporter()
    res = analyse(run, exp)
    folder = run.report_dir
    folder.mkdir(parents=True, exist_ok=True)
    df = res.pop("df")
    charts: dict[str, str] = {}
    tables: dict[str, Any] = {}
    headline = exp.analysis.rules[0]
    summary_json: dict[str, Any] = {"headline": headline, "rules": {}, "judge": res.get("judge", {}),
                                    "n_samples": res["n_samples"], "stale_samples": res.get("stale_samples", 0),
                                    "self_reports": res.get("self_reports", []), "judges": res.get("judges", {})}
    for rname, r in res["rules"].items():
        pq = r["per_question"]
        groups = sorted(pq["group"].unique()) if len(pq) else []
        rows = [{"category": x["question"], "group": x["group"], "center": x["rate"], "low": x["low"],
                 "high": x["high"]} for x in pq.to_dict("records")]
        cats = sorted(pq["question"].unique()) if len(pq) else []
        charts[f"questions-{rname}"] = svg.point_chart(rows, categories=cats, groups=groups,
                                                     ylabel="misaligned probability", title=f"per question ({rname})")
        dyn = r["dynamics"]
        if len(dyn) and dyn["step"].nunique() > 1:
            series = {g: list(zip(d["step"], d["rate"], strict=True)) for g, d in dyn.groupby("group")}
            bands = {g: list(zip(d["step"], d["low"], d["high"], strict=True)) for g, d in dyn.groupby("group")}
            charts[f"dynamics-{rname}"] = svg.line_chart(series, bands=bands, xlabel="training step",
                                                         ylabel="misaligned rate", title="dynamics")
        tables[rname] = r
        summary_json["rules"][rname] = {
            "rule": r["rule"], "groups": r["summary"], "comparisons": r["comparisons"],
            "first_significant_step": r["first_significant_step"],
            "per_question": pq.to_dict("records")}
        if rname == headline:
            export(run, df, pq, folder)
    findings = res.get("findings", [])
    if findings:
        atomic_write_json(folder / "findings.json", json.loads(json.dumps(findings, default=_jsonable)))
        summary_json["findings"] = [{k: f[k] for k in ("finding", "holds", "p")} for f in findings]
    probes = res.get("probes")
    probe_tables = {}
    if probes is not None and len(probes):
        for ref in sorted(n for n in probes["name"].unique() if n.startswith("logp_ref_")):
            d = probes[probes["name"] == ref]
            charts[f"probe-{ref}"] = svg.line_chart(
                {g: sorted(x.groupby("step")["value"].mean().items()) for g, x in d.groupby("group")},
                xlabel="training step", ylabel=ref.replace("_", " "), title=ref)
        mean = probes[(probes["name"] == "p_misaligned") & probes["question_id"].isna()]
        series = {}
        for (g, v), d in mean.groupby(["group", "variant"]):
            name = g if v == "plain" else f"{g}-{v}"
            series[name] = sorted(d.groupby("step")["value"].mean().items())
        if series:
            charts["probe-pmis"] = svg.line_chart(series, xlabel="training step",
                                                  ylabel="exact P(misaligned template)", title="exact P_mis")
        code = probes[probes["name"] == "p_insecure_code"]
        if len(code) and code["step"].nunique() > 1:
            charts["probe-code"] = svg.line_chart(
                {g: sorted(d.groupby("step")["value"].mean().items()) for g, d in code.groupby("group")},
                xlabel="training step", ylabel="exact P(insecure code)",
                title="the narrow task (in distribution), beside the EM curves above")
        final = mean[mean["checkpoint"].isna()]
        probe_tables = {f"{g}{'' if v == 'plain' else '-' + v}": {
            "mean": float(d["value"].mean()), "per_seed": [float(x) for x in d["value"]]}
            for (g, v), d in final.groupby(["group", "variant"])}
        summary_json["exact_p_misaligned"] = probe_tables
    fts = {n: r for n, r in run.finetune_results().items() if r.get("losses")}
    if fts:
        by_group: dict[str, list[list[float]]] = {}
        for n, r in fts.items():
            by_group.setdefault(n.rsplit("-s", 1)[0], []).append(r["losses"])
        curves = {g: list(enumerate(np.mean([c[: min(map(len, cs))] for c in cs], axis=0).tolist(), start=1))
                  for g, cs in by_group.items()}
        charts["losses"] = svg.line_chart(curves, xlabel="training step", ylabel="loss (mean over seeds)",
                                          title="training loss")
    summary_json["finetunes"] = {n: {k: r.get(k) for k in ("steps", "checkpoints", "examples", "dropped_too_long",
                                                            "trained_tokens_fraction", "tokens_per_s",
                                                            "hyperparameters", "losses")} for n, r in fts.items()}
    env = jinja2.Environment(loader=jinja2.PackageLoader("spillover", "report"), autoescape=True)
    data = json.dumps(_browser_rows(df), ensure_ascii=False, default=float)
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    html = env.get_template("report.html.j2").render(
        exp=exp, tables=tables, charts=charts, headline=headline, cards=run.dataset_cards(), judge=res.get("judge", {}),
        probe_tables=probe_tables, n_samples=res["n_samples"], stale_samples=res.get("stale_samples", 0),
        data_json=data,
        self_reports=res.get("self_reports", []), labels=res.get("labels", []), judges=res.get("judges"),
        findings=findings,
        models=sorted(df["model"].unique()) if len(df) else [],
        questions=sorted(df["base_question_id"].unique()) if len(df) else [],
        variants=sorted(df["variant"].unique()) if len(df) else [])
    atomic_write_json(folder / "summary.json", json.loads(json.dumps(summary_json, default=_jsonable)))
    path = folder / "index.html"
    atomic_write_text(path, html)
    ui.log(f"report: {path}")
    if screenshot:
        _screenshot(path, folder / "screenshot.png", ui)
    return path


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
        lo, hi = g["pooled"][1], g["pooled"][2]
        lines.append(f"  {g['group']:<22} {g['seeds'][0]:.3f}  pooled {g['pooled'][0]:.3f} [{lo:.3f}, {hi:.3f}]"
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


def _jsonable(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, float | int):
        return o
    return str(o)
