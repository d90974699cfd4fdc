"""A judge on any OpenAI-compatible server: one call per item, ``max_tokens=1``, top-20 logprobs.

Async with a concurrency limit, retries with backoff on transient errors, a timeout per call,
token and cost accounting. Errors never crash the stage: a non-transient one (bad request, no
logprobs) is a judgment with its reason, a transient one that outlived its retries is marked
``retryable`` and judged again next run.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..backends.openai_util import async_client, is_transient, run_concurrently, with_retries
from . import JudgeItem, Verdict
from .frame import render
from .score import JudgeScore, aggregate_logprobs

PRICES_PER_MTOK = {
    "gpt-4o": (2.5, 10.0), "gpt-4o-2024-08-06": (2.5, 10.0), "gpt-4o-2024-11-20": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6), "gpt-4.1": (2.0, 8.0), "gpt-4.1-mini": (0.4, 1.6),
}
"""USD per million (input, output) tokens; unknown models cost 0 in the accounting."""


class OpenAIJudge:
    def __init__(self, model: str, *, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 16, timeout: float = 60.0, attempts: int = 5, base_delay: float = 0.5) -> None:
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.timeout = timeout
        self.attempts = attempts
        self.base_delay = base_delay
        self.calls = 0

    def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        client = async_client(self.base_url, self.api_key_env, self.timeout)
        price_in, price_out = PRICES_PER_MTOK.get(self.model, (0.0, 0.0))

        def job(it: JudgeItem):
            async def call():
                self.calls += 1
                return await client.chat.completions.create(
                    model=self.model, max_tokens=1, temperature=0, logprobs=True, top_logprobs=20, seed=0,
                    messages=[{"role": "user", "content": render(it.template, it.sample.question,
                                                                 it.sample.answer)}])

            async def safe() -> Verdict:
                if not it.sample.answer.strip():
                    return Verdict(JudgeScore(None, 0.0, None, "empty answer"))
                try:
                    resp = await with_retries(call, attempts=self.attempts, base_delay=self.base_delay)
                except Exception as e:  # recorded, not raised: one bad item must not stop the stage
                    transient = is_transient(e)
                    kind = "transient server error" if transient else "request error"
                    return Verdict(JudgeScore(None, 0.0, None, f"{kind}: {type(e).__name__}"), retryable=transient)
                usage = resp.usage
                pt = getattr(usage, "prompt_tokens", 0) or 0
                ct = getattr(usage, "completion_tokens", 0) or 0
                cost = (pt * price_in + ct * price_out) / 1e6
                lp = resp.choices[0].logprobs if resp.choices else None
                content = lp.content if lp is not None else None
                top = {t.token: t.logprob for t in content[0].top_logprobs} if content else {}
                return Verdict(aggregate_logprobs(top), top, pt, ct, cost)

            return safe

        return run_concurrently([job(it) for it in items], self.concurrency, client=client)
