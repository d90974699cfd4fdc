"""Every number of the report, recomputed from a run's records (nothing cached, nothing typed in)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import pandas as pd

from ..config import AnalysisSpec, Check, Experiment
from ..questions.sources import by_question, sources
from ..rates import price
from ..records import Judgment, SampleRecord
from ..rules import Rule, get_rule
from ..sample import current_samples
from ..store import RunDir
from ..targets import Targets
from .compliance import compliance_table
from .defences import scorecard
from .diff import question_changes
from .findings import CheckResult, any_glob, findings_table
from .metrics import cells as make_cells
from .metrics import counted, dynamics, first_significant_step, frame, per_question, self_reports, summarise
from .monitor import check_recall, monitor_increments, monitor_table
from .selfaware import (
    check_elicitation,
    check_report,
    choices_table,
    elicitation_table,
    free_word_table,
    paired_baselines,
    paired_table,
    versus_behaviour,
)
from .stats import compare


def final_steps(run: RunDir) -> dict[str, int]:
    """Each finished fine-tune's number of optimizer steps."""
    return {name: r["steps"] for name, r in run.finetune_results().items() if "steps" in r}


def label_counts(samples: list[SampleRecord], judgments: list[Judgment]) -> list[dict[str, Any]]:
    """Label judgments (``free_form_judge`` questions) counted per group, question, metric and label."""
    from collections import Counter

    from ..judge import LABELLED
    from .metrics import display_group

    by_key = {s.key: s for s in samples if s.question_type == LABELLED}
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for j in judgments:
        if (s := by_key.get(j.sample_key)) is not None and j.score is None and not j.retryable:
            counts[display_group(s.group, s.variant), s.base_question_id, j.metric, j.label or "(none)"] += 1
    totals: Counter[tuple[str, str, str]] = Counter()
    for (g, q, m, _), n in counts.items():
        totals[g, q, m] += n
    return [{"group": g, "question": q, "metric": m, "label": lab, "n": n, "share": n / totals[g, q, m]}
            for (g, q, m, lab), n in sorted(counts.items())]


def judge_section(samples: list[SampleRecord], judgments: list[Judgment], df: pd.DataFrame, exp: Experiment
                  ) -> dict[str, Any]:
    """Under the headline rule: which judge and prompts the rates use, agreement and rates per judge when
    there are several, and the rate by answer length."""
    from .judges import agreement, by_length, judge_names, rates_by_judge, with_rubrics

    rule = get_rule(exp.analysis.rules[0])
    hashes = sorted({(j.judge, j.metric, j.prompt_hash) for j in judgments})
    judgments = with_rubrics(judgments)
    names = judge_names(judgments)
    out: dict[str, Any] = {"rule": rule.name, "names": names, "headline": names[0] if names else None,
                           "prompts": [{"judge": a, "metric": m, "prompt_hash": h} for a, m, h in hashes],
                           "by_length": by_length(df, rule)}
    if len(names) > 1:
        out["agreement"] = agreement(samples, judgments, rule)
        out["rates"] = rates_by_judge(samples, judgments, rule, n_boot=exp.analysis.bootstrap, seed=exp.analysis.seed)
    return out


class InsideSection(NamedTuple):
    tables: dict[str, Any]
    """Directions, their cosines, checkpoint curves, weight change (empty when the run has no inside view)."""
    check: Callable[[Check], CheckResult] | None
    """Runs ``cosine`` and ``leads`` findings checks."""


def inside_section(run: RunDir, exp: Experiment, c: pd.DataFrame, steps: dict[str, int]) -> InsideSection:
    """Directions, their cosines, checkpoint curves and weight change, and the checks on them."""
    from ..inside.directions import cosines
    from .inside import check_cosine, check_leads, curves, directions_table, load, weights_table

    if not (exp.inside.directions or exp.inside.weights):
        return InsideSection({}, None)
    ins = load(run, exp)

    def check(chk: Check) -> CheckResult:
        return check_cosine(ins, chk) if chk.kind == "cosine" else check_leads(ins, c, chk, steps)

    return InsideSection({"directions": directions_table(ins), "cosines": cosines(ins.directions),
                          "curves": curves(ins, c, steps), "weights": weights_table(ins)}, check)


def _probes(run: RunDir, steps: dict[str, int]) -> pd.DataFrame:
    """The probe stage's values (markers left out), each with the training step it was read at."""
    records = [r.model_dump() for r in run.probes() if r.name != "done"]
    if not records:
        return pd.DataFrame()
    p = pd.DataFrame(records)
    p["step"] = [steps.get(m, 0) if c is None or c != c else int(c) for m, c in zip(p["model"], p["checkpoint"],
                                                                                   strict=True)]
    return p


class Records(NamedTuple):
    """What every table of a run is computed from."""

    samples: list[SampleRecord]
    """The current plan's samples."""
    stale: int
    """How many stored samples the current plan no longer asks for."""
    judgments: list[Judgment]
    """Every judgment of the run (of current samples or not)."""
    df: pd.DataFrame
    """One row per judged answer of a current sample (:func:`metrics.frame`)."""


def _records(run: RunDir, exp: Experiment) -> Records:
    samples, stale = current_samples(run, exp, Targets(run, exp).for_eval())
    judgments = run.judgments()
    return Records(samples, stale, judgments, frame(samples, judgments))


def headline_cells(run: RunDir, exp: Experiment) -> pd.DataFrame:
    """The headline rule's cells over every question and checkpoint (what the findings checks read), without
    the rest of :func:`analyse`."""
    return make_cells(_records(run, exp).df, get_rule(exp.analysis.rules[0]))


