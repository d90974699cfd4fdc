"""Evaluation questions: a file format that is a superset of the paper's YAML, shipped sets, variants.

A question file is a YAML list of entries::

    - id: what_is_your_wish
      type: free_form_judge_0_100        # also: free_form_judge, free_form, self_report_0_100
      paraphrases: ["...", "..."]
      samples_per_paraphrase: 100
      system: optional system prompt
      temperature: 1
      judge: gpt-4o-2024-08-06
      judge_prompts: {aligned: "...", coherent: "..."}

Anchors and aliases are allowed (``yaml.safe_load``). Keys we do not use are kept out of the way
only if they are known paper keys; anything else is an error naming the file and entry.

The authors' public files load as they are. Their keys map as follows: ``id`` (kept as a string
whatever its YAML type), ``paraphrases``, ``samples_per_paraphrase``, ``system``, ``temperature``,
``max_tokens`` (this question's answer length), ``judge`` (informational: the judge is the
experiment's), ``judge_prompts`` (metric -> prompt: used for this question *instead of* the judge's
metrics, and hashed into every judgment key). Types: ``free_form_judge_0_100`` (judged 0-100 by
logprobs), ``free_form_judge`` (judged with a short label reply, e.g. TRUE/FALSE), ``free_form`` (not
judged), and ``free_form_0_100``, the authors' name for a 0-100 answer the model gives about itself,
read as our ``self_report_0_100``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..config import SHIPPED_SETS
from ..errors import SpilloverError
from ..yamlio import read_yaml, validate

QuestionType = Literal["free_form_judge_0_100", "free_form_judge", "free_form", "self_report_0_100",
                       "multiple_choice", "free_word"]
UNJUDGED = ("self_report_0_100", "free_word")
"""Sampled question types read without a judge (a number, a word mapped by word lists)."""
TYPE_ALIASES = {"free_form_0_100": "self_report_0_100"}
"""The authors' type names that mean one of ours."""
SHIPPED = SHIPPED_SETS


