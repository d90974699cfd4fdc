"""Supervised fine-tuning with transformers + PEFT on CPU or GPU.

Loss on assistant tokens only (see :mod:`spillover.finetune.data`). Checkpoints are safetensors
(full weights or a PEFT adapter) in ``OUT/step-N/`` with a DONE marker, addressable as
``model@N``. A resume point (weights + optimizer state, safetensors) is kept in ``OUT/resume/``; a
restarted fine-tune continues from it and a finished one (``OUT/DONE``) is never redone. Only
resume state from the fine-tune's own folder is ever loaded.

Two trainers share everything but the optimisation loop (``FinetuneSpec.trainer``): ``loop``, our
~40-line loop, the default on CPU: at the speed of a plain PyTorch loop (``bench/finetune_throughput.py``),
with a pickle-free resume format; and ``trl``, TRL's ``SFTTrainer`` (:mod:`.trl_trainer`) for GPUs and
several of them. Both get the same assistant-only labels, from the chat template itself and tested
per template, and write the same checkpoints.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

from ..config import FinetuneSpec, LoraSpec
from ..errors import SpilloverError
from ..store import atomic_write_json, building_dir
from .data import Encoded, encode_chat
from .loop import Schedule, StepStats, load_optimizer, make_optimizer, save_optimizer, train_steps


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
    hyperparameters: dict[str, Any]
    """The resolved fine-tune spec and seed."""


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


def _wrap_lora(model: Any, lora: LoraSpec) -> Any:
    from peft import LoraConfig, get_peft_model

    targets = validate_lora(model, lora)
    cfg = LoraConfig(r=lora.r, lora_alpha=lora.alpha,  # type: ignore[arg-type]  # PEFT takes a float use_rslora=lora.rslora, lora_dropout=lora.dropout,
                     target_modules=targets, bias="none", task_type="CAUSAL_LM")
    return get_peft_model(model, cfg)


def _save_weights(model: Any, tokenizer: Any, path: Path, lora: bool) -> None:
    model.save_pretrained(path, safe_serialization=True)
    if not lora:
        tokenizer.save_pretrained(path)


def finetune(
    spec: FinetuneSpec,
    *,
    name: str,
    base_path: str,
    examples: Sequence[Sequence[dict[str, str]]],
    seed: int,
    out: Path,
    load_base: Callable[[], tuple[Any, Any]],
    device: str = "cpu",
    resume_every: int = 50,
    on_step: Callable[[StepStats, int], None] | None = None,
    fault_after_step: int | None = None,
) -> FinetuneResult:
    """Fine-tune ``load_base()``'s model on chat ``examples``; resumable; returns the result.

    ``fault_after_step`` raises after that step (deterministic fault injection for resume tests).
    """
    import torch

    out = Path(out)
    if (out / "DONE").exists():
        return FinetuneResult.model_validate_json((out / "result.json").read_text())
    prep = prepare(spec, examples, seed, out, load_base, device)
    if spec.trainer == "trl":
        from .trl_trainer import train_trl

        return train_trl(spec, prep, name=name, base_path=base_path, seed=seed, out=out, device=device,
                         resume_every=resume_every, on_step=on_step, fault_after_step=fault_after_step)
    model, tokenizer, encoded, steps, save_at = prep.model, prep.tokenizer, prep.encoded, prep.steps, prep.save_at
    per_step = spec.batch_size * spec.grad_accum
    order: list[int] = []
    rng = random.Random(f"finetune-{seed}")
    while len(order) < steps * per_step:
        perm = list(range(len(encoded)))
        rng.shuffle(perm)
        order += perm

    def batch(i: int) -> list[Encoded]:
        return [encoded[j] for j in order[i * spec.batch_size : (i + 1) * spec.batch_size]]

    optimizer = make_optimizer(model, spec.lr, spec.weight_decay, (0.9, 0.999))
    start, losses, seconds = 0, [], 0.0
    resume = out / "resume"
    if (resume / "DONE").exists():
        state = json.loads((resume / "state.json").read_text())
        start, losses, seconds = state["step"], state["losses"], state["seconds"]
        from safetensors.torch import load_file

        weights = load_file(str(resume / "trainable.safetensors"))
        params = dict(model.named_parameters())
        with torch.no_grad():
            for k, v in weights.items():
                params[k].copy_(v)
        load_optimizer(optimizer, resume / "optimizer.safetensors")
    if start == 0 and 0 in spec.checkpoints:
        save_checkpoint(model, tokenizer, out, 0, spec.method == "lora")
    schedule = Schedule(kind=spec.schedule, warmup_steps=spec.warmup_steps)

    def step_done(s: StepStats) -> None:
        nonlocal seconds
        losses.append(s.loss)
        seconds += s.seconds
        if s.step in save_at:
            save_checkpoint(model, tokenizer, out, s.step, spec.method == "lora")
        if s.step % resume_every == 0 and s.step < steps:
            _save_resume(model, optimizer, resume, s.step, losses, seconds)
        if on_step:
            on_step(s, steps)
        if fault_after_step is not None and s.step == fault_after_step:
            raise RuntimeError(f"injected fault after step {s.step}")

    t0 = time.perf_counter()
    train_steps(model, optimizer, batch, lr=spec.lr, schedule=schedule, total_steps=steps, start_step=start,
                pad_id=tokenizer.pad_token_id, grad_clip=1.0, grad_accum=spec.grad_accum, device=device,
                on_step=step_done)
    del t0
    shutil.rmtree(resume, ignore_errors=True)
    return finish(spec, prep, name=name, base_path=base_path, seed=seed, out=out, losses=losses, seconds=seconds)


class Prepared(NamedTuple):
    """What both trainers start from: the model (adapter attached), encoded data and the step plan."""

    model: Any
    tokenizer: Any
    encoded: list[Encoded]
    dropped: int
    steps: int
    save_at: set[int]


def prepare(spec: FinetuneSpec, examples: Sequence[Sequence[dict[str, str]]], seed: int, out: Path,
            load_base: Callable[[], tuple[Any, Any]], device: str) -> Prepared:
    """Load the base, attach the adapter, encode (assistant-only labels) and plan steps and checkpoints.

    Every bad setting (adapter targets, layers, all examples too long) fails here, before training."""
    import torch

    from ..backends.hf import quiet_transformers

    out.mkdir(parents=True, exist_ok=True)
    quiet_transformers()
    model, tokenizer = load_base()
    if spec.method == "lora":
        torch.manual_seed(seed)
        model = _wrap_lora(model, spec.lora or LoraSpec())
    model.to(device)
    encoded: list[Encoded] = []
    dropped = 0
    for ex in examples:
        e = encode_chat(tokenizer, ex)
        if len(e.input_ids) > spec.max_length:
            dropped += 1
            continue
        encoded.append(e)
    if not encoded:
        raise SpilloverError(f"all {dropped} examples exceed max_length {spec.max_length}", field="max_length")
    steps = max(1, math.ceil(spec.epochs * len(encoded) / (spec.batch_size * spec.grad_accum)))
    save_at = {s for s in spec.checkpoints if 0 < s <= steps} | {steps}
    save_at |= {max(1, math.ceil(f * steps)) for f in spec.checkpoint_fractions if 0 < f <= 1}
    if spec.checkpoint_every:
        save_at |= set(range(spec.checkpoint_every, steps + 1, spec.checkpoint_every))
    return Prepared(model, tokenizer, encoded, dropped, steps, save_at)


def finish(spec: FinetuneSpec, prep: Prepared, *, name: str, base_path: str, seed: int, out: Path,
           losses: list[float], seconds: float) -> FinetuneResult:
    """Write ``result.json`` and the DONE marker (last)."""
    labelled = sum(sum(1 for x in e.labels if x != -100) for e in prep.encoded)
    total_tokens = sum(len(e.input_ids) for e in prep.encoded)
    result = FinetuneResult(
        name=name, method=spec.method, base_path=base_path, steps=prep.steps, checkpoints=sorted(prep.save_at),
        examples=len(prep.encoded), dropped_too_long=prep.dropped, trained_tokens_fraction=labelled / total_tokens,
        losses=losses, tokens_per_s=total_tokens * spec.epochs / max(seconds, 1e-9),
        hyperparameters={**spec.model_dump(mode="json"), "seed": seed},
    )
    atomic_write_json(out / "result.json", result.model_dump(mode="json"))
    (out / "DONE").write_text("")
    return result


def save_checkpoint(model: Any, tokenizer: Any, out: Path, step: int, lora: bool) -> None:
    """``OUT/step-N``: the adapter (LoRA) or the full weights plus tokenizer, as safetensors."""
    with building_dir(out / f"step-{step}") as tmp:
        _save_weights(model, tokenizer, tmp, lora)


def _save_resume(model: Any, optimizer: Any, resume: Path, step: int, losses: list[float], seconds: float) -> None:
    from safetensors.torch import save_file

    with building_dir(resume) as tmp:
        trainable = {k: v.detach().contiguous().cpu() for k, v in model.named_parameters() if v.requires_grad}
        save_file(trainable, str(tmp / "trainable.safetensors"))
        save_optimizer(optimizer, tmp / "optimizer.safetensors")
        atomic_write_json(tmp / "state.json", {"step": step, "losses": losses, "seconds": seconds})
