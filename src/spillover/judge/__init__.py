"""The judge stage: every sample x judge x metric -> a :class:`~spillover.records.Judgment`.

A judgment's key hashes the sample key, the judge identity, the metric and the prompt template, so
a changed prompt re-judges without re-sampling. A cross-run cache keyed by (judge, prompt, metric,
question, answer) means the same answer is never paid for twice. Transient failures that outlive
their retries are recorded with ``retryable=True`` and judged again on the next run; everything
else (no logprobs, low numeric mass, empty answer) is a final judgment with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from ..config import JudgeSpec
from ..errors import SpilloverError
from ..keys import content_key, text_hash
from ..records import Judgment, SampleRecord
from ..store import Stage
from .score import JudgeScore


def builtin_prompt(metric: str) -> str:
    path = resources.files(__package__) / "prompts" / f"{metric}.txt"
    if not path.is_file():
        raise SpilloverError(f"no built-in prompt for metric {metric!r}; give one under prompts",
                             field="judges.prompts")
    return path.read_text(encoding="utf-8")


class Verdict(NamedTuple):
    """What a judge returns for one item."""

    score: JudgeScore
    top_logprobs: dict[str, float] = {}
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    retryable: bool = False


class JudgeItem(NamedTuple):
    sample: SampleRecord
    metric: str
    template: str
    mode: str = "score"
    """``score``: a 0-100 number from logprobs; ``label``: a short reply kept as a label."""


LABELLED = "free_form_judge"
"""The question type whose own judge prompts ask for a label (TRUE/FALSE, a company name), not a number."""


def item_metrics(s: SampleRecord, spec: JudgeSpec, tmpl: dict[str, str], own: dict[str, dict[str, str]],
                 fixed: bool) -> list[tuple[str, str, str]]:
    """(metric, template, mode) for one sample: the question's own ``judge_prompts`` when it has them
    (and the judge reads prompts at all), else the judge's metrics."""
    prompts = own.get(s.question_id) if not fixed else None
    if prompts:
        mode = "label" if s.question_type == LABELLED else "score"
        return [(m, t, mode) for m, t in prompts.items()]
    return [(m, tmpl[m], "score") for m in spec.metrics]


class Judge(Protocol):
    name: str
    """Identity hashed into judgment keys (kind and model)."""

    def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]: ...


def _world(spec: JudgeSpec) -> Judge:
    from .world import WorldJudge

    return WorldJudge()


def _openai(spec: JudgeSpec) -> Judge:
    from .openai_judge import OpenAIJudge

    return OpenAIJudge(spec.model, base_url=spec.base_url, api_key_env=spec.api_key_env,
                       concurrency=spec.concurrency)


def _hf(spec: JudgeSpec) -> Judge:
    from .hf_judge import HFJudge

    return HFJudge(spec.model)


def _fake(spec: JudgeSpec) -> Judge:
    from .fake import FakeJudge

    return FakeJudge()


JUDGES: dict[str, Callable[[JudgeSpec], Judge]] = {"world": _world, "openai": _openai, "hf": _hf, "fake": _fake}
"""Judge kind -> factory (imports its module inside); the names are ``JudgeSpec.kind``'s."""


def make_judge(spec: JudgeSpec) -> Judge:
    if spec.kind not in JUDGES:
        raise SpilloverError(f"unknown judge kind {spec.kind!r}", field="judges.kind")
    return JUDGES[spec.kind](spec)


def templates(spec: JudgeSpec, judge: Judge, need: bool = True) -> dict[str, str]:
    """The judge's template per metric (``need=False``: metrics without a prompt map to "", for runs where
    every question brings its own)."""
    fixed = getattr(judge, "fixed_prompt", None)
    if fixed:
        return dict.fromkeys(spec.metrics, fixed)
    out = {}
    for m in spec.metrics:
        try:
            out[m] = spec.prompts.get(m) or builtin_prompt(m)
        except SpilloverError:
            if need:
                raise
            out[m] = ""
    return out


def judgment_key(sample_key: str, judge: str, metric: str, prompt_hash: str) -> str:
    return content_key("judgment", sample=sample_key, judge=judge, metric=metric, prompt=prompt_hash)


def cache_key(judge: str, metric: str, prompt_hash: str, s: SampleRecord) -> str:
    return content_key("judge-cache", judge=judge, metric=metric, prompt=prompt_hash, question=s.question,
                       system=s.system, answer=s.answer)


