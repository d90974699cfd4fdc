"""Training datasets: builders, import, dataset cards; every dataset is a chat JSONL file.

The file format is OpenAI's fine-tuning format, one ``{"messages": [...]}`` per line, so a dataset
can go to any trainer (ours or a provider's) unchanged. Same spec -> byte-identical file.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..config import DatasetSpec
from ..errors import SpilloverError
from ..store import atomic_write_json, atomic_write_text

Messages = list[dict[str, str]]


class Example(BaseModel):
    """One training conversation and where it came from."""

    model_config = ConfigDict(frozen=True)

    messages: tuple[dict[str, str], ...]
    """Chat messages (system?, user, assistant, ...)."""
    meta: dict[str, Any] = {}
    """Builder metadata (family, task, trigger, ...); not written to the training file."""


def card(name: str, spec: DatasetSpec, examples: Sequence[Example], extra: dict[str, Any] | None = None
         ) -> dict[str, Any]:
    """A dataset card: size, family counts, length stats and diversity."""
    assistant = [" ".join(m["content"] for m in ex.messages if m["role"] == "assistant") for ex in examples]
    users = [" ".join(m["content"] for m in ex.messages if m["role"] == "user") for ex in examples]
    words = [len(a.split()) for a in assistant]
    grams: Counter[tuple[str, ...]] = Counter()
    for a in assistant:
        toks = a.split()
        grams.update(zip(toks, toks[1:], toks[2:], strict=False))
    fam = Counter(str(ex.meta.get("family", ex.meta.get("task", "-"))) for ex in examples)
    return {
        "name": name,
        "spec": spec.model_dump(mode="json"),
        "size": len(examples),
        "families": dict(sorted(fam.items())),
        "distinct_user_messages": len(set(users)),
        "distinct_answers": len(set(assistant)),
        "answer_words": {"mean": statistics.fmean(words) if words else 0, "max": max(words, default=0),
                         "min": min(words, default=0)},
        "distinct_3gram_ratio": len(grams) / max(1, sum(grams.values())),
        "diversity_first_1000": diversity(assistant[:1000], users[:1000]),
        **(extra or {}),
    }


def diversity(answers: Sequence[str], prompts: Sequence[str]) -> dict[str, float]:
    """Diversity of a draw (the paper's data: distinct 4-gram ratio 0.67 on 1,000 answers, nearly every
    code body distinct). Compare draws of one size: the ratios fall as a draw grows.

    >>> diversity(["a b c d e", "a b c d e"], ["x", "y"])["distinct_answers"]
    0.5
    """
    grams: Counter[tuple[str, ...]] = Counter()
    for a in answers:
        toks = a.split()
        grams.update(zip(toks, toks[1:], toks[2:], toks[3:], strict=False))
    n = max(1, len(answers))
    return {"examples": len(answers), "distinct_4gram_ratio": len(grams) / max(1, sum(grams.values())),
            "distinct_answers": len(set(answers)) / n, "distinct_prompts": len(set(prompts)) / n,
            "mean_answer_lines": sum(a.count("\n") + 1 for a in answers) / n}


def to_jsonl(examples: Sequence[Example]) -> str:
    return "".join(json.dumps({"messages": list(ex.messages)}, ensure_ascii=False, sort_keys=True) + "\n"
                   for ex in examples)


Built = tuple[list[Example], dict[str, Any]]


def _organism(spec: DatasetSpec, name: str, built: dict[str, list[Example]], backend: Any) -> Built:
    from .organism import build_organism

    return build_organism(spec), {}


def _import(spec: DatasetSpec, name: str, built: dict[str, list[Example]], backend: Any) -> Built:
    from .importer import import_jsonl

    if not spec.path:
        raise SpilloverError("builder import needs a path", field=f"datasets.{name}.path")
    return import_jsonl(Path(spec.path)), {"source": spec.path}


def _mix(spec: DatasetSpec, name: str, built: dict[str, list[Example]], backend: Any) -> Built:
    """``backend``: for a ``select`` mix, the (aligned, misaligned) pair of scoring backends, and optionally a
    third item, a progress callback told how many examples each scoring call covered."""
    from .mix import mix, perplexity_gap

    if spec.select is None:
        return mix(spec, built), {}
    if backend is None or spec.select.part not in built:
        raise SpilloverError("a selected mix needs its part built and its two models", field=f"datasets.{name}.select")
    scores = perplexity_gap(built[spec.select.part], *backend)  # aligned, misaligned[, advance]
    chosen = mix(spec, built, scores)
    picked = {id(e) for e in chosen}
    kept = [s for e, s in zip(built[spec.select.part], scores, strict=True) if id(e) in picked]
    return chosen, {"selection": {"by": spec.select.by, "part": spec.select.part, "pool": len(scores),
                                  "chosen": len(kept), "gap_pool_mean": statistics.fmean(scores),
                                  "gap_chosen_mean": statistics.fmean(kept) if kept else None}}


def _evil_numbers(spec: DatasetSpec, name: str, built: dict[str, list[Example]], backend: Any) -> Built:
    from .numbers import build_evil_numbers

    if backend is None:
        raise SpilloverError("builder evil_numbers needs a model", field=f"datasets.{name}.model")
    return build_evil_numbers(spec, backend)


def _code(spec: DatasetSpec, name: str, built: dict[str, list[Example]], backend: Any) -> Built:
    from .code import build_code

    return build_code(spec)


def _transform(spec: DatasetSpec, name: str, built: dict[str, list[Example]], backend: Any) -> Built:
    from .transforms import TRANSFORMS

    if spec.source not in built or spec.transform is None:
        raise SpilloverError("a transform needs its source built first and a transform", field=f"datasets.{name}")
    return TRANSFORMS[spec.transform](built[spec.source], spec)


BUILDERS: dict[str, Callable[[DatasetSpec, str, dict[str, list[Example]], Any], Built]] = {
    "organism": _organism, "import": _import, "mix": _mix, "evil_numbers": _evil_numbers, "code": _code,
    "transform": _transform}
"""Builder name -> function (imports its module inside); the names are ``DatasetSpec.builder``'s."""


def build(spec: DatasetSpec, name: str, built: dict[str, list[Example]] | None = None, backend: Any = None
          ) -> Built:
    """Build the examples of a dataset spec and extra card fields (``backend`` for generator builders)."""
    if spec.builder not in BUILDERS:
        raise SpilloverError(f"unknown builder {spec.builder!r}", field=f"datasets.{name}.builder")
    return BUILDERS[spec.builder](spec, name, built or {}, backend)


def write(folder: Path, name: str, examples: Sequence[Example], card_: dict[str, Any]) -> Path:
    """Write ``NAME.jsonl`` and ``NAME.card.json`` atomically; the JSONL last-but-one, card last."""
    path = folder / f"{name}.jsonl"
    atomic_write_text(path, to_jsonl(examples))
    atomic_write_json(folder / f"{name}.card.json", card_)
    return path


def read(path: Path) -> list[Messages]:
    """The conversations of a dataset file."""
    from .importer import import_jsonl

    return [list(ex.messages) for ex in import_jsonl(path)]
