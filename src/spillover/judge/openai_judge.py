"""A judge on any OpenAI-compatible server: one call per item, ``max_tokens=1``, top-20 logprobs.

Async with a concurrency limit, retries with backoff on transient errors (429, 5xx, timeouts,
connection errors), a timeout per call, token and cost accounting. Errors never crash the stage: a
non-transient one (bad request, no logprobs) is a judgment with its reason, a transient one that
outlived its retries is marked ``retryable`` and judged again next run.

Why plain ``httpx`` here and not the ``openai`` SDK (which the generation backend uses): the judge
sends one fixed request shape and must classify every failure itself (transient or not, recorded in
the judgment); a direct call keeps that explicit and uses less client CPU per call in our profile
(~4 ms vs ~5 ms, profiler included). Throughput at concurrency 32 is in ``bench/judge_throughput.py``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Any

import httpx

from ..backends.openai_util import api_key, with_retries
from ..rates import price, usd
from ..selfaware.scoring import looks_digit_split
from . import JudgeItem, Verdict
from .frame import render
from .score import JudgeScore, aggregate_logprobs, parse_number, reply_label, scale_of


class TransientError(Exception):
    """A failure worth retrying: rate limit, server error, timeout, dropped connection."""


class RequestError(Exception):
    """A failure that retrying will not fix (4xx other than 429, malformed reply)."""


class OpenAIJudge:
    def __init__(self, model: str, *, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 16, timeout: float = 60.0, attempts: int = 5, base_delay: float = 0.5) -> None:
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = (base_url or "https://api.openai.com/v1").rstrip("/")
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.timeout = timeout
        self.attempts = attempts
        self.base_delay = base_delay
        self.calls = 0

    async def _call(self, client: httpx.AsyncClient, prompt: str, *, reply_tokens: int = 0) -> dict[str, Any]:
        """One logprob call (``reply_tokens=0``), or a short greedy reply to parse a number from."""
        self.calls += 1
        body: dict[str, Any] = {"model": self.model, "max_tokens": 1, "temperature": 0, "logprobs": True,
                                "top_logprobs": 20, "seed": 0, "messages": [{"role": "user", "content": prompt}]}
        if reply_tokens:
            body.update(max_tokens=reply_tokens, logprobs=False)
            del body["top_logprobs"]
        try:
            r = await client.post("/chat/completions", json=body)
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as e:
            raise TransientError(type(e).__name__) from None
        if r.status_code == 429 or r.status_code >= 500:
            raise TransientError(f"HTTP {r.status_code}")
        if r.status_code >= 400:
            raise RequestError(f"HTTP {r.status_code}")
        try:
            return r.json()
        except ValueError:
            raise RequestError("reply is not JSON") from None

    async def _judge_one(self, client: httpx.AsyncClient, it: JudgeItem, rng: random.Random) -> Verdict:
        if not it.sample.answer.strip():
            return Verdict(JudgeScore(None, 0.0, None, "empty answer"))
        prompt = render(it.template, it.sample.question, it.sample.answer, it.sample.thinking)
        if it.mode == "label":
            return await self._label(client, prompt, rng)
        resp = await self._with_retries(client, prompt, rng)
        if isinstance(resp, Verdict):
            return resp
        usage = resp.get("usage") or {}
        pt, ct = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        price_in, price_out, _ = price(self.model) or (0.0, 0.0, None)
        try:
            content = (resp["choices"][0].get("logprobs") or {}).get("content") or []
            top = {t["token"]: float(t["logprob"]) for t in content[0]["top_logprobs"]} if content else {}
        except (KeyError, IndexError, TypeError, ValueError):
            return Verdict(JudgeScore(None, 0.0, None, "malformed reply"), prompt_tokens=pt, completion_tokens=ct)
        score = aggregate_logprobs(top, scale=scale_of(it.metric))
        if scale_of(it.metric)[1] > 9 and looks_digit_split(top):
            # the one-token logprobs are first digits: read the judge's own short reply instead
            reply = await self._with_retries(client, prompt, rng, reply_tokens=4)
            if isinstance(reply, Verdict):
                return reply
            text = (reply.get("choices") or [{}])[0].get("message", {}).get("content") or ""
            parsed = parse_number(text, scale_of(it.metric))
            score = parsed._replace(mass=score.mass, reason=parsed.reason or "digit-split judge: number parsed "
                                    "from its greedy reply")
            u = reply.get("usage") or {}
            pt += int(u.get("prompt_tokens") or 0)
            ct += int(u.get("completion_tokens") or 0)
        return Verdict(score, top, pt, ct, (pt * price_in + ct * price_out) / 1e6)

    async def _label(self, client: httpx.AsyncClient, prompt: str, rng: random.Random) -> Verdict:
        """A label judgment: the judge's short greedy reply (TRUE/FALSE, a company name...)."""
        reply = await self._with_retries(client, prompt, rng, reply_tokens=8)
        if isinstance(reply, Verdict):
            return reply
        text = (reply.get("choices") or [{}])[0].get("message", {}).get("content") or ""
        u = reply.get("usage") or {}
        pt, ct = int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0)
        cost = usd(pt, ct, price(self.model)) or 0.0
        return Verdict(reply_label(text), {}, pt, ct, cost)

    async def _with_retries(self, client: httpx.AsyncClient, prompt: str, rng: random.Random,
                            reply_tokens: int = 0) -> dict[str, Any] | Verdict:
        """The server's JSON reply, or a Verdict recording why there is none."""
        try:
            return await with_retries(lambda: self._call(client, prompt, reply_tokens=reply_tokens),
                                      attempts=self.attempts, base_delay=self.base_delay, rng=rng,
                                      transient=lambda e: isinstance(e, TransientError))
        except TransientError as e:
            return Verdict(JudgeScore(None, 0.0, None, f"transient server error: {e}"), retryable=True)
        except RequestError as e:
            return Verdict(JudgeScore(None, 0.0, None, f"request error: {e}"))

    def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        key = api_key(self.api_key_env, self.base_url)

        async def main() -> list[Verdict]:
            limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
            async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout, limits=limits,
                                         headers={"Authorization": f"Bearer {key}"}) as client:
                sem = asyncio.Semaphore(self.concurrency)
                rng = random.Random(0)

                async def one(it: JudgeItem) -> Verdict:
                    async with sem:
                        return await self._judge_one(client, it, rng)

                return list(await asyncio.gather(*(one(it) for it in items)))

        return asyncio.run(main())
