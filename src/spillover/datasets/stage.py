"""The dataset stage: build every dataset not yet on disk, in this process (cheap, seeded, ordered).

A dataset is done once its card exists (written after the data). Mixes and transforms are built after
the datasets they read (one level: a transform of a mix is not supported);
``evil_numbers`` loads its generator model here.
"""

from __future__ import annotations

from typing import Any

from ..execute import Context
from . import Example, build, card, read, write


def run_stage(ctx: Context) -> None:
    run, exp = ctx.run, ctx.exp
    for name in sorted(exp.datasets, key=lambda n: exp.datasets[n].builder in ("mix", "transform")):
        spec = exp.datasets[name]
        if run.dataset_card(name).exists():
            continue
        needs = [*(spec.parts or {}), *([spec.source] if spec.source else [])]
        parts = {p: [Example(messages=tuple(m)) for m in read(run.dataset(p))] for p in needs}
        backend: Any = None
        if spec.builder == "evil_numbers" and spec.model:
            from ..backends import make_backend

            backend = make_backend(ctx.targets.bases[spec.model])
        if spec.select is not None:
            from ..backends import make_backend

            backend = tuple(make_backend(ctx.targets.bases[m]) for m in (spec.select.aligned, spec.select.misaligned))
        try:
            if spec.select is not None:
                total = len(parts[spec.select.part])
                with ctx.ui.task(f"dataset {name}: score {spec.select.part} by {spec.select.by}", total) as advance:
                    examples, extra = build(spec, name, parts, backend=(*backend, advance))
            else:
                examples, extra = build(spec, name, parts, backend=backend)
        finally:
            for b in backend if isinstance(backend, tuple) else ():
                b.close()
        write(run.dataset(name).parent, name, examples, card(name, spec, examples, extra))
        ctx.ui.log(f"dataset {name}: {len(examples)} examples")
