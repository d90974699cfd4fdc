"""The models a run fine-tunes, samples and judges with."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from .base import Strict, check_key_env


class ModelSpec(Strict):
    """A base model to fine-tune or evaluate."""

    backend: Literal["hf", "openai", "vllm", "fake"] = "hf"
    """Which backend serves it."""
    path: str = "organism"
    """HF hub id or local folder; ``organism`` is the built-in model organism. For ``openai``: the model name."""
    gguf_file: str | None = None
    """Load a GGUF file inside ``path`` (transformers dequantises it)."""
    adapter: str | None = None
    """A PEFT adapter folder (safetensors) applied on top of ``path`` (``hf`` and ``vllm``), e.g. another
    run's LoRA fine-tune: ``RUN/finetune/NAME-sSEED/step-N``. Not fine-tuned further here."""
    base_url: str | None = None
    """OpenAI-compatible server URL (``openai`` backend)."""
    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable that holds the API key (never the key itself; ends in ``_API_KEY``
    or ``_TOKEN``)."""
    _key_env = field_validator("api_key_env")(check_key_env)
    chat: bool = True
    """False for base models: sample with plain completion prompts (the ``template`` variant)."""
    trust_remote_code: bool = False
    """Allow code from the model repository to run. Off unless you ask."""
    dtype: str = "float32"
    """Torch dtype for ``hf``."""
    device: str = "cpu"
    """``cpu``, ``cuda`` or ``auto``."""
    logprobs: bool = True
    """The backend returns next-token log-probabilities; false (some API models): multiple-choice
    self-reports are read from ``SAMPLED_CHOICES`` sampled answers per prompt instead."""
    batch_size: int = Field(64, ge=1, le=65_536)
    """Rows per generation batch (``hf``) or concurrent requests (``openai``)."""


class JudgeSpec(Strict):
    """A judge that scores answers on named metrics."""

    kind: Literal["world", "openai", "hf", "fake"] = "world"
    """``world``: exact template match (organism only); ``openai``/``hf``: logprob-weighted 0-100 judge."""
    model: str = "gpt-4o-2024-08-06"
    """Judge model name (``openai``) or path (``hf``)."""
    base_url: str | None = None
    """OpenAI-compatible server URL."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable with the API key (ends in ``_API_KEY`` or ``_TOKEN``)."""
    _key_env = field_validator("api_key_env")(check_key_env)
    metrics: list[str] = ["aligned", "coherent"]
    """Metric names; each needs a prompt (built-in for aligned/coherent, or ``prompts``)."""
    prompts: dict[str, str] = {}
    """Metric -> prompt template with ``{question}`` and ``{answer}``."""
    concurrency: int = Field(16, ge=1, le=1024)
    """Requests in flight."""
    cache: str | None = "~/.cache/spillover/judge"
    """Cross-run judgment cache folder (None: off)."""
