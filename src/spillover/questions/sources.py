"""The eval block's question sources, loaded once: each set in its variants, and which models get it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple

from ..backends import Target
from ..config import Experiment
from ..errors import SpilloverError
from . import Question, load_set
from .variants import apply_variant


class SourceQuestions(NamedTuple):
    """The questions of one ``eval.questions`` entry, variants applied."""

    questions: list[Question]
    models: list[str] | None
    trigger: str | None
    """The text the ``trigger`` variant prepends, when this source samples that variant."""
    systems: tuple[str, ...] = ("neutral",)
    """System prompts of the grid for this source's multiple-choice questions."""

    def applies_to(self, t: Target) -> bool:
        """Whether this question source is sampled for model ``t`` (by group or by model name)."""
        return self.models is None or t.group in self.models or t.name in self.models


def sources(exp: Experiment, chat: bool = True, base_dir: Path | None = None) -> list[SourceQuestions]:
    """Every question source of the experiment, for chat or base (completion) models."""
    out = []
    for i, src in enumerate(exp.eval.questions):
        qs = load_set(src.set, default_samples=src.samples_per_paraphrase or 100, base_dir=base_dir)
        if src.paraphrases:
            qs = [q.model_copy(update={"paraphrases": q.paraphrases[: src.paraphrases]}) for q in qs]
        if src.samples_per_paraphrase:
            qs = [q.model_copy(update={"samples_per_paraphrase": src.samples_per_paraphrase}) for q in qs]
        qs = [q.model_copy(update={"expect_pattern": q.expect_pattern.replace("{trigger}", re.escape(src.trigger))})
              if q.expect_pattern else q for q in qs]
        made = [apply_variant(q, v, trigger=src.system_prompt or "" if v == "system" else src.trigger, chat=chat)
                for v in src.variants for q in qs]
        _distinct(made, f"eval.questions.{i}.variants")
        out.append(SourceQuestions(made, src.models, src.trigger if "trigger" in src.variants else None,
                                   tuple(src.systems)))
    return out


def _distinct(questions: list[Question], field: str) -> None:
    """Refuse two questions with one id (a variant's ``x_json`` colliding with a question the set has)."""
    seen: dict[str, Question] = {}
    for q in questions:
        if q.id in seen:
            raise SpilloverError(f"two questions would have the id {q.id!r} (the {q.variant} variant of "
                                 f"{q.group_id!r} and the set's own {seen[q.id].group_id!r}, variant "
                                 f"{seen[q.id].variant}); drop that variant or rename the question", field=field)
        seen[q.id] = q


def by_question(exp: Experiment, field: str) -> dict[str, Any]:
    """Question id (variants included, chat and base models) -> ``field`` of that question, for the
    questions where it is set (``judge_prompts``, ``expect_pattern``)."""
    return {q.id: getattr(q, field) for chat in (True, False) for src in sources(exp, chat=chat)
            for q in src.questions if getattr(q, field)}
