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
import random
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ..backends.hooks import attach
from ..config import FinetuneSpec
from ..interventions import Intervention
from ..store import atomic_write_json, building_dir
from .common import FinetuneResult, encode, finish, prepare, save_checkpoint
from .data import Encoded
from .early import StopTraining, Validation, holdout
from .loop import Schedule, StepStats, load_optimizer, make_optimizer, save_optimizer, train_steps


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
    hook: TrainingHook | None = None,
    validation: Sequence[Sequence[dict[str, str]]] | None = None,
) -> FinetuneResult:
    """Fine-tune ``load_base()``'s model on chat ``examples``; resumable; returns the result.

    ``hook``: an intervention hooked into the model for the training steps only (``spec.intervene``).
    ``validation``: the chats of ``spec.early_stop.validation`` (None: a held-out slice of ``examples``).
    ``fault_after_step`` raises after that step (deterministic fault injection for resume tests).
    """
    import torch

    out = Path(out)
    if (out / "DONE").exists():
        return FinetuneResult.model_validate_json((out / "result.json").read_text())
    if spec.early_stop and validation is None:
        examples, validation = holdout(examples, spec.early_stop.holdout, seed)
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
    start, losses, seconds, cpu_before, readings = 0, [], 0.0, 0.0, []
    resume = out / "resume"
    if (resume / "DONE").exists():
        state = json.loads((resume / "state.json").read_text())
        start, losses, seconds, readings = state["step"], state["losses"], state["seconds"], state.get("readings", [])
        cpu_before = state.get("cpu_seconds", 0.0)
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
    cpu0 = time.process_time() - cpu_before  # CPU time so far = process_time() - cpu0
    early = _validation(spec, validation, tokenizer, device, readings)
    if early and start == 0:
        early.read(model, 0)

    def step_done(s: StepStats) -> None:
        nonlocal seconds
        losses.append(s.loss)
        seconds += s.seconds
        stop = early is not None and s.step < steps and early.read(model, s.step)
        if s.step in save_at or stop:
            save_checkpoint(model, tokenizer, out, s.step, spec.method == "lora")
        if stop:
            raise StopTraining(s.step)
        if s.step % resume_every == 0 and s.step < steps:
            _save_resume(model, optimizer, resume, {"step": s.step, "losses": losses, "seconds": seconds,
                                                    "cpu_seconds": time.process_time() - cpu0,
                                                    "readings": [list(r) for r in early.readings] if early else []})
        if on_step:
            on_step(s, steps)
        if fault_after_step is not None and s.step == fault_after_step:
            raise RuntimeError(f"injected fault after step {s.step}")

    handles = attach(model, hook.intervention, hook.vector, hook.layer) if hook else []
    try:
        train_steps(model, optimizer, batch, lr=spec.lr, schedule=schedule, total_steps=steps, start_step=start,
                    pad_id=tokenizer.pad_token_id, grad_clip=1.0, grad_accum=spec.grad_accum, device=device,
                    on_step=step_done, reference=_reference(spec, model, load_base, device), kl_weight=spec.kl_weight)
    except StopTraining as stop:
        prep = prep._replace(steps=stop.step, save_at={s for s in save_at if s <= stop.step} | {stop.step})
    finally:
        for h in handles:
            h.remove()
    shutil.rmtree(resume, ignore_errors=True)
    return finish(spec, prep, name=name, base_path=base_path, seed=seed, out=out, losses=losses, seconds=seconds,
                  cpu_seconds=time.process_time() - cpu0,
                  direction_key=hook.key if hook else None, readings=early.readings if early else None,
                  stopped_early=prep.steps < steps)


def _validation(spec: FinetuneSpec, chats: Sequence[Sequence[dict[str, str]]] | None, tokenizer: Any, device: str,
                readings: Sequence[Sequence[float]]) -> Validation | None:
    if not spec.early_stop or not chats:
        return None
    encoded = [encode(spec, tokenizer, c) for c in chats[: spec.early_stop.max_examples]]
    return Validation(spec.early_stop, encoded, tokenizer.pad_token_id, device, readings)


class TrainingHook(NamedTuple):
    """A steering or ablation hooked in while training (a defence); the saved model has none."""

    intervention: Intervention
    vector: list[float]
    """The direction at ``layer``."""
    layer: int
    key: str
    """The direction file's key (recorded in the result)."""


def _save_resume(model: Any, optimizer: Any, resume: Path, state: dict[str, Any]) -> None:
    """The trainable weights, the optimizer and ``state`` (step, losses, times, readings), replaced whole."""
    from safetensors.torch import save_file

    with building_dir(resume) as tmp:
        trainable = {k: v.detach().contiguous().cpu() for k, v in model.named_parameters() if v.requires_grad}
        save_file(trainable, str(tmp / "trainable.safetensors"))
        save_optimizer(optimizer, tmp / "optimizer.safetensors")
        atomic_write_json(tmp / "state.json", state)


def _reference(spec: FinetuneSpec, model: Any, load_base: Callable[[], tuple[Any, Any]], device: str
               ) -> Callable[[Any, Any], Any] | None:
    """The base model's logits for the KL defence: the adapter switched off (LoRA), or a frozen second copy
    of the base loaded from disk (full fine-tunes: twice the memory; also right after a resume)."""
    import torch

    if not spec.kl_weight:
        return None
    if spec.method == "lora":
        def adapter_off(ids: Any, mask: Any) -> Any:
            with torch.no_grad(), model.disable_adapter():
                return model(input_ids=ids, attention_mask=mask).logits
        return adapter_off
    ref, _ = load_base()
    ref.to(device).eval().requires_grad_(False)

    def frozen(ids: Any, mask: Any) -> Any:
        with torch.no_grad():
            return ref(input_ids=ids, attention_mask=mask).logits
    return frozen
