"""The model interface every backend implements, and the records it exchanges."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from ..config import GenParams

Message = dict[str, str]
__all__ = ["Backend", "Completion", "GenParams", "GenRequest", "Message", "TopLogprobs"]


def chat_prompt(tokenizer: object, messages: Sequence[Message], thinking: bool | None = None) -> str:
    """A chat rendered for generation; ``thinking`` switches reasoning (``enable_thinking``) when not None."""
    extra = {} if thinking is None else {"enable_thinking": thinking}
    return tokenizer.apply_chat_template(  # type: ignore[attr-defined]
        list(messages), tokenize=False, add_generation_prompt=True, **extra)


class GenRequest(BaseModel):
    """One prompt to complete ``n`` times; ``seeds[i]`` makes completion ``i`` reproducible."""

    model_config = ConfigDict(frozen=True)

    messages: tuple[dict[str, str], ...] | None = None
    """Chat messages (system/user/assistant); None for a plain completion prompt."""
    prompt: str | None = None
    """Plain completion prompt for base models (no chat template)."""
    seeds: tuple[int, ...]
    """One seed per requested completion."""


class Completion(BaseModel):
    """One generated completion."""

    model_config = ConfigDict(frozen=True)

    text: str
    """The generated text (thinking blocks included, as the model wrote it)."""
    finish_reason: Literal["stop", "length", "error"] = "stop"
    """``stop``: a stop token/string; ``length``: hit ``max_tokens``."""
    prompt_tokens: int = 0
    """Tokens in the prompt."""
    completion_tokens: int = 0
    """Tokens generated."""
    activations: list[list[float]] | None = None
    """Mean residual over the answer's tokens per layer 0..L, when sampling was asked to capture it
    (``hf`` backend; see ``backends.hooks.AnswerMeans``)."""


class TopLogprobs(BaseModel):
    """The top-k next-token log-probabilities after a prompt."""

    model_config = ConfigDict(frozen=True)

    tokens: dict[str, float]
    """Token text -> log-probability (at most k entries)."""
    text: str = ""
    """The greedy (most likely) next token."""


@runtime_checkable
class Backend(Protocol):
    """What a model backend does. All methods take many items at once so backends can batch."""

    name: str

    def generate(self, requests: Sequence[GenRequest], params: GenParams) -> list[list[Completion]]:
        """Completions for each request, ``len(request.seeds)`` each."""
        ...

    def score(self, items: Sequence[tuple[Sequence[Message], str]]) -> list[float]:
        """Sum of log-probabilities of each completion text given its chat prompt."""
        ...

    def top_logprobs(self, prompts: Sequence[Sequence[Message]], k: int = 20) -> list[TopLogprobs]:
        """The top-k next-token log-probabilities after each chat prompt (assistant turn opened)."""
        ...

    def close(self) -> None: ...
