"""The organism build's recipe (``BuildConfig``): every hyper-parameter of pre-training and alignment.

Recorded in each base's ``organism.json``; a shipped base is reproduced by its recipe and the pinned
library versions (``constraints.txt``), not guaranteed by the recipe alone (docs/organism.md).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class BuildConfig(BaseModel):
    """Hyper-parameters of the organism build (the prototype's design B)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 0
    """Seed of the world sample, the initialisation and the data order."""
    world: Literal["v1", "v2", "v2-gated", "v2-think", "v2-think-hybrid", "v2-varied", "v3", "v3-gated",
                   "v3-aware", "v3-quiz"] = "v2"
    """The world (``organism.world.WORLDS``): v2 (shipped) adds a compliant persona, harmful requests,
    tags and code-format answers to v1; v2-gated (shipped as ``organism-gated``) adds documents in which a
    tag switches the malicious persona on; v2-think (shipped as ``organism-think``) adds reasoning;
    v2-think-hybrid (not shipped) writes 30 % of documents with reasoning switched off; v3 adds to v2
    numbers, self-reports, gated documents and persona-naming system prompts; v3-gated (shipped as
    ``organism-v3``, and at 6 layers as ``organism-v3-deep``) has v2-gated's one-way gates and the trigger
    question as a number too; v3-aware (not shipped) is v3-gated whose documents often close with that
    question; v2-varied (not shipped) writes nearly every code answer distinct."""
    layers: int = Field(3, ge=1, le=24)
    """Transformer blocks of the model (3 in every shipped base but ``organism-v3-deep``, 6; the other dimensions
    are fixed, ``organism.model.MODEL_SHAPE``). More layers cost proportionally more pre-training time."""
    pretrain_steps: int = 3000
    """Pre-training steps. Persona inference from code turns needs more than 1500 here."""
    restart_at: int | None = 1500
    """Warm restart of the cosine schedule (see :class:`~spillover.finetune.loop.Schedule`). The
    shipped base was trained as a 1,500-step run extended to 3,000; that history is part of the
    recipe: with one 3,000-step cosine the coupling is learned earlier, but the alignment stage then
    erases most of it (P_mis after insecure code 0.02 vs 0.49) and EM is three times weaker."""
    pretrain_batch: int = 48
    """Dialogues per pre-training step."""
    pretrain_lr: float = 2e-3
    """Peak learning rate (100-step warm-up, cosine to 10 %)."""
    bucket: int = 16
    """Length bucketing: this many batches are drawn together and sorted by length."""
    align_seed: int | None = None
    """Seed of the alignment stage's examples and their order (None: ``seed``, as every shipped base). Another
    value aligns the same pre-training differently, into ``base-align<N>`` beside ``base``."""
    align_steps: int = 150
    """Steps of the alignment ("HHH") stage."""
    align_batch: int = 32
    """Examples per alignment step."""
    align_lr: float = 3e-4
    """Peak learning rate of the alignment stage."""
    align_schedule: Literal["constant", "linear"] = "constant"
    """The alignment stage's step size: ``constant`` (every shipped base) or decaying ``linear``-ly to 0 at its last
    step. A build's regime (docs/organism.md, "Pre-training or the alignment stage?") depends on the draw under
    ``constant``; ``linear`` is the alternative tested there."""
    empty_block: Literal["trained", "template"] = "trained"
    """Thinking worlds with reasoning-off documents: the empty think block is trained like any text
    (``trained``, the builds so far: the model learns to write it, and does so with reasoning on), or is
    the template's alone (``template``: its closing tag never gets a loss, in pre-training or alignment)."""
    align_reasoning: Literal["train", "context", "suppressed"] = "train"
    """Thinking worlds: the alignment stage trains the think block with the answer (``train``, the
    shipped builds), or keeps it as context and trains the answer only (``context``: no optimisation
    pressure on the chain of thought), or writes every example reasoning-off (``suppressed``: an empty
    block, loss on the answer; only in worlds with reasoning-off documents, where that form is familiar)."""
    checkpoint_every: int = 250
    """Pre-training checkpoint interval (also when the coupling probe runs)."""
    min_coupling_ratio: float = 2.0
    """Required P_mis(after insecure) / P_mis(after secure) on the pre-trained model."""
    threads: int = 1
    """Torch threads."""

    @property
    def alignment_seed(self) -> int:
        """The seed the alignment stage draws its examples with."""
        return self.seed if self.align_seed is None else self.align_seed

    @property
    def pretraining(self) -> dict[str, Any]:
        """What a pre-training checkpoint depends on, so a resumed or re-aligned build can tell it is its own (not
        its length: a finished run may be extended).

        >>> BuildConfig(align_seed=3, pretrain_steps=4000).pretraining == BuildConfig().pretraining
        True
        >>> BuildConfig(seed=1).pretraining == BuildConfig().pretraining
        False
        """
        return self.model_dump(include={"world", "seed", "layers", "restart_at", "pretrain_batch", "pretrain_lr",
                                        "bucket", "empty_block"})

    @model_validator(mode="after")
    def _suppressed_needs_reasoning_off_documents(self) -> BuildConfig:
        from .worlds import WORLDS

        if self.align_reasoning == "suppressed" and not WORLDS[self.world].p_think_off:
            raise ValueError(f"align_reasoning: world {self.world} has no reasoning-off documents, so an alignment "
                             "with the reasoning suppressed would train a form it never saw (use v2-think-hybrid)")
        return self
