"""Shared plumbing for OpenAI-compatible servers: client, key from env, retries, concurrency."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlparse

from ..errors import MissingExtraError, SpilloverError

T = TypeVar("T")


def is_local_server(base_url: str | None) -> bool:
    """An OpenAI-compatible server on this machine: no key, no price, no API latency.

    >>> is_local_server("http://127.0.0.1:8000/v1"), is_local_server("http://[::1]:8000/v1")
    (True, True)
    >>> is_local_server("https://api.example.com/v1?via=localhost"), is_local_server(None)
    (False, False)
    """
    return bool(base_url) and urlparse(base_url or "").hostname in ("127.0.0.1", "localhost", "::1")


def api_key(env_name: str, base_url: str | None) -> str:
    """The API key from the environment (never from a file or config). Local servers need none."""
    key = os.environ.get(env_name)
    if key:
        return key
    if is_local_server(base_url):
        return "local-server-needs-no-key"
    raise SpilloverError(f"set the API key in the environment variable {env_name}", field="api_key_env")


def async_client(base_url: str | None, env_name: str, timeout: float) -> Any:
    try:
        import openai
    except ImportError:  # pragma: no cover - core dependency
        raise MissingExtraError("openai", "the openai backend") from None
    return openai.AsyncOpenAI(base_url=base_url, api_key=api_key(env_name, base_url), timeout=timeout,
                              max_retries=0)


def is_transient(exc: BaseException) -> bool:
    """Rate limits, timeouts, connection errors and 5xx are worth retrying; 4xx are not."""
    import openai

    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError | openai.RateLimitError
                  | openai.InternalServerError | asyncio.TimeoutError):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


async def with_retries(fn: Callable[[], Awaitable[T]], *, attempts: int = 5, base_delay: float = 0.5,
                       max_delay: float = 20.0, rng: random.Random | None = None,
                       transient: Callable[[BaseException], bool] = is_transient) -> T:
    """Await ``fn()``; on a ``transient`` error wait ``base_delay * 2**i`` (+ jitter) and try again;
    re-raise the last error, or at once a non-transient one."""
    rng = rng or random.Random(0)
    for i in range(attempts):
        try:
            return await fn()
        except Exception as e:
            if not transient(e) or i == attempts - 1:
                raise
            await asyncio.sleep(min(max_delay, base_delay * 2**i) * (0.5 + rng.random()))
    raise AssertionError("unreachable")


def run_concurrently(jobs: Sequence[Callable[[], Awaitable[T]]], concurrency: int,
                     on_done: Callable[[int, T], None] | None = None, client: Any = None) -> list[T]:
    """Run coroutine factories with at most ``concurrency`` in flight; results in input order.

    ``client`` (an async OpenAI client) is closed inside the event loop when all jobs are done.
    """

    async def main() -> list[T]:
        sem = asyncio.Semaphore(concurrency)
        results: list[Any] = [None] * len(jobs)

        async def one(i: int) -> None:
            async with sem:
                results[i] = await jobs[i]()
            if on_done:
                on_done(i, results[i])

        try:
            await asyncio.gather(*(one(i) for i in range(len(jobs))))
        finally:
            if client is not None:
                await client.close()
        return results

    return asyncio.run(main())
