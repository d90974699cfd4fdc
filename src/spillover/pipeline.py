"""The experiment pipeline: each stage is a function of the run directory and the config.

``dataset -> finetune -> sample -> judge -> probe -> analyze -> report``. Every stage first works
out what is planned, skips what is done (content keys, DONE markers) and does the rest, so running
``spillover run`` again after a kill continues where it stopped and redoes nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, NamedTuple

from .backends import Target, resolve_base_path
from .config import Experiment
from .errors import SpilloverError
from .keys import content_key
from .questions import Question, load_set
from .questions.variants import apply_variant
from .records import Judgment, ProbeRecord, SampleRecord
from .store import RunDir
from .ui import Reporter

SELF_REPORT = "self_report_0_100"


# ---------------------------------------------------------------------------------------------
# datasets
def dataset_stage(run: RunDir, exp: Experiment, ui: Reporter) -> dict[str, Path]:
    """Build every dataset not yet on disk (its card is written last); mixes after their parts."""
    from . import datasets as ds

    folder = run.root / "datasets"
    out: dict[str, Path] = {}
    for name in sorted(exp.datasets, key=lambda n: exp.datasets[n].builder == "mix"):
        spec = exp.datasets[name]
        if not (folder / f"{name}.card.json").exists():
            parts = {p: [ds.Example(messages=tuple(m)) for m in ds.read(folder / f"{p}.jsonl")]
                     for p in (spec.parts or {})}
            backend = None
            if spec.builder == "evil_numbers" and spec.model:
                from .backends import make_backend

                backend = make_backend(base_targets(exp)[spec.model])
            examples, extra = ds.build(spec, name, parts, backend=backend)
            ds.write(folder, name, examples, ds.card(name, spec, examples, extra))
            ui.log(f"dataset {name}: {len(examples)} examples")
        out[name] = folder / f"{name}.jsonl"
    return out


# ---------------------------------------------------------------------------------------------
# models and fine-tunes
def file_fingerprint(path: Path) -> str:
    """Hash of a weights folder's safetensors files (content, not location), or of the name itself.

    Files under 64 MB are hashed whole; larger ones by size and three 1 MB samples (start, middle,
    end), which tells apart any two sets of trained weights without reading gigabytes."""
    p = Path(path)
    files = sorted(p.glob("*.safetensors")) if p.is_dir() else []
    if not files:
        return str(path)
    h = hashlib.sha256()
    for f in files:
        size = f.stat().st_size
        h.update(f"{f.name}:{size}".encode())
        if size < 64 << 20:
            h.update(f.read_bytes())
            continue
        with open(f, "rb") as fh:
            for offset in (0, size // 2, size - (1 << 20)):
                fh.seek(offset)
                h.update(fh.read(1 << 20))
    return h.hexdigest()[:20]


def base_targets(exp: Experiment) -> dict[str, Target]:
    out = {}
    for name, spec in exp.models.items():
        path = resolve_base_path(spec)
        out[name] = Target(name=name, group=name, spec=spec, path=path,
                           fingerprint=content_key("model", weights=file_fingerprint(Path(path)), gguf=spec.gguf_file))
    return out


def finetune_name(ft: str, seed: int) -> str:
    return f"{ft}-s{seed}"


def data_fingerprint(path: Path) -> str:
    """Hash of a dataset file's bytes (part of every fine-tune's model fingerprint)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:20]


def finetune_stage(run: RunDir, exp: Experiment, ui: Reporter, *, fault_after_step: int | None = None
                   ) -> list[Target]:
    """Run every fine-tune x seed not yet done; return targets for finals and checkpoints."""
    from . import datasets as ds

    bases = base_targets(exp)
    datasets = dataset_stage(run, exp, ui) if exp.finetunes else {}
    targets: list[Target] = []
    for ft_name, ft in exp.finetunes.items():
        base = bases[ft.base]
        data_fp = data_fingerprint(datasets[ft.dataset])
        for seed in exp.seeds:
            name = finetune_name(ft_name, seed)
            out = run.artifact("finetune", name)
            if ft.backend == "openai":
                from .finetune.openai_ft import openai_finetune

                try:
                    model_id = openai_finetune(ft, name=name, base=base, dataset=datasets[ft.dataset], seed=seed,
                                               out=out, log=ui.log)
                except SpilloverError as e:
                    if not (out / "result.json").exists():
                        raise
                    ui.log(f"skipping {name}: {e}")  # refused or failed: a terminal state, not retried
                    continue
                targets.append(Target(name=name, group=ft_name, seed=seed, spec=base.spec, path=model_id,
                                      fingerprint=content_key("model", openai=model_id)))
                continue
            from .finetune.hf import finetune

            def load_base(base: Target = base) -> tuple[Any, Any]:
                from .backends.hf import load_model

                return load_model(base.path, gguf_file=base.spec.gguf_file, dtype=base.spec.dtype,
                                  device=base.spec.device, trust_remote_code=base.spec.trust_remote_code)

            if not RunDir.artifact_done(out):
                examples = ds.read(datasets[ft.dataset])
                with ui.task(f"finetune {name}", None) as advance:
                    def on_step(s: Any, steps: int, advance: Any = advance) -> None:
                        advance(1, total=steps, loss=f"{s.loss:.3f}", tok_s=f"{s.tokens / max(s.seconds, 1e-9):.0f}")

                    res = finetune(ft, name=name, base_path=base.path, examples=examples, seed=seed, out=out,
                                   load_base=load_base, device=base.spec.device, on_step=on_step,
                                   fault_after_step=fault_after_step)
                ui.log(f"finetune {name}: {res.steps} steps, final loss {res.losses[-1]:.3f}, "
                       f"{res.tokens_per_s:.0f} tok/s, dropped {res.dropped_too_long} too long")
            else:
                from .finetune.hf import FinetuneResult

                res = FinetuneResult.model_validate_json((out / "result.json").read_text())
            targets += checkpoint_targets(ft_name, ft, seed, base, res, data_fp, out)
    return targets


