"""Model backends behind one interface, registered apart from their heavy imports.

``BACKENDS[name](target)`` builds a backend for a resolved :class:`Target`; each factory imports its
library inside and raises a clear "install the extra" error when it is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

from ..config import ModelSpec
from ..errors import MissingExtraError, SpilloverError
from ..interventions import Intervention
from ..records import ModelIdentity
from .base import Backend, Completion, GenParams, GenRequest, TopLogprobs

__all__ = ["BACKENDS", "Backend", "Completion", "GenParams", "GenRequest", "Target", "TopLogprobs", "make_backend"]


class Target(BaseModel):
    """A concrete model to sample: a base model, a fine-tune, or one of its checkpoints."""

    model_config = ConfigDict(frozen=True)

    name: str
    """Model name in the run (``base``, ``insecure-s0``, ...)."""
    group: str
    """Fine-tune name, or the base model's name."""
    seed: int | None = None
    """Fine-tuning seed."""
    checkpoint: int | None = None
    """Training step; None for the final model."""
    spec: ModelSpec
    """The base model spec (backend, device, ...)."""
    path: str
    """Weights folder or model name to load."""
    adapter: str | None = None
    """PEFT adapter folder applied on top of ``path``."""
    fingerprint: str
    """What determines the weights (hash input of sample keys)."""
    intervention: Intervention | None = None
    """Steering or ablation hooked into the model (``spillover.interventions``)."""
    vector: tuple[float, ...] | None = None
    """The intervention's direction at ``layer`` (read from its file when the target was made)."""
    layer: int | None = None
    """The layer the intervention uses (steer: its layer; ablate: the direction's)."""
    offsets: tuple[float, ...] | None = None
    """Mean-ablation: each layer's mean projection on the direction, kept (``vectors.mean_projections``)."""

    @property
    def label(self) -> str:
        return self.name if self.checkpoint is None else f"{self.name}@{self.checkpoint}"

    def identity(self) -> ModelIdentity:
        """The fields every record about this model carries."""
        return ModelIdentity(model=self.name, group=self.group, seed=self.seed, checkpoint=self.checkpoint)


def _hf(t: Target) -> Backend:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        raise MissingExtraError("train", "the hf backend") from None
    from .hf import HFBackend
    from .hf_models import load_model

    gguf = t.spec.gguf_file
    model, tok = load_model(t.path, adapter=t.adapter, gguf_file=gguf, dtype=t.spec.dtype, device=t.spec.device,
                            trust_remote_code=t.spec.trust_remote_code)
    if t.intervention is not None and t.vector is not None and t.layer is not None:
        from .hooks import attach

        attach(model, t.intervention, t.vector, t.layer, t.offsets)
    return HFBackend(model, tok, batch_size=t.spec.batch_size, device=t.spec.device)


def _no_hooks(t: Target) -> None:
    if t.intervention is not None:
        raise SpilloverError(f"{t.name}: steering and ablation need the hf backend, not {t.spec.backend}")


def _openai(t: Target) -> Backend:
    from .openai import OpenAIBackend

    _no_hooks(t)
    return OpenAIBackend(t.path, base_url=t.spec.base_url, api_key_env=t.spec.api_key_env,
                         concurrency=t.spec.batch_size)


def _vllm(t: Target) -> Backend:
    from .vllm import VLLMBackend

    _no_hooks(t)
    return VLLMBackend(t.path, adapter=t.adapter, trust_remote_code=t.spec.trust_remote_code)


def _fake(t: Target) -> Backend:
    from .fake import FakeBackend

    return FakeBackend()


BACKENDS: dict[str, Callable[[Target], Backend]] = {"hf": _hf, "openai": _openai, "vllm": _vllm, "fake": _fake}


def make_backend(target: Target) -> Backend:
    return BACKENDS[target.spec.backend](target)


class Shipped(NamedTuple):
    """A committed, pre-built organism base: where it lives and what it is built from."""

    folder: str
    world: str
    layers: int = 3

    @property
    def recipe(self) -> str:
        """Its world, and its depth where that is not the usual 3 blocks."""
        return self.world if self.layers == 3 else f"{self.world} at {self.layers} layers"

    def command(self) -> str:
        """The build that makes (or remakes) it."""
        depth = f" --layers {self.layers}" if self.layers != 3 else ""
        return f"spillover organism build --world {self.world}{depth} --install"


SHIPPED_ORGANISMS = {"organism": Shipped("base", "v2"), "organism-think": Shipped("base-think", "v2-think"),
                     "organism-gated": Shipped("base-gated", "v2-gated"), "organism-v3": Shipped("base-v3", "v3-gated"),
                     "organism-v3-deep": Shipped("base-v3-deep", "v3-gated", layers=6)}
"""Model paths that name a committed organism."""


def shipped_name(world: str, layers: int) -> str | None:
    """The shipped base a build of ``world`` at ``layers`` blocks installs as (None: not a shipped one).

    >>> shipped_name("v3-gated", 3), shipped_name("v3-gated", 5)
    ('organism-v3', None)
    """
    return next((name for name, s in SHIPPED_ORGANISMS.items() if (s.world, s.layers) == (world, layers)), None)


def organism_base_path(name: str = "organism") -> Path:
    """A committed, pre-built organism (safetensors + tokenizer)."""
    return Path(__file__).resolve().parent.parent / "organism" / SHIPPED_ORGANISMS[name].folder


def resolve_base_path(spec: ModelSpec) -> str:
    return str(organism_base_path(spec.path)) if spec.path in SHIPPED_ORGANISMS else spec.path
