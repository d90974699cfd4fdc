"""Counts, tokens, dollars, memory and hours of an experiment, before (or part-way through) a run.

Counts are exact: the same planners the stages use, run on the fine-tunes' planned checkpoints.
Everything else is an estimate from ``rates.yaml`` (prices, GPU peak, utilisation) and, where the run
directory has them, measurements (answer lengths, fine-tune throughput). Not guaranteed: token counts
use characters / 4 rather than the model's tokenizer; GPU times and memory are first-order (FLOPs
and weight bytes, no activations beyond a fixed margin) and say which GPU they assume.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, NamedTuple

from ..backends.openai_util import is_local_server
from ..config import Experiment
from ..errors import SpilloverError
from ..rates import price, rates, usd
from ..store import RunDir
from .hours import Hours, prompt_tokens, sample_hours, train_hours
from .sizes import dataset_size, example_tokens, memory, tokens


class StageCount(NamedTuple):
    """Planned and finished units of one stage."""

    stage: str
    unit: str
    planned: int
    done: int
    detail: str = ""


class Spend(NamedTuple):
    """Tokens one paid (or local) activity uses; ``usd`` is None where the price is unknown."""

    what: str
    tokens_in: float
    tokens_out: float
    usd: float | None


class Plan(NamedTuple):
    """What ``spillover plan`` prints; ``problems`` make it exit 2."""

    counts: list[StageCount]
    spend: list[Spend]
    hours: list[Hours]
    memory: list[str]
    problems: list[SpilloverError]

    @property
    def usd(self) -> float:
        return sum(s.usd or 0.0 for s in self.spend)

    @property
    def unknown_prices(self) -> list[str]:
        return [s.what for s in self.spend if s.usd is None]


def planned_targets(exp: Experiment, run: RunDir | None) -> list[Any]:
    """Every model the eval block will sample: finished ones as they are, unfinished fine-tunes at the
    checkpoints their spec will save (placeholder fingerprints: their samples cannot be done yet)."""
    from ..backends import Target, resolve_base_path
    from ..finetune.common import step_plan
    from ..targets import Targets, finetune_name, select

    have = Targets(run, exp) if run and run.manifest_path.exists() else None
    bases = have.bases if have else {n: Target(name=n, group=n, spec=s, path=resolve_base_path(s),
                                               fingerprint=f"plan:{n}") for n, s in exp.models.items()}
    out = list(bases.values())
    for f, ft in exp.finetunes.items():
        steps, save_at = step_plan(ft, dataset_size(exp, ft.dataset, run))
        if ft.backend == "openai":
            save_at = {steps}
        for seed in exp.seeds:
            name = finetune_name(f, seed)
            if have and run and run.finetune_result(name) is not None and run.dataset(ft.dataset).exists():
                out += have.of_finetune(f, seed)
                continue
            out += [Target(name=name, group=f, seed=seed, checkpoint=None if s == steps else s,
                           spec=bases[ft.base].spec, path="(not trained)", fingerprint=f"plan:{name}@{s}")
                    for s in sorted(save_at)]
    return select(exp, out) + _variants(exp, out, have)


def _variants(exp: Experiment, targets: list[Any], have: Any) -> list[Any]:
    """The steered and ablated models: built ones as they are, the others as placeholders of their model."""
    from ..interventions import parse_all

    built = {t.name: t for t in have.variants()} if have else {}
    finals = [t for t in targets if t.checkpoint is None]
    return [built.get(t.name + v.intervention.suffix) or t.model_copy(update={
        "name": t.name + v.intervention.suffix, "group": t.group + v.intervention.suffix,
        "intervention": v.intervention, "fingerprint": f"plan:{t.name}{v.intervention.suffix}"})
        for v in parse_all(exp.eval.variants) for t in finals if v.model in (t.group, t.name)]


def make_plan(exp: Experiment, run_dir: Path | None = None, gpu: str = "A100-80GB",
              problems: list[SpilloverError] | None = None, workers: int | None = None) -> Plan:
    """Counts and estimates of every stage of ``exp``, given what ``run_dir`` already holds (``workers``:
    how many CPU workers run the organism's units; the local executor's default when None)."""
    from ..execute import default_workers
    from ..questions import UNJUDGED
    from ..sample import plan_all

    run = RunDir(run_dir) if run_dir is not None and Path(run_dir).is_dir() else None  # what a run would reuse
    workers = workers or default_workers()
    counts, spend, hours = _finetunes(exp, run, gpu, workers)
    targets = planned_targets(exp, run)
    planned = plan_all(exp, targets)
    records = run.stage("samples").records() if run else {}  # read once: done keys and answer lengths
    done = {k for k, v in records.items() if not v.get("retryable")}
    samples = [(t, p) for t, ps in planned for p in ps]
    left = [(t, p) for t, p in samples if p.key not in done]
    answer, basis = _answer_tokens(exp, records)
    n_ck = sum(1 for t in targets if t.checkpoint is not None)
    counts.append(StageCount("sample", "samples", len(samples), len(samples) - len(left),
                             f"{len(targets)} models incl. {n_ck} checkpoints; answers ≈ {answer:.0f} tokens "
                             f"({basis})"))
    spend += _sample_spend(left, answer)
    hours.append(sample_hours(left, answer, gpu, workers))
    judged = [(t, p) for t, p in samples if p.question.type not in UNJUDGED]
    j_counts, j_spend, j_hours = _judges(exp, run, judged, answer)
    return Plan(counts + j_counts, spend + j_spend, hours + j_hours, memory(exp, gpu), problems or [])


def _finetunes(exp: Experiment, run: RunDir | None, gpu: str, workers: int
               ) -> tuple[list[StageCount], list[Spend], list[Hours]]:
    """Datasets and fine-tunes: counts, training tokens, API training cost and hours."""
    from ..targets import finetune_name

    built = sum(1 for n in exp.datasets if run and run.dataset_card(n).exists())
    examples = sum(dataset_size(exp, n, run) for n in exp.datasets)
    counts = [StageCount("datasets", "datasets", len(exp.datasets), built, f"{examples:,} examples")]
    spend: list[Spend] = []
    left_tokens: dict[str, float] = {}
    total = 0.0
    n_done = 0
    for f, ft in exp.finetunes.items():
        per_seed = dataset_size(exp, ft.dataset, run) * ft.epochs * example_tokens(exp, ft.dataset, run)
        total += per_seed * len(exp.seeds)
        todo = [s for s in exp.seeds if not (run and run.finetune_result(finetune_name(f, s)) is not None)]
        n_done += len(exp.seeds) - len(todo)
        if ft.backend == "openai":
            model = exp.models[ft.base].path
            p = price(model)
            cost = None if p is None or p.training is None else per_seed * len(todo) * p.training / 1e6
            spend.append(Spend(f"fine-tune {f} ({model})", per_seed * len(todo), 0.0, cost))
        else:
            left_tokens[ft.base] = left_tokens.get(ft.base, 0.0) + per_seed * len(todo)
    counts.append(StageCount("finetune", "fine-tunes", len(exp.finetunes) * len(exp.seeds), n_done,
                             f"≈ {total / 1e6:.2f}M training tokens"))
    hours = [train_hours(exp, run, left_tokens, gpu, workers)] if exp.finetunes else []
    return counts, spend, hours


def _answer_tokens(exp: Experiment, records: dict[str, dict[str, Any]]) -> tuple[float, str]:
    """Mean answer length measured in the run's sample records, else a fraction of ``max_tokens``."""
    lens = [float(r["completion_tokens"]) for r in records.values() if r.get("completion_tokens")]
    if lens:
        return statistics.fmean(lens), "measured"
    share = rates()["answer_fraction"]
    return exp.eval.params.max_tokens * share, f"assumed {share:g} x max_tokens"