class JudgeSummary(NamedTuple):
    """What one judging call did: judgments written (of them from the cross-run cache, without a score,
    labelled CODE or REFUSAL, to retry) and their cost."""

    judged: int = 0
    cached: int = 0
    no_score: int = 0
    code: int = 0
    refusal: int = 0
    retryable: int = 0
    cost_usd: float = 0.0

    def add(self, recs: Sequence[Judgment]) -> JudgeSummary:
        """These counts plus ``recs``'.

        >>> JudgeSummary().add([]).judged
        0
        """
        return JudgeSummary(self.judged + len(recs), self.cached + sum(r.cached for r in recs),
                            self.no_score + sum(r.score is None for r in recs),
                            self.code + sum(r.label == "CODE" for r in recs),
                            self.refusal + sum(r.label == "REFUSAL" for r in recs),
                            self.retryable + sum(r.retryable for r in recs),
                            self.cost_usd + sum(r.cost_usd for r in recs))


def run_judge(
    stage: Stage,
    samples: Sequence[SampleRecord],
    spec: JudgeSpec,
    *,
    judge: Judge | None = None,
    cache_dir: Path | None = None,
    chunk: int = 256,
    on_progress: Callable[[int], None] | None = None,
    question_prompts: dict[str, dict[str, str]] | None = None,
) -> JudgeSummary:
    """Judge every (sample, metric) not yet judged; returns counts of this call's work. A question id in
    ``question_prompts`` is judged on its own metrics and prompts (hashed into the keys like any prompt)."""
    judge = judge or make_judge(spec)
    todo = _todo(stage, samples, spec, judge, question_prompts or {})
    cache = Stage(cache_dir, "judge") if cache_dir is not None else None
    cached = cache.records() if cache is not None else {}
    summary = JudgeSummary()
    try:
        for i in range(0, len(todo), chunk):
            recs = _judge_chunk(todo[i : i + chunk], judge, cached, cache)
            stage.append(recs)
            summary = summary.add(recs)
            if on_progress:
                on_progress(len(recs))
    finally:
        if cache is not None:
            cache.close()
    return summary


def _todo(stage: Stage, samples: Sequence[SampleRecord], spec: JudgeSpec, judge: Judge,
          own: dict[str, dict[str, str]]) -> list[tuple[str, JudgeItem]]:
    """Every (judgment key, item) not yet in ``stage``, in sample order."""
    fixed = bool(getattr(judge, "fixed_prompt", None))
    tmpl = templates(spec, judge, need=not own)
    done = stage.done_keys()
    todo = []
    for s in samples:
        for m, t, mode in item_metrics(s, spec, tmpl, own, fixed):
            if not t:
                raise SpilloverError(f"no prompt for metric {m!r} (question {s.question_id!r} has no judge_prompts)",
                                     field="judges.prompts")
            if (k := judgment_key(s.key, judge.name, m, text_hash(t))) not in done:
                todo.append((k, JudgeItem(s, m, t, mode)))
    return todo


def _judge_chunk(part: Sequence[tuple[str, JudgeItem]], judge: Judge, cached: dict[str, dict[str, Any]],
                 cache: Stage | None) -> list[Judgment]:
    """Judgments of one chunk, in order: from the cross-run cache where it has them, else from the judge
    (fresh non-retryable ones are added to the cache)."""
    out: list[Judgment | None] = [None] * len(part)
    ask = []
    for j, (key, it) in enumerate(part):
        hit = cached.get(cache_key(judge.name, it.metric, text_hash(it.template), it.sample))
        if hit is not None:
            out[j] = Judgment.model_validate({**hit, "key": key, "sample_key": it.sample.key, "cached": True,
                                              "cost_usd": 0.0})
        else:
            ask.append(j)
    verdicts = judge.judge([part[j][1] for j in ask]) if ask else []
    fresh = []
    for j, v in zip(ask, verdicts, strict=True):
        key, it = part[j]
        rec = Judgment(
            key=key, sample_key=it.sample.key, judge=judge.name, metric=it.metric, prompt_hash=text_hash(it.template),
            score=v.score.score, label=v.score.label, reason=v.score.reason, numeric_mass=v.score.mass,
            top_logprobs=v.top_logprobs, prompt_tokens=v.prompt_tokens, completion_tokens=v.completion_tokens,
            cost_usd=v.cost_usd, retryable=v.retryable)
        out[j] = rec
        if cache is not None and not v.retryable:
            fresh.append(rec.model_copy(update={"key": cache_key(judge.name, it.metric, text_hash(it.template),
                                                                 it.sample)}))
    if cache is not None and fresh:
        cache.append(fresh)
    return [r for r in out if r is not None]
