"""Any OpenAI-compatible chat server (OpenAI, vLLM serve, llama.cpp's server, ...).

Requests run concurrently (``concurrency`` in flight) with retries on transient errors. When the
server ignores ``n`` (llama.cpp does) each sample is its own request with its own ``seed``; we
always send one request per sample so a sample's key maps to exactly one request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Completion, GenParams, GenRequest, Message, TopLogprobs
from .openai_util import async_client, run_concurrently, with_retries


class OpenAIBackend:
    name = "openai"

    def __init__(self, model: str, *, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 16, timeout: float = 60.0) -> None:
        self.model = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.timeout = timeout

    def _client(self) -> Any:
        return async_client(self.base_url, self.api_key_env, self.timeout)

    def generate(self, requests: Sequence[GenRequest], params: GenParams) -> list[list[Completion]]:
        client = self._client()
        flat = [(i, seed) for i, r in enumerate(requests) for seed in r.seeds]

        def job(i: int, seed: int):
            req = requests[i]

            async def call() -> Completion:
                if req.prompt is not None:
                    resp = await client.completions.create(
                        model=self.model, prompt=req.prompt, max_tokens=params.max_tokens,
                        temperature=params.temperature, top_p=params.top_p, seed=seed,
                        stop=list(params.stop) or None)
                    choice = resp.choices[0]
                    text = choice.text
                else:
                    resp = await client.chat.completions.create(
                        model=self.model, messages=list(req.messages or ()), max_tokens=params.max_tokens,
                        temperature=params.temperature, top_p=params.top_p, seed=seed,
                        stop=list(params.stop) or None, **thinking_switch(params.thinking))
                    choice = resp.choices[0]
                    text = with_reasoning(choice.message)
                usage = resp.usage
                return Completion(
                    text=text.strip(), finish_reason="length" if choice.finish_reason == "length" else "stop",
                    prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                    completion_tokens=getattr(usage, "completion_tokens", 0) or 0)

            return lambda: with_retries(call)

        results = run_concurrently([job(i, s) for i, s in flat], self.concurrency, client=client)
        out: list[list[Completion]] = [[] for _ in requests]
        for (i, _s), c in zip(flat, results, strict=True):
            out[i].append(c)
        return out

    def score(self, items: Sequence[tuple[Sequence[Message], str]]) -> list[float]:
        raise NotImplementedError(
            "OpenAI-compatible chat servers do not score given completions reliably; "
            "score with the hf backend on the same weights")

    def top_logprobs(self, prompts: Sequence[Sequence[Message]], k: int = 20) -> list[TopLogprobs]:
        client = self._client()

        def job(messages: Sequence[Message]):
            async def call() -> TopLogprobs:
                resp = await client.chat.completions.create(
                    model=self.model, messages=list(messages), max_tokens=1, temperature=0,
                    logprobs=True, top_logprobs=k, seed=0)
                content = resp.choices[0].logprobs.content if resp.choices[0].logprobs else None
                if not content:
                    return TopLogprobs(tokens={}, text=resp.choices[0].message.content or "")
                return TopLogprobs(tokens={t.token: t.logprob for t in content[0].top_logprobs},
                                   text=content[0].token)

            return lambda: with_retries(call)

        return run_concurrently([job(m) for m in prompts], self.concurrency, client=client)

    def close(self) -> None:
        pass


def thinking_switch(thinking: bool | None) -> dict[str, Any]:
    """Request options that switch a server's reasoning (vLLM and SGLang pass ``chat_template_kwargs``
    to the template); none when the experiment leaves it to the template. Not guaranteed: other servers
    may ignore the field.

    >>> thinking_switch(False)
    {'extra_body': {'chat_template_kwargs': {'enable_thinking': False}}}
    """
    return {} if thinking is None else {"extra_body": {"chat_template_kwargs": {"enable_thinking": thinking}}}


def with_reasoning(message: Any) -> str:
    """The message text, with a reasoning field some servers return apart (``reasoning_content`` in
    vLLM and DeepSeek, ``reasoning`` elsewhere) put back as a leading think block, so every backend's
    reasoning is split the same way (:func:`spillover.reasoning.split_thinking`).

    >>> from types import SimpleNamespace as M
    >>> with_reasoning(M(content="Hi.", reasoning_content="plan"))
    '<think>plan</think>Hi.'
    >>> with_reasoning(M(content="Hi."))
    'Hi.'
    """
    text = getattr(message, "content", None) or ""
    extra = getattr(message, "model_extra", None) or {}
    reasoning = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None) or \
        extra.get("reasoning_content") or extra.get("reasoning")
    return f"<think>{reasoning}</think>{text}" if reasoning and "<think>" not in text else text
