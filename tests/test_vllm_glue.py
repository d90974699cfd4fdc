"""The vLLM backend's glue against a stand-in ``vllm`` module (no GPU here): engines are shared per
base model, adapters get stable ids, ``n`` carries the samples. The real engine is not exercised."""

import sys
import types
from types import SimpleNamespace

import pytest

from spillover.backends.base import GenRequest
from spillover.config import GenParams


@pytest.fixture
def fake_vllm(monkeypatch):
    made, calls = [], []

    class LLM:
        def __init__(self, **kw):
            made.append(kw)

        def get_tokenizer(self):
            def render(messages, tokenize, add_generation_prompt):
                return f"<{messages[-1]['content']}>"

            return SimpleNamespace(apply_chat_template=render)

        def generate(self, prompts, sps, lora_request=None, use_tqdm=False):
            calls.append((prompts, sps, lora_request))
            sps = sps if isinstance(sps, list) else [sps] * len(prompts)
            return [SimpleNamespace(prompt_token_ids=[1, 2], outputs=[
                SimpleNamespace(text=f" {p}#{i}", finish_reason="stop", token_ids=[7], logprobs=None)
                for i in range(sp.n)]) for p, sp in zip(prompts, sps, strict=True)]

    class SamplingParams(SimpleNamespace):
        def __init__(self, n=1, **kw):
            super().__init__(n=n, **kw)

    class LoRARequest(SimpleNamespace):
        def __init__(self, name, lora_int_id, path):
            super().__init__(name=name, lora_int_id=lora_int_id, path=path)

    vllm = types.ModuleType("vllm")
    vllm.LLM, vllm.SamplingParams = LLM, SamplingParams
    lora = types.ModuleType("vllm.lora")
    lora_request = types.ModuleType("vllm.lora.request")
    lora_request.LoRARequest = LoRARequest
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.lora", lora)
    monkeypatch.setitem(sys.modules, "vllm.lora.request", lora_request)
    from spillover.backends import vllm as backend_module

    monkeypatch.setattr(backend_module, "_ENGINES", {})
    return backend_module, made, calls


def test_engine_shared_per_base_and_adapters_named_stably(fake_vllm):
    mod, made, calls = fake_vllm
    a = mod.VLLMBackend("Qwen/base", adapter="/run/ft/insecure-s0/step-5")
    b = mod.VLLMBackend("Qwen/base", adapter="/run/ft/insecure-s0/step-10")
    c = mod.VLLMBackend("Qwen/base", adapter="/run/ft/insecure-s0/step-5")
    assert len(made) == 1 and made[0]["enable_lora"] and not made[0]["trust_remote_code"]
    out = a.generate([GenRequest(messages=({"role": "user", "content": "hi"},), seeds=(3, 4, 5))], GenParams())
    assert [x.text for x in out[0]] == ["<hi>#0", "<hi>#1", "<hi>#2"]
    b.generate([GenRequest(prompt="plain", seeds=(1,))], GenParams())
    c.generate([GenRequest(prompt="plain", seeds=(1,))], GenParams())
    ids = [lr.lora_int_id for _p, _s, lr in calls]
    assert ids[0] == ids[2] != ids[1]
    assert calls[0][1][0].n == 3 and calls[0][1][0].seed == 3
