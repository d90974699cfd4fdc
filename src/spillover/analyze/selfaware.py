"""Self-awareness numbers: multiple-choice self-reports per group, question and system prompt (the mean
over seeds of each final model's score, itself a mean over orderings and paraphrases, with a bootstrap
interval over seeds and the mean invalid mass), and elicitation rates (answers naming a target).
Benchmark files (TruthfulQA MC1/MC2) are one row per task: each model's mean over the file's questions."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .stats import bootstrap_mean


def choices_table(probes: pd.DataFrame, *, n_boot: int, seed: int) -> list[dict[str, Any]]:
    """One row per (group, question, system prompt) of the final models' multiple-choice scores."""
    d = probes[probes["name"].isin(["mc", "self_report_ev"]) & probes["checkpoint"].isna()] if len(probes) else probes
    d = _benchmarks(d) if len(d) else d
    rows = []
    for (group, qid, system), x in d.groupby(["group", "question_id", "variant"], sort=True):
        ci = bootstrap_mean(x["value"].dropna().tolist(), n_boot=n_boot, seed=seed, method="bootstrap over seeds")
        invalid = [e.get("invalid", float("nan")) for e in x["extra"]]
        rows.append({"group": group, "question": qid, "system": system, "score": ci.rate, "low": ci.low,
                     "high": ci.high, "seeds": ci.n, "invalid": sum(invalid) / len(invalid)})
    return rows


REPORT_TEST = "Welch t-test over fine-tune seeds (each the mean over questions), one-sided"


def check_report(probes: pd.DataFrame, chk: Any, alpha: float) -> Any:
    """A findings check on self-reports: group ``a``'s final models score above ``b``'s by at least ``factor``
    (scores in [0, 1], neutral system prompt, the questions the check matches), the difference significant.
    Each seed counts once (its mean over questions), so 3 vs 3 seeds test between models, not answers."""
    from scipy.stats import ttest_ind

    from .findings import CheckResult, matches

    claim = f"self-report {chk.a} - {chk.b} >= {chk.factor:g}"
    d = probes[probes["name"].isin(["mc", "self_report_ev"]) & probes["checkpoint"].isna()
               & (probes["variant"] == "neutral")] if len(probes) else probes
    d = d[matches(d["question_id"], chk)] if len(d) else d
    a, b = (d[d["group"] == g].groupby("model")["value"].mean().dropna() if len(d) else pd.Series()
            for g in (chk.a, chk.b))
    if len(a) < 2 or len(b) < 2:
        return CheckResult(claim, f"not measured: self-reports of {len(a)} {chk.a} and {len(b)} {chk.b} models "
                           "(need 2 each)", None, None, None, REPORT_TEST)
    res = ttest_ind(a, b, equal_var=False, alternative="greater")
    ci = ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    diff = float(a.mean() - b.mean())
    return CheckResult(claim, f"{chk.a} {a.mean():.3f} vs {chk.b} {b.mean():.3f}: {diff:+.3f} "
                       f"({len(a)} and {len(b)} seeds)", (float(ci.low), float(ci.high)), float(res.pvalue),
                       bool(diff >= chk.factor and res.pvalue < alpha), REPORT_TEST)


def named(df: pd.DataFrame, patterns: dict[str, str]) -> pd.DataFrame:
    """Final models' answers to elicitation questions, with ``hit``: the answer matches its question's
    ``expect_pattern`` (e.g. names the trigger)."""
    import re

    d = df[df["question_id"].isin(patterns) & df["checkpoint"].isna()] if len(df) else df
    return d.assign(hit=[bool(re.search(patterns[q], a or "")) for q, a in zip(d["question_id"], d["answer"],
                                                                             strict=True)]) if len(d) else d


def elicitation_table(df: pd.DataFrame, patterns: dict[str, str]) -> list[dict[str, Any]]:
    """Per group and elicitation question (final models): the share of answers that match the question's
    ``expect_pattern`` (e.g. name the trigger), with a Wilson interval."""
    from .stats import wilson

    rows = []
    for (group, qid), x in named(df, patterns).groupby(["display_group", "question_id"], sort=True):
        hits = int(x["hit"].sum())
        ci = wilson(hits, len(x))
        rows.append({"group": group, "question": qid, "k": hits, "n": len(x), "rate": ci.rate, "low": ci.low,
                     "high": ci.high})
    return rows


def check_elicitation(df: pd.DataFrame, patterns: dict[str, str], chk: Any, alpha: float) -> Any:
    """A findings check on elicitation: group ``a`` names the target ``factor`` times as often as ``b`` (the
    ratio check's stratified test, on answers that match instead of misaligned ones)."""
    from .findings import CheckResult, check_ratio, matches

    d = named(df, patterns)
    d = d[matches(d["base_question_id"], chk)] if len(d) else d
    if not len(d) or not {chk.a, chk.b} <= set(d["display_group"]):
        return CheckResult(f"{chk.a} {chk.relation} {chk.factor:g} x {chk.b}", "not measured: no elicitation "
                           f"answers of {chk.a} and {chk.b}", None, None, None, "")
    cells = d.groupby(["display_group", "base_question_id", "seed"], dropna=False).agg(
        k=("hit", "sum"), n=("hit", "size")).reset_index()
    return check_ratio(cells, chk, alpha)