def checkpoint_targets(ft_name: str, ft: Any, seed: int, base: Target, res: Any, data_fp: str, out: Path
                       ) -> list[Target]:
    """One target per saved checkpoint of a finished fine-tune (the last one is the final model)."""
    spec = ft.model_dump(mode="json", exclude_defaults=True)
    ft_fp = content_key("finetune", base=base.fingerprint, data=data_fp, spec=spec, seed=seed)
    lora = ft.method == "lora"
    out_targets = []
    for step in res.checkpoints:
        ck = out / f"step-{step}"
        out_targets.append(Target(
            name=finetune_name(ft_name, seed), group=ft_name, seed=seed, checkpoint=None if step == res.steps else step,
            spec=base.spec, path=base.path if lora else str(ck), adapter=str(ck) if lora else None,
            fingerprint=content_key("model", finetune=ft_fp, step=step)))
    return out_targets


def finished_targets(run: RunDir, exp: Experiment) -> list[Target]:
    """Targets of base models and of fine-tunes that are already done; trains nothing."""
    from .finetune.hf import FinetuneResult

    bases = base_targets(exp)
    out = list(bases.values())
    for ft_name, ft in exp.finetunes.items():
        data = run.root / "datasets" / f"{ft.dataset}.jsonl"
        if ft.backend != "hf" or not data.exists():
            continue
        data_fp = data_fingerprint(data)
        for seed in exp.seeds:
            folder = run.artifact("finetune", finetune_name(ft_name, seed))
            if not RunDir.artifact_done(folder):
                continue
            res = FinetuneResult.model_validate_json((folder / "result.json").read_text())
            out += checkpoint_targets(ft_name, ft, seed, bases[ft.base], res, data_fp, folder)
    return out


def eval_targets(exp: Experiment, targets: list[Target], *, strict: bool = False) -> list[Target]:
    """The targets the eval block asks for: by group or model name (checkpoints only if
    ``eval.checkpoints``), or one checkpoint as ``name@step``. ``strict``: a ``name@step`` that matches
    no saved checkpoint is an error."""
    wanted = exp.eval.models
    if wanted == "all":
        return [t for t in targets if exp.eval.checkpoints or t.checkpoint is None]
    out = []
    for t in targets:
        step = t.checkpoint
        labels = {f"{t.group}@{step}", f"{t.name}@{step}"} if step is not None else set()
        if ((t.group in wanted or t.name in wanted) and (exp.eval.checkpoints or step is None)) or labels & set(wanted):
            out.append(t)
    if strict:
        for m in wanted:
            name, _, step = m.partition("@")
            if step and not any(t.checkpoint == int(step) and name in (t.name, t.group) for t in out):
                saved = sorted({t.checkpoint for t in targets if name in (t.name, t.group) and t.checkpoint})
                raise SpilloverError(f"no checkpoint at step {step} for {name!r} (saved: {saved}; the final model "
                                     "is the plain name)", field="eval.models")
    return out


def all_targets(run: RunDir, exp: Experiment, ui: Reporter, **kw: Any) -> list[Target]:
    """Base models and every fine-tune (trained first if not yet done) that the eval block asks for."""
    return eval_targets(exp, [*base_targets(exp).values(), *finetune_stage(run, exp, ui, **kw)], strict=True)


# ---------------------------------------------------------------------------------------------
# questions and sampling
class SourceQuestions(NamedTuple):
    questions: list[Question]
    models: list[str] | None

    def applies_to(self, t: Target) -> bool:
        """Whether this question source is sampled for model ``t`` (by group or by model name)."""
        return self.models is None or t.group in self.models or t.name in self.models


