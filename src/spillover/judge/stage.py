"""The judge stage: every sample (self-reports excepted) on every metric of every judge, in this process.

Judges are I/O-bound (API servers) or tiny (the world judge), so the stage runs where it is called,
each judge with its own request concurrency. ``judgments/DONE`` records a digest of the samples and
judges it covered; a rerun with the same digest reads nothing. Judgments that outlived their retries
(``retryable``) keep the stage from being marked done, so the next run asks again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import Experiment
from ..execute import Context
from ..keys import content_key
from ..questions import UNJUDGED
from ..rates import price
from ..sample import in_shard
from . import JudgeSummary, run_judge


def run_stage(ctx: Context, *, sample_digest: str | None = None, judges: dict[str, Any] | None = None,
              shard: tuple[int, int] | None = None) -> list[JudgeSummary]:
    """Judge what is not judged yet. ``sample_digest`` (the sample stage's plan) lets a finished stage
    be skipped without reading; ``judges`` overrides judge objects by kind (fault injection)."""
    run, exp, ui = ctx.run, ctx.exp, ctx.ui
    own = question_prompts(exp)
    digest = content_key("judge-plan", samples=sample_digest, own=own,
                         judges=[j.model_dump(mode="json", exclude_defaults=True) for j in exp.judges])
    stage = run.stage("judgments")
    if sample_digest is not None and shard is None and stage.done_info().get("digest") == digest:
        return []
    samples = [s for s in run.samples() if in_shard(s.key, shard) and s.question_type not in UNJUDGED]
    summaries = []
    with stage:
        for spec in exp.judges:
            cache = Path(spec.cache).expanduser() if spec.cache and spec.kind not in ("world", "fake") else None
            judge = (judges or {}).get(spec.kind)
            with ui.task(f"judge ({spec.kind})", len(samples) * len(spec.metrics)) as advance:
                s = run_judge(stage, samples, spec, judge=judge, cache_dir=cache, on_progress=advance,
                              question_prompts=own)
            summaries.append(s)
            if s.judged:
                priced = spec.kind != "openai" or price(spec.model) is not None
                cost = f"${s.cost_usd:.4f}" if priced else f"cost unknown (no price for {spec.model})"
                ui.log(f"judge {spec.kind}: {s.judged} judged ({s.cached} cached), {s.no_score} no score, "
                       f"{s.code} CODE, {s.refusal} REFUSAL, {s.retryable} to retry, {cost}")
    if sample_digest is not None and shard is None and not any(s.retryable for s in summaries):
        stage.mark_done(digest=digest)
    return summaries


def question_prompts(exp: Experiment) -> dict[str, dict[str, str]]:
    """Question id (variants included) -> its own ``judge_prompts``, for questions that have them."""
    from ..questions.sources import by_question

    return by_question(exp, "judge_prompts")


def calls(exp: Experiment, question_ids: list[str], own: dict[str, dict[str, str]] | None = None) -> int:
    """Judge calls planned for samples of these questions (one per judge x metric; a question's own
    judge prompts replace the metrics of every judge that reads prompts)."""
    own = question_prompts(exp) if own is None else own
    return sum(len(own[q]) if q in own and j.kind != "world" else len(j.metrics)
               for q in question_ids for j in exp.judges)
