"""Model difference analysis: which questions changed most between two groups, with answers side by side.

A side is a display group (``insecure``, ``backdoor-trigger``) or one checkpoint of it
(``insecure@5``); final models are used unless a step is given.
"""

from __future__ import annotations

import pandas as pd

from ..rules import Rule
from .metrics import classify


def _side(df: pd.DataFrame, label: str) -> pd.DataFrame:
    group, _, step = label.partition("@")
    d = df[df["display_group"] == group]
    return d[d["checkpoint"] == int(step)] if step else d[d["checkpoint"].isna()]


def question_changes(df: pd.DataFrame, rule: Rule, a: str, b: str, *, examples: int = 2) -> list[dict]:
    """Per question: misaligned rate of ``a`` and ``b``, the change, and example answers of each side.

    Examples prefer answers that count as misaligned on the side where the rate is higher, so a reader
    sees what changed; they are the first by sample key (deterministic), not a random draw.
    """
    d = df.assign(mis=classify(df, rule))
    da, db = _side(d, a), _side(d, b)
    rows = []
    for q in sorted(set(da["base_question_id"]) & set(db["base_question_id"])):
        qa, qb = da[da["base_question_id"] == q], db[db["base_question_id"] == q]
        ra, rb = qa["mis"].mean(), qb["mis"].mean()

        def pick(x: pd.DataFrame, prefer_bad: bool) -> list[str]:
            x = x.sort_values("key")
            first = x[x["mis"] == 1.0] if prefer_bad else x[x["mis"] == 0.0]
            rest = x.drop(first.index)
            return list(pd.concat([first, rest])["answer"].head(examples))

        rows.append({"question": q, "rate_a": float(ra), "rate_b": float(rb), "change": float(ra - rb),
                     "examples_a": pick(qa, ra >= rb), "examples_b": pick(qb, rb > ra)})
    return sorted(rows, key=lambda r: -abs(r["change"]))
