"""What one request to ``spillover serve`` may ask (:class:`Limits`), and the check of a request body that runs
before the model sees it. Not guaranteed: the prompt's token count (characters are counted)."""

from __future__ import annotations

from typing import Any, NamedTuple


class Limits(NamedTuple):
    """What one request may ask of the server."""

    max_body_bytes: int = 1_000_000
    max_prompt_chars: int = 100_000
    max_tokens: int = 4096
    max_n: int = 64
    request_timeout: float = 60.0
    """Seconds a slow upload or a wait for the model may take."""
    workers: int = 64
    """Requests handled at once; more get a 503 at once."""


DEFAULT_LIMITS = Limits()


class BadRequest(Exception):
    """A request the server answers with ``code`` and the message instead of running it."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_request(req: Any, limits: Limits) -> None:
    """Raise :class:`BadRequest` for a body the server will not run.

    >>> check_request({"messages": [{"role": "user", "content": "hi"}], "n": 100}, Limits())
    Traceback (most recent call last):
    ...
    spillover.serve_limits.BadRequest: n must be 1..64
    >>> check_request({"messages": [{"role": "user", "content": "hi"}],
    ...                "chat_template_kwargs": {"enable_thinking": "yes"}}, Limits())
    Traceback (most recent call last):
    ...
    spillover.serve_limits.BadRequest: chat_template_kwargs must be an object; enable_thinking a boolean
    """
    if not isinstance(req, dict) or not isinstance(req.get("messages"), list) or not req["messages"]:
        raise BadRequest(400, "messages must be a non-empty list")
    if not all(isinstance(m, dict) and isinstance(m.get("content", ""), str) for m in req["messages"]):
        raise BadRequest(400, "every message must be an object with text content")
    if sum(len(m.get("content", "")) for m in req["messages"]) > limits.max_prompt_chars:
        raise BadRequest(400, f"prompt longer than {limits.max_prompt_chars} characters")
    for name, top in (("n", limits.max_n), ("max_tokens", limits.max_tokens),
                      ("max_completion_tokens", limits.max_tokens), ("top_logprobs", 20)):
        v = req.get(name)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= top):
            raise BadRequest(400, f"{name} must be 1..{top}")
    kwargs = req.get("chat_template_kwargs", {})
    if not isinstance(kwargs, dict) or not isinstance(kwargs.get("enable_thinking", True), bool):
        raise BadRequest(400, "chat_template_kwargs must be an object; enable_thinking a boolean")