def _sample_spend(left: list[tuple[Any, Any]], answer: float) -> list[Spend]:
    by_model: dict[str, list[float]] = {}
    for t, p in left:
        if t.spec.backend == "openai" and not is_local_server(t.spec.base_url):
            by_model.setdefault(t.path, []).append(prompt_tokens(p))
    return [Spend(f"sample {m}", sum(v), answer * len(v), usd(sum(v), answer * len(v), price(m)))
            for m, v in by_model.items()]


def _judges(exp: Experiment, run: RunDir | None, judged: list[tuple[Any, Any]], answer: float
            ) -> tuple[list[StageCount], list[Spend], list[Hours]]:
    from ..judge import builtin_prompt
    from ..judge.stage import calls as judge_calls

    calls = judge_calls(exp, [p.question.id for _t, p in judged])
    done = 0
    if run is not None:
        done = sum(1 for v in run.stage("judgments").records().values() if not v.get("retryable"))
    left = max(0, calls - done) / max(calls, 1)
    counts = [StageCount("judge", "judge calls", calls, min(done, calls), f"{len(exp.judges)} judge(s)")]
    spend, hours = [], []
    q_tokens = statistics.fmean(prompt_tokens(p) for _t, p in judged) if judged else 0.0
    for j in exp.judges:
        if j.kind != "openai" or is_local_server(j.base_url):
            continue
        n = len(judged) * left
        tin = sum(n * (tokens(j.prompts.get(m) or _prompt_or_empty(builtin_prompt, m)) + q_tokens + answer)
                  for m in j.metrics)
        tout = n * len(j.metrics)
        spend.append(Spend(f"judge {j.model}", tin, tout, usd(tin, tout, price(j.model))))
        hours.append(Hours("judge", n * len(j.metrics) * rates()["api_seconds_per_call"] / j.concurrency / 3600,
                           f"{j.concurrency} concurrent calls, {rates()['api_seconds_per_call']} s each"))
    return counts, spend, hours


def _prompt_or_empty(fn: Any, metric: str) -> str:
    try:
        return fn(metric)
    except SpilloverError:
        return ""