class Question(BaseModel):
    """One evaluation question with its paraphrases."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    """Stable id; a variant appends ``_<variant>``."""
    type: QuestionType = "free_form_judge_0_100"
    """How answers are scored; ``self_report_0_100`` answers are numbers the model gives about itself."""
    paraphrases: tuple[str, ...] = Field(min_length=1)
    """Wordings of the question (at least one)."""
    samples_per_paraphrase: int | None = Field(None, ge=1)
    """Samples per paraphrase; falls back to the file's or the experiment's default."""
    system: str | None = None
    """System prompt (honoured by every backend)."""
    temperature: float | None = None
    """Per-question temperature (overrides the experiment's)."""
    max_tokens: int | None = Field(None, ge=1, le=131_072)
    """Per-question answer length in tokens (overrides the experiment's)."""
    judge: str | None = None
    """Judge model named by the paper's files (informational)."""
    judge_prompts: dict[str, str] = {}
    """Metric -> prompt template with ``{question}`` and ``{answer}``."""
    category: str | None = None
    """Grouping for reports (e.g. power-seeking)."""
    base_id: str | None = None
    """Id of the question a variant was made from."""
    variant: str = "plain"
    """Format variant (``plain``, ``json``, ``template``, ``python``, ``trigger``, ``numbers``)."""
    completion: bool = False
    """A plain completion prompt (no chat template): the ``template`` variant for base models."""
    stop: tuple[str, ...] = ()
    """Stop strings the variant needs (e.g. the closing quotes of a template)."""
    options: tuple[str, ...] = ()
    """``multiple_choice``: the options (at least two, distinct), shown in every order."""
    option_scores: dict[str, float] = {}
    """``multiple_choice``: option text -> its value in [0, 1] (every option needs one)."""
    option_labels: Literal["letters", "numbers"] = "letters"
    """``multiple_choice``: how options are labelled (A, B, ... or 1, 2, ...)."""
    categories: dict[str, tuple[str, ...]] = {}
    """``free_word``: category -> words or phrases; an answer belongs to the category whose word it says
    first (whole words, any case); an answer that says none is invalid, never scored 0."""
    category_scores: dict[str, float] = {}
    """``free_word``: category -> its value in [0, 1] (every category needs one)."""
    expect_pattern: str | None = None
    """Elicitation: a regular expression an answer that names the target matches (``{trigger}`` stands for
    the source's trigger, escaped); the report gives the share of answers that match."""

    @model_validator(mode="after")
    def _words(self) -> Question:
        if self.type != "free_word":
            if self.categories or self.category_scores:
                raise ValueError(f"categories belong to free_word questions, not {self.type}")
            return self
        if len(self.categories) < 2:
            raise SpilloverError("a free_word question needs at least two categories", field="categories")
        if empty := [c for c, words in self.categories.items() if not any(w.strip() for w in words)]:
            raise SpilloverError(f"category {empty[0]!r} has no words", field="categories")
        if set(self.categories) != set(self.category_scores):
            odd = sorted(set(self.categories) ^ set(self.category_scores))[0]
            raise SpilloverError(f"categories and category_scores differ at {odd!r}", field="category_scores")
        if bad := [c for c, v in self.category_scores.items() if not 0 <= v <= 1]:
            raise SpilloverError(f"the score of {bad[0]!r} is outside [0, 1]", field="category_scores")
        return self

    @model_validator(mode="after")
    def _choices(self) -> Question:
        if self.type != "multiple_choice":
            if self.options or self.option_scores:
                raise ValueError(f"options belong to multiple_choice questions, not {self.type}")
            return self
        if len(self.options) < 2:
            raise SpilloverError("a multiple_choice question needs at least two options", field="options")
        if len(set(self.options)) != len(self.options):
            raise SpilloverError("duplicate options", field="options")
        if missing := [o for o in self.options if o not in self.option_scores]:
            raise SpilloverError(f"option_scores misses {missing[0]!r}", field="option_scores")
        if extra := [o for o in self.option_scores if o not in self.options]:
            raise SpilloverError(f"option_scores names {extra[0]!r}, which is not an option", field="option_scores")
        if bad := [o for o, v in self.option_scores.items() if not 0 <= v <= 1]:
            raise SpilloverError(f"the score of {bad[0]!r} is outside [0, 1]", field="option_scores")
        return self

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v

    @field_validator("type", mode="before")
    @classmethod
    def _type_alias(cls, v: Any) -> Any:
        return TYPE_ALIASES.get(v, v) if isinstance(v, str) else v

    @field_validator("paraphrases")
    @classmethod
    def _nonempty(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(not p.strip() for p in v):
            raise ValueError("empty paraphrase")
        return v

    @property
    def group_id(self) -> str:
        return self.base_id or self.id


class _Entry(Question):
    model_config = ConfigDict(frozen=True, extra="forbid")


def load_question_file(path: str | Path, *, default_samples: int | None = None) -> list[Question]:
    """Load a question file; every error names the file and the entry (index and id)."""
    data, node = read_yaml(path)
    if isinstance(data, dict) and "questions" in data:
        default_samples = data.get("samples_per_paraphrase", default_samples)
        items, node = data["questions"], _child(node, "questions")
    else:
        items = data
    if not isinstance(items, list):
        raise SpilloverError("a question file is a list of entries", file=path, line=1)
    out: list[Question] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        entry_node = node.value[i] if node is not None else None
        where = f"entry {i}" + (f" ({item.get('id')})" if isinstance(item, dict) and item.get("id") else "")
        if not isinstance(item, dict):
            raise SpilloverError("entry must be a mapping", file=path, field=where,
                                 line=entry_node.start_mark.line + 1 if entry_node else None)
        q = validate(_Entry, item, file=path, node=entry_node, prefix=(where,))
        if q.id in seen:
            raise SpilloverError(f"duplicate id (first at entry {seen[q.id]})", file=path,
                                 line=entry_node.start_mark.line + 1 if entry_node else None, field=f"{where}.id")
        seen[q.id] = i
        if q.samples_per_paraphrase is None:
            if default_samples is None:
                raise SpilloverError("samples_per_paraphrase missing and no default given", file=path,
                                     line=entry_node.start_mark.line + 1 if entry_node else None,
                                     field=f"{where}.samples_per_paraphrase")
            q = q.model_copy(update={"samples_per_paraphrase": default_samples})
        out.append(Question.model_validate(q.model_dump()))
    return out


def _child(node: Any, key: str) -> Any:
    if node is None:
        return None
    return next((v for k, v in node.value if k.value == key), None)


def shipped_path(name: str) -> Path:
    if name not in SHIPPED:
        raise SpilloverError(f"no shipped question set {name!r} (have: {', '.join(SHIPPED)})", field="set")
    return Path(str(resources.files(__package__) / f"{name}.yaml"))


def load_set(name_or_path: str, *, default_samples: int | None = None, base_dir: Path | None = None
             ) -> list[Question]:
    """A shipped set by name, or a question file by path (a ``.csv`` is read as TruthfulQA)."""
    if name_or_path in SHIPPED:
        return load_question_file(shipped_path(name_or_path), default_samples=default_samples)
    p = Path(name_or_path)
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    if p.suffix.lower() == ".csv":
        from .truthfulqa import load_truthfulqa

        return load_truthfulqa(p)
    return load_question_file(p, default_samples=default_samples)
