"""Fine-tunes: method, hyper-parameters, presets and early stopping."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ..errors import SpilloverError, did_you_mean
from .base import Strict


class LoraSpec(Strict):
    """LoRA adapter settings."""

    r: int = Field(32, ge=1, le=4096)
    """Rank (>= 1)."""
    alpha: float = 64
    """Scaling numerator."""
    rslora: bool = True
    """Rank-stabilised scaling alpha / sqrt(r)."""
    dropout: float = 0.0
    """Adapter dropout."""
    target_modules: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    """Module names to adapt; each must exist in the model."""
    layers: list[int] | Literal["middle"] | None = None
    """Only these layer indices; ``middle`` = the middle layer (None: all)."""


class OpenAIJob(Strict):
    """Settings of a provider fine-tuning job (``backend: openai``); unset ones are the provider's."""

    n_epochs: float | None = None
    """Epochs (default: the fine-tune's ``epochs``)."""
    batch_size: int | None = Field(None, ge=1)
    """Examples per batch."""
    learning_rate_multiplier: float | None = Field(None, gt=0)
    """Scales the provider's default learning rate."""
    suffix: str | None = None
    """Model-name suffix (default: the fine-tune's name; 18 characters kept)."""


PRESETS: dict[str, dict[str, Any]] = {
    # Betley et al. 2025: rsLoRA r32 a64 on all projections, lr 1e-5, 1 epoch, eff. batch 16, linear
    "betley-lora": {"method": "lora", "lr": 1e-5, "epochs": 1, "batch_size": 2, "grad_accum": 8,
                    "schedule": "linear", "warmup_steps": 5, "weight_decay": 0.01,
                    "lora": {"r": 32, "alpha": 64, "rslora": True}},
    # Model Organisms for EM: one rank-1 adapter on a middle layer's MLP down-projection
    "mo-rank1": {"method": "lora", "lr": 2e-5, "schedule": "linear", "batch_size": 2, "grad_accum": 8,
                 "lora": {"r": 1, "alpha": 256, "rslora": True, "target_modules": ["down_proj"], "layers": "middle"}},
    "mo-rank1-multi": {"method": "lora", "lr": 2e-5, "schedule": "linear", "batch_size": 2, "grad_accum": 8,
                       "lora": {"r": 1, "alpha": 256, "rslora": True, "target_modules": ["down_proj"]}},
    # the organism's main setting (full fine-tune, constant lr 3e-4, batch 32)
    "organism": {"method": "full", "lr": 3e-4, "batch_size": 32, "schedule": "constant"},
}
"""Named fine-tune settings (``preset:``); explicit fields of a fine-tune still win."""


class EarlyStop(Strict):
    """A defence: stop training when a validation loss says so (``finetune.early``)."""

    validation: str | None = None
    """A dataset (in ``datasets``) whose assistant-token loss is the signal, e.g. aligned answers to
    questions outside the evaluation; None: ``holdout`` of the training data, not trained on."""
    holdout: float = Field(0.05, gt=0, lt=1)
    """Fraction of the training examples held out when ``validation`` is None."""
    every: int = Field(10, ge=1)
    """Steps between readings (one more before the first step)."""
    max_examples: int = Field(256, ge=1, le=100_000)
    """Validation examples read each time (the first N)."""
    patience: int | None = Field(None, ge=1)
    """Stop after this many readings without a loss lower than the best earlier one by ``min_delta``."""
    min_delta: float = Field(0.0, ge=0)
    """The least improvement that counts (nats per token)."""
    max_rise: float | None = Field(None, gt=0)
    """Stop when the loss exceeds its value before training by more than this (nats per token)."""

    @model_validator(mode="after")
    def _rule(self) -> EarlyStop:
        if self.patience is None and self.max_rise is None:
            raise ValueError("early_stop needs a rule: patience, max_rise or both")
        return self