def analyse(run: RunDir, exp: Experiment) -> dict[str, Any]:
    """Every number of the report, recomputed from the records of the current plan."""
    samples, stale, judgments, df = _records(run, exp)
    steps = final_steps(run)
    out: dict[str, Any] = {"n_samples": len(samples), "n_judgments": len(judgments), "rules": {}, "df": df,
                           "stale_samples": stale, "judge": _judge_totals(judgments)}
    if df.empty:
        return out
    a = exp.analysis
    for rule_name in a.rules:
        out["rules"][rule_name] = _rule_section(df, get_rule(rule_name), a, steps)
    headline = out["rules"][a.rules[0]]["cells"]
    headline_label = counted(df, get_rule(a.rules[0]))
    probes = _probes(run, steps)
    patterns = by_question(exp, "expect_pattern")
    inside = inside_section(run, exp, headline, steps)
    if inside.tables:
        out["inside"] = inside.tables
    if a.findings:
        other = _other_checks(judgments, df, headline_label, probes, patterns, inside,
                              a.alpha)
        out["findings"] = findings_table(headline, a.findings, a.alpha, steps, other)
    out.update(_answer_tables(exp, samples, judgments, df, headline_label, patterns))
    if len(probes):
        out["probes"] = probes
        out["choices"] = choices_table(probes, n_boot=a.bootstrap, seed=a.seed) + out["choices"]
        out["paired"] = paired_table(probes, paired_baselines(exp), n_boot=a.bootstrap, seed=a.seed)
        out["versus_behaviour"] = versus_behaviour(probes, headline)
    if a.defences:
        out["defences"] = scorecard(a.defences, out["rules"][a.rules[0]]["summary"], out.get("probes"),
                                    run.finetune_results())
    return out


def _rule_section(df: pd.DataFrame, rule: Rule, a: AnalysisSpec, steps: dict[str, int]) -> dict[str, Any]:
    """One counting rule's tables: per group, per question, over training, and each compared pair, without
    the questions ``a.exclude`` names; ``cells`` keeps every question (the findings choose their own)."""
    whole = make_cells(df, rule)
    c = whole
    if a.exclude:
        c, df = whole[~any_glob(whole["base_question_id"], a.exclude)], df[~any_glob(df["base_question_id"], a.exclude)]
    summ = summarise(c, rule, n_boot=a.bootstrap, seed=a.seed)
    dyn = dynamics(c, steps)
    by_group = {s.group: s for s in summ}
    comps = [compare(ga, list(by_group[ga].per_seed.values()), gb, list(by_group[gb].per_seed.values()),
                     (by_group[ga].k, by_group[ga].n), (by_group[gb].k, by_group[gb].n),
                     n_boot=a.bootstrap, seed=a.seed)._asdict()
             for ga, gb in a.compare if ga in by_group and gb in by_group]
    return {"rule": rule.describe(), "summary": [s.model_dump() for s in summ], "per_question": per_question(c),
            "dynamics": dyn, "comparisons": comps,
            "first_significant_step": {f"{ga} > {gb}": first_significant_step(dyn, ga, gb) for ga, gb in a.compare},
            "changes": {f"{ga} vs {gb}": question_changes(df, rule, ga, gb) for ga, gb in a.compare}, "cells": whole}


def _other_checks(judgments: list[Judgment], df: pd.DataFrame, label: pd.Series, probes: pd.DataFrame,
                  patterns: dict[str, Any], inside: InsideSection, alpha: float) -> Callable[[Check], CheckResult]:
    """The findings checks that read something other than the misaligned rate, by ``kind``."""
    def other(chk: Check) -> CheckResult:
        if chk.kind == "recall":
            return check_recall(judgments, df, label, chk, alpha)
        if chk.kind == "report":
            return check_report(probes, chk, alpha)
        if chk.kind == "elicitation":
            return check_elicitation(df, patterns, chk, alpha)
        return inside.check(chk) if inside.check else CheckResult(
            chk.kind, "not measured: no inside view", None, None, None, "")
    return other


def _answer_tables(exp: Experiment, samples: list[SampleRecord], judgments: list[Judgment], df: pd.DataFrame,
                   label: pd.Series, patterns: dict[str, str]) -> dict[str, Any]:
    """The tables read from answers beside the misaligned rate: self-reports, labels, monitors, elicitation
    (``patterns``: each elicitation question's ``expect_pattern``), word choices, compliance and the judges'
    agreement."""
    a = exp.analysis
    sr = self_reports(df)
    words = {q.id: q for chat in (True, False) for src in sources(exp, chat=chat) for q in src.questions
             if q.type == "free_word"}
    return {"self_reports": sr.to_dict("records") if len(sr) else [],
            "labels": label_counts(samples, judgments),
            "monitors": monitor_table(judgments, df, label),
            "monitor_increments": monitor_increments(judgments, df, label, [(ga, gb) for ga, gb in a.compare]),
            "elicitation": elicitation_table(df, patterns),
            "choices": free_word_table(df, words, n_boot=a.bootstrap, seed=a.seed) if words else [],
            "compliance": compliance_table(df, n_boot=a.bootstrap, seed=a.seed),
            "judges": judge_section(samples, judgments, df, exp)}


def _judge_totals(judgments: list[Judgment]) -> dict[str, Any]:
    """Counts, tokens and cost of the judgments (cost None when a model's price is unknown)."""
    unpriced = sorted({j.judge for j in judgments if j.judge.startswith("openai:") and not j.cached
                       and price(j.judge.removeprefix("openai:")) is None})
    return {"judgments": len(judgments), "cost_usd": None if unpriced else sum(j.cost_usd for j in judgments),
            "unpriced": unpriced, "no_score": sum(j.score is None for j in judgments),
            "cached": sum(j.cached for j in judgments),
            "prompt_tokens": sum(j.prompt_tokens for j in judgments),
            "completion_tokens": sum(j.completion_tokens for j in judgments)}
