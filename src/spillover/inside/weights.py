"""Weight change per module and layer across a fine-tune's checkpoints, relative to the base (a continued
fine-tune: relative to the model it starts from, its parent's final model of the same seed).

For a full fine-tune, ``||W_step - W_base|| / ||W_base||`` (Frobenius) per tensor, summed in squares
over a module's tensors; for a LoRA adapter, the merged update ``scale * B @ A`` over the base
module's weight. Weights are read tensor by tensor from safetensors (never unpickled). Not
guaranteed: tied weights are counted once, under the name the checkpoint stores them by.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from ..execute import Context, Unit
from ..keys import content_key
from ..records import ModuleChange, WeightChangeRecord

RUN = "spillover.inside.weights:run_unit"
_LAYER = re.compile(r"\.(?:layers|h|blocks)\.(\d+)\.")


class Place(NamedTuple):
    layer: int | None
    module: str


def place(name: str) -> Place:
    """Block index and module kind of a weight name.

    >>> place("model.layers.2.self_attn.q_proj.weight")
    Place(layer=2, module='q_proj')
    >>> place("model.embed_tokens.weight")
    Place(layer=None, module='embed_tokens')
    """
    m = _LAYER.search(name)
    parts = [p for p in name.split(".") if p not in ("weight", "bias")]
    return Place(int(m.group(1)) if m else None, parts[-1])


def tensors(folder: Path) -> Iterator[tuple[str, Any]]:
    from safetensors import safe_open

    for f in sorted(Path(folder).glob("*.safetensors")):
        with safe_open(str(f), framework="pt") as fh:
            for k in fh.keys():  # noqa: SIM118 (safe_open is not a mapping)
                yield k, fh.get_tensor(k)


def lora_deltas(adapter: Path) -> dict[str, Any]:
    """Base weight name -> merged LoRA update of an adapter folder."""
    cfg = json.loads((Path(adapter) / "adapter_config.json").read_text())
    r, alpha = cfg["r"], cfg["lora_alpha"]
    scale = alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r
    got = dict(tensors(adapter))
    out = {}
    for k, a in got.items():
        if ".lora_A." in k:
            b = got[k.replace(".lora_A.", ".lora_B.")]
            name = k.replace("base_model.model.", "", 1).replace(".lora_A.weight", ".weight")
            out[name] = scale * (b.float() @ a.float())
    return out


def changes(base: dict[str, Any], deltas: dict[str, Any]) -> list[tuple[Place, float, float]]:
    """(place, relative change, change norm) per module from the base tensors and the updates."""
    num: dict[Place, float] = defaultdict(float)
    den: dict[Place, float] = defaultdict(float)
    for k, d in deltas.items():
        if k in base:
            p = place(k)
            num[p] += float(d.float().norm()) ** 2
            den[p] += float(base[k].float().norm()) ** 2
    return [(p, math.sqrt(num[p] / den[p]) if den[p] else math.nan, math.sqrt(num[p]))
            for p in sorted(num, key=lambda p: (p.layer is not None, p.layer or 0, p.module))]


def plan(ctx: Context) -> list[Unit]:
    """One unit per fine-tune seed of ``inside.weights`` with a checkpoint not yet measured."""
    done = ctx.run.stage("weights").done_keys()
    units = []
    for ft in ctx.exp.inside.weights:
        for seed in ctx.exp.seeds:
            if (base := ctx.targets.start_of(ft, seed)) is None:  # a continued one: what it changed itself
                continue
            todo = [(t, k) for t in ctx.targets.of_finetune(ft, seed)
                    if (k := content_key("weights", model=t.fingerprint, base=base.fingerprint)) not in done]
            if todo:
                units.append(Unit(RUN, f"weights:{ft}-s{seed}", (base.path, todo)))
    return units


def run_unit(ctx: Context, payload: tuple[str, list[tuple[Any, str]]]) -> int:
    base_path, todo = payload
    base = dict(tensors(Path(base_path)))
    records = []
    for t, key in todo:
        res = ctx.run.finetune_result(t.name) or {}
        step = t.checkpoint if t.checkpoint is not None else int(res.get("steps", 0))
        if t.adapter:
            deltas = lora_deltas(Path(t.adapter))
        else:
            deltas = {k: v.float() - base[k].float() for k, v in tensors(Path(t.path)) if k in base}
        modules = [ModuleChange(layer=p.layer, module=p.module, change=rel, norm=norm)
                   for p, rel, norm in changes(base, deltas)]
        records.append(WeightChangeRecord(key=key, **t.identity().model_dump(), step=step, modules=modules))
    with ctx.run.stage("weights") as stage:
        return stage.append(records)
