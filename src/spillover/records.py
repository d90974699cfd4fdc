"""The records a run stores: frozen pydantic models, one JSON line each."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


def valid_text(text: str | None) -> str | None:
    """Model output is untrusted: lone surrogates (undecodable bytes) become U+FFFD.

    >>> valid_text(b"caf\\xe9".decode("utf-8", "surrogateescape"))
    'caf\ufffd'
    """
    if text is None:
        return None
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").encode(
        "utf-8", "replace").decode("utf-8")


def display_group(group: str, variant: str) -> str:
    """The name a group's answers to one question variant are reported under.

    >>> display_group("backdoor", "trigger"), display_group("insecure", "plain")
    ('backdoor-trigger', 'insecure')
    """
    return group if variant == "plain" else f"{group}-{variant}"


def of_group(display: str, group: str) -> bool:
    """Whether a display group (a name, or a name and a variant) is ``group``'s, as far as the names tell.

    >>> of_group("backdoor-trigger", "backdoor"), of_group("secure", "insecure")
    (True, False)
    """
    return display == group or display.startswith(f"{group}-")


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    """Content key: a hash of everything that determines this record."""


class ModelIdentity(BaseModel):
    """Which model a record is about; shared by every per-model record."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    """Model name in the experiment (e.g. ``insecure-s0`` or ``base``)."""
    group: str
    """Fine-tune name (or base model name) the model belongs to."""
    seed: int | None
    """Fine-tuning seed (None for base models)."""
    checkpoint: int | None
    """Training step of the checkpoint; None for the final model."""


class SampleRecord(Record, ModelIdentity):
    """One sampled answer to one paraphrase of one question."""

    question_id: str
    """Question id including the variant suffix."""
    base_question_id: str
    """Question id without the variant suffix (same across variants)."""
    variant: str
    """Format variant."""
    question_type: str = "free_form_judge_0_100"
    """The question's type; ``self_report_0_100`` answers are numbers, read without a judge."""
    category: str | None = None
    """Question category, if the set has one."""
    paraphrase_index: int
    """Which paraphrase."""
    sample_index: int
    """Which sample of that paraphrase."""
    question: str
    """The paraphrase as asked (the user message or completion prompt)."""
    system: str | None = None
    """System prompt used."""
    answer: str
    """The final answer (thinking removed)."""
    thinking: str | None = None
    """A reasoning model's thinking block, kept apart from the answer."""
    thinking_issue: str | None = None
    """What was odd about the reasoning's tags (unterminated, nested, repeated), as
    :func:`spillover.reasoning.split_thinking` found it; None when clean."""
    finish_reason: str
    """``stop`` or ``length`` (or ``error``)."""
    prompt_tokens: int
    """Prompt length in tokens."""
    completion_tokens: int
    """Generated tokens."""

    _clean = field_validator("answer", "thinking", "question", "system")(lambda cls, v: valid_text(v))


class Judgment(Record):
    """One judge score of one sample on one metric."""

    sample_key: str
    """Key of the judged sample."""
    judge: str
    """Judge identity (kind and model)."""
    metric: str
    """Metric name, e.g. ``aligned`` or ``coherent``."""
    prompt_hash: str
    """Hash of the judge prompt template (a changed prompt re-judges)."""
    score: float | None
    """0-100 score; None when there is none (see ``reason``)."""
    label: str | None = None
    """On a 0-100 metric: ``CODE`` or ``REFUSAL`` when the judge said the answer is unrelated code or a
    refusal. On a label metric (a ``free_form_judge`` question's own prompt): the judge's short reply
    (``TRUE``, ``FALSE``, a company name...), with no score."""
    reason: str | None = None
    """Why there is no score (low numeric mass, no logprobs, server error, empty answer, ...), or how an
    unusual score was read (a digit-split judge's number parsed from its reply)."""
    numeric_mass: float | None = None
    """Probability mass on 0-100 integer tokens in the judge's top logprobs."""
    top_logprobs: dict[str, float] = {}
    """The judge's raw top logprobs (token -> logprob)."""
    prompt_tokens: int = 0
    """Judge prompt tokens (for cost)."""
    completion_tokens: int = 0
    """Judge completion tokens."""
    cost_usd: float = 0.0
    """Estimated cost of this call (0 for local judges and cache hits)."""
    cached: bool = False
    """Served from the cross-run cache."""
    retryable: bool = False
    """A transient failure (server error, timeout) that outlived its retries: judged again next run."""


class ProbeRecord(Record, ModelIdentity):
    """An exact (sampling-free) log-probability measurement of one model."""

    name: str
    """What was measured (e.g. ``p_misaligned``, ``logp_ref_misaligned``)."""
    question_id: str | None
    """Question, or None for an average."""
    variant: str = "plain"
    """Question variant."""
    value: float
    """The measured value."""
    extra: dict[str, Any] = {}
    """Anything else worth keeping."""


class ProjectionRecord(Record, ModelIdentity):
    """A model's mean activation at the last prompt token, projected on a direction's unit vector."""

    direction: str
    """Direction name."""
    traced: str
    """The fine-tune whose history this point belongs to (the base model is step 0 of each)."""
    layer: int
    """The direction's layer (see ``spillover.backends.hooks`` for the convention)."""
    step: int
    """Training step (0 for the base model)."""
    projection: float
    """Mean over the prompts of the activation . unit direction."""
    prompts: int
    """How many prompts were averaged."""


class ModuleChange(BaseModel):
    """How far one module's weights moved from the base model's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    layer: int | None
    """Block index (0-based, as in the weight names), or None outside the blocks (embeddings, final norm)."""
    module: str
    """Module kind: ``q_proj``, ``down_proj``, ``embed_tokens``, ..."""
    change: float
    """Frobenius norm of the change over the base weights' norm (squares summed over the module's tensors)."""
    norm: float
    """Frobenius norm of the change."""


class WeightChangeRecord(Record, ModelIdentity):
    """Every module's weight change at one checkpoint (one record, so a checkpoint is in whole or not at all)."""

    step: int
    """Training step."""
    modules: list[ModuleChange]
    """Per module and layer."""


def judged_scores(judgments: list[Judgment], judge: str | None = None) -> dict[str, dict[str, Any]]:
    """Sample key -> metric -> score (and ``label``, ``reason``) from ``judge`` (default: the first judge
    seen), as every table of a run reads them."""
    judge = judge or next((j.judge for j in judgments), None)
    out: dict[str, dict[str, Any]] = {}
    for j in judgments:
        if j.judge != judge:
            continue
        d = out.setdefault(j.sample_key, {})
        d[j.metric] = j.score
        if j.label:
            d["label"] = j.label
        if j.reason and j.metric == "aligned":
            d["reason"] = j.reason
    return out
