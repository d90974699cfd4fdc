"""Checkpoint projections: does a fine-tune's representation move along a direction before its answers do?

For each traced fine-tune and seed, the base model (step 0; for a continued fine-tune, the model it starts
from) and every checkpoint read the eval's plain
free-form prompts; the activation at the last prompt token (where the answer starts) is averaged
over prompts and projected on each direction's unit vector at the direction's layer. Answers are not
involved, so the projection is a leading indicator only if it moves before the misaligned rate does
(``analyze.inside`` compares the two). Not guaranteed: that prompts beyond the eval's behave alike.
"""

from __future__ import annotations

from typing import Any

from .. import vectors
from ..backends import GenRequest, Target, make_backend
from ..execute import Context, Unit
from ..keys import content_key
from ..records import ProjectionRecord
from .capture import prompt_of

RUN = "spillover.inside.trace:run_unit"


def prompts(ctx: Context, t: Target) -> list[GenRequest]:
    """The plain free-form prompts of the eval that ``t`` is asked (every paraphrase)."""
    from ..questions.sources import sources
    from ..sample import MULTIPLE_CHOICE, SELF_REPORT

    seen: dict[tuple[str, str | None], GenRequest] = {}
    for src in sources(ctx.exp, chat=t.spec.chat):
        if not src.applies_to(t):
            continue
        for q in src.questions:
            if q.variant == "plain" and q.type not in (MULTIPLE_CHOICE, SELF_REPORT):
                for text in q.paraphrases:
                    seen.setdefault((text, q.system), prompt_of(t.spec.chat, text, q.system))
    return list(seen.values())


def plan(ctx: Context) -> list[Unit]:
    """One unit per traced fine-tune seed with a checkpoint x direction not yet projected."""
    made = {d: (ctx.run.direction(d), key) for d in ctx.exp.inside.directions
            if (key := vectors.file_key(ctx.run.direction(d))) is not None}
    if not made or not ctx.exp.inside.trace:
        return []
    done = ctx.run.stage("projections").done_keys()
    units = []
    for ft in ctx.exp.inside.trace:
        for seed in ctx.exp.seeds:
            base = ctx.targets.start_of(ft, seed)  # a continued fine-tune's trajectory starts at its parent
            models = [base, *ctx.targets.of_finetune(ft, seed)] if base is not None else []
            if len(models) <= 1:
                continue
            reqs = prompts(ctx, models[1])
            pkey = content_key("trace-prompts", p=[r.model_dump(mode="json") for r in reqs])
            todo = [(t, d, content_key("projection", model=t.fingerprint, direction=key, prompts=pkey))
                    for t in models for d, (_p, key) in made.items()]
            todo = [x for x in todo if x[2] not in done]
            if todo:
                paths = {d: str(p) for d, (p, _k) in made.items()}
                units.append(Unit(RUN, f"trace:{ft}-s{seed}", (ft, todo, reqs, paths)))
    return units


def run_unit(ctx: Context, payload: tuple[str, list[tuple[Target, str, str]], list[GenRequest], dict[str, str]]) -> int:
    """Project each model of one fine-tune's history on the directions it still lacks."""
    from pathlib import Path

    from .capture import prompt_last

    ft, todo, reqs, paths = payload
    loaded = {d: vectors.load(Path(p)) for d, p in paths.items()}
    steps = _steps(ctx, todo)
    records = []
    for t in dict.fromkeys(t for t, _d, _k in todo):
        backend: Any = make_backend(t)
        try:
            mine = [(d, k) for u, d, k in todo if u == t]
            layers = sorted({loaded[d].layer for d, _k in mine})
            acts = prompt_last(backend, reqs, layers).mean(dim=0)  # [layers, d]
        finally:
            backend.close()
        for d, k in mine:
            v = loaded[d].vectors[loaded[d].layer]
            proj = float(acts[layers.index(loaded[d].layer)] @ (v / v.norm().clamp_min(1e-12)))
            records.append(ProjectionRecord(key=k, **t.identity().model_dump(), direction=d,
                                            traced=ft if t.seed is not None else "", layer=loaded[d].layer,
                                            step=steps[t.label], projection=proj, prompts=len(reqs)))
    with ctx.run.stage("projections") as stage:
        return stage.append(records)


def _steps(ctx: Context, todo: list[tuple[Target, str, str]]) -> dict[str, int]:
    """Training step of each model (0 for the base, the last step for a final model)."""
    out = {}
    for t, _d, _k in todo:
        res = ctx.run.finetune_result(t.name) if t.seed is not None else None
        out[t.label] = 0 if res is None else (t.checkpoint if t.checkpoint is not None else int(res["steps"]))
    return out
