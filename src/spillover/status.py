"""What is done and what is left in a run directory, per stage, without loading any model (``spillover
status``). Not guaranteed: samples of fine-tunes that are not finished yet are not counted as planned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .execute import open_context as context
from .targets import finetune_name
from .ui import Reporter


def status(run_dir: Path) -> dict[str, Any]:
    """What is done and what is left, per stage, without loading any model."""
    from .judge.stage import calls as judge_calls
    from .questions import UNJUDGED
    from .sample import plan_all

    ctx = context(run_dir, Reporter())
    run, exp = ctx.run, ctx.exp
    out: dict[str, Any] = {"datasets": {n: run.dataset_card(n).exists() for n in exp.datasets}}
    waiting = set(ctx.targets.unfinished())
    out["finetunes"] = {n: n not in waiting for n in (finetune_name(f, s) for f in exp.finetunes for s in exp.seeds)}
    samples = run.stage("samples").records()
    planned = {p.key: p for _t, ps in plan_all(exp, ctx.targets.for_eval()) for p in ps}
    out["samples"] = {"done": len(samples.keys() & planned), "planned": len(planned)}
    judg = run.stage("judgments").records()
    judged = [p.question.id for p in planned.values() if p.question.type not in UNJUDGED]
    out["judgments"] = {"done": sum(1 for v in judg.values() if not v.get("retryable")),
                        "to_retry": sum(1 for v in judg.values() if v.get("retryable")),
                        "planned": judge_calls(exp, judged)}
    if exp.inside.directions:
        out["directions"] = {n: run.direction(n).exists() for n in exp.inside.directions}
        out["variants_waiting"] = ctx.targets.waiting_variants()
    out["report"] = (run.report_dir / "index.html").exists()
    if not all(out["finetunes"].values()):
        out["note"] = "samples of unfinished fine-tunes are not counted as planned yet"
    return out
