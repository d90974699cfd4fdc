"""A small OpenAI-compatible HTTP server in front of any spillover backend (``spillover serve``).

It answers ``POST /v1/chat/completions`` (with ``logprobs``/``top_logprobs``, ``n``, ``seed``,
``max_tokens``, ``temperature``, and ``chat_template_kwargs.enable_thinking`` as vLLM reads it) and
``GET /v1/models``: enough for the ``openai`` backend and judge. A reasoning model's think block comes
back apart as ``reasoning_content``, as vLLM's reasoning parsers return it. Useful to serve a local
transformers model to tools that speak the OpenAI API, and in tests and benchmarks, where ``latency``
adds a fixed delay per request and ``fail_first`` makes the first N requests answer HTTP 500 (fault
injection). Model calls are serialised by a lock; the added latency is not, so concurrency is visible.
Binds to loopback by default.

Every request is bounded by :class:`Limits`: body size (413), prompt length, ``max_tokens`` and
``n`` (400), a socket timeout for slow uploads, a wait for the model of at most the request timeout
(503), and a fixed number of handler threads (503 when all are busy). Every malformed request gets a
400 with a reason. Not guaranteed: a request already on the model runs to its end (a generation is
not interrupted), so the worst wait is one maximal request.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .backends.base import Backend, GenRequest
from .config import GenParams
from .reasoning import split_thinking
from .serve_limits import DEFAULT_LIMITS, BadRequest, Limits, check_request

__all__ = ["DEFAULT_LIMITS", "BadRequest", "Limits", "OpenAICompatServer", "check_request"]


class _Handler(BaseHTTPRequestHandler):
    server: OpenAICompatServer
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections
    disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms delayed-ACK stalls)

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.limits.request_timeout)  # a stalled upload times out

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, code: int, obj: Any) -> None:
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.rstrip("/") == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": self.server.model_name, "object": "model"}]})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def _body(self) -> Any:
        """The parsed JSON body; :class:`BadRequest` for a bad length, size, encoding or JSON."""
        try:
            n = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise BadRequest(400, "Content-Length must be a number") from None
        if n < 0:
            raise BadRequest(400, "Content-Length must not be negative")
        if n > self.server.limits.max_body_bytes:
            raise BadRequest(413, f"body larger than {self.server.limits.max_body_bytes} bytes")
        try:
            return json.loads(self.rfile.read(n).decode("utf-8"))
        except UnicodeDecodeError:
            raise BadRequest(400, "body is not UTF-8") from None
        except json.JSONDecodeError:
            raise BadRequest(400, "invalid JSON") from None

    def do_POST(self) -> None:  # noqa: N802
        srv = self.server
        try:
            req = self._body()
            check_request(req, srv.limits)
        except BadRequest as e:
            self.close_connection = True  # the rest of a refused body is never read
            self._send(e.code, {"error": {"message": str(e)}})
            return
        with srv.count_lock:
            srv.requests += 1
            fail = srv.requests <= srv.fail_first
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
        try:
            self._answer(srv, req, fail)
        finally:
            with srv.count_lock:
                srv.in_flight -= 1

    def _answer(self, srv: OpenAICompatServer, req: dict[str, Any], fail: bool) -> None:
        if srv.latency:
            time.sleep(srv.latency)
        if fail:
            self._send(500, {"error": {"message": "injected failure"}})
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, {"error": {"message": "not found"}})
            return
        if not srv.model_lock.acquire(timeout=srv.limits.request_timeout):
            self._send(503, {"error": {"message": "the model is busy; try again"}})
            return
        try:
            self._send(200, srv.complete(req))
        except (KeyError, TypeError, ValueError) as e:  # a request the backend cannot run
            self._send(400, {"error": {"message": f"{type(e).__name__}: {e}"}})
        finally:
            srv.model_lock.release()


class OpenAICompatServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # listen backlog; the default 5 resets bursts of new connections

    def __init__(self, backend: Backend, model_name: str, host: str = "127.0.0.1", port: int = 0, *,
                 latency: float = 0.0, fail_first: int = 0, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__((host, port), _Handler)
        self.limits = limits
        self.slots = threading.BoundedSemaphore(limits.workers)
        self.handlers = self.handlers_high = 0
        self.backend = backend
        self.model_name = model_name
        self.latency = latency
        self.fail_first = fail_first
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.count_lock = threading.Lock()
        self.model_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}/v1"

    def complete(self, req: dict[str, Any]) -> dict[str, Any]:
        """One chat completion (the caller holds the model lock and has checked the request)."""
        messages = tuple(req["messages"])
        max_tokens = int(req.get("max_tokens") or req.get("max_completion_tokens") or 256)
        n = int(req.get("n") or 1)
        seed = int(req.get("seed") or 0)
        choices = []
        if req.get("logprobs"):
            k = int(req.get("top_logprobs") or 1)
            top = self.backend.top_logprobs([messages], k=k)[0]
            content = [{"token": top.text, "logprob": max(top.tokens.values(), default=0.0), "bytes": None,
                        "top_logprobs": [{"token": t, "logprob": lp, "bytes": None}
                                         for t, lp in top.tokens.items()]}]
            choices.append({"index": 0, "finish_reason": "length",
                            "message": {"role": "assistant", "content": top.text},
                            "logprobs": {"content": content}})
        else:
            params = GenParams(temperature=float(req.get("temperature", 1.0)), top_p=float(req.get("top_p", 1.0)),
                               max_tokens=max_tokens,
                               thinking=req.get("chat_template_kwargs", {}).get("enable_thinking"))
            comps = self.backend.generate([GenRequest(messages=messages, seeds=tuple(seed + i for i in range(n)))],
                                          params)[0]
            for i, c in enumerate(comps):
                answer, reasoning, _ = split_thinking(c.text)
                message = {"role": "assistant", "content": answer if reasoning else c.text,
                           **({"reasoning_content": reasoning} if reasoning else {})}
                choices.append({"index": i, "finish_reason": c.finish_reason, "message": message, "logprobs": None})
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        return {"id": f"chatcmpl-{self.requests}", "object": "chat.completion", "created": int(time.time()),
                "model": self.model_name, "choices": choices,
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": max(1, len(choices)),
                          "total_tokens": prompt_tokens + max(1, len(choices))}}

    def process_request(self, request: Any, client_address: Any) -> None:
        """One thread per connection (keep-alive requests share it), at most ``limits.workers`` at once;
        beyond that a 503 at once."""
        if not self.slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            self.shutdown_request(request)
            return

        def run() -> None:
            try:
                self.process_request_thread(request, client_address)
            finally:
                with self.count_lock:
                    self.handlers -= 1
                self.slots.release()

        with self.count_lock:
            self.handlers += 1
            self.handlers_high = max(self.handlers_high, self.handlers)
        threading.Thread(target=run, daemon=True).start()

    def start(self) -> OpenAICompatServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
