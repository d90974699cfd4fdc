"""How often a run with fewer seeds would find each row holding: the findings table recomputed on every
k-seed subset of a run's fine-tune seeds (``spillover findings RUN --seeds K``).

A row whose verdict flips between 3-seed runs may still hold in expectation; a run with many seeds, cut
into its k-seed subsets, says how often a k-seed run would show it. Not guaranteed: the subsets share seeds,
so their verdicts are not independent and the share is only as good as the run's seeds are typical;
answers of models without a seed (the base, its steered variants) and every direction (built from all
seeds) are kept whole in each subset; rows read from other records (self-reports, directions, monitors)
are not resampled.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from typing import NamedTuple

import pandas as pd

from ..config import Finding
from ..errors import SpilloverError
from .findings import findings_table

MAX_SUBSETS = 300
"""Above this many k-seed subsets, a seeded random sample of this many is taken."""


class SubsetShare(NamedTuple):
    finding: str
    held: int
    """k-seed subsets in which every check of the row holds."""
    measured: int
    """k-seed subsets in which the row was measured (0: a row read from other records)."""


def seed_subsets(seeds: Sequence[int], k: int, limit: int = MAX_SUBSETS) -> list[tuple[int, ...]]:
    """Every k-seed subset of ``seeds``, or a seeded sample of ``limit`` of them.

    >>> seed_subsets([1, 2, 3], 2)
    [(1, 2), (1, 3), (2, 3)]
    >>> len(seed_subsets(range(20), 10, limit=5))
    5
    """
    pool = sorted(seeds)
    if math.comb(len(pool), k) <= limit:
        return list(itertools.combinations(pool, k))
    rng, picked = random.Random(0), set[tuple[int, ...]]()
    while len(picked) < limit:
        picked.add(tuple(sorted(rng.sample(pool, k))))
    return sorted(picked)


class Shares(NamedTuple):
    rows: list[SubsetShare]
    every: int
    """Subsets in which every row measured on them holds (the whole table as a k-seed run would show it)."""
    subsets: int


def subset_shares(c: pd.DataFrame, findings: Sequence[Finding], alpha: float, steps: dict[str, int],
                  k: int) -> Shares:
    """Each row's verdict on every k-seed subset of the fine-tune seeds in cells ``c`` (the headline rule's
    cells, every checkpoint); cells without a seed (``-1``) are in every subset."""
    seeds = sorted(int(s) for s in set(c["seed"]) if s != -1)
    if not 1 <= k < len(seeds):
        raise SpilloverError(f"the run has {len(seeds)} fine-tune seeds: a subset size of {k} leaves nothing to vary "
                             f"(choose 1 to {len(seeds) - 1})", field="--seeds")
    held = {f.name: [0, 0] for f in findings}
    subsets, every = seed_subsets(seeds, k), 0
    for subset in subsets:
        verdicts = [(r["finding"], r["holds"]) for r in findings_table(c[c["seed"].isin([*subset, -1])], findings,
                                                                        alpha, steps) if r["holds"] is not None]
        every += all(h for _, h in verdicts)
        for name, h in verdicts:
            held[name][0] += bool(h)
            held[name][1] += 1
    return Shares([SubsetShare(name, h, m) for name, (h, m) in held.items()], every, len(subsets))
