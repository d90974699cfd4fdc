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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ..backends.hooks import attach
from ..config import FinetuneSpec
from ..interventions import Intervention
from ..store import atomic_write_json, building_dir
from .common import FinetuneResult, Prepared, encode, finish, prepare, save_checkpoint
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
    return _train_lean(spec, prep, name=name, base_path=base_path, seed=seed, out=out, load_base=load_base,
                       device=device, resume_every=resume_every, on_step=on_step,
                       fault_after_step=fault_after_step, hook=hook, validation=validation)


def _train_lean(spec: FinetuneSpec, prep: Prepared, *, name: str, base_path: str, seed: int, out: Path,
                load_base: Callable[[], tuple[Any, Any]], device: str, resume_every: int,
                on_step: Callable[[StepStats, int], None] | None, fault_after_step: int | None,
                hook: TrainingHook | None, validation: Sequence[Sequence[dict[str, str]]] | None
                ) -> FinetuneResult:
    """The lean loop (``trainer: loop``): resume, checkpoints, early stopping, the training hook."""
    model, tokenizer = prep.model, prep.tokenizer
    optimizer = make_optimizer(model, spec.lr, spec.weight_decay, (0.9, 0.999))
    progress = _Progress.restore(out / "resume", model, optimizer)
    if progress.step == 0 and 0 in spec.checkpoints:
        save_checkpoint(model, tokenizer, out, 0, spec.method == "lora")
    early = _validation(spec, validation, tokenizer, device, progress.readings)
    if early and progress.step == 0:
        early.read(model, 0)
    record = _Recorder(spec, prep, out, optimizer, progress, early, resume_every, on_step, fault_after_step)
    handles = attach(model, hook.intervention, hook.vector, hook.layer, hook.offsets) if hook else []
    try:
        train_steps(model, optimizer, _batches(spec, prep.encoded, prep.steps, seed), lr=spec.lr,
                    schedule=Schedule(kind=spec.schedule, warmup_steps=spec.warmup_steps), total_steps=prep.steps,
                    start_step=progress.step, pad_id=tokenizer.pad_token_id, grad_clip=1.0,
                    grad_accum=spec.grad_accum, device=device, on_step=record,
                    reference=_reference(spec, model, load_base, device), kl_weight=spec.kl_weight)
    except StopTraining as stop:
        prep = prep._replace(steps=stop.step, save_at={s for s in prep.save_at if s <= stop.step} | {stop.step})
    finally:
        for h in handles:
            h.remove()
    shutil.rmtree(out / "resume", ignore_errors=True)
    return finish(spec, prep, name=name, base_path=base_path, seed=seed, out=out, losses=progress.losses,
                  seconds=progress.seconds, cpu_seconds=progress.cpu_seconds(),
                  direction_key=hook.key if hook else None, readings=early.readings if early else None,
                  stopped_early=prep.steps < record.steps)


def _batches(spec: FinetuneSpec, encoded: Sequence[Encoded], steps: int, seed: int
             ) -> Callable[[int], list[Encoded]]:
    """Micro-batch ``i`` of the run: passes over the examples, each in a fresh order from ``seed``."""
    order: list[int] = []
    rng = random.Random(f"finetune-{seed}")
    while len(order) < steps * spec.batch_size * spec.grad_accum:
        perm = list(range(len(encoded)))
        rng.shuffle(perm)
        order += perm
    return lambda i: [encoded[j] for j in order[i * spec.batch_size : (i + 1) * spec.batch_size]]


@dataclass
class _Progress:
    """What the run has done, written with each resume point and read back from it."""

    step: int = 0
    """The step the run (re)starts at; later steps are counted by ``train_steps``."""
    losses: list[float] = field(default_factory=list)
    """Loss per step so far (appended as the run goes)."""
    seconds: float = 0.0
    """Wall time of the training steps so far."""
    readings: list[list[float]] = field(default_factory=list)
    """Early-stopping validation readings at the resume point (the run's own go on in its ``Validation``)."""
    cpu_before: float = 0.0
    """CPU seconds spent before the last resume."""
    cpu_start: float = field(default_factory=time.process_time)

    def cpu_seconds(self) -> float:
        return self.cpu_before + time.process_time() - self.cpu_start

    @classmethod
    def restore(cls, resume: Path, model: Any, optimizer: Any) -> _Progress:
        """The saved progress, with the trainable weights and optimizer state loaded (none: a fresh start)."""
        if not (resume / "DONE").exists():
            return cls()
        import torch
        from safetensors.torch import load_file

        state = json.loads((resume / "state.json").read_text())
        params = dict(model.named_parameters())
        with torch.no_grad():
            for k, v in load_file(str(resume / "trainable.safetensors")).items():
                params[k].copy_(v)
        load_optimizer(optimizer, resume / "optimizer.safetensors")
        return cls(step=state["step"], losses=state["losses"], seconds=state["seconds"],
                   readings=state.get("readings", []), cpu_before=state.get("cpu_seconds", 0.0))

    def save(self, resume: Path, model: Any, optimizer: Any, step: int, readings: Sequence[Sequence[float]]) -> None:
        """The trainable weights, the optimizer and the progress up to ``step``, replaced whole."""
        from safetensors.torch import save_file

        state = {"step": step, "losses": self.losses, "seconds": self.seconds,
                 "cpu_seconds": self.cpu_seconds(), "readings": [list(r) for r in readings]}
        with building_dir(resume) as tmp:
            trainable = {k: v.detach().contiguous().cpu() for k, v in model.named_parameters() if v.requires_grad}
            save_file(trainable, str(tmp / "trainable.safetensors"))
            save_optimizer(optimizer, tmp / "optimizer.safetensors")
            atomic_write_json(tmp / "state.json", state)


class _Recorder:
    """Called after every optimizer step: records it, saves checkpoints and resume points, reads the
    validation signal (raising :class:`StopTraining` to stop early), reports progress, injects faults."""

    def __init__(self, spec: FinetuneSpec, prep: Prepared, out: Path, optimizer: Any, progress: _Progress,
                 early: Validation | None, resume_every: int, on_step: Callable[[StepStats, int], None] | None,
                 fault_after_step: int | None) -> None:
        self.spec, self.model, self.tokenizer, self.out = spec, prep.model, prep.tokenizer, out
        self.steps, self.save_at, self.optimizer, self.progress = prep.steps, prep.save_at, optimizer, progress
        self.early, self.resume_every, self.on_step, self.fault = early, resume_every, on_step, fault_after_step

    def __call__(self, s: StepStats) -> None:
        self.progress.losses.append(s.loss)
        self.progress.seconds += s.seconds
        stop = self.early is not None and s.step < self.steps and self.early.read(self.model, s.step)
        if s.step in self.save_at or stop:
            save_checkpoint(self.model, self.tokenizer, self.out, s.step, self.spec.method == "lora")
        if stop:
            raise StopTraining(s.step)
        if s.step % self.resume_every == 0 and s.step < self.steps:
            self.progress.save(self.out / "resume", self.model, self.optimizer, s.step,
                               self.early.readings if self.early else [])
        if self.on_step:
            self.on_step(s, self.steps)
        if self.fault is not None and s.step == self.fault:
            raise RuntimeError(f"injected fault after step {s.step}")


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
    offsets: tuple[float, ...] | None = None
    """Mean-ablation: each layer's mean projection, kept."""


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
