"""The experiment file's cross-reference checks: every name that refers to nothing, one problem each.

Run by ``Experiment``'s validator; fields are dotted paths in the experiment file. They check names,
not whether a referenced model or file exists (``plan`` does that).
"""

from __future__ import annotations

from typing import Any, Protocol

from ..errors import SpilloverError, check_name, did_you_mean
from ..keys import canonical_json
from .analysis import AnalysisSpec
from .datasets import DatasetSpec
from .evaluation import EvalSpec, InsideSpec
from .finetune import FinetuneSpec
from .models import ModelSpec


class ExperimentParts(Protocol):
    """What the checks read of an experiment (``config.experiment.Experiment``)."""

    @property
    def seeds(self) -> list[int]: ...
    @property
    def models(self) -> dict[str, ModelSpec]: ...
    @property
    def datasets(self) -> dict[str, DatasetSpec]: ...
    @property
    def finetunes(self) -> dict[str, FinetuneSpec]: ...
    @property
    def eval(self) -> EvalSpec: ...
    @property
    def inside(self) -> InsideSpec: ...
    @property
    def analysis(self) -> AnalysisSpec: ...


class _Refs:
    """Collects the problems of names that refer to nothing, in the order they are found."""

    def __init__(self) -> None:
        self.out: list[SpilloverError] = []

    def __call__(self, field: str, name: Any, have: Any, what: str) -> None:
        if name not in have:
            self.problem(f"no {what} named {name!r}{did_you_mean(name, have)}", field)

    def problem(self, message: str, field: str) -> None:
        self.out.append(SpilloverError(message, field=field))


def reference_problems(exp: ExperimentParts) -> list[SpilloverError]:
    """Every name that refers to nothing (fields are dotted paths in the experiment file)."""
    ref = _Refs()
    for kind in ("models", "datasets", "finetunes"):
        for n in getattr(exp, kind):
            try:
                check_name(n)
            except SpilloverError as e:
                ref.problem(e.message, f"{kind}.{n}")
    _finetune_refs(exp, ref)
    _dataset_refs(exp, ref)
    for defended, baseline in exp.analysis.defences.items():
        ref(f"analysis.defences.{defended}", defended, exp.finetunes, "fine-tune")
        ref(f"analysis.defences.{defended}", baseline, exp.finetunes, "fine-tune")
    variants = {v for q in exp.eval.questions for v in q.variants if v != "plain"}
    groups = [*exp.models, *exp.finetunes]
    groups += [f"{g}-{v}" for g in groups for v in sorted(variants)]
    ref.out += inside_problems(exp, groups)
    for i, pair in enumerate(exp.analysis.compare):
        for j, g in enumerate(pair):
            ref(f"analysis.compare.{i}.{j}", g, groups, "group")
    _eval_model_refs(exp, ref)
    return ref.out


def _finetune_refs(exp: ExperimentParts, ref: _Refs) -> None:
    first: dict[str, str] = {}
    for name, ft in exp.finetunes.items():
        same = first.setdefault(canonical_json(ft.model_dump(mode="json", exclude_defaults=True)), name)
        if same != name:
            ref.problem(f"the same fine-tune as {same!r} (base, dataset and settings): one model, so one set of "
                        "samples; drop one or make them differ", f"finetunes.{name}")
        ref(f"finetunes.{name}.base", ft.base, exp.models, "model")
        if ft.base in exp.models and exp.models[ft.base].adapter:
            ref.problem("a model with an adapter is evaluated or scores data, never fine-tuned further",
                        f"finetunes.{name}.base")
        ref(f"finetunes.{name}.dataset", ft.dataset, exp.datasets, "dataset")
        if ft.continues is not None:
            _continues(exp, name, ref)
        if ft.early_stop and ft.early_stop.validation is not None:
            ref(f"finetunes.{name}.early_stop.validation", ft.early_stop.validation, exp.datasets, "dataset")


def _continues(exp: ExperimentParts, name: str, ref: _Refs) -> None:
    """A continued fine-tune: a full ``hf`` parent on the same base, and no chain that returns to itself."""
    ft, field = exp.finetunes[name], f"finetunes.{name}.continues"
    first = ft.continues or ""
    ref(field, first, [n for n in exp.finetunes if n != name], "other fine-tune")
    parent = exp.finetunes.get(first) if first != name else None
    if parent is None:
        return
    if parent.method != "full" or parent.backend != "hf" or ft.backend != "hf":
        ref.problem("only a full fine-tune of the hf backend is continued, by another hf fine-tune", field)
    elif parent.base != ft.base:
        ref.problem(f"base must be the base of {first!r} ({parent.base!r}), not {ft.base!r}",
                    f"finetunes.{name}.base")
    seen = {name, first}
    at: FinetuneSpec | None = parent
    while at is not None and at.continues is not None:
        if at.continues in seen:
            if at.continues == name == min(seen):  # said once, by the cycle's first name
                ref.problem("a chain of continued fine-tunes returns to itself", field)
            return
        seen.add(at.continues)
        at = exp.finetunes.get(at.continues)


