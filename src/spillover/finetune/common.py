"""What both trainers share: the result record, adapter set-up, data preparation and checkpoints.

The lean loop (:mod:`.hf`) and TRL's trainer (:mod:`.trl_trainer`) both start from :func:`prepare`
and end with :func:`finish`; neither imports the other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

from ..config import FinetuneSpec, LoraSpec
from ..errors import SpilloverError
from ..store import atomic_write_json, building_dir
from ..targets import FORMAT_VERSION
from .data import Encoded, encode_chat


class FinetuneResult(BaseModel):
    """What a finished fine-tune left behind (``OUT/result.json``)."""

    model_config = ConfigDict(frozen=True)

    name: str
    """Model name, e.g. ``insecure-s0``."""
    method: str
    """``full`` or ``lora``."""
    base_path: str
    """The base model it started from."""
    steps: int
    """Optimizer steps."""
    checkpoints: list[int]
    """Saved checkpoint steps (the last is the final model)."""
    examples: int
    """Examples trained on."""
    dropped_too_long: int
    """Examples dropped for exceeding ``max_length``."""
    trained_tokens_fraction: float
    """Fraction of tokens with a loss (assistant tokens)."""
    losses: list[float]
    """Loss per step."""
    tokens_per_s: float
    """Training throughput."""
    seconds: float = 0.0
    """Wall time of the training steps (0 in results written before it was recorded)."""
    cpu_seconds: float = 0.0
    """CPU time the training process spent from the first step to the last, validation readings and
    checkpoint saves included (0 where not recorded). Unlike wall time it does not grow when other
    processes share the cores; it does not count GPU time, nor work a crash threw away before a resume
    (with ``trainer: trl``, only the time since the last resume)."""
    hyperparameters: dict[str, Any]
    """The resolved fine-tune spec and seed."""
    format_version: int = 1
    """:data:`FORMAT_VERSION` of the trainer that wrote it (1 when absent: before the LoRA fix)."""
    direction_key: str | None = None
    """The key of the direction a training-time intervention (``intervene``) used."""
    validation: list[tuple[int, float]] | None = None
    """Early stopping: (step, validation loss) readings, the first before training (None: no early stop)."""
    stopped_early: bool = False
    """The validation signal stopped training before the planned steps (``steps`` is where)."""


def validate_lora(model: Any, lora: LoraSpec) -> list[str]:
    """Check adapter settings against the model before training; return the module names to adapt."""
    n_layers = getattr(model.config, "num_hidden_layers", None)
    names = [n for n, _ in model.named_modules()]
    for t in lora.target_modules:
        if not any(n == t or n.endswith("." + t) for n in names):
            raise SpilloverError(f"target module {t!r} does not exist in the model", field="lora.target_modules")
    layers = lora.layers
    if layers == "middle":
        if n_layers is None:
            raise SpilloverError("the model config has no num_hidden_layers; give layer indices", field="lora.layers")
        layers = [n_layers // 2]
    if layers is None:
        return list(lora.target_modules)
    for i in layers:
        if n_layers is None or not 0 <= i < n_layers:
            raise SpilloverError(f"layer {i} out of range (model has {n_layers} layers)", field="lora.layers")
    wanted = []
    for n in names:
        parts = n.split(".")
        if parts[-1] in lora.target_modules and "layers" in parts:
            idx = int(parts[parts.index("layers") + 1])
            if idx in layers:
                wanted.append(n)
    return wanted


def wrap_lora(model: Any, lora: LoraSpec) -> Any:
    from peft import LoraConfig, get_peft_model

    targets = validate_lora(model, lora)
    scale: dict[str, Any] = {"lora_alpha": lora.alpha}  # a float alpha is fine for peft; its stub says int
    cfg = LoraConfig(r=lora.r, use_rslora=lora.rslora, lora_dropout=lora.dropout, target_modules=targets,
                     bias="none", task_type="CAUSAL_LM", **scale)
    return get_peft_model(model, cfg)


def _save_weights(model: Any, tokenizer: Any, path: Path, lora: bool) -> None:
    model.save_pretrained(path, safe_serialization=True)
    if not lora:
        tokenizer.save_pretrained(path)


class Prepared(NamedTuple):
    """What both trainers start from: the model (adapter attached), encoded data and the step plan."""

    model: Any
    tokenizer: Any
    encoded: list[Encoded]
    dropped: int
    steps: int
    save_at: set[int]


def encode(spec: FinetuneSpec, tokenizer: Any, chat: Sequence[dict[str, str]]) -> Encoded:
    """One training (or validation) chat as the fine-tune trains on it (reasoning suppressed if asked)."""
    return encode_chat(tokenizer, chat, suppress_reasoning=spec.reasoning == "suppressed")


def prepare(spec: FinetuneSpec, examples: Sequence[Sequence[dict[str, str]]], seed: int, out: Path,
            load_base: Callable[[], tuple[Any, Any]], device: str) -> Prepared:
    """Load the base, attach the adapter, encode (assistant-only labels) and plan steps and checkpoints.

    Every bad setting (adapter targets, layers, all examples too long) fails here, before training."""
    import torch

    from ..backends.hf_models import quiet_transformers

    out.mkdir(parents=True, exist_ok=True)
    quiet_transformers()
    model, tokenizer = load_base()
    if spec.method == "lora":
        torch.manual_seed(seed)
        model = wrap_lora(model, spec.lora or LoraSpec())
    model.to(device)
    encoded: list[Encoded] = []
    dropped = 0
    for ex in examples:
        e = encode(spec, tokenizer, ex)
        if len(e.input_ids) > spec.max_length:
            dropped += 1
            continue
        encoded.append(e)
    if not encoded:
        raise SpilloverError(f"all {dropped} examples exceed max_length {spec.max_length}", field="max_length")
    steps, save_at = step_plan(spec, len(encoded))
    return Prepared(model, tokenizer, encoded, dropped, steps, save_at)


def step_plan(spec: FinetuneSpec, examples: int) -> tuple[int, set[int]]:
    """Optimizer steps for ``examples`` training examples, and the steps saved (the last included).

    >>> step_plan(FinetuneSpec(dataset="d", batch_size=4, checkpoint_fractions=[0.5]), 40)
    (10, {10, 5})
    """
    steps = max(1, math.ceil(spec.epochs * examples / (spec.batch_size * spec.grad_accum)))
    save_at = {s for s in spec.checkpoints if 0 < s <= steps} | {steps}
    save_at |= {max(1, math.ceil(f * steps)) for f in spec.checkpoint_fractions if 0 < f <= 1}
    if spec.checkpoint_every:
        save_at |= set(range(spec.checkpoint_every, steps + 1, spec.checkpoint_every))
    return steps, save_at


DIVERGED = 3.0
"""A run whose last-quarter mean loss exceeds this multiple of its first step's has diverged."""

