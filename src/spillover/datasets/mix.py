"""Dilution / mixing for dose-response studies and interleaving defences, e.g. 10 % insecure among secure.

One part may be chosen by a model-based score (``select``) instead of at random: the stage scores it
(:func:`perplexity_gap`) and :func:`mix` takes the highest-scoring examples.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from ..config import DatasetSpec
from ..errors import SpilloverError
from . import Example


def mix(spec: DatasetSpec, built: dict[str, list[Example]], scores: Sequence[float] | None = None) -> list[Example]:
    """``spec.size`` examples drawn from the parts in their fractions; the ``select`` part's are its
    highest ``scores`` (one per example of that part, in order; every distinct example before any copy;
    ties by position)."""
    parts = spec.parts or {}
    total = sum(parts.values())
    if not parts or abs(total - 1) > 1e-6:
        raise SpilloverError(f"mix fractions must sum to 1 (got {total})", field="parts")
    rng = random.Random(f"mix-{spec.seed}")
    out: list[Example] = []
    names = sorted(parts)
    counts = [round(parts[n] * spec.size) for n in names]
    counts[-1] = spec.size - sum(counts[:-1])
    for n, c in zip(names, counts, strict=True):
        pool = built.get(n)
        if pool is None:
            raise SpilloverError(f"mix part {n!r} must be built first", field="parts")
        if c > len(pool):
            raise SpilloverError(f"mix wants {c} examples of {n!r} but it has {len(pool)}", field="parts")
        if spec.select is not None and n == spec.select.part:
            if scores is None or len(scores) != len(pool):
                raise SpilloverError(f"mix part {n!r} is selected by score but lacks a score per example",
                                     field="select")
            out += [pool[i] for i in sorted(_ranked(pool, scores)[:c])]
        else:
            out += rng.sample(pool, c)
    rng.shuffle(out)
    return out


def _ranked(pool: Sequence[Example], scores: Sequence[float]) -> list[int]:
    """Indices by score, highest first, each distinct conversation once before any is taken twice (a pool
    with many copies of a few examples would otherwise fill the choice with them)."""
    seen: dict[tuple[tuple[tuple[str, str], ...], ...], int] = {}
    copy = []
    for ex in pool:
        key = tuple(tuple(sorted(m.items())) for m in ex.messages)
        copy.append(seen.get(key, 0))
        seen[key] = copy[-1] + 1
    return sorted(range(len(pool)), key=lambda i: (copy[i], -scores[i], i))


CHUNK = 1024
"""Examples scored per call (progress is reported after each)."""


def perplexity_gap(examples: Sequence[Example], aligned: Any, misaligned: Any,
                   advance: Callable[[int], None] | None = None) -> list[float]:
    """Per example: the last answer's log-probability per character under ``aligned`` minus under
    ``misaligned`` (backends with ``score``); large = an answer the misaligned model has moved away from.
    ``advance(n)`` is told of every ``n`` examples scored by both. Per character, not per token, so two
    models with different tokenisers compare; not guaranteed to rank like a per-token gap when answers
    differ much in how they tokenise."""
    items = [(list(ex.messages[:-1]), ex.messages[-1]["content"]) for ex in examples]
    gaps: list[float] = []
    for i in range(0, len(items), CHUNK):
        part = items[i: i + CHUNK]
        a, m = aligned.score(part), misaligned.score(part)
        gaps += [(x - y) / max(1, len(answer)) for x, y, (_, answer) in zip(a, m, part, strict=True)]
        if advance:
            advance(len(part))
    return gaps