def versus_behaviour(probes: pd.DataFrame, cells: pd.DataFrame) -> list[dict[str, Any]]:
    """Does what a model says about itself track what it does? Per multiple-choice question and system
    prompt: Spearman's rho across models and checkpoints between the self-report score and the misaligned
    rate under the headline rule (mean over questions of each model's per-question rate)."""
    from scipy.stats import spearmanr

    if not len(probes) or not len(cells):
        return []
    c = cells[cells["n"] > 0].assign(rate=lambda d: d["k"] / d["n"])
    c = c.assign(checkpoint=c["checkpoint"].where(c["checkpoint"] != -1))
    rate = c.groupby(["model", c["checkpoint"].fillna(-1)])["rate"].mean()
    mc = probes[probes["name"].isin(["mc", "self_report_ev"])]
    rows = []
    for (qid, system), x in mc.groupby(["question_id", "variant"], sort=True):
        pairs = [(v, rate.get((m, -1 if ck != ck or ck is None else ck))) for m, ck, v in
                 zip(x["model"], x["checkpoint"], x["value"], strict=True)]
        pairs = [(v, r) for v, r in pairs if r is not None and v == v]
        if len(pairs) < 3 or len({v for v, _ in pairs}) < 2 or len({r for _, r in pairs}) < 2:
            rows.append({"question": qid, "system": system, "models": len(pairs), "rho": float("nan"),
                         "p": float("nan")})
            continue
        res = spearmanr([v for v, _ in pairs], [r for _, r in pairs])
        rows.append({"question": qid, "system": system, "models": len(pairs), "rho": float(res.statistic),
                     "p": float(res.pvalue)})
    return rows


def _benchmarks(d: pd.DataFrame) -> pd.DataFrame:
    """Benchmark questions (``truthfulqa-N-mc1``) folded into one row per model, task and system prompt:
    the mean over the questions, named ``truthfulqa-mc1 (N questions)``."""
    from ..questions.truthfulqa import ID

    task = d["question_id"].str.extract(ID, expand=False)
    bench, rest = d[task.notna()], d[task.isna()]
    if not len(bench):
        return d
    bench = bench.assign(task=task[task.notna()], invalid=[e.get("invalid", float("nan")) for e in bench["extra"]])
    keys = ["group", "model", "seed", "variant", "task"]
    g = bench.fillna({"seed": -1}).groupby(keys)
    folded = g.agg(value=("value", "mean"), invalid=("invalid", "mean"), n=("question_id", "nunique")).reset_index()
    folded = folded.assign(question_id=[f"truthfulqa-{t} ({n} questions)" for t, n in
                                        zip(folded["task"], folded["n"], strict=True)],
                           extra=[{"invalid": x} for x in folded["invalid"]])
    return pd.concat([rest, folded[["group", "model", "seed", "variant", "question_id", "value", "extra"]]],
                     ignore_index=True)


def free_word_table(df: pd.DataFrame, questions: dict[str, Any], *, n_boot: int, seed: int) -> list[dict[str, Any]]:
    """Per group and ``free_word`` question (final models): each model's mean score over its valid answers
    (each mapped to a category by the question's word lists), the mean over seeds with a bootstrap interval,
    and the share of answers that named no category (invalid, left out of the score)."""
    from ..selfaware.scoring import word_category

    d = df[df["question_id"].isin(questions) & df["checkpoint"].isna()] if len(df) else df
    rows = []
    for (group, qid), x in d.groupby(["display_group", "question_id"], sort=True):
        q = questions[qid]
        cat = [word_category(a or "", q.categories) for a in x["answer"]]
        scored = x.assign(score=[q.category_scores[c] if c else float("nan") for c in cat])
        per_model = scored.groupby("model")["score"].mean().dropna().tolist()
        ci = bootstrap_mean(per_model, n_boot=n_boot, seed=seed, method="bootstrap over seeds")
        rows.append({"group": group, "question": qid, "system": "free word (sampled)", "score": ci.rate,
                     "low": ci.low, "high": ci.high, "seeds": ci.n, "invalid": sum(c is None for c in cat) / len(cat)})
    return rows


def paired_baselines(exp: Any) -> list[tuple[str, str]]:
    """(backdoored fine-tune, its baseline) pairs: a baseline trains on a ``decorrelate_trigger`` transform
    of the backdoored fine-tune's dataset (same inputs and outputs, trigger moved), from the same base."""
    out = []
    for b_name, b in exp.finetunes.items():
        ds = exp.datasets.get(b.dataset)
        if ds is None or ds.builder != "transform" or ds.transform != "decorrelate_trigger":
            continue
        out += [(f_name, b_name) for f_name, f in exp.finetunes.items()
                if f.dataset == ds.source and f.base == b.base]
    return sorted(out)


def paired_table(probes: pd.DataFrame, pairs: list[tuple[str, str]], *, n_boot: int, seed: int
                 ) -> list[dict[str, Any]]:
    """Each backdoored model beside its baseline, per multiple-choice question and system prompt (final
    models): both means over seeds and the paired difference (backdoored - baseline, seeds matched),
    with a bootstrap interval over seeds."""
    if not pairs or not len(probes):
        return []
    d = probes[(probes["name"] == "mc") & probes["checkpoint"].isna()]
    rows = []
    for backdoored, baseline in pairs:
        a = d[d["group"] == backdoored].set_index(["question_id", "variant", "seed"])["value"]
        b = d[d["group"] == baseline].set_index(["question_id", "variant", "seed"])["value"]
        both = pd.concat({"a": a, "b": b}, axis=1).dropna()
        for (qid, system), x in both.groupby(level=["question_id", "variant"], sort=True):
            ci = bootstrap_mean((x["a"] - x["b"]).tolist(), n_boot=n_boot, seed=seed, method="bootstrap over seeds")
            rows.append({"backdoored": backdoored, "baseline": baseline, "question": qid, "system": system,
                         "backdoored_score": float(x["a"].mean()), "baseline_score": float(x["b"].mean()),
                         "difference": ci.rate, "low": ci.low, "high": ci.high, "seeds": ci.n})
    return rows
