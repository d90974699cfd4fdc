"""The fine-tune stage: one unit per fine-tune x seed whose model is not finished.

A unit trains with the ``hf`` trainers (lean loop or TRL) or runs a provider's fine-tuning job
(``openai``); either way it writes ``RUN/finetune/NAME-sSEED/`` and its DONE marker last, so a
killed unit resumes from its own resume point and a finished one is never redone. An API job that
ended without a model (refused, failed) is a terminal state: reported, not retried.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import SpilloverError
from ..execute import Context, Unit
from ..targets import finetune_name

RUN = "spillover.finetune.stage:run"


def plan(ctx: Context) -> list[Unit]:
    """Every fine-tune x seed not yet finished (its dataset must be built); a defended one (``intervene``)
    once its direction is built, a continued one (``continues``) once its parent's seed is finished."""
    run, exp = ctx.run, ctx.exp
    units = []
    for ft_name, ft in exp.finetunes.items():
        if not run.dataset_card(ft.dataset).exists():
            raise SpilloverError(f"dataset {ft.dataset!r} is not built yet", field=f"finetunes.{ft_name}.dataset")
        if ft.intervene and ctx.targets.training_hook_key(ft_name) is None:
            continue  # its direction is built by the inside stage; the pipeline trains it after that
        gpus = 1.0 if ft.backend == "hf" and exp.models[ft.base].device != "cpu" else 0.0
        for seed in exp.seeds:
            name = finetune_name(ft_name, seed)
            if run.finetune_result(name) is None and not run.finetune_ended_without_model(name) \
                    and ctx.targets.start_of(ft_name, seed) is not None:  # else: after the one it continues
                units.append(Unit(RUN, name, (ft_name, seed), gpus))
    return units


def waves(ctx: Context) -> Iterator[list[Unit]]:
    """The units to train, wave by wave (the caller runs each before asking for the next): a continued
    fine-tune comes in the wave after its parent's seed."""
    trained: set[str] = set()
    while units := plan(ctx):
        if again := sorted(trained & {u.id for u in units}):
            raise SpilloverError(f"fine-tunes planned again after training: {', '.join(again)}")
        yield units
        trained |= {u.id for u in units}


def run(ctx: Context, payload: tuple[str, int], *, fault_after_step: int | None = None) -> str:
    """Train one fine-tune x seed; returns a one-line summary."""
    ft_name, seed = payload
    ctx.targets.check_data(ft_name, seed, record=True)
    if ctx.exp.finetunes[ft_name].backend == "openai":
        return _run_openai(ctx, ft_name, seed)
    return _run_hf(ctx, ft_name, seed, fault_after_step)


def _run_openai(ctx: Context, ft_name: str, seed: int) -> str:
    from .openai_ft import openai_finetune

    ft, name = ctx.exp.finetunes[ft_name], finetune_name(ft_name, seed)
    try:
        model_id = openai_finetune(ft, name=name, base=ctx.targets.bases[ft.base], dataset=ctx.run.dataset(ft.dataset),
                                   seed=seed, out=ctx.run.finetune_dir(name), log=ctx.ui.log)
    except SpilloverError as e:
        if not ctx.run.finetune_ended_without_model(name):
            raise
        return f"skipping {name}: {e}"  # refused or failed: a terminal state, not retried
    return f"finetune {name}: {model_id}"


def _run_hf(ctx: Context, ft_name: str, seed: int, fault_after_step: int | None) -> str:
    from ..store import read_jsonl
    from ..tracking import finetune_curves
    from .hf import finetune

    ft, name = ctx.exp.finetunes[ft_name], finetune_name(ft_name, seed)
    base = ctx.targets.start_of(ft_name, seed)
    if base is None:
        raise SpilloverError(f"{finetune_name(ft.continues or '', seed)} is not finished",
                             field=f"finetunes.{ft_name}.continues")

    def load_base() -> tuple[Any, Any]:
        from ..backends.hf_models import load_model

        return load_model(base.path, gguf_file=base.spec.gguf_file, dtype=base.spec.dtype,
                          device=base.spec.device, trust_remote_code=base.spec.trust_remote_code)

    config = {**ft.model_dump(mode="json"), "seed": seed, "base": base.path}
    with ctx.ui.task(f"finetune {name}", None) as advance, \
            finetune_curves(ctx.exp, ctx.run.root, name, ft_name, config) as track:
        def on_step(s: Any, steps: int) -> None:
            advance(1, total=steps, loss=f"{s.loss:.3f}", tok_s=f"{s.tokens / max(s.seconds, 1e-9):.0f}")
            track(s)

        examples = [o["messages"] for _, o in read_jsonl(ctx.run.dataset(ft.dataset))]
        val = ft.early_stop.validation if ft.early_stop else None
        validation = [o["messages"] for _, o in read_jsonl(ctx.run.dataset(val))] if val else None
        res = finetune(ft, name=name, base_path=base.path, examples=examples, seed=seed,
                       out=ctx.run.finetune_dir(name), load_base=load_base, device=base.spec.device,
                       on_step=on_step, fault_after_step=fault_after_step, hook=training_hook(ctx, ft_name),
                       validation=validation)
    stopped = f" (stopped early, validation loss {res.validation[-1][1]:.3f})" if res.stopped_early and \
        res.validation else ""
    return (f"finetune {name}: {res.steps} steps{stopped}, final loss {res.losses[-1]:.3f}, "
            f"{res.tokens_per_s:.0f} tok/s, dropped {res.dropped_too_long} too long")


def training_hook(ctx: Context, ft_name: str) -> Any:
    """The intervention a defended fine-tune trains with (None for others)."""
    from ..interventions import parse_suffix
    from ..vectors import load, mean_activation, mean_projections, pick
    from .hf import TrainingHook

    spec = ctx.exp.finetunes[ft_name].intervene
    if not spec:
        return None
    i = parse_suffix(spec)
    d = load(ctx.run.direction(i.source))
    vector, layer = pick(d, i)
    offsets = mean_projections(mean_activation(d, ctx.run.activations_dir), vector) if i.mean else None
    return TrainingHook(i, vector, layer, d.meta["key"], offsets)
