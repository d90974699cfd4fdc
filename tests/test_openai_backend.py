"""The openai backend against a real local OpenAI-compatible HTTP server (our own, in front of a tiny model)."""

import pytest

from spillover.backends.base import GenRequest
from spillover.backends.fake import FakeBackend
from spillover.backends.openai import OpenAIBackend
from spillover.config import GenParams
from spillover.serve import OpenAICompatServer


@pytest.fixture(scope="module")
def hf_server(tiny_qwen):
    from spillover.backends.hf import HFBackend
    from spillover.backends.hf_models import load_model

    model, tok = load_model(tiny_qwen)
    srv = OpenAICompatServer(HFBackend(model, tok), "tiny").start()
    yield srv
    srv.stop()


def test_generate_one_request_per_sample_with_seeds(hf_server):
    b = OpenAIBackend("tiny", base_url=hf_server.url, concurrency=4)
    before = hf_server.requests
    reqs = [GenRequest(messages=({"role": "user", "content": "hey, I'm bored"},), seeds=(1, 2, 3)),
            GenRequest(messages=({"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}),
                       seeds=(4,))]
    out = b.generate(reqs, GenParams(max_tokens=6))
    assert [len(x) for x in out] == [3, 1] and hf_server.requests - before == 4
    again = b.generate(reqs[:1], GenParams(max_tokens=6))[0]
    assert [c.text for c in again] == [c.text for c in out[0]]  # seeded
    top = b.top_logprobs([reqs[0].messages], k=5)[0]
    assert 1 <= len(top.tokens) <= 5


def test_transient_errors_are_retried():
    srv = OpenAICompatServer(FakeBackend(), "fake", fail_first=3).start()
    try:
        b = OpenAIBackend("fake", base_url=srv.url, concurrency=2)
        out = b.generate([GenRequest(messages=({"role": "user", "content": "x"},), seeds=(1, 2))], GenParams())
        assert len(out[0]) == 2 and srv.requests == 5
    finally:
        srv.stop()


def test_requests_overlap_up_to_the_concurrency_limit():
    srv = OpenAICompatServer(FakeBackend(), "fake", latency=0.2).start()
    try:
        b = OpenAIBackend("fake", base_url=srv.url, concurrency=4)
        b.generate([GenRequest(messages=({"role": "user", "content": "x"},), seeds=tuple(range(12)))], GenParams())
        assert srv.max_in_flight == 4
    finally:
        srv.stop()


def test_api_key_from_environment_only(monkeypatch):
    from spillover.backends.openai_util import api_key
    from spillover.errors import SpilloverError

    monkeypatch.delenv("MY_KEY", raising=False)
    with pytest.raises(SpilloverError, match="MY_KEY"):
        api_key("MY_KEY", "https://api.openai.com/v1")
    monkeypatch.setenv("MY_KEY", "sk-1")
    assert api_key("MY_KEY", None) == "sk-1"
