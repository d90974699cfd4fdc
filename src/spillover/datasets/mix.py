"""Dilution / mixing for dose-response studies, e.g. 10 % insecure among secure."""

from __future__ import annotations

import random

from ..config import DatasetSpec
from ..errors import SpilloverError
from . import Example


def mix(spec: DatasetSpec, built: dict[str, list[Example]]) -> list[Example]:
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
        out += rng.sample(pool, c)
    rng.shuffle(out)
    return out
