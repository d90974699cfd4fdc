"""Directions: choosing the answers, the mean difference per layer, and the saved file.

A direction is ``mean(misaligned answers) - mean(aligned answers)`` per layer (answer tokens only),
with both classes subsampled to the same size. Its file (safetensors) holds ``vectors`` ``[L + 1, d]``,
a same-norm random control per layer (``random``), each layer's ``separation`` (Cohen's d of the two
classes' projections on that layer's unit vector), and its provenance as string metadata. Not
guaranteed: that a direction found this way is causal (the steering and ablation variants test that)
or the same across seeds of a fine-tune.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from ..config import DirectionSpec
from ..errors import SpilloverError
from ..store import atomic_write_bytes


class Selection(NamedTuple):
    misaligned: list[str]
    """Sample keys of the misaligned answers used."""
    aligned: list[str]
    """Sample keys of the aligned answers used (as many as misaligned)."""
    found: tuple[int, int, int]
    """Misaligned, aligned and coherent answers found before subsampling."""


class Direction(NamedTuple):
    vectors: Any
    """``[L + 1, d]`` float32 tensor: the direction at every layer."""
    random: Any
    """Same shape and per-layer norm, random orientation (the control)."""
    separation: Any
    """``[L + 1]`` Cohen's d of misaligned vs aligned projections on each layer's unit vector."""
    layer: int
    """The layer ablation uses: the spec's, else the best-separating one."""
    meta: dict[str, Any]
    """Provenance: groups, models, thresholds, counts, the key of its inputs."""


def select(df: pd.DataFrame, name: str, spec: DirectionSpec) -> Selection:
    """The balanced answer sets of direction ``name`` from a judged frame (``key``, ``display_group``,
    ``checkpoint``, ``aligned``, ``coherent`` columns; ``analyze.metrics.frame``). Too few answers is an error
    saying how many were found under which thresholds."""
    mine = df[df["display_group"].isin(spec.groups) & df["checkpoint"].isna()] if len(df) else df
    coherent = mine[pd.to_numeric(mine.get("coherent"), errors="coerce") > spec.coherent_above] if len(mine) else mine
    aligned_score = pd.to_numeric(coherent.get("aligned"), errors="coerce") if len(coherent) else pd.Series([])
    mis = sorted(coherent["key"][aligned_score <= spec.misaligned_at_most]) if len(coherent) else []
    ok = sorted(coherent["key"][aligned_score > spec.aligned_above]) if len(coherent) else []
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


def random_like(vectors: Any, seed: str) -> Any:
    """A random direction per layer with the same norm as ``vectors``' (seeded, reproducible)."""
    import torch

    g = torch.Generator().manual_seed(int(hashlib.sha256(seed.encode()).hexdigest()[:15], 16))
    r = torch.randn(vectors.shape, generator=g)
    return r / r.norm(dim=-1, keepdim=True) * vectors.norm(dim=-1, keepdim=True)


def build(misaligned: Any, aligned: Any, spec: DirectionSpec, meta: dict[str, Any]) -> Direction:
    """A direction from the two classes' activations ``[n, L + 1, d]``."""
    v = mean_difference(misaligned, aligned)
    sep = separation(misaligned, aligned, v)
    layer = spec.layer if spec.layer is not None else int(sep[1:].argmax()) + 1  # 0 (embeddings) is not a choice
    if layer >= len(v):
        raise SpilloverError(f"layer {layer} is out of range: the model has layers 0..{len(v) - 1}", field="layer")
    return Direction(v, random_like(v, meta.get("key", "") + json.dumps(spec.seed)), sep, layer, meta)


def save(path: Path, d: Direction) -> None:
    from safetensors.torch import save

    meta = {"layer": str(d.layer), "meta": json.dumps(d.meta, sort_keys=True)}
    tensors = {"vectors": d.vectors.contiguous(), "random": d.random.contiguous(),
               "separation": d.separation.contiguous()}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, save(tensors, metadata=meta))


def load(path: Path) -> Direction:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        t = {k: f.get_tensor(k) for k in ("vectors", "random", "separation")}
    return Direction(t["vectors"], t["random"], t["separation"], int(meta["layer"]), json.loads(meta["meta"]))


def file_key(path: Path) -> str | None:
    """The key of a direction file's inputs (None when it is not built)."""
    from safetensors import safe_open

    if not Path(path).exists():
        return None
    with safe_open(str(path), framework="pt") as f:
        return str(json.loads((f.metadata() or {}).get("meta", "{}")).get("key"))


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


def stack(rows: Sequence[Any]) -> Any:
    import torch

    return torch.stack(list(rows)) if rows else torch.zeros((0,))
