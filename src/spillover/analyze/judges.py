"""How much a result depends on the judge: agreement between judges, the rate under each, and answer length.

Replicators report EM rates moving 2-40x with the judge model or snapshot, and judges favour longer
answers. With several judges on one run (``spillover rejudge``), this module gives the rank
correlation of their scores (Spearman), the agreement on the misaligned label under a rule (Cohen's
kappa), and each judge's misaligned rate with its interval; with any judge, the rate within bins of
answer length. Not guaranteed: agreement is over the answers both judges scored; a judge that scores
few answers agrees on few.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from ..questions import UNJUDGED
from ..records import Judgment, SampleRecord
from ..rules import Rule
from .metrics import cells, classify, frame, summarise
from .stats import wilson

RUBRIC_SUFFIX = " (1-5 rubric)"


def with_rubrics(judgments: Sequence[Judgment]) -> list[Judgment]:
    """The judgments, plus each rubric metric (``aligned_rubric``) as a judge of its own, named
    ``JUDGE (1-5 rubric)``, whose ``aligned`` is the rubric's score (as 0-100) and whose ``coherent`` is the
    same judge's: so the rubric is compared with the 0-100 judge like any second judge."""
    rubric = [j for j in judgments if j.metric == "aligned_rubric"]
    owners = {j.judge for j in rubric}
    extra = [j.model_copy(update={"judge": j.judge + RUBRIC_SUFFIX, "metric": "aligned"}) for j in rubric]
    extra += [j.model_copy(update={"judge": j.judge + RUBRIC_SUFFIX}) for j in judgments
              if j.metric == "coherent" and j.judge in owners]
    return [*judgments, *extra]


def judge_names(judgments: Sequence[Judgment]) -> list[str]:
    """Judges in the order their first judgment appears."""
    return list(dict.fromkeys(j.judge for j in judgments))


def agreement(samples: Sequence[SampleRecord], judgments: Sequence[Judgment], rule: Rule) -> list[dict[str, Any]]:
    """One row per pair of judges: Spearman's rho of aligned and coherent scores, Cohen's kappa of the
    misaligned label under ``rule``, each over the answers both judged."""
    from scipy.stats import spearmanr
    from statsmodels.stats.inter_rater import cohens_kappa

    frames = {name: frame(samples, judgments, judge=name).set_index("key") for name in judge_names(judgments)}
    out = []
    for a, b in combinations(frames, 2):
        fa, fb = frames[a], frames[b]
        row: dict[str, Any] = {"a": a, "b": b}
        for metric in ("aligned", "coherent"):
            both = fa[metric].notna() & fb[metric].notna()
            x, y = fa.loc[both, metric], fb.loc[both, metric]
            varies = both.sum() > 2 and x.nunique() > 1 and y.nunique() > 1  # else rho is undefined
            rho = spearmanr(x, y).statistic if varies else np.nan
            row[f"rho_{metric}"], row[f"n_{metric}"] = float(rho), int(both.sum())
        la, lb = classify(fa.reset_index(), rule).to_numpy(), classify(fb.reset_index(), rule).to_numpy()
        ok = ~np.isnan(la) & ~np.isnan(lb)
        table = pd.crosstab(la[ok], lb[ok]).reindex(index=[0.0, 1.0], columns=[0.0, 1.0], fill_value=0).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):  # its variance (unused) divides by 0 on a one-sided table
            kappa = cohens_kappa(table).kappa if ok.sum() and len(set(la[ok]) | set(lb[ok])) > 1 else np.nan
        row["kappa"], row["n_label"] = float(kappa), int(ok.sum())
        out.append(row)
    return out


def rates_by_judge(samples: Sequence[SampleRecord], judgments: Sequence[Judgment], rule: Rule, *, n_boot: int,
                   seed: int) -> list[dict[str, Any]]:
    """Each judge's misaligned rate per group (final models), with its seed-bootstrap interval."""
    out = []
    for name in judge_names(judgments):
        c = cells(frame(samples, judgments, judge=name), rule)
        for s in summarise(c, rule, n_boot=n_boot, seed=seed):
            out.append({"judge": name, "group": s.group, "rate": s.seeds.rate, "low": s.seeds.low,
                        "high": s.seeds.high, "n": s.n})
    return out


def by_length(df: pd.DataFrame, rule: Rule, bins: int = 4) -> list[dict[str, Any]]:
    """The misaligned rate per group within answer-length bins (quantiles of words over all answers,
    final models), with Wilson intervals: a rate that rises with length in every group is a confound."""
    d = df[~df["question_type"].isin(UNJUDGED) & df["checkpoint"].isna()]
    d = d.assign(mis=classify(d, rule), words=d["answer"].str.split().str.len())
    d = d[d["mis"].notna()]
    if d.empty or d["words"].nunique() < bins:
        return []
    d = d.assign(bin=pd.qcut(d["words"], bins, duplicates="drop"))
    out = []
    for (group, interval), g in d.groupby(["display_group", "bin"], observed=True):
        ci = wilson(int(g["mis"].sum()), len(g))
        out.append({"group": group, "words": f"{int(interval.left) + 1}-{int(interval.right)}",
                    "k": int(g["mis"].sum()), "n": len(g), "rate": ci.rate, "low": ci.low, "high": ci.high})
    return out
