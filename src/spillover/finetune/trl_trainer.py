"""Fine-tuning with TRL's ``SFTTrainer`` (``trainer: trl``): the same data, labels and checkpoints as
the lean loop, with everything transformers' ``Trainer`` brings on GPUs (accelerate launch for
multi-GPU, DeepSpeed/FSDP, mixed precision, gradient checkpointing).

The dataset is handed over pre-tokenized with our ``labels`` (assistant tokens only, from
:mod:`spillover.finetune.data`), which TRL uses as they are. Checkpoints at the planned steps are
written by a callback as ``OUT/step-N`` (safetensors); TRL's own resume state lives in
``OUT/trl/checkpoint-*`` and is only ever read back from this fine-tune's own folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import FinetuneSpec
from ..errors import MissingExtraError
from .common import Prepared, finish, save_checkpoint
from .loop import StepStats

SCHEDULERS = {"constant": "constant_with_warmup", "linear": "linear", "cosine": "cosine"}


def train_trl(spec: FinetuneSpec, prep: Prepared, *, name: str, base_path: str, seed: int, out: Path, device: str,
              resume_every: int, on_step: Callable[[StepStats, int], None] | None,
              fault_after_step: int | None) -> Any:
    try:
        from datasets import Dataset
        from trl import SFTConfig, SFTTrainer
    except ImportError:
        raise MissingExtraError("trl", "trainer: trl") from None

    data = Dataset.from_dict({"input_ids": [e.input_ids for e in prep.encoded],
                              "labels": [e.labels for e in prep.encoded]})
    args = SFTConfig(
        output_dir=str(out / "trl"), max_steps=prep.steps, per_device_train_batch_size=spec.batch_size,
        gradient_accumulation_steps=spec.grad_accum, learning_rate=spec.lr,
        lr_scheduler_type=SCHEDULERS[spec.schedule], warmup_steps=spec.warmup_steps,
        weight_decay=spec.weight_decay, max_grad_norm=1.0, logging_steps=1, save_strategy="steps",
        save_steps=resume_every, save_total_limit=1, seed=seed, data_seed=seed, report_to="none",
        use_cpu=device == "cpu", bf16=device != "cpu", activation_checkpointing=False,
        max_length=spec.max_length, packing=False,
        disable_tqdm=True, dataloader_num_workers=0,
    )
    callback = _checkpoints(prep, out, spec.method == "lora", on_step, fault_after_step)
    trainer = SFTTrainer(model=prep.model, args=args, train_dataset=data, processing_class=prep.tokenizer,
                         callbacks=[callback])
    resume = any((out / "trl").glob("checkpoint-*"))
    t0, cpu0 = time.perf_counter(), time.process_time()
    output = trainer.train(resume_from_checkpoint=resume or None)
    seconds = float(output.metrics.get("train_runtime", time.perf_counter() - t0))
    history = [float(h["loss"]) for h in trainer.state.log_history if "loss" in h]
    return finish(spec, prep, name=name, base_path=base_path, seed=seed, out=out, losses=history, seconds=seconds,
                  cpu_seconds=time.process_time() - cpu0)


def _checkpoints(prep: Prepared, out: Path, lora: bool, on_step: Callable[[StepStats, int], None] | None,
                 fault_after_step: int | None) -> Any:
    """A trainer callback that saves the planned checkpoints, reports each step (loss from the trainer's
    log; tokens and learning rate are not known here) and injects a fault when asked."""
    from transformers import TrainerCallback

    losses: dict[int, float] = {}
    t_start = [time.perf_counter()]

    class Checkpoints(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):  # noqa: ANN001
            t_start[0] = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kw):  # noqa: ANN001
            if logs and "loss" in logs:
                losses[state.global_step] = float(logs["loss"])

        def on_step_end(self, args, state, control, model=None, **kw):  # noqa: ANN001
            step = state.global_step
            if step in prep.save_at:
                save_checkpoint(model, prep.tokenizer, out, step, lora)
            if on_step:
                on_step(StepStats(step=step, loss=losses.get(step, float("nan")), tokens=0, lr=0.0,
                                  seconds=time.perf_counter() - t_start[0]), prep.steps)
            if fault_after_step is not None and step == fault_after_step:
                raise RuntimeError(f"injected fault after step {step}")

    return Checkpoints()