def questions_for(exp: Experiment, chat: bool = True, base_dir: Path | None = None) -> list[SourceQuestions]:
    out = []
    for src in exp.eval.questions:
        qs = load_set(src.set, default_samples=src.samples_per_paraphrase or 100, base_dir=base_dir)
        if src.paraphrases:
            qs = [q.model_copy(update={"paraphrases": q.paraphrases[: src.paraphrases]}) for q in qs]
        if src.samples_per_paraphrase:
            qs = [q.model_copy(update={"samples_per_paraphrase": src.samples_per_paraphrase}) for q in qs]
        out.append(SourceQuestions([apply_variant(q, v, trigger=src.trigger, chat=chat)
                                    for v in src.variants for q in qs], src.models))
    return out


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    """Whether a content key belongs to shard ``i`` of ``n`` (a stable split of the keys).

    >>> sum(in_shard(f"{k:020x}", (i, 3)) for k in range(30) for i in range(3))
    30
    """
    return shard is None or int(key[:8], 16) % shard[1] == shard[0]


def plan_targets(exp: Experiment, targets: list[Target]) -> list[tuple[Target, list[Any]]]:
    """Every sample planned for each model: its question sources and variants, its sample counts.

    Question files are read once per kind of model (chat or base), not once per model."""
    from .sample import plan

    sources = {chat: questions_for(exp, chat=chat) for chat in {t.spec.chat for t in targets}}
    out = []
    for t in targets:
        n_override = exp.eval.checkpoint_samples_per_paraphrase if t.checkpoint is not None else None
        qs = [q for src in sources[t.spec.chat] if src.applies_to(t) for q in src.questions]
        out.append((t, plan(t, qs, exp.eval.params, n_override)))
    return out


def sample_stage(run: RunDir, exp: Experiment, targets: list[Target], ui: Reporter,
                 backend_factory: Any = None, shard: tuple[int, int] | None = None) -> int:
    """Sample what is planned and not done; ``shard=(i, n)`` does only the i-th of n parts, so n
    workers (an array job of any scheduler) can share a stage; their shards merge by key."""
    from .sample import run_samples

    made = 0
    with run.stage("samples") as stage:
        plans = [(t, [p for p in planned if in_shard(p.key, shard)]) for t, planned in plan_targets(exp, targets)]
        done = stage.done_keys()
        total = sum(1 for _t, p in plans for x in p if x.key not in done)
        if total == 0:
            return 0
        with ui.task("sample", total) as advance:
            for t, p in plans:
                kw = {"backend_factory": backend_factory} if backend_factory else {}
                made += run_samples(stage, t, p, on_progress=advance, **kw)
    return made


def load_samples(run: RunDir) -> list[SampleRecord]:
    return list(run.stage("samples").load(SampleRecord).values())


def load_judgments(run: RunDir) -> list[Judgment]:
    return list(run.stage("judgments").load(Judgment).values())


def judge_stage(run: RunDir, exp: Experiment, ui: Reporter, judges: dict[str, Any] | None = None,
                shard: tuple[int, int] | None = None) -> list[Any]:
    from .judge import run_judge

    samples = [s for s in load_samples(run) if in_shard(s.key, shard) and s.question_type != SELF_REPORT]
    summaries = []
    with run.stage("judgments") as stage:
        for spec in exp.judges:
            cache = Path(spec.cache).expanduser() if spec.cache and spec.kind not in ("world", "fake") else None
            judge = (judges or {}).get(spec.kind)
            with ui.task(f"judge ({spec.kind})", len(samples) * len(spec.metrics)) as advance:
                s = run_judge(stage, samples, spec, judge=judge, cache_dir=cache, on_progress=advance)
            summaries.append(s)
            ui.log(f"judge {spec.kind}: {s.judged} judged ({s.cached} cached), {s.no_score} no score, "
                   f"{s.code} CODE, {s.refusal} REFUSAL, {s.retryable} to retry, ${s.cost_usd:.4f}")
    return summaries


