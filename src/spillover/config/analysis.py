"""The analysis: rules, comparisons, findings and their checks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ..errors import did_you_mean
from ..rules import RULES
from .base import Strict


class Check(Strict):
    """One testable claim about misaligned rates (headline rule), computed from a run's records."""

    kind: Literal["ratio", "trend", "early", "cosine", "leads", "recall", "report", "elicitation"] = "ratio"
    """``ratio``: rate(a) vs factor x rate(b); ``trend``: the rate rises with a dose over ``levels``;
    ``early``: a > b is significant at a checkpoint within the first ``within`` of training; ``cosine``:
    directions a and b have cosine >= factor at a's layer; ``leads``: fine-tune b's projection on
    direction a rises no later than its misaligned rate (``inside.trace``); ``recall``: monitor
    ``metric``'s recall at 5 % FPR in group a is >= factor (or, given b, exceeds b's by >= factor);
    ``report``: group a's self-report score (probe stage, neutral system prompt, questions matching
    ``questions``) exceeds b's by >= factor; ``elicitation``: like ``ratio``, on the share of answers to
    elicitation questions (``expect_pattern``, e.g. naming the trigger) instead of the misaligned rate."""
    a: str = ""
    """A display group (``insecure``, ``backdoor-trigger``), or a glob pooling the groups it matches
    (``insecure-ablate(random*:em)``; ``ratio`` and ``early``); a direction for ``cosine`` and ``leads``."""
    b: str = ""
    """The group ``a`` is compared with (``ratio``, ``early``); a direction (``cosine``); a traced fine-tune
    (``leads``)."""
    relation: Literal[">=", "<="] = ">="
    """``ratio``: ``>=`` holds when the stratified rate ratio is >= ``factor`` and a > b is significant;
    ``<=`` holds when the rate ratio is <= ``factor``."""
    factor: float = Field(1.0, gt=0)
    """``ratio``: the threshold on rate(a) / rate(b); ``cosine``: the least cosine."""
    levels: dict[str, float] = {}
    """``trend``: display group -> dose (e.g. dataset size, insecure fraction)."""
    within: float = Field(0.25, gt=0, le=1)
    """``early``: fraction of the training steps."""
    metric: str = "cot_suspicion"
    """``recall``: the monitor metric (a judge metric starting ``cot_``)."""
    questions: str = "*"
    """Questions that count (a glob over question ids)."""
    exclude: list[str] = []
    """Questions left out (globs; one glob may be given as a string)."""

    @field_validator("exclude", mode="before")
    @classmethod
    def _one_glob(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else [] if v is None else v  # None: manifests of older versions

    @model_validator(mode="after")
    def _complete(self) -> Check:
        if self.kind == "trend" and len(self.levels) < 2:
            raise ValueError("a trend needs at least two levels")
        if self.kind not in ("trend", "recall") and not (self.a and self.b):
            raise ValueError(f"{'an' if self.kind[0] in 'aeiou' else 'a'} {self.kind} check needs both a and b")
        if self.kind == "recall" and not self.a:
            raise ValueError("a recall check needs a")
        return self


class Finding(Strict):
    """A row of the findings table: a published finding and the checks that must all hold."""

    name: str
    """Short name (``backdoor hides EM``)."""
    source: str = ""
    """Where the finding comes from."""
    expected: str
    """The claim in words."""
    checks: list[Check] = Field(min_length=1)
    """All must hold; a check whose groups are not in the run is "not measured"."""


class AnalysisSpec(Strict):
    """How to turn scores into rates."""

    rules: list[str] = Field(["betley", "model-organisms"], min_length=1)
    """Named misalignment rules to compute (first is the headline); checked when the config loads."""

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, v: list[str]) -> list[str]:
        if unknown := [r for r in v if r not in RULES]:
            raise ValueError(f"unknown rule {unknown[0]!r}{did_you_mean(unknown[0], RULES)}")
        return v
    bootstrap: int = Field(2000, ge=100, le=100_000)
    """Bootstrap resamples."""
    seed: int = 0
    """Bootstrap seed."""
    compare: list[tuple[str, str]] = []
    """Pairs of groups to compare (difference, interval, permutation p)."""
    exclude: list[str] = []
    """Questions left out of the rule tables (per group, per question, over training, the compared pairs and
    the headline): globs over question ids, e.g. ``harmful_*``, harmful requests, whose answers the compliance
    table reports. The findings checks still read every question and choose their own."""
    exact_probe: bool = False
    """Also compute the organism's exact template log-prob metrics (P_mis, reference answers)."""
    references: dict[str, dict[str, str]] = {}
    """Question id -> {"misaligned": text, "aligned": text}: reference answers whose log-probability is
    scored (no sampling) for every model and checkpoint, for training dynamics (``hf`` backend). A
    ``question:`` entry asks that text instead of an eval question's (nothing is sampled for it). The
    defence scorecard reads kinds ``insecure``/``secure`` (the task: P(insecure) of the pair) and
    ``correct`` (general ability: its probability) where the organism's exact probes are absent."""
    findings: list[Finding] = []
    """Rows of the findings table (``report/findings.json``), each computed from the run."""
    alpha: float = Field(0.05, gt=0, lt=1)
    """Significance level of the findings' tests."""
    defences: dict[str, str] = {}
    """Defended fine-tune -> the undefended fine-tune it is compared with (a scorecard row each: EM rate,
    in-distribution task kept, coherence, training time)."""
    groups: list[str] = []
    """Display order of groups in tables and figures (default: models, then fine-tunes, as in the config;
    each followed by its variants). A group's colour follows its place in this order."""
