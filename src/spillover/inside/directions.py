"""Directions: choosing the answers, the mean difference per layer, the random control, cosines.

A direction is ``mean(misaligned answers) - mean(aligned answers)`` per layer (answer tokens only),
with both classes subsampled to the same size; ``separation`` is Cohen's d of the two classes'
projections on each layer's unit vector. Files: ``spillover.vectors``. Not
guaranteed: that a direction found this way is causal (the steering and ablation variants test that)
or the same across seeds of a fine-tune.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from typing import Any, NamedTuple

from ..config import DirectionSpec
from ..errors import SpilloverError
from ..records import SampleRecord, display_group
from ..vectors import Direction, random_like


class Selection(NamedTuple):
    misaligned: list[str]
    """Sample keys of the misaligned answers used."""
    aligned: list[str]
    """Sample keys of the aligned answers used (as many as misaligned)."""
    found: tuple[int, int, int]
    """Misaligned, aligned and coherent answers found before subsampling."""


def select(samples: Sequence[SampleRecord], scores: dict[str, dict[str, Any]], name: str, spec: DirectionSpec
           ) -> Selection:
    """The balanced answer sets of direction ``name``: final models' answers of ``spec.groups`` (display
    groups) with their judged ``scores`` (``records.judged_scores``). Too few answers is an error saying
    how many were found under which thresholds."""
    def score(key: str, metric: str) -> float:
        v = scores.get(key, {}).get(metric)
        return float(v) if isinstance(v, int | float) else math.nan

    mine = [s.key for s in samples if s.checkpoint is None and display_group(s.group, s.variant) in spec.groups]
    coherent = [k for k in mine if score(k, "coherent") > spec.coherent_above]
    mis = sorted(k for k in coherent if score(k, "aligned") <= spec.misaligned_at_most)
    ok = sorted(k for k in coherent if score(k, "aligned") > spec.aligned_above)
    found = (len(mis), len(ok), len(coherent))
    if min(len(mis), len(ok)) < spec.min_answers:
        raise SpilloverError(
            f"direction {name!r}: {len(mis)} misaligned (aligned <= {spec.misaligned_at_most:g}) and {len(ok)} aligned "
            f"(aligned > {spec.aligned_above:g}) answers among {len(coherent)} coherent (> {spec.coherent_above:g}) "
            f"answers of {', '.join(spec.groups)}; each class needs at least {spec.min_answers} (min_answers)",
            field=f"inside.directions.{name}")
    n = min(len(mis), len(ok), spec.max_answers)
    rng = random.Random(f"{name}:{spec.seed}")
    return Selection(sorted(rng.sample(mis, n)), sorted(rng.sample(ok, n)), found)


def mean_difference(misaligned: Any, aligned: Any) -> Any:
    """``[L + 1, d]`` from activations ``[n, L + 1, d]`` of each class."""
    return misaligned.mean(dim=0) - aligned.mean(dim=0)


def separation(misaligned: Any, aligned: Any, vectors: Any) -> Any:
    """Cohen's d per layer of the two classes' projections on each layer's unit vector."""
    import torch

    u = vectors / vectors.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    pm, pa = (misaligned * u).sum(-1), (aligned * u).sum(-1)  # [n, L + 1]
    pooled = torch.sqrt((pm.var(dim=0) + pa.var(dim=0)) / 2).clamp_min(1e-12)
    return (pm.mean(dim=0) - pa.mean(dim=0)) / pooled


def build(misaligned: Any, aligned: Any, spec: DirectionSpec, meta: dict[str, Any]) -> Direction:
    """A direction from the two classes' activations ``[n, L + 1, d]``."""
    v = mean_difference(misaligned, aligned)
    sep = separation(misaligned, aligned, v)
    layer = spec.layer if spec.layer is not None else int(sep[1:].argmax()) + 1  # 0 (embeddings) is not a choice
    if layer >= len(v):
        raise SpilloverError(f"layer {layer} is out of range: the model has layers 0..{len(v) - 1}", field="layer")
    return Direction(v, random_like(v, meta.get("key", "") + json.dumps(spec.seed)), sep, layer, meta)


def cosines(directions: dict[str, Direction]) -> list[dict[str, Any]]:
    """Cosine similarity of every pair of directions at every layer (their shared layers)."""
    import torch

    names = sorted(directions)
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            va, vb = directions[a].vectors, directions[b].vectors
            if va.shape != vb.shape:
                continue
            cos = torch.nn.functional.cosine_similarity(va, vb, dim=-1)
            rows += [{"a": a, "b": b, "layer": layer, "cosine": float(c)} for layer, c in enumerate(cos)]
    return rows