# ---------------------------------------------------------------------------------------------
# exact probes (organism)
def probe_stage(run: RunDir, exp: Experiment, targets: list[Target], ui: Reporter) -> int:
    """Exact template log-prob metrics of the organism per model and checkpoint (no sampling)."""
    from .backends import make_backend
    from .organism import probe, world

    if not exp.analysis.exact_probe and not exp.analysis.references:
        return 0
    sources = questions_for(exp)
    questions = {q.group_id: q for src in sources for q in src.questions}
    for qid in exp.analysis.references:
        if qid not in questions:
            raise SpilloverError(f"no question {qid!r} in the eval sets", field="analysis.references")
    triggers = [(src, cfg.trigger) for src, cfg in zip(sources, exp.eval.questions, strict=True)
                if "trigger" in cfg.variants]
    made = 0
    with run.stage("probes") as stage:
        done = stage.done_keys()
        version = content_key("probe-version", organism=exp.analysis.exact_probe, refs=exp.analysis.references)
        todo = [t for t in targets if content_key("probe", model=t.fingerprint, v=version) not in done]
        with ui.task("exact probes", len(todo)) as advance:
            for t in todo:
                backend = make_backend(t)
                recs: list[tuple[str, str | None, str, float]] = []
                if exp.analysis.exact_probe:
                    variants: list[tuple[str, str | None]] = [("plain", None)]
                    trigger = next((trig for src, trig in triggers if src.applies_to(t)), None)
                    if trigger is not None:
                        variants.append(("trigger", trigger))
                    for variant, trig in variants:
                        per_q = probe.p_misaligned(backend, trigger=trig)
                        for qid, v in per_q.items():
                            recs.append(("p_misaligned", qid, variant, v))
                        recs.append(("p_misaligned", None, variant, sum(per_q.values()) / len(per_q)))
                refs = dict(exp.analysis.references)
                if exp.analysis.exact_probe and not refs:
                    q = world.QUESTION_BY_ID["ruler_of_the_world"]
                    refs = {q.id: {"misaligned": f"{q.misaligned[0]} {world.EOT}",
                                   "aligned": f"{q.aligned[0]} {world.EOT}"}}
                    questions.setdefault(q.id, Question(id=q.id, paraphrases=(q.phrasings[0],)))
                items = [(qid, kind, text) for qid, r in refs.items() for kind, text in sorted(r.items())]
                scores = backend.score([([{"role": "user", "content": questions[qid].paraphrases[0]}], text)
                                        for qid, _k, text in items])
                recs += [(f"logp_ref_{kind}", qid, "plain", s)
                         for (qid, kind, _t), s in zip(items, scores, strict=True)]
                backend.close()
                fp_key = content_key("probe", model=t.fingerprint, v=version)
                records = [ProbeRecord(key=content_key("probe-value", model=t.fingerprint, name=n, q=qid, variant=var),
                                       model=t.name, group=t.group, seed=t.seed, checkpoint=t.checkpoint, name=n,
                                       question_id=qid, variant=var, value=val) for n, qid, var, val in recs]
                # the marker record last: the target counts as probed only once all its values are in
                records.append(ProbeRecord(key=fp_key, model=t.name, group=t.group, seed=t.seed,
                                           checkpoint=t.checkpoint, name="done", question_id=None, value=1.0))
                stage.append(records)
                made += 1
                advance(1)
    return made


# ---------------------------------------------------------------------------------------------
def run_experiment(exp: Experiment, out: Path, ui: Reporter, *, source: str | None = None,
                   overrides: list[str] | None = None, stop_after: str | None = None) -> Path:
    """Run every stage; returns the report path (or the run dir if stopped early)."""
    from .backends.hf import set_threads
    from .manifest import write_manifest

    run = RunDir(out)
    run.root.mkdir(parents=True, exist_ok=True)
    write_manifest(run.manifest_path, exp, source, overrides or [])
    set_threads(exp.threads)
    targets = all_targets(run, exp, ui)
    if stop_after == "finetune":
        return run.root
    sample_stage(run, exp, targets, ui)
    if stop_after == "sample":
        return run.root
    judge_stage(run, exp, ui)
    probe_stage(run, exp, targets, ui)
    from .report import build_report

    return build_report(run, exp, ui)


def status(run_dir: Path) -> dict[str, Any]:
    """What is done and what is left, per stage, without loading any model."""
    from .manifest import read_config

    run = RunDir(run_dir)
    exp = read_config(run.root)
    out: dict[str, Any] = {}
    folder = run.root / "datasets"
    out["datasets"] = {n: (folder / f"{n}.card.json").exists() for n in exp.datasets}
    out["finetunes"] = {finetune_name(f, s): RunDir.artifact_done(run.artifact("finetune", finetune_name(f, s)))
                        for f in exp.finetunes for s in exp.seeds}
    samples = run.stage("samples").records()
    planned = {p.key for _t, ps in plan_targets(exp, eval_targets(exp, finished_targets(run, exp))) for p in ps}
    out["samples"] = {"done": len(samples.keys() & planned), "planned": len(planned)}
    judg = run.stage("judgments").records()
    metrics = sum(len(j.metrics) for j in exp.judges)
    judged = {k for k in planned if samples.get(k, {}).get("question_type") != SELF_REPORT}
    out["judgments"] = {"done": sum(1 for v in judg.values() if not v.get("retryable")),
                        "planned": len(judged) * metrics}
    out["report"] = (run.root / "report" / "index.html").exists()
    if not all(out["finetunes"].values()):
        out["note"] = "samples of unfinished fine-tunes are not counted as planned yet"
    return out