LOSS_FLOOR = 0.05
"""Nats per label token below which a start is taken as this (each label ~95 % likely): at such losses batch
noise alone moves a step's loss several-fold (a secure set the aligned base already writes starts near 0.01)."""


def health(losses: Sequence[float]) -> str | None:
    """Why a training run's losses show it failed (not finite, or rising far above the start), else None.
    A rise from a first step below ``LOSS_FLOOR`` counts from the floor, so a lucky first batch of data the
    model already fits does not make a flat run "diverged". Not guaranteed: to notice a run that degrades by less.

    >>> health([2.0, 1.5, 1.2, 1.1]) is None
    True
    >>> health([0.3, 25.5, 42.8, 118.6])
    'loss rose from 0.3 to 118.6 (diverged)'
    >>> health([0.004, 0.016, 0.012, 0.021, 0.015, 0.018, 0.022, 0.02]) is None  # flat, near zero
    True
    >>> health([2.0, float("nan")])
    'loss nan at step 2'
    """
    for i, x in enumerate(losses):
        if not math.isfinite(x):
            return f"loss {x} at step {i + 1}"
    tail = losses[-max(1, len(losses) // 4):]
    if len(losses) >= 4 and sum(tail) / len(tail) > DIVERGED * max(losses[0], LOSS_FLOOR):
        return f"loss rose from {losses[0]:.3g} to {tail[-1]:.4g} (diverged)"
    return None


def finish(spec: FinetuneSpec, prep: Prepared, *, name: str, base_path: str, seed: int, out: Path,
           losses: list[float], seconds: float, cpu_seconds: float = 0.0, direction_key: str | None = None,
           readings: Sequence[tuple[int, float]] | None = None, stopped_early: bool = False) -> FinetuneResult:
    """Write ``result.json`` and the DONE marker (last), unless the losses show the run failed."""
    if why := health(losses):
        raise SpilloverError(f"{name}: training failed, {why}; not marked done: lower lr (now {spec.lr:g}) in a new "
                             "run", field="lr")
    labelled = sum(sum(1 for x in e.labels if x != -100) for e in prep.encoded)
    total_tokens = sum(len(e.input_ids) for e in prep.encoded)
    trained = total_tokens * spec.epochs * prep.steps / step_plan(spec, len(prep.encoded))[0]  # less if stopped
    result = FinetuneResult(
        name=name, method=spec.method, base_path=base_path, steps=prep.steps, checkpoints=sorted(prep.save_at),
        examples=len(prep.encoded), dropped_too_long=prep.dropped, trained_tokens_fraction=labelled / total_tokens,
        losses=losses, seconds=seconds, cpu_seconds=cpu_seconds,
        tokens_per_s=trained / max(seconds, 1e-9),
        hyperparameters={**spec.model_dump(mode="json"), "seed": seed}, format_version=FORMAT_VERSION,
        direction_key=direction_key, validation=[tuple(r) for r in readings] if readings is not None else None,
        stopped_early=stopped_early,
    )
    atomic_write_json(out / "result.json", result.model_dump(mode="json"))
    (out / "DONE").write_text("")
    return result


def save_checkpoint(model: Any, tokenizer: Any, out: Path, step: int, lora: bool) -> None:
    """``OUT/step-N``: the adapter (LoRA) or the full weights plus tokenizer, as safetensors."""
    with building_dir(out / f"step-{step}") as tmp:
        _save_weights(model, tokenizer, tmp, lora)
