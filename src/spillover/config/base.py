"""What every block of the experiment file shares: stages, strictness, key-variable names, generation
parameters."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from ..errors import SpilloverError, did_you_mean

STAGES = ("datasets", "finetune", "sample", "judge", "inside", "report")
"""The pipeline's stages in order (``--stop-after`` takes one; probes run with ``report``)."""
RESULTS_ONLY = ("analysis", "name", "threads", "report_to")
"""Top-level config keys that determine no unit of work: a finished run may change them (the analysis
and report are recomputed); any other change needs a new run directory (but see ``ADDITIVE``)."""
ADDITIVE = ("inside", "eval.variants")
"""Config paths that only add work: every record is content-keyed, so a finished run may change them and
keeps what it has (new directions, variants and traces are made; nothing finished is redone)."""
GROWS = ("models", "datasets", "finetunes")
"""Top-level mappings a finished run may add entries to (an entry it has may not change, nor go): a new
fine-tune is trained, sampled and judged; nothing finished is redone."""
APPENDS = ("eval.questions",)
"""Lists a finished run may extend at their end (the items it has stay as they are, in order)."""
SHIPPED_SETS = ("main", "preregistered", "identity", "self-report", "organism", "organism-heldout",
                "organism-harmful", "organism-self", "organism-elicitation", "self-awareness", "elicitation",
                "oversight")
"""The question sets that ship with spillover (``questions/NAME.yaml``)."""


def stages_through(stop_after: str | None) -> tuple[str, ...]:
    """The stages a run does when it stops after ``stop_after`` (all when None).

    >>> stages_through("sample")
    ('datasets', 'finetune', 'sample')
    >>> stages_through("finetunes")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    spillover.errors.SpilloverError: --stop-after: unknown stage 'finetunes' (did you mean 'finetune'? ...)
    """
    if stop_after is None:
        return STAGES
    if stop_after not in STAGES:
        raise SpilloverError(f"unknown stage {stop_after!r}{did_you_mean(stop_after, STAGES)}", field="--stop-after")
    return STAGES[: STAGES.index(stop_after) + 1]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


KEY_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]*_(API_KEY|TOKEN)")
"""Names ``api_key_env`` may take: a key is only ever read from a variable named for one, so a config
cannot send, say, ``HOME`` or ``AWS_SECRET_ACCESS_KEY`` to a server it names."""


def check_key_env(v: str) -> str:
    if not KEY_ENV.fullmatch(v):
        raise ValueError(f"{v!r} is not a key variable name: it must end in _API_KEY or _TOKEN")
    return v


class GenParams(BaseModel):
    """Generation parameters; part of every sample's content key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = Field(1.0, ge=0)
    """Sampling temperature; 0 means greedy."""
    top_p: float = Field(1.0, gt=0, le=1)
    """Nucleus sampling mass."""
    max_tokens: int = Field(300, ge=1, le=131_072)
    """Maximum new tokens per completion (the paper uses 600 for free-form answers)."""
    stop: tuple[str, ...] = ()
    """Extra stop strings (backends that support them)."""
    thinking: bool | None = None
    """Reasoning on (true) or off (false) for chat templates that switch it (``enable_thinking``, as in
    Qwen3's; off writes an empty think block); None: the template's default. Not guaranteed: a
    template that ignores the switch renders the same prompt either way (``plan`` checks the hf ones)."""
