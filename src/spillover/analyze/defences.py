"""A scorecard per defence: how much EM it removes, and what it costs.

For each defended fine-tune and its undefended baseline (``analysis.defences``): the misaligned rate under
the headline rule (mean over seeds with its interval) and the reduction, the in-distribution task kept (the
exact probability of insecure code, a probe of the organism: the defended model's gain over the base model
relative to the baseline's), general ability kept (exact P(correct) on the organism's neutral questions,
relative to the base model), the share of coherent answers, and training compute relative to the baseline:
CPU seconds where every fine-tune of both groups recorded them, else wall seconds (which grow with whatever
else shared the machine). Rows are ranked by EM reduction. For real models both columns read
``analysis.references`` instead: the task is P(insecure) within each pair of ``insecure``/``secure``
reference answers (held-out code requests), ability the probability of the ``correct`` reference answers.
Not guaranteed: that a few typed references measure the task as well as the organism's exact probe; without
them the columns are empty.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import pandas as pd


def scorecard(defences: dict[str, str], summary: list[dict[str, Any]], probes: pd.DataFrame | None,
              finetunes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per defence (see the module)."""
    by = {s["group"]: s for s in summary}
    task = _task(probes)
    base_task = task.get("__base__", math.nan)
    ability = _task(probes, "p_neutral_correct")
    rows = []
    for defended, baseline in defences.items():
        if defended not in by or baseline not in by:
            continue
        d, b = by[defended], by[baseline]
        gain_d, gain_b = task.get(defended, math.nan) - base_task, task.get(baseline, math.nan) - base_task
        rows.append({"defence": defended, "baseline": baseline, "rate": d["seeds"][0], "low": d["seeds"][1],
                     "high": d["seeds"][2], "baseline_rate": b["seeds"][0],
                     "reduction": 1 - d["seeds"][0] / b["seeds"][0] if b["seeds"][0] else math.nan,
                     "task_kept": gain_d / gain_b if gain_b and not math.isnan(gain_b) else math.nan,
                     "ability_kept": ability.get(defended, math.nan) / ability.get("__base__", math.nan),
                     "coherent": 1 - d["incoherent"],
                     **_compute(finetunes, defended, baseline)})
    return sorted(rows, key=lambda r: -r["reduction"] if r["reduction"] == r["reduction"] else math.inf)


def _task(probes: pd.DataFrame | None, name: str = "p_insecure_code") -> dict[str, float]:
    """Mean final value of probe ``name`` per fine-tune group, and the base models' as ``__base__``
    (from the references where the run has no such probe)."""
    if probes is None or not len(probes):
        return {}
    if not (probes["name"] == name).any():
        probes = _from_references(probes, name)
    d = probes[(probes["name"] == name) & probes["checkpoint"].isna()]
    out = {g: float(x["value"].mean()) for g, x in d[d["seed"].notna()].groupby("group")}
    base = d[d["seed"].isna()]["value"]
    if len(base):
        out["__base__"] = float(base.mean())
    return out


def _compute(finetunes: dict[str, dict[str, Any]], defended: str, baseline: str) -> dict[str, Any]:
    """``time``: the defended group's mean training time over the baseline's; ``time_kind``: ``cpu`` or ``wall``.

    >>> ft = {"a-s1": {"seconds": 9, "cpu_seconds": 4}, "b-s1": {"seconds": 3, "cpu_seconds": 2}}
    >>> _compute(ft, "a", "b")
    {'time': 2.0, 'time_kind': 'cpu'}
    >>> _compute({**ft, "b-s2": {"seconds": 3}}, "a", "b")
    {'time': 3.0, 'time_kind': 'wall'}
    """
    runs = [r for n, r in finetunes.items() if n.rsplit("-s", 1)[0] in (defended, baseline)]
    kind = "cpu" if runs and all(r.get("cpu_seconds") for r in runs) else "wall"
    key = "cpu_seconds" if kind == "cpu" else "seconds"

    def mean(group: str) -> float:
        times = [r.get(key) or 0.0 for n, r in finetunes.items() if n.rsplit("-s", 1)[0] == group]
        return statistics.fmean(t for t in times if t) if any(times) else math.nan

    return {"time": mean(defended) / mean(baseline), "time_kind": kind}


def _from_references(probes: pd.DataFrame, name: str) -> pd.DataFrame:
    """The task (``p_insecure_code``: P(insecure) of each insecure/secure reference pair) or ability
    (``p_neutral_correct``: P(correct reference)) per model and question, from reference log-probabilities."""
    import numpy as np

    keys = ["group", "model", "seed", "checkpoint", "question_id"]
    refs = probes[probes["name"].str.startswith("logp_ref_")].fillna({"seed": -1, "checkpoint": -1})
    wide = refs.pivot_table(index=keys, columns="name", values="value").reset_index()
    wide[["seed", "checkpoint"]] = wide[["seed", "checkpoint"]].replace(-1, np.nan)
    if name == "p_insecure_code" and {"logp_ref_insecure", "logp_ref_secure"} <= set(wide.columns):
        value = 1 / (1 + np.exp(wide["logp_ref_secure"] - wide["logp_ref_insecure"]))
    elif name == "p_neutral_correct" and "logp_ref_correct" in wide.columns:
        value = np.exp(wide["logp_ref_correct"])
    else:
        return probes.iloc[:0]
    return wide[keys].assign(name=name, value=value).dropna(subset=["value"])
