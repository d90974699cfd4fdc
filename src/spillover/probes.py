"""The probe stage: exact (sampling-free) log-probability measurements per model and checkpoint.

Three kinds, all scored by the backend without sampling: the organism's P(misaligned template)
(``analysis.exact_probe``, plain and with the trigger where a trigger variant is sampled, and the
narrow task's P(insecure code), its in-distribution curve, P(correct) on neutral questions, general
ability, and on thinking organisms P_mis split by whether the reasoning states an intent), the
log-probability of named reference answers (``analysis.references``, any ``hf`` model), and
``multiple_choice`` questions of the eval block under each system prompt of their source's grid
(:mod:`spillover.selfaware`). One unit
per model; its records end with a marker record, so a model counts as probed only once all its
values are in. Not guaranteed: P_mis means anything only for the organism's world.
"""

from __future__ import annotations

from collections.abc import Sequence

from .backends import Target, make_backend
from .errors import SpilloverError
from .execute import Context, Unit
from .keys import content_key
from .questions import Question
from .questions.sources import sources
from .records import ProbeRecord
from .sample import MULTIPLE_CHOICE, SELF_REPORT

RUN = "spillover.probes:run_unit"
SAMPLED_CHOICES = 20
"""Sampled answers per prompt for multiple choice on models without log-probabilities."""


def _choices(ctx: Context, t: Target | None = None) -> list[tuple[Question, str]]:
    """(self-report question, system name) pairs the eval block asks (of ``t``, when given): multiple
    choice, and 0-100 self-reports (also sampled) on models that give token probabilities."""
    return [(q, system) for src in sources(ctx.exp) if t is None or src.applies_to(t)
            for q in src.questions if q.type == MULTIPLE_CHOICE or (
                q.type == SELF_REPORT and (t is None or t.spec.backend == "hf") and not q.completion)
            for system in src.systems]


def _version(ctx: Context) -> str:
    a = ctx.exp.analysis
    mc = sorted(content_key("mc", q=q.model_dump(mode="json"), s=system) for q, system in _choices(ctx))
    return content_key("probe-version", organism=a.exact_probe, refs=a.references, code=a.exact_probe,
                       neutral=a.exact_probe, **({"plans": True} if a.exact_probe else {}),
                       **({"mc": mc} if mc else {}))


def wanted(ctx: Context) -> bool:
    """Whether the experiment asks for any probe (exact organism probes, references, multiple choice)."""
    return bool(ctx.exp.analysis.exact_probe or ctx.exp.analysis.references or _choices(ctx))


def digest(ctx: Context, targets: Sequence[Target]) -> str:
    """What a finished probe stage over ``targets`` records in ``probes/DONE``."""
    return content_key("probe-plan", v=_version(ctx), models=sorted(t.fingerprint for t in targets))


def plan(ctx: Context, targets: Sequence[Target]) -> list[Unit]:
    """One unit per model not yet probed; unknown reference questions fail here, before any work.
    A stage whose DONE marker holds this plan's digest is finished without reading its records."""
    a = ctx.exp.analysis
    if not wanted(ctx):
        return []
    if ctx.run.stage("probes").done_info().get("digest") == digest(ctx, targets):
        return []
    srcs = sources(ctx.exp)
    questions = {q.group_id: q.paraphrases[0] for src in srcs for q in src.questions}
    for qid, r in a.references.items():
        if qid not in questions and "question" not in r:
            raise SpilloverError(f"no question {qid!r} in the eval sets (or give its text as question:)",
                                 field=f"analysis.references.{qid}")
    refs = {qid: (r.get("question") or questions[qid], {k: v for k, v in r.items() if k != "question"})
            for qid, r in a.references.items()}
    version = _version(ctx)
    done = ctx.run.stage("probes").done_keys()
    units = []
    for t in targets:
        if content_key("probe", model=t.fingerprint, v=version) in done:
            continue
        if not (a.exact_probe or a.references) and not _choices(ctx, t):
            continue  # nothing to measure on this model: never load it
        trigger = next((src.trigger for src in srcs if src.trigger is not None and src.applies_to(t)), None)
        units.append(Unit(RUN, t.label, (t, trigger, refs if (a.exact_probe or a.references) else {})))
    return units


def run_unit(ctx: Context, payload: tuple[Target, str | None, dict[str, tuple[str, dict[str, str]]]]) -> int:
    """Measure one model; returns the number of values written."""
    from .organism import probe
    from .selfaware.measure import SYSTEMS, measure, number_report

    t, trigger, refs = payload
    backend = make_backend(t)
    try:
        values = probe.p_misaligned_values(backend, trigger) if ctx.exp.analysis.exact_probe else []
        if ctx.exp.analysis.exact_probe:
            values.append(probe.Value("p_insecure_code", None, "plain", probe.p_insecure_code(backend)))
            values.append(probe.Value("p_neutral_correct", None, "plain", probe.p_neutral_correct(backend)))
            values += probe.p_misaligned_by_plan(backend) if probe.thinks(backend) else []
        if ctx.exp.analysis.exact_probe and not refs:
            refs = probe.default_references()
        items = [(qid, question, kind, text) for qid, (question, r) in refs.items() for kind, text in sorted(r.items())]
        scores = backend.score([([{"role": "user", "content": question}], text)
                                for _q, question, _k, text in items]) if items else []
        values += [probe.Value(f"logp_ref_{kind}", qid, "plain", s)
                   for (qid, _q, kind, _t), s in zip(items, scores, strict=True)]
        for q, system in _choices(ctx, t):
            sys_prompt = SYSTEMS[system] if q.type == MULTIPLE_CHOICE or system != "neutral" else q.system
            m = measure(backend, q, sys_prompt, None if t.spec.logprobs else SAMPLED_CHOICES) \
                if q.type == MULTIPLE_CHOICE else number_report(backend, q, sys_prompt)
            values.append(probe.Value("mc" if q.type == MULTIPLE_CHOICE else "self_report_ev", q.id, system, m.score,
                                      {"invalid": m.invalid, "per_paraphrase": m.per_paraphrase}))
    finally:
        backend.close()
    who = t.identity().model_dump()
    records = [ProbeRecord(key=content_key("probe-value", model=t.fingerprint, name=v.name, q=v.question_id,
                                           variant=v.variant), **who, name=v.name, question_id=v.question_id,
                           variant=v.variant, value=v.value, extra=v.extra) for v in values]
    # the marker record last: the model counts as probed only once all its values are in
    records.append(ProbeRecord(key=content_key("probe", model=t.fingerprint, v=_version(ctx)), **who, name="done",
                               question_id=None, value=1.0))
    with ctx.run.stage("probes") as stage:
        stage.append(records)
    return len(values)
