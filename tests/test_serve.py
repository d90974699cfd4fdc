"""`spillover serve` under abuse (loopback only, bounded): huge, malformed and stalled requests mixed with
normal ones. Every normal request is answered within its timeout, memory stays bounded, no thread leaks."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

from spillover.backends.fake import FakeBackend
from spillover.serve import Limits, OpenAICompatServer

NORMAL = {"model": "fake", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}


def _raw(port: int, head: bytes, body: bytes = b"", *, wait: float = 10.0) -> tuple[int | None, float]:
    """Send raw bytes; return the status code (None if the server closed without one) and the seconds."""
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        with contextlib.suppress(OSError):  # the server may refuse before the whole body is sent
            s.sendall(head + body)
        data = b""
        try:
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    code = int(data.split(b" ")[1]) if data.startswith(b"HTTP/") else None
    return code, time.perf_counter() - t0


def _post(port: int, body: bytes, length: bytes | None = None) -> tuple[int | None, float]:
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + (length if length is not None else str(len(body)).encode()) + b"\r\n\r\n")
    return _raw(port, head, body)


def _stalled(port: int) -> tuple[int | None, float]:
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"model\""
    return _raw(port, head)  # never sends the rest: the server must time it out and close


def test_mixed_abuse_leaves_normal_requests_answered_and_resources_bounded():
    limits = Limits(request_timeout=2.0, max_body_bytes=200_000)
    srv = OpenAICompatServer(FakeBackend(), "fake", latency=0.02, limits=limits).start()
    port = srv.server_address[1]
    threads_before = threading.active_count()
    tracemalloc.start()
    normal = json.dumps(NORMAL).encode()
    jobs = [("normal", lambda: _post(port, normal))] * 24
    jobs += [("huge", lambda: _post(port, b"x" * 5_000_000))] * 3
    jobs += [("malformed", lambda b=b, n=n: _post(port, b, n)) for b, n in [
        (normal, b"abc"), (normal, b"-5"), (b"\xff\xfe{}", None), (b"{not json", None),
        (json.dumps({**NORMAL, "n": 20000}).encode(), None), (json.dumps({"model": "fake"}).encode(), None),
        (json.dumps({**NORMAL, "messages": [{"role": "user", "content": "x" * 150_000}]}).encode(), None)]]
    jobs += [("stalled", lambda: _stalled(port))] * 4
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(zip([k for k, _ in jobs], pool.map(lambda j: j[1](), jobs), strict=True))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    by_kind: dict[str, list[tuple[int | None, float]]] = {}
    for kind, r in results:
        by_kind.setdefault(kind, []).append(r)
    assert all(code == 200 and secs < limits.request_timeout for code, secs in by_kind["normal"])
    assert {code for code, _ in by_kind["huge"]} == {413}
    assert {code for code, _ in by_kind["malformed"]} == {400}
    assert all(code is None and secs < limits.request_timeout + 3 for code, secs in by_kind["stalled"])
    assert peak < 50 * 2**20  # a refused 5 MB body is never read into memory
    deadline = time.time() + 5
    while (srv.handlers or threading.active_count() > threads_before) and time.time() < deadline:
        time.sleep(0.05)
    assert srv.handlers == 0 and threading.active_count() <= threads_before
    assert srv.handlers_high <= limits.workers
    srv.stop()


def test_a_full_server_answers_503_at_once_instead_of_queueing_forever():
    srv = OpenAICompatServer(FakeBackend(), "fake", limits=Limits(workers=1, request_timeout=3.0)).start()
    port = srv.server_address[1]
    try:
        hold = threading.Thread(target=_stalled, args=(port,), daemon=True)
        hold.start()
        deadline = time.time() + 2
        while srv.handlers < 1 and time.time() < deadline:
            time.sleep(0.01)
        code, secs = _post(port, json.dumps(NORMAL).encode())
        assert code == 503 and secs < 2.0
        hold.join(8)
        deadline = time.time() + 3  # the slot is released just after the stalled connection is closed
        while srv.handlers and time.time() < deadline:
            time.sleep(0.01)
        code, _ = _post(port, json.dumps(NORMAL).encode())
        assert code == 200  # the slot is free again once the stalled upload timed out
    finally:
        srv.stop()
