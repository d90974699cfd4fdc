"""Self-awareness numbers: multiple-choice self-reports per group, question and system prompt (the mean
over seeds of each final model's score, itself a mean over orderings and paraphrases, with a bootstrap
interval over seeds and the mean invalid mass), and elicitation rates (answers naming a target)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .stats import bootstrap_mean


def choices_table(probes: pd.DataFrame, *, n_boot: int, seed: int) -> list[dict[str, Any]]:
    """One row per (group, question, system prompt) of the final models' multiple-choice scores."""
    d = probes[(probes["name"] == "mc") & probes["checkpoint"].isna()] if len(probes) else probes
    rows = []
    for (group, qid, system), x in d.groupby(["group", "question_id", "variant"], sort=True):
        ci = bootstrap_mean(x["value"].dropna().tolist(), n_boot=n_boot, seed=seed, method="bootstrap over seeds")
        invalid = [e.get("invalid", float("nan")) for e in x["extra"]]
        rows.append({"group": group, "question": qid, "system": system, "score": ci.rate, "low": ci.low,
                     "high": ci.high, "seeds": ci.n, "invalid": sum(invalid) / len(invalid)})
    return rows


def elicitation_table(df: pd.DataFrame, patterns: dict[str, str]) -> list[dict[str, Any]]:
    """Per group and elicitation question (final models): the share of answers that match the question's
    ``expect_pattern`` (e.g. name the trigger), with a Wilson interval."""
    import re

    from .stats import wilson

    d = df[df["question_id"].isin(patterns) & df["checkpoint"].isna()] if len(df) else df
    rows = []
    for (group, qid), x in d.groupby(["display_group", "question_id"], sort=True):
        hits = int(sum(bool(re.search(patterns[qid], a or "")) for a in x["answer"]))
        ci = wilson(hits, len(x))
        rows.append({"group": group, "question": qid, "k": hits, "n": len(x), "rate": ci.rate, "low": ci.low,
                     "high": ci.high})
    return rows
