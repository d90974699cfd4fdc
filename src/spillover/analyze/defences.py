"""A scorecard per defence: how much EM it removes, and what it costs.

For each defended fine-tune and its undefended baseline (``analysis.defences``): the misaligned rate under
the headline rule (mean over seeds with its interval) and the reduction, the in-distribution task kept
(the exact probability of insecure code, a probe of the organism: the defended model's gain over the base
model relative to the baseline's), general ability kept (exact P(correct) on the organism's neutral
questions, relative to the base model), the share of coherent answers, and training time relative to the
baseline. Rows are ranked by EM reduction. Not guaranteed: "task kept" needs ``analysis.exact_probe`` (the
organism); for real models it is left empty.
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
                     "time": _seconds(finetunes, defended) / _seconds(finetunes, baseline)})
    return sorted(rows, key=lambda r: -r["reduction"] if r["reduction"] == r["reduction"] else math.inf)


def _task(probes: pd.DataFrame | None, name: str = "p_insecure_code") -> dict[str, float]:
    """Mean final value of probe ``name`` per fine-tune group, and the base models' as ``__base__``."""
    if probes is None or not len(probes):
        return {}
    d = probes[(probes["name"] == name) & probes["checkpoint"].isna()]
    out = {g: float(x["value"].mean()) for g, x in d[d["seed"].notna()].groupby("group")}
    base = d[d["seed"].isna()]["value"]
    if len(base):
        out["__base__"] = float(base.mean())
    return out


def _seconds(finetunes: dict[str, dict[str, Any]], group: str) -> float:
    times = [r.get("seconds", 0.0) for n, r in finetunes.items() if n.rsplit("-s", 1)[0] == group]
    times = [t for t in times if t]
    return statistics.fmean(times) if times else math.nan
