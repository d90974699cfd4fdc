"""Plan checks of the inside view: which models can be hooked, steering layers in range, directions as
wide as the models they act on (read from configs without downloading; unknown shapes are not checked)."""

from __future__ import annotations

from ..config import Experiment
from ..errors import SpilloverError
from ..records import of_group

Problems = list[SpilloverError]


def inside(exp: Experiment) -> Problems:
    """Directions, variants, traces and weight changes read or hook a model's layers: the hf backend only."""
    from ..interventions import parse_all

    known = {n: m.backend for n, m in exp.models.items()}
    known |= {n: ft.backend if ft.backend != "hf" else known[ft.base] for n, ft in exp.finetunes.items()}

    def backend_of(name: str) -> str:  # a model, fine-tune, fine-tune-sSEED or display group
        match = max((k for k in known if of_group(name, k)), key=len, default=None)
        return known[match] if match else "hf"

    wanted = [(v.model, f"eval.variants.{i}") for i, v in enumerate(parse_all(exp.eval.variants))]
    wanted += [(g, f"inside.directions.{n}.groups.{j}") for n, d in exp.inside.directions.items()
               for j, g in enumerate(d.groups)]
    wanted += [(f, f"inside.{kind}.{j}") for kind in ("trace", "weights")
               for j, f in enumerate(getattr(exp.inside, kind))]
    out = [SpilloverError(f"{name!r} uses the {b} backend; directions, steering and ablation need the hf backend "
                          "(a model whose layers can be hooked)", field=field)
           for name, field in wanted if (b := backend_of(name)) != "hf"]
    return out + _layers_and_widths(exp)


def _layers_and_widths(exp: Experiment) -> Problems:
    """Steering layers within the model's 0..L, and directions as wide as the models they act on (where the
    models' configs are readable without a download)."""
    from ..interventions import parse_all
    from .sizes import shape

    def base_of(name: str) -> str | None:
        match = max((k for k in [*exp.models, *exp.finetunes] if of_group(name, k)),
                    key=len, default=None)
        return exp.finetunes[match].base if match in exp.finetunes else match

    out: Problems = []
    for i, v in enumerate(parse_all(exp.eval.variants)):
        base = base_of(v.model)
        got = shape(exp.models[base]) if base else None
        if got is None:
            continue
        layer = v.intervention.layer
        if layer is not None and not 0 <= layer <= got[0]:
            out.append(SpilloverError(f"{v.model}{v.intervention.suffix}: layer {layer} is out of range: models.{base} "
                                      f"has layers 0..{got[0]} (0 = embeddings)", field=f"eval.variants.{i}"))
        spec = exp.inside.directions.get(v.intervention.source)
        others = {b for g in (spec.groups if spec else []) if (b := base_of(g)) and b != base}
        for other in sorted(others):
            if (theirs := shape(exp.models[other])) is not None and theirs[1] != got[1]:
                out.append(SpilloverError(
                    f"{v.model}{v.intervention.suffix}: direction {v.intervention.source!r} comes from models.{other} "
                    f"(width {theirs[1]}), not as wide as models.{base} (width {got[1]})", field=f"eval.variants.{i}"))
    return out