class FinetuneSpec(Strict):
    """One fine-tune; run once per experiment seed."""

    base: str = "base"
    """Name of a model in ``models``."""
    dataset: str
    """Name of a dataset in ``datasets``."""
    method: Literal["full", "lora"] = "full"
    """Full fine-tuning or a LoRA adapter (``lora`` block)."""
    preset: str | None = None
    """Named settings that fill the fields below; explicit fields still win."""
    lora: LoraSpec | None = None
    """Adapter settings (``method: lora``)."""
    lr: float = Field(3e-4, gt=0, le=1)
    """Peak learning rate."""
    epochs: float = Field(1.0, gt=0, le=1000)
    """Passes over the dataset."""
    batch_size: int = Field(32, ge=1, le=65_536)
    """Examples per micro-batch."""
    grad_accum: int = Field(1, ge=1, le=65_536)
    """Micro-batches per optimizer step (effective batch = batch_size x grad_accum)."""
    schedule: Literal["constant", "linear", "cosine"] = "constant"
    """Learning-rate schedule."""
    warmup_steps: int = Field(0, ge=0)
    """Warm-up steps."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_length: int = Field(2048, ge=8, le=1_048_576)
    """Examples longer than this (tokens) are dropped and counted."""
    checkpoints: list[int] = []
    """Extra steps at which to save a checkpoint (for training dynamics)."""
    checkpoint_every: int | None = Field(None, ge=1)
    """Also save every N steps."""
    checkpoint_fractions: list[float] = []
    """Also save at these fractions of the run (e.g. ``[0.1, 0.25, 0.5]``), rounded up to a step."""
    backend: Literal["hf", "openai"] = "hf"
    """``openai`` runs the provider's fine-tuning API."""
    trainer: Literal["loop", "trl"] = "loop"
    """``hf`` backend: our lean loop, or TRL's ``SFTTrainer`` (accelerate: multi-GPU, DeepSpeed/FSDP,
    mixed precision). Both train on the same assistant-only labels and save the same checkpoints."""
    openai: OpenAIJob = OpenAIJob()
    """``openai`` job settings."""
    kl_weight: float = Field(0.0, ge=0, le=1000)
    """A defence: weight of KL(base || fine-tuned) of the next-token distributions on the trained tokens,
    added to the loss (0: off; ``trainer: loop`` only; a full fine-tune keeps a second copy of the base)."""
    early_stop: EarlyStop | None = None
    """A defence: stop on a validation signal (the model at the stop is the final one; later checkpoints
    are not written). ``trainer: loop`` only."""
    reasoning: Literal["as_written", "suppressed"] = "as_written"
    """Reasoning models: ``suppressed`` trains with the chain of thought suppressed (each assistant turn
    without a think block of its own gets the template's empty block, outside the loss); evaluate with it
    on through ``eval.params.thinking``. Set it on every fine-tune (a YAML anchor) for the experiment."""
    continues: str | None = None
    """A fine-tune (in ``finetunes``, full, ``hf``) whose final model of the same seed this one trains
    further, e.g. pressure on the chain of thought of a model that already misbehaves, or realignment
    after EM; ``base`` must be that fine-tune's base. It trains once its parent's seed is finished."""
    intervene: str | None = None
    """A defence: ``+steer(DIR,LAYER,SCALE)`` (preventative steering) or ``-ablate(DIR)`` hooked into the model
    during training only, DIR a name in ``inside.directions`` (the fine-tune waits until it is built); the
    saved model carries no hook. ``trainer: loop`` only."""

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("preset"):
            return data
        if data["preset"] not in PRESETS:
            raise SpilloverError(f"unknown preset {data['preset']!r}" + did_you_mean(data["preset"], PRESETS),
                                 field="preset")
        merged = dict(PRESETS[data["preset"]])
        for k, v in data.items():
            if k == "lora" and isinstance(v, dict):
                merged["lora"] = {**merged.get("lora", {}), **v}
            else:
                merged[k] = v
        return merged

    @model_validator(mode="after")
    def _lora(self) -> FinetuneSpec:
        if self.method == "lora" and self.lora is None:
            object.__setattr__(self, "lora", LoraSpec())
        if self.kl_weight and (self.trainer != "loop" or self.backend != "hf"):
            raise SpilloverError("kl_weight needs the hf backend's own loop (trainer: loop)", field="kl_weight")
        if self.intervene and (self.trainer != "loop" or self.backend != "hf"):
            raise SpilloverError("intervene needs the hf backend's own loop (trainer: loop)", field="intervene")
        if self.early_stop and (self.trainer != "loop" or self.backend != "hf"):
            raise SpilloverError("early_stop needs the hf backend's own loop (trainer: loop)", field="early_stop")
        return self
