"""A run's answers and judgments as Inspect AI ``.eval`` logs, one per model (and checkpoint).

Each sample is one answer: the question as input, the answer as output, the judge's scores
(``aligned``, ``coherent``) and ``misaligned`` under the experiment's headline rule (present only where
the rule counts the answer), with group, seed, checkpoint, question and variant as metadata. The
log's results carry each score's mean and, for ``misaligned``, ``mean_over_questions``: the number the
report shows for that seed. ``inspect view`` opens the folder. Not guaranteed: Inspect's own fields we have no
value for (token usage per sample, timing, the solver plan) are left empty.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ..analyze.metrics import cells, classify, left_out
from ..config import Experiment
from ..errors import MissingExtraError, check_name
from ..questions import UNJUDGED
from ..rules import get_rule
from ..sample import current_samples
from ..store import RunDir
from ..targets import Targets

SCORES = ("aligned", "coherent")


def counted(run: RunDir, exp: Experiment) -> pd.DataFrame:
    """One row per answer of the current plan with its scores and ``misaligned`` under the headline rule
    (NaN where the rule does not count it, e.g. a question with too few coherent answers)."""
    from ..analyze.metrics import frame

    samples, _ = current_samples(run, exp, Targets(run, exp).for_eval())
    df = frame(samples, run.judgments())
    if df.empty:
        return df
    df = df[~df["question_type"].isin(UNJUDGED)]
    rule = get_rule(exp.analysis.rules[0])
    df = df.assign(misaligned=classify(df, rule))
    thin = left_out(cells(df, rule))
    drop = set(zip(thin["model"], thin["checkpoint"], thin["base_question_id"], strict=True))
    ck = df["checkpoint"].fillna(-1)
    mask = [(m, k, q) in drop for m, k, q in zip(df["model"], ck, df["base_question_id"], strict=True)]
    df.loc[mask, "misaligned"] = float("nan")
    return df


def export_inspect(run: RunDir, exp: Experiment, out: Path) -> list[Path]:
    """Write ``OUT/<model>[@step].eval`` for every model with answers; returns the paths."""
    try:
        from inspect_ai.log import write_eval_log
    except ImportError:
        raise MissingExtraError("inspect", "exporting Inspect logs") from None
    df = counted(run, exp)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for (model, step), d in df.groupby(["model", df["checkpoint"].fillna(-1)], sort=True):
        label = model if step == -1 else f"{model}@{int(step)}"
        path = out / f"{check_name(label.replace('@', '-at-'))}.eval"
        write_eval_log(_log(exp, label, d), str(path))
        paths.append(path)
    return paths


def _log(exp: Experiment, label: str, d: pd.DataFrame) -> Any:
    from inspect_ai.log import EvalConfig, EvalDataset, EvalLog, EvalMetric, EvalResults, EvalScore, EvalSpec

    samples = [_sample(r) for r in d.to_dict("records")]
    values = {name: d[name].dropna() for name in (*SCORES, "misaligned")}
    scores = []
    for name, v in values.items():
        metrics = {"mean": EvalMetric(name="mean", value=float(v.mean()) if len(v) else float("nan"))}
        if name == "misaligned":  # the report's per-seed number: mean over questions of each question's rate
            per_q = d.dropna(subset=["misaligned"]).groupby("base_question_id")["misaligned"].mean()
            metrics["mean_over_questions"] = EvalMetric(name="mean_over_questions",
                                                        value=float(per_q.mean()) if len(per_q) else float("nan"))
        scores.append(EvalScore(name=name, scorer="spillover", metrics=metrics, scored_samples=len(v)))
    spec = EvalSpec(created=datetime.now(UTC).isoformat(), task=exp.name, model=f"spillover/{label}",
                    dataset=EvalDataset(name=exp.name, samples=len(samples)), config=EvalConfig(),
                    metadata={"rule": exp.analysis.rules[0], "group": str(d["display_group"].iloc[0])})
    return EvalLog(eval=spec, status="success", samples=samples,
                   results=EvalResults(total_samples=len(samples), completed_samples=len(samples), scores=scores))


def _sample(r: dict[str, Any]) -> Any:
    from inspect_ai.log import EvalSample
    from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser, ModelOutput
    from inspect_ai.scorer import Score

    messages: list[Any] = [ChatMessageSystem(content=r["system"])] if r.get("system") else []
    messages += [ChatMessageUser(content=r["question"]), ChatMessageAssistant(content=r["answer"])]
    values = {name: r[name] for name in (*SCORES, "misaligned") if _number(r.get(name))}
    meta: dict[str, Any] = {k: r.get(k) if isinstance(r.get(k), str) else None
                            for k in ("group", "display_group", "base_question_id", "question_id", "variant", "label",
                                      "reason", "system")}
    meta.update({k: int(r[k]) if _number(r.get(k)) else None for k in ("seed", "checkpoint")})
    return EvalSample(id=r["key"], epoch=1, input=messages[:-1], target="", messages=messages,
                      output=ModelOutput.from_content(model="spillover", content=r["answer"]),
                      scores={name: Score(value=float(v)) for name, v in values.items()}, metadata=meta)


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and not math.isnan(float(x))
