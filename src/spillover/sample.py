"""The sample stage: question x paraphrase x sample index -> completions, content-keyed and resumable.

A sample's key hashes the model fingerprint (base weights, fine-tune and checkpoint), the exact
prompt (system + user text or completion prompt), the sample index and the generation params. The
stage reads its records once, plans ``planned - done`` as one unit per model with work left (a model
is loaded only then), and records are appended (fsynced) after every chunk, so a kill loses at most
one chunk. When nothing is left, ``samples/DONE`` records a digest of the plan: a rerun with the same
plan skips reading the records at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from .backends import Backend, GenParams, GenRequest, Target, make_backend
from .config import Experiment
from .execute import Context, Unit
from .keys import canonical_json, content_key
from .questions import Question
from .questions.sources import sources
from .reasoning import split_thinking
from .records import SampleRecord, of_group
from .store import RunDir, Stage

SELF_REPORT = "self_report_0_100"
MULTIPLE_CHOICE = "multiple_choice"
RUN = "spillover.sample:run_unit"



class Planned(NamedTuple):
    key: str
    question: Question
    paraphrase_index: int
    sample_index: int
    params: GenParams
    messages: tuple[dict[str, str], ...] | None
    prompt: str | None


def plan(target: Target, questions: Sequence[Question], params: GenParams,
         samples_override: int | None = None) -> list[Planned]:
    out = []
    for q in questions:
        if q.type == MULTIPLE_CHOICE:  # scored from token probabilities by the probe stage, never sampled
            continue
        update: dict = {}
        if q.temperature is not None:
            update["temperature"] = q.temperature
        if q.max_tokens is not None:
            update["max_tokens"] = q.max_tokens
        if q.stop:
            update["stop"] = tuple(params.stop) + tuple(q.stop)
        p = params.model_copy(update=update)
        params_json = p.model_dump(mode="json", exclude_defaults=True)
        n = samples_override or q.samples_per_paraphrase or 1
        for pi, text in enumerate(q.paraphrases):
            if q.completion:
                messages, prompt = None, text
            else:
                msgs = ([{"role": "system", "content": q.system}] if q.system else []) + [
                    {"role": "user", "content": text}]
                messages, prompt = tuple(msgs), None
            for si in range(n):
                key = content_key("sample", model=target.fingerprint, messages=messages, prompt=prompt,
                                  index=si, params=params_json)
                out.append(Planned(key, q, pi, si, p, messages, prompt))
    return out


class StagePlan(NamedTuple):
    """The units left to do and a digest of everything planned (for the stage's DONE marker)."""

    units: list[Unit]
    digest: str
    planned: int


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    """Whether a content key belongs to shard ``i`` of ``n`` (a stable split of the keys).

    >>> sum(in_shard(f"{k:020x}", (i, 3)) for k in range(30) for i in range(3))
    30
    """
    return shard is None or int(key[:8], 16) % shard[1] == shard[0]


def plan_all(exp: Experiment, targets: Sequence[Target]) -> list[tuple[Target, list[Planned]]]:
    """Every sample planned for each model. Question files are read once per kind of model (chat or
    base), not once per model."""
    srcs = {chat: sources(exp, chat=chat) for chat in {t.spec.chat for t in targets}}
    out = []
    for t in targets:
        n_override = exp.eval.checkpoint_samples_per_paraphrase if t.checkpoint is not None else None
        qs = [q for src in srcs[t.spec.chat] if src.applies_to(t) for q in src.questions]
        out.append((t, plan(t, qs, exp.eval.params, n_override)))
    return out


def current_samples(run: RunDir, exp: Experiment, targets: Sequence[Target]) -> tuple[list[SampleRecord], int]:
    """The samples the config plans now for ``targets`` (the run's ``for_eval()``), and how many recorded
    ones it no longer plans (a question file edited, a setting changed): those stay on disk and out of
    every number. A folder without a manifest (records assembled by hand) is taken whole."""
    samples = run.samples()
    if not run.manifest_path.exists():
        return samples, 0
    keys = {p.key for _t, ps in plan_all(exp, targets) for p in ps}
    current = [s for s in samples if s.key in keys]
    return current, len(samples) - len(current)


def plan_stage(ctx: Context, targets: Sequence[Target], shard: tuple[int, int] | None = None) -> StagePlan:
    """One unit per model with samples left (of shard ``(i, n)`` only, when given)."""
    plans = [(t, [p for p in ps if in_shard(p.key, shard)]) for t, ps in plan_all(ctx.exp, targets)]
    digest = content_key("sample-plan", keys=sorted(p.key for _t, ps in plans for p in ps))
    planned = sum(len(ps) for _t, ps in plans)
    stage = ctx.run.stage("samples")
    if stage.is_done() and stage.done_info().get("digest") == digest:
        return StagePlan([], digest, planned)
    done = stage.done_keys()
    units = [Unit(RUN, t.label, (t, todo), 1.0 if t.spec.device != "cpu" else 0.0)
             for t, ps in plans if (todo := [p for p in ps if p.key not in done])]
    return StagePlan(units, digest, planned)


def run_unit(ctx: Context, payload: tuple[Target, list[Planned]]) -> int:
    """Sample one model's planned samples (all not yet done, as planned); models whose answers form a
    direction keep each answer's activations beside the records."""
    target, todo = payload
    keep = None
    if captures(ctx.exp, target):
        def keep(keys: list[str], rows: list[list[list[float]]]) -> None:
            from . import vectors

            vectors.save_activations(ctx.run.activations(target.name, content_key("activations", keys=keys)),
                                     keys, rows)
    with ctx.run.stage("samples") as stage:
        return run_samples(stage, target, todo, done=set(), keep_activations=keep)


def captures(exp: Experiment, t: Target) -> bool:
    """Whether ``t``'s answers feed a direction (``inside.directions``): its activations are read while
    sampling (``hf`` final models, not intervened)."""
    groups = {g for d in exp.inside.directions.values() for g in d.groups}
    return (t.spec.backend == "hf" and t.checkpoint is None and t.intervention is None
            and any(of_group(g, t.group) for g in groups))


def seed_of(key: str) -> int:
    return int(key[:15], 16)


def _chunk(backend: Backend, part: Sequence[Planned], who: dict[str, object], capture: bool
           ) -> tuple[list[SampleRecord], list[list[list[float]]]]:
    """Records (and, with ``capture``, activations) of one chunk, grouped by params and prompt."""
    by_params: dict[str, dict[str, list[Planned]]] = {}
    for p in part:
        by_params.setdefault(canonical_json(p.params), {}).setdefault(
            canonical_json([p.messages, p.prompt]), []).append(p)
    records, acts = [], []
    for prompts in by_params.values():
        groups = list(prompts.values())
        params = groups[0][0].params
        reqs = [GenRequest(messages=g[0].messages, prompt=g[0].prompt,
                           seeds=tuple(seed_of(p.key) for p in g)) for g in groups]
        results = backend.generate(reqs, params, capture=True) if capture else backend.generate(  # type: ignore[call-arg]
            reqs, params)
        for g, comps in zip(groups, results, strict=True):
            for p, c in zip(g, comps, strict=True):
                answer, thinking, issue = split_thinking(c.text)
                q = p.question
                records.append(SampleRecord(
                    key=p.key, **who, question_id=q.id, base_question_id=q.group_id,  # type: ignore[arg-type]
                    variant=q.variant, question_type=q.type, category=q.category,
                    paraphrase_index=p.paraphrase_index,
                    sample_index=p.sample_index, question=q.paraphrases[p.paraphrase_index],
                    system=q.system, answer=answer, thinking=thinking, thinking_issue=issue,
                    finish_reason=c.finish_reason,
                    prompt_tokens=c.prompt_tokens, completion_tokens=c.completion_tokens))
                if capture and c.activations is not None:
                    acts.append(c.activations)
    return records, acts


def run_samples(
    stage: Stage,
    target: Target,
    planned: Sequence[Planned],
    *,
    backend_factory: Callable[[Target], Backend] = make_backend,
    chunk: int = 512,
    on_progress: Callable[[int], None] | None = None,
    done: set[str] | None = None,
    keep_activations: Callable[[list[str], list[list[list[float]]]], None] | None = None,
) -> int:
    """Generate every planned sample not yet in ``stage`` (or not in ``done``, when the caller has
    read the stage already); returns how many were generated. ``keep_activations(keys, rows)``: each
    chunk's answer activations, saved before its records (a record implies its activations)."""
    done = stage.done_keys() if done is None else done
    todo = [p for p in planned if p.key not in done]
    if not todo:
        return 0
    backend = backend_factory(target)
    who = target.identity().model_dump()
    made = 0
    try:
        for i in range(0, len(todo), chunk):
            records, acts = _chunk(backend, todo[i : i + chunk], who, keep_activations is not None)
            if keep_activations is not None and len(acts) == len(records):
                keep_activations([r.key for r in records], acts)
            stage.append(records)
            made += len(records)
            if on_progress:
                on_progress(len(records))
    finally:
        backend.close()
    return made
