"""The inside stage: directions from judged answers, checkpoint projections, weight change.

Runs after the judge stage. Directions: one unit per direction x model gathers the activations of
that model's chosen answers (kept while sampling; answers sampled before the direction was asked for
are read teacher-forced) and saves them as a part; once every part is in, the direction file is
written. A direction's key hashes its spec and the chosen sample keys with their
models' fingerprints, so more samples or other thresholds make a new direction and finished parts
are reused. Traces (``inside.trace``) and weight change (``inside.weights``): one unit per fine-tune
seed, records keyed by model and direction. All units load models on the ``hf`` backend only.
"""

from __future__ import annotations

from typing import NamedTuple

from .. import vectors
from ..backends import Target
from ..execute import Context, Unit
from ..keys import content_key
from ..store import atomic_write_bytes
from . import directions as dirs
from .capture import prompt_of

PART = "spillover.inside.stage:run_part"


class InsidePlan(NamedTuple):
    units: list[Unit]
    """Direction parts and weight-change units left to do."""
    directions: dict[str, DirectionPlan]


class DirectionPlan(NamedTuple):
    key: str
    """Key of everything the direction depends on."""
    selection: dirs.Selection
    parts: list[tuple[str, Target]]
    """(part key, model) in a fixed order."""


def wanted(ctx: Context) -> bool:
    i = ctx.exp.inside
    return bool(i.directions or i.trace or i.weights)


def plan(ctx: Context) -> InsidePlan:
    """What the stage's first pass does: direction parts and weight change (traces need the directions)."""
    from . import weights

    directions = plan_directions(ctx)
    return InsidePlan(part_units(ctx, directions) + weights.plan(ctx), directions)


def finish(ctx: Context, p: InsidePlan) -> list[Unit]:
    """Write the directions whose parts are in; returns the trace units that can run now."""
    from . import trace

    for name in finish_directions(ctx, p.directions):
        d = vectors.load(ctx.run.direction(name))
        ctx.ui.log(f"direction {name}: layer {d.layer}, separation {float(d.separation[d.layer]):.2f}, "
                   f"{d.meta['used_per_class']} answers per class")
    return trace.plan(ctx)


def plan_directions(ctx: Context) -> dict[str, DirectionPlan]:
    """Every direction's answers and parts; too few answers is an error naming counts and thresholds."""
    from ..records import judged_scores
    from ..sample import current_samples

    if not ctx.exp.inside.directions:
        return {}
    samples, _ = current_samples(ctx.run, ctx.exp, ctx.targets.for_eval())
    scores = judged_scores(ctx.run.judgments())
    models = {t.name: t for t in ctx.targets.finished() if t.checkpoint is None}
    owner = {s.key: s.model for s in samples}
    out = {}
    for name, spec in ctx.exp.inside.directions.items():
        sel = dirs.select(samples, scores, name, spec)
        mine: dict[str, tuple[list[str], list[str]]] = {}
        for label, keys in enumerate((sel.misaligned, sel.aligned)):
            for k in keys:
                mine.setdefault(owner[k], ([], []))[label].append(k)
        parts = [(content_key("direction-part", model=models[m].fingerprint, mis=mis, ok=ok), models[m])
                 for m, (mis, ok) in sorted(mine.items())]
        key = content_key("direction", spec=spec.model_dump(mode="json"), parts=[k for k, _ in parts])
        out[name] = DirectionPlan(key, sel, parts)
    return out


def part_units(ctx: Context, plans: dict[str, DirectionPlan]) -> list[Unit]:
    """Parts not yet saved, one unit each (the payload carries the chosen answers)."""
    by_key = {s.key: s for s in ctx.run.samples()} if plans else {}
    units = []
    for name, p in plans.items():
        if vectors.file_key(ctx.run.direction(name)) == p.key:
            continue
        for part, t in p.parts:
            if ctx.run.direction_part(part).exists():
                continue
            items = [(k, by_key[k].question, by_key[k].system, by_key[k].answer, label)
                     for label, keys in (("misaligned", p.selection.misaligned), ("aligned", p.selection.aligned))
                     for k in keys if by_key[k].model == t.name]
            units.append(Unit(PART, f"{name}:{t.name}", (part, t, items), 1.0 if t.spec.device != "cpu" else 0.0))
    return units


def run_part(ctx: Context, payload: tuple[str, Target, list[tuple[str, str, str | None, str, str]]]) -> int:
    """Activations of one model's chosen answers, all layers, saved as one part file: those kept while
    sampling, the rest read teacher-forced (answers sampled before the direction was asked for)."""
    import torch
    from safetensors.torch import save

    key, target, items = payload
    kept = vectors.load_activations(ctx.run.activations_dir(target.name), {it[0] for it in items})
    missing = [it for it in items if it[0] not in kept]
    if missing:
        from ..backends import make_backend
        from ..backends.hooks import n_layers
        from .capture import answer_means

        backend = make_backend(target)
        try:
            layers = list(range(n_layers(backend.model) + 1))  # type: ignore[attr-defined]
            acts = answer_means(backend, [(prompt_of(target.spec.chat, q, s), a) for _k, q, s, a, _ in missing],
                                layers)
        finally:
            backend.close()
        kept.update({it[0]: acts[i] for i, it in enumerate(missing)})
    tensors = {label: torch.stack([kept[it[0]] for it in items if it[4] == label]).contiguous()
               for label in ("misaligned", "aligned") if any(it[4] == label for it in items)}
    path = ctx.run.direction_part(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, save(tensors))
    return len(items)


def finish_directions(ctx: Context, plans: dict[str, DirectionPlan]) -> list[str]:
    """Write every direction whose parts are all in; returns the names written now."""
    import torch
    from safetensors.torch import load_file

    written = []
    for name, p in plans.items():
        path = ctx.run.direction(name)
        if vectors.file_key(path) == p.key:
            continue
        loaded = [load_file(str(ctx.run.direction_part(k))) for k, _ in p.parts]
        mis = torch.cat([x["misaligned"] for x in loaded if "misaligned" in x])
        ok = torch.cat([x["aligned"] for x in loaded if "aligned" in x])
        spec = ctx.exp.inside.directions[name]
        meta = {"key": p.key, "name": name, "groups": spec.groups, "models": [t.name for _, t in p.parts],
                "found": dict(zip(("misaligned", "aligned", "coherent"), p.selection.found, strict=True)),
                "used_per_class": len(p.selection.misaligned), "spec": spec.model_dump(mode="json")}
        vectors.save(path, dirs.build(mis, ok, spec, meta))
        written.append(name)
    return written


