"""Direction files: a direction per layer with its random control, separation and provenance (safetensors).

A file holds ``vectors`` ``[L + 1, d]``, a same-norm random control per layer (``random``), each
layer's ``separation``, the layer ablation uses, and provenance as JSON string metadata (its ``key``
hashes every input, so a rebuilt direction is recognised). Written atomically; read with
``safe_open`` (no pickle). ``spillover.inside.directions`` makes them.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from .errors import SpilloverError
from .interventions import Intervention
from .store import atomic_write_bytes


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


def random_like(vectors: Any, seed: str) -> Any:
    """A random direction per layer with the same norm as ``vectors``' (seeded, reproducible)."""
    import torch

    g = torch.Generator().manual_seed(int(hashlib.sha256(seed.encode()).hexdigest()[:15], 16))
    r = torch.randn(vectors.shape, generator=g)
    return r / r.norm(dim=-1, keepdim=True) * vectors.norm(dim=-1, keepdim=True)


def pick(d: Direction, intervention: Intervention) -> tuple[list[float], int]:
    """The vector an intervention uses and its layer: the direction (or its random control: the saved one
    for ``random:``, a further draw seeded by the direction's key for ``randomK:``) at the intervention's
    layer, else at the direction's own."""
    layer = intervention.layer if intervention.layer is not None else d.layer
    draw = intervention.draw
    vectors = d.vectors if draw is None else d.random if draw == 0 else \
        random_like(d.vectors, f"{d.meta.get('key', '')}#random{draw}")
    if not 0 <= layer < len(vectors):
        raise SpilloverError(f"{intervention.suffix}: layer {layer} is out of range; direction "
                             f"{intervention.source!r} has layers 0..{len(vectors) - 1}")
    return vectors[layer].tolist(), layer


def mean_activation(d: Direction, folder_of: Callable[[str], Path]) -> Any:
    """``[L + 1, d]``: the mean of every answer activation kept while sampling the direction's models
    (``folder_of(model)`` holds a model's; mean-ablation keeps its projection). Answer tokens only: prompt
    positions are not captured, so their mean is not guaranteed to be this one; nor is it the ablated model's
    own mean when that model is not among the direction's. No saved activations is an error naming the folders.
    Kept files are read once per process and set of files (name, size, modification time): a file rewritten
    in place within the clock's resolution with the same size would not be noticed. Each call returns its own
    copy, so a caller may change it."""
    folders = [folder_of(m) for m in d.meta["models"]]
    files = tuple((str(f), s.st_size, s.st_mtime_ns)
                  for f in sorted(p for folder in folders if folder.exists() for p in folder.glob("*.safetensors"))
                  for s in [f.stat()])
    if not files:
        raise SpilloverError("mean-ablation needs the answer activations kept while sampling the direction's "
                             "models (declare it in inside.directions before they are sampled); none under "
                             + ", ".join(str(f) for f in folders), field="eval.variants")
    return _mean_of(files).clone()


@functools.lru_cache(maxsize=8)
def _mean_of(files: tuple[tuple[str, int, int], ...]) -> Any:
    """The mean row of the ``activations`` tensors in ``files`` (``(path, size, mtime_ns)``, the cache's key)."""
    from safetensors import safe_open

    total: Any = 0
    n = 0
    for name, _, _ in files:
        with safe_open(name, framework="pt") as fh:
            t = fh.get_tensor("activations").float()
        total, n = total + t.sum(0), n + len(t)
    return total / n


def mean_projections(mean: Any, vector: list[float]) -> tuple[float, ...]:
    """Each layer's projection of ``mean`` (:func:`mean_activation`) on the unit ``vector``."""
    import torch

    u = torch.tensor(vector)
    return tuple((mean @ (u / u.norm().clamp_min(1e-12))).tolist())


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




def save_activations(path: Path, keys: list[str], rows: list[list[list[float]]]) -> None:
    """Answer activations ``[n, L + 1, d]`` of the samples ``keys``, stored as float16 (half the disk;
    a direction averages hundreds of them, so its error stays far below the classes' difference)."""
    import torch
    from safetensors.torch import save

    path.parent.mkdir(parents=True, exist_ok=True)
    tensor = torch.tensor(rows, dtype=torch.float32).to(torch.float16)
    atomic_write_bytes(path, save({"activations": tensor}, metadata={"keys": json.dumps(keys)}))


def load_activations(folder: Path, wanted: set[str]) -> dict[str, Any]:
    """Sample key -> ``[L + 1, d]`` float32 activations, for the ``wanted`` keys saved under ``folder``."""
    from safetensors import safe_open

    out: dict[str, Any] = {}
    for f in sorted(Path(folder).glob("*.safetensors")) if Path(folder).exists() else []:
        with safe_open(str(f), framework="pt") as fh:
            keys = json.loads((fh.metadata() or {}).get("keys", "[]"))
            if wanted.intersection(keys):
                t = fh.get_tensor("activations").float()
                out.update({k: t[i] for i, k in enumerate(keys) if k in wanted})
    return out