def _dataset_refs(exp: ExperimentParts, ref: _Refs) -> None:
    for name, ds in exp.datasets.items():
        others = [d for d in exp.datasets if d != name]
        if ds.builder == "evil_numbers":
            ref(f"datasets.{name}.model", ds.model, exp.models, "model")
        if ds.builder == "transform":
            ref(f"datasets.{name}.source", ds.source, others, "other dataset")
            if ds.transform is None:
                ref.problem("a transform needs transform: decorrelate_trigger or reversal_augment",
                            f"datasets.{name}.transform")
        for part in ds.parts or {}:
            ref(f"datasets.{name}.parts.{part}", part, others, "other dataset")
        if ds.select is not None:
            ref(f"datasets.{name}.select.aligned", ds.select.aligned, exp.models, "model")
            ref(f"datasets.{name}.select.misaligned", ds.select.misaligned, exp.models, "model")


def _eval_model_refs(exp: ExperimentParts, ref: _Refs) -> None:
    if exp.eval.models == "all":
        return
    names = [*exp.models, *exp.finetunes, *(f"{f}-s{s}" for f in exp.finetunes for s in exp.seeds)]
    for i, m in enumerate(exp.eval.models):
        name, _, step = m.partition("@")
        if name not in names or (step and not step.isdigit()):
            ref.problem(f"{m!r} is not a model, fine-tune, fine-tune-sSEED or NAME@STEP" + did_you_mean(name, names),
                        f"eval.models.{i}")


def defence_problems(exp: ExperimentParts) -> list[SpilloverError]:
    """Fine-tunes defended with a direction (``intervene``) that name none the run builds, or their own."""
    from ..interventions import parse_suffix
    from ..records import of_group

    out = []
    for name, ft in exp.finetunes.items():
        if ft.intervene is None:
            continue
        try:
            source = parse_suffix(ft.intervene).source
        except SpilloverError:
            out.append(SpilloverError(f"{ft.intervene!r} is not +steer(DIR,LAYER,SCALE) or -ablate(DIR[,LAYER])",
                                      field=f"finetunes.{name}.intervene"))
            continue
        if source not in exp.inside.directions:
            out.append(SpilloverError(f"no direction {source!r} in inside.directions (a defence needs one the run "
                                      "builds)" + did_you_mean(source, exp.inside.directions),
                                      field=f"finetunes.{name}.intervene"))
        elif any(of_group(g, name) for g in exp.inside.directions[source].groups):
            out.append(SpilloverError(f"direction {source!r} is formed from this fine-tune's own answers",
                                      field=f"finetunes.{name}.intervene"))
    return out


def inside_problems(exp: ExperimentParts, groups: list[str]) -> list[SpilloverError]:
    """Variants, directions, traces and weight changes that name nothing."""
    from ..interventions import expand, parse

    out = []
    models = [*exp.models, *exp.finetunes, *(f"{f}-s{s}" for f in exp.finetunes for s in exp.seeds)]
    for i, text in enumerate(exp.eval.variants):
        for one in expand(text):
            try:
                v = parse(one)
            except SpilloverError as e:
                out.append(SpilloverError(e.message, field=f"eval.variants.{i}"))
                continue
            if v.model not in models:
                out.append(SpilloverError(f"{one!r}: no model or fine-tune {v.model!r}{did_you_mean(v.model, models)}",
                                          field=f"eval.variants.{i}"))
            if v.intervention.source not in exp.inside.directions:
                out.append(SpilloverError(f"{one!r}: no direction {v.intervention.source!r} in inside.directions"
                                          + did_you_mean(v.intervention.source, exp.inside.directions),
                                          field=f"eval.variants.{i}"))
    out += defence_problems(exp)
    for name, d in exp.inside.directions.items():
        try:
            check_name(name)
        except SpilloverError as e:
            out.append(SpilloverError(e.message, field=f"inside.directions.{name}"))
        out += [SpilloverError(f"no group {g!r}{did_you_mean(g, groups)}", field=f"inside.directions.{name}.groups.{j}")
                for j, g in enumerate(d.groups) if g not in groups]
        if d.max_answers < d.min_answers:
            out.append(SpilloverError(f"max_answers {d.max_answers} < min_answers {d.min_answers}",
                                      field=f"inside.directions.{name}.max_answers"))
    for kind in ("trace", "weights"):
        out += [SpilloverError(f"no fine-tune {f!r}{did_you_mean(f, exp.finetunes)}", field=f"inside.{kind}.{j}")
                for j, f in enumerate(getattr(exp.inside, kind)) if f not in exp.finetunes]
    if exp.inside.trace and not exp.inside.directions:
        out.append(SpilloverError("inside.trace projects on directions, but inside.directions names none",
                                  field="inside.trace"))
    return out
