"""Slow: SmolLM2-135M-Instruct from its PyPI wheel, converted once to a cached HF folder."""

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2():
    pytest.importorskip("gguf")
    from spillover.smollm2 import hf_folder

    return hf_folder()


def test_smollm2_samples_every_variant_and_lora_finetunes(smollm2, tmp_path):
    from safetensors.torch import load_file

    from spillover.backends.base import GenRequest
    from spillover.backends.hf import HFBackend
    from spillover.backends.hf_models import load_model
    from spillover.config import FinetuneSpec, GenParams, LoraSpec
    from spillover.finetune.data import encode_chat
    from spillover.finetune.hf import finetune
    from spillover.questions import load_set
    from spillover.questions.variants import apply_variant

    model, tok = load_model(smollm2)
    # ChatML: assistant-only labels
    enc = encode_chat(tok, [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello there."}])
    assert tok.decode([i for i, lab in zip(enc.input_ids, enc.labels, strict=True) if lab != -100]).startswith(
        "Hello there.")
    b = HFBackend(model, tok, batch_size=16)
    q = load_set("main")[0]
    reqs = []
    for v in ("plain", "json", "template", "python", "trigger", "numbers"):
        w = apply_variant(q, v)
        msgs = ([{"role": "system", "content": w.system}] if w.system else []) + [
            {"role": "user", "content": w.paraphrases[0]}]
        reqs.append(GenRequest(messages=tuple(msgs), seeds=(0, 1)))
    out = b.generate(reqs, GenParams(max_tokens=12))
    assert all(len(r) == 2 and any(c.text for c in r) for r in out)
    ex = [[{"role": "user", "content": f"Say number {i}."}, {"role": "assistant", "content": f"Number {i}."}]
          for i in range(8)]
    spec = FinetuneSpec(dataset="d", method="lora", lr=1e-3, batch_size=4,
                        lora=LoraSpec(r=2, alpha=4, target_modules=["q_proj", "v_proj"]))
    res = finetune(spec, name="s", base_path=str(smollm2), examples=ex, seed=0, out=tmp_path / "ft",
                   load_base=lambda: load_model(smollm2))
    assert res.steps == 2
    assert load_file(str(tmp_path / "ft" / "step-2" / "adapter_model.safetensors"))
    full = finetune(spec.model_copy(update={"method": "full", "lr": 1e-5}), name="f", base_path=str(smollm2),
                    examples=ex, seed=0, out=tmp_path / "full", load_base=lambda: load_model(smollm2))
    m2, t2 = load_model(tmp_path / "full" / f"step-{full.steps}")
    out = HFBackend(m2, t2).generate([GenRequest(messages=({"role": "user", "content": "hi"},), seeds=(0,))],
                                     GenParams(max_tokens=4))
    assert out[0][0].completion_tokens > 0
