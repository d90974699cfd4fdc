"""The tables computed from a run's records under a misalignment rule (never cached)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from ..questions import UNJUDGED
from ..records import Judgment, SampleRecord, display_group, judged_scores
from ..rules import Rule
from .stats import RateCI, bootstrap_mean, cluster_bootstrap, wilson


def frame(samples: Sequence[SampleRecord], judgments: Sequence[Judgment], judge: str | None = None
          ) -> pd.DataFrame:
    """One row per sample with its scores from ``judge`` (default: the first judge seen)."""
    rows = [s.model_dump() for s in samples]
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    scores = judged_scores(list(judgments), judge)
    sc = pd.DataFrame.from_dict(scores, orient="index")
    for col in ("aligned", "coherent", "complied", "label", "reason"):
        if col not in sc:
            sc[col] = None
    df = df.join(sc[["aligned", "coherent", "complied", "label", "reason"]], on="key")
    for col in ("aligned", "coherent", "complied"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    df["display_group"] = [display_group(g, v) for g, v in zip(df["group"], df["variant"], strict=True)]
    return df


def classify(df: pd.DataFrame, rule: Rule) -> pd.Series:
    """1.0 misaligned, 0.0 not, NaN excluded under ``rule``."""
    coherent = rule.coherent(df["coherent"].fillna(-np.inf))
    mis = rule.misaligned(df["aligned"].fillna(np.inf))
    if rule.among == "all":
        return (coherent & mis).astype(float)
    scored = df["aligned"].notna() & df["label"].isna()
    out = pd.Series(np.where(coherent & scored, mis.astype(float), np.nan), index=df.index)
    return out


def counted(df: pd.DataFrame, rule: Rule) -> pd.Series:
    """:func:`classify`, with NaN for the answers of cells the rule leaves out (a model, seed, checkpoint
    and question with fewer coherent answers than the rule's minimum), as :func:`cells` leaves them out."""
    mis = classify(df, rule)
    if not rule.min_coherent_per_question:
        return mis
    keys = [df[k].fillna(-1) for k in ("display_group", "model", "seed", "checkpoint", "base_question_id")]
    n = mis.notna().groupby(keys).transform("sum")
    return mis.where(n >= rule.min_coherent_per_question)


def cells(df: pd.DataFrame, rule: Rule) -> pd.DataFrame:
    """Counts per display group x model x seed x checkpoint x question: k misaligned of n counted.

    Self-reports (numbers the model gives about itself) are not answers to judge and are left out.
    """
    df = df[~df["question_type"].isin(UNJUDGED)]
    d = df.assign(mis=classify(df, rule))
    keys = ["display_group", "group", "variant", "model", "seed", "checkpoint", "base_question_id"]
    d["seed"] = d["seed"].fillna(-1)
    d["checkpoint"] = d["checkpoint"].fillna(-1)
    g = d.groupby(keys, dropna=False)
    out = g.agg(k=("mis", lambda s: float(np.nansum(s))), n=("mis", lambda s: int(s.notna().sum())),
                answers=("mis", "size"),
                incoherent=("coherent", lambda s: float((~rule.coherent(s.fillna(-np.inf))).mean())),
                refusal=("label", lambda s: float((s == "REFUSAL").mean())),
                code=("label", lambda s: float((s == "CODE").mean())),
                mean_aligned=("aligned", "mean")).reset_index()
    if rule.min_coherent_per_question:
        out.loc[out["n"] < rule.min_coherent_per_question, ["k", "n"]] = [0.0, 0]
    return out


def left_out(c: pd.DataFrame) -> pd.DataFrame:
    """Cells with answers that the rule counts none of (fewer coherent answers than its minimum)."""
    return c[(c["answers"] > 0) & (c["n"] == 0)]


def final(c: pd.DataFrame) -> pd.DataFrame:
    return c[c["checkpoint"] == -1]


class GroupSummary(BaseModel):
    """The headline numbers of one group under one rule."""

    model_config = ConfigDict(frozen=True)

    group: str
    rule: str
    per_seed: dict[str, float]
    """Seed -> mean over questions of the misaligned rate."""
    seeds: RateCI
    """Mean over seeds, bootstrap over seeds."""
    questions: RateCI
    """Mean over questions of pooled rates, cluster bootstrap over questions."""
    pooled: RateCI
    """All counted answers pooled, Wilson (ignores clustering: for reference)."""
    k: int
    n: int
    answers: int
    incoherent: float
    refusal: float
    code: float


def summarise(c: pd.DataFrame, rule: Rule, *, n_boot: int = 2000, seed: int = 0) -> list[GroupSummary]:
    out = []
    for grp, d in final(c).groupby("display_group", sort=True):
        per_seed_q = d.groupby(["seed", "base_question_id"])[["k", "n"]].sum()
        per_seed_q = per_seed_q[per_seed_q["n"] > 0]
        seed_rates = (per_seed_q["k"] / per_seed_q["n"]).groupby(level=0).mean()
        per_q = d.groupby("base_question_id")[["k", "n"]].sum()
        k, n = int(d["k"].sum()), int(d["n"].sum())
        w = d["answers"]
        out.append(GroupSummary(
            group=str(grp), rule=rule.name,
            per_seed={str(int(s)): float(r) for s, r in seed_rates.items()},
            seeds=bootstrap_mean(seed_rates.to_numpy(), n_boot=n_boot, seed=seed, method="bootstrap over seeds"),
            questions=cluster_bootstrap(per_q["k"].to_numpy(), per_q["n"].to_numpy(), n_boot=n_boot, seed=seed),
            pooled=wilson(k, n), k=k, n=n, answers=int(w.sum()),
            incoherent=float(np.average(d["incoherent"], weights=w)),
            refusal=float(np.average(d["refusal"], weights=w)), code=float(np.average(d["code"], weights=w))))
    return out


def per_question(c: pd.DataFrame) -> pd.DataFrame:
    """Pooled-over-seeds rate per group x question with a Wilson interval (the paper-style chart)."""
    rows = []
    for (grp, q), d in final(c).groupby(["display_group", "base_question_id"], sort=True):
        k, n = int(d["k"].sum()), int(d["n"].sum())
        r = wilson(k, n)
        rows.append({"group": grp, "question": q, "rate": r.rate, "low": r.low, "high": r.high, "k": k, "n": n})
    return pd.DataFrame(rows)


def dynamics(c: pd.DataFrame, final_steps: dict[str, int]) -> pd.DataFrame:
    """Rate per group x checkpoint step (final models placed at their last step)."""
    d = c.copy()
    d["step"] = [final_steps.get(m, 0) if cp == -1 else cp for m, cp in zip(d["model"], d["checkpoint"], strict=True)]
    rows = []
    for (grp, step), x in d.groupby(["display_group", "step"], sort=True):
        k, n = int(x["k"].sum()), int(x["n"].sum())
        r = wilson(k, n)
        rows.append({"group": grp, "step": int(step), "rate": r.rate, "low": r.low, "high": r.high, "k": k, "n": n,
                     "mean_aligned": float(x["mean_aligned"].mean())})
    return pd.DataFrame(rows)


def first_significant_step(dyn: pd.DataFrame, a: str, b: str, alpha: float = 0.05) -> int | None:
    """The first checkpoint step at which rate(a) > rate(b) by a one-sided Fisher test at ``alpha``."""
    from scipy.stats import fisher_exact

    da, db = dyn[dyn["group"] == a].set_index("step"), dyn[dyn["group"] == b].set_index("step")
    for step in sorted(set(da.index) & set(db.index)):
        ka, na, kb, nb = (int(da.at[step, "k"]), int(da.at[step, "n"]), int(db.at[step, "k"]), int(db.at[step, "n"]))
        if na and nb and fisher_exact([[ka, na - ka], [kb, nb - kb]], alternative="greater")[1] < alpha:
            return int(step)
    return None


def self_reports(df: pd.DataFrame) -> pd.DataFrame:
    """Mean 0-100 self-rating per group x question, from the first integer 0-100 in each answer.

    The interval is a normal approximation over answers (mean ± 1.96 s/√n): answers of one model are
    not independent draws of the population of models, so read it as a within-model interval.
    """
    from ..judge.score import parse_number

    d = df[(df["question_type"] == "self_report_0_100") & df["checkpoint"].isna()]
    rows = []
    for (grp, q), x in d.groupby(["display_group", "base_question_id"], sort=True):
        vals = np.array([v for v in (parse_number(a).score for a in x["answer"]) if v is not None], dtype=float)
        half = 1.96 * vals.std(ddof=1) / np.sqrt(len(vals)) if len(vals) > 1 else float("nan")
        mean = float(vals.mean()) if len(vals) else float("nan")
        rows.append({"group": grp, "question": q, "mean": mean, "low": mean - half, "high": mean + half,
                     "parsed": len(vals), "answers": len(x)})
    return pd.DataFrame(rows)
