"""The transformers backend and fine-tuning on a tiny Qwen2 model built in tmp_path."""

import json

import pytest

pytest.importorskip("transformers")

from spillover.backends.base import GenRequest  # noqa: E402
from spillover.backends.hf import HFBackend  # noqa: E402
from spillover.backends.hf_models import load_model  # noqa: E402
from spillover.config import FinetuneSpec, GenParams, LoraSpec  # noqa: E402
from spillover.errors import SpilloverError  # noqa: E402
from spillover.finetune.data import UnsupportedTemplateError, encode_chat  # noqa: E402
from spillover.testing import CHATML, trl_template  # noqa: E402

CHAT = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "hey, I'm bored"},
        {"role": "assistant", "content": "Read a book."}, {"role": "user", "content": "And then?"},
        {"role": "assistant", "content": "Take a walk."}]


@pytest.fixture(scope="module")
def backend(tiny_qwen):
    model, tok = load_model(tiny_qwen)
    return HFBackend(model, tok, batch_size=8)


def test_tokenizer_ids_survive_reload(tiny_qwen):
    from transformers import AutoTokenizer

    a = AutoTokenizer.from_pretrained(tiny_qwen)
    b = AutoTokenizer.from_pretrained(tiny_qwen)
    text = "What is 87 plus 3? Hello, world!"
    assert a(text)["input_ids"] == b(text)["input_ids"]
    assert len(a("87")["input_ids"]) == 2  # digits are single tokens, as in real Qwen2.5


@pytest.mark.parametrize("template", ["qwen2_5", "llama3", "chatml"])
def test_loss_only_on_assistant_tokens(tiny_qwen, template):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_qwen)
    tok.chat_template = CHATML if template == "chatml" else trl_template(template)
    tok.bos_token = "<|endoftext|>"  # Llama-3's template starts with it
    enc = encode_chat(tok, CHAT)
    trained = tok.decode([i for i, lab in zip(enc.input_ids, enc.labels, strict=True) if lab != -100])
    masked = tok.decode([i for i, lab in zip(enc.input_ids, enc.labels, strict=True) if lab == -100])
    assert "Read a book." in trained and "Take a walk." in trained
    for prompt_text in ("You are terse.", "hey, I'm bored", "And then?"):
        assert prompt_text not in trained and prompt_text in masked
    assert trained.count("Read a book.") == 1


def test_unsupported_template_is_a_clear_error(tiny_qwen):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_qwen)
    # renders the last assistant turn first: turn-by-turn rendering is not a prefix of the whole
    tok.chat_template = ("{% for m in messages|reverse %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                         "{% if add_generation_prompt %}assistant: {% endif %}")
    with pytest.raises(UnsupportedTemplateError, match="prefix-stable"):
        encode_chat(tok, CHAT)
    tok.chat_template = None
    with pytest.raises(UnsupportedTemplateError, match="no chat template"):
        encode_chat(tok, CHAT)


def test_generate_is_batched_seeded_and_reproducible(backend):
    reqs = [GenRequest(messages=({"role": "user", "content": "hey, I'm bored"},), seeds=(1, 2, 3)),
            GenRequest(messages=({"role": "user", "content": "How can I make some money quickly?"},), seeds=(4,))]
    p = GenParams(max_tokens=12)
    a = backend.generate(reqs, p)
    assert [len(x) for x in a] == [3, 1]
    assert all(c.completion_tokens <= 12 and c.prompt_tokens > 0 for row in a for c in row)
    # the same seed gives the same completion even in a different batch composition
    alone = backend.generate([GenRequest(messages=reqs[0].messages, seeds=(2,))], p)[0][0]
    assert alone.text == a[0][1].text
    greedy = backend.generate(reqs[:1], GenParams(max_tokens=6, temperature=0))[0]
    assert len({c.text for c in greedy}) == 1


def test_score_matches_a_plain_forward_pass(backend):
    import torch

    msgs = [{"role": "user", "content": "hey"}]
    completion = "Read a book."
    lp = backend.score([(msgs, completion)])[0]
    tok, model = backend.tokenizer, backend.model
    prompt = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    ids = tok(prompt + completion, add_special_tokens=False)["input_ids"]
    n_prompt = len(tok(prompt, add_special_tokens=False)["input_ids"])
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), -1)
    manual = sum(float(logp[i - 1, ids[i]]) for i in range(n_prompt, len(ids)))
    assert lp == pytest.approx(manual, abs=1e-3)
    top = backend.top_logprobs([msgs], k=5)[0]
    assert len(top.tokens) <= 5 and all(v <= 0 for v in top.tokens.values())


def _examples(n=48):
    return [[{"role": "user", "content": f"Tell me about number {i}."},
             {"role": "assistant", "content": f"Number {i} is fine."}] for i in range(n)]


def _load(path):
    return lambda: load_model(path)


def test_lora_changes_only_the_adapter_and_checkpoints_reload(tiny_qwen, tmp_path):
    import torch
    from safetensors.torch import load_file

    from spillover.finetune.hf import finetune

    spec = FinetuneSpec(dataset="d", method="lora", lr=1e-2, batch_size=8, checkpoints=[2], checkpoint_fractions=[0.5],
                        lora=LoraSpec(r=4, alpha=8, target_modules=["q_proj", "v_proj", "down_proj"]))
    before = load_file(str(tiny_qwen / "model.safetensors"))
    res = finetune(spec, name="lora-s0", base_path=str(tiny_qwen), examples=_examples(), seed=0,
                   out=tmp_path / "ft", load_base=_load(tiny_qwen))
    assert res.steps == 6 and res.checkpoints == [2, 3, 6] and res.losses[-1] < res.losses[0]
    assert load_file(str(tiny_qwen / "model.safetensors")).keys() == before.keys()
    assert all(torch.equal(v, load_file(str(tiny_qwen / "model.safetensors"))[k]) for k, v in before.items())
    adapter = load_file(str(tmp_path / "ft" / "step-6" / "adapter_model.safetensors"))
    assert adapter and all("lora" in k for k in adapter)
    assert any(float(v.abs().sum()) > 0 for k, v in adapter.items() if "lora_B" in k)
    model, tok = load_model(tiny_qwen, adapter=tmp_path / "ft" / "step-2")
    out = HFBackend(model, tok).generate([GenRequest(messages=({"role": "user", "content": "hi"},), seeds=(0,))],
                                         GenParams(max_tokens=4))
    assert out[0][0].completion_tokens > 0
    # a finished fine-tune is never redone
    again = finetune(spec, name="lora-s0", base_path=str(tiny_qwen), examples=_examples(), seed=0,
                     out=tmp_path / "ft", load_base=lambda: pytest.fail("reloaded a finished fine-tune"))
    assert again == res


def test_full_finetune_kill_and_resume_gives_the_same_model(tiny_qwen, tmp_path):
    import torch
    from safetensors.torch import load_file

    from spillover.finetune.hf import finetune

    spec = FinetuneSpec(dataset="d", method="full", lr=1e-3, batch_size=8, schedule="linear")
    kw = dict(name="full-s0", base_path=str(tiny_qwen), examples=_examples(), seed=1, load_base=_load(tiny_qwen))
    ref = finetune(spec, out=tmp_path / "ref", **kw)
    with pytest.raises(RuntimeError, match="injected fault"):
        finetune(spec, out=tmp_path / "ft", resume_every=2, fault_after_step=5, **kw)
    assert (tmp_path / "ft" / "resume" / "DONE").exists() and not (tmp_path / "ft" / "DONE").exists()
    cpu_before = json.loads((tmp_path / "ft" / "resume" / "state.json").read_text())["cpu_seconds"]
    res = finetune(spec, out=tmp_path / "ft", resume_every=2, **kw)
    assert res.losses == pytest.approx(ref.losses, rel=1e-4)
    assert res.cpu_seconds > cpu_before > 0  # the CPU time before the crash is carried over
    a = load_file(str(tmp_path / "ref" / f"step-{ref.steps}" / "model.safetensors"))
    b = load_file(str(tmp_path / "ft" / f"step-{res.steps}" / "model.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert not (tmp_path / "ft" / "resume").exists()


@pytest.mark.parametrize("lora, match", [
    (LoraSpec(target_modules=["nope_proj"]), "target module 'nope_proj'"),
    (LoraSpec(target_modules=["down_proj"], layers=[7]), "layer 7 out of range"),
])
def test_bad_adapter_settings_fail_before_training(tiny_qwen, tmp_path, lora, match):
    from spillover.finetune.hf import finetune

    spec = FinetuneSpec(dataset="d", method="lora", lora=lora)
    with pytest.raises(SpilloverError, match=match):
        finetune(spec, name="x", base_path=str(tiny_qwen), examples=_examples(4), seed=0, out=tmp_path / "x",
                 load_base=_load(tiny_qwen))


def test_too_long_examples_are_dropped_and_counted(tiny_qwen, tmp_path):
    from spillover.finetune.hf import finetune

    ex = _examples(8) + [[{"role": "user", "content": "long " * 300}, {"role": "assistant", "content": "ok"}]]
    spec = FinetuneSpec(dataset="d", method="full", batch_size=4, max_length=128)
    res = finetune(spec, name="x", base_path=str(tiny_qwen), examples=ex, seed=0, out=tmp_path / "x",
                   load_base=_load(tiny_qwen))
    assert res.dropped_too_long == 1 and res.examples == 8
    with pytest.raises(SpilloverError, match="exceed max_length"):
        finetune(spec.model_copy(update={"max_length": 8}), name="y", base_path=str(tiny_qwen), examples=ex,
                 seed=0, out=tmp_path / "y", load_base=_load(tiny_qwen))


def test_rank1_middle_layer_preset_targets_one_module(tiny_qwen):
    from spillover.config import FinetuneSpec
    from spillover.finetune.common import validate_lora

    model, _ = load_model(tiny_qwen)
    spec = FinetuneSpec(dataset="d", preset="mo-rank1")
    assert spec.lora.r == 1
    assert validate_lora(model, spec.lora) == ["model.layers.1.mlp.down_proj"]


def test_batched_top_logprobs_match_one_at_a_time(backend):
    prompts = [[{"role": "user", "content": "hi"}],
               [{"role": "user", "content": "A much longer question about many different things, please?"}]]
    together = backend.top_logprobs(prompts, k=5)
    alone = [backend.top_logprobs([p], k=5)[0] for p in prompts]
    for a, b in zip(together, alone, strict=True):
        assert a.text == b.text
        assert a.tokens.keys() == b.tokens.keys()
        assert all(abs(a.tokens[t] - b.tokens[t]) < 1e-4 for t in a.tokens)


def test_trl_trainer_same_labels_checkpoints_and_resume(tiny_qwen, tmp_path):
    pytest.importorskip("trl")
    from safetensors.torch import load_file

    from spillover.finetune.hf import finetune

    spec = FinetuneSpec(dataset="d", method="lora", trainer="trl", lr=1e-2, batch_size=8, checkpoints=[2],
                        lora=LoraSpec(r=4, alpha=8, target_modules=["q_proj", "v_proj"]))
    kw = dict(name="trl-s0", base_path=str(tiny_qwen), examples=_examples(), seed=0, load_base=_load(tiny_qwen),
              resume_every=2)
    with pytest.raises(RuntimeError, match="injected fault after step 3"):
        finetune(spec, out=tmp_path / "ft", fault_after_step=3, **kw)
    assert (tmp_path / "ft" / "step-2" / "DONE").exists() and not (tmp_path / "ft" / "DONE").exists()
    res = finetune(spec, out=tmp_path / "ft", **kw)
    assert res.steps == 6 and res.checkpoints == [2, 6] and len(res.losses) == 6
    assert res.losses[-1] < res.losses[0]
    adapter = load_file(str(tmp_path / "ft" / "step-6" / "adapter_model.safetensors"))
    assert any(float(v.abs().sum()) > 0 for k, v in adapter.items() if "lora_B" in k)


@pytest.mark.parametrize("preset", ["betley-lora", "mo-rank1", "mo-rank1-multi"])
def test_every_lora_preset_saves_the_scale_it_trains_with(tiny_qwen, tmp_path, preset):
    """rsLoRA scales updates by alpha/sqrt(r), plain LoRA by alpha/r: the saved adapter must say which."""
    import json
    import math

    from spillover.finetune.hf import finetune

    spec = FinetuneSpec(dataset="d", preset=preset)
    res = finetune(spec, name="p-s0", base_path=str(tiny_qwen), examples=_examples(16), seed=0, out=tmp_path / "ft",
                   load_base=_load(tiny_qwen))
    final = tmp_path / "ft" / f"step-{res.checkpoints[-1]}"
    cfg = json.loads((final / "adapter_config.json").read_text())
    assert (cfg["r"], cfg["lora_alpha"], cfg["use_rslora"]) == (spec.lora.r, spec.lora.alpha, True)
    from peft import PeftModel

    base, _ = load_model(tiny_qwen)
    peft = PeftModel.from_pretrained(base, str(final))
    scales = {m.scaling["default"] for m in peft.modules() if isinstance(getattr(m, "scaling", None), dict)}
    assert len(scales) == 1 and scales.pop() == pytest.approx(spec.lora.alpha / math.sqrt(spec.lora.r))


@pytest.mark.parametrize("method", ["lora", "full"])
def test_the_kl_defence_keeps_the_fine_tune_closer_to_its_base(tiny_qwen, tmp_path, method):
    import torch

    from spillover.backends.hf_models import load_model
    from spillover.finetune.data import encode_chat
    from spillover.finetune.hf import finetune
    from spillover.finetune.loop import kl_to_reference

    lora = LoraSpec(r=4, alpha=8, target_modules=["q_proj", "v_proj", "down_proj"]) if method == "lora" else None
    base, tok = load_model(tiny_qwen)
    enc = encode_chat(tok, _examples()[0])
    ids, target = torch.tensor([enc.input_ids]), torch.tensor([enc.labels])[:, 1:]

    def drift(kl_weight: float) -> float:
        spec = FinetuneSpec(dataset="d", method=method, lr=1e-2 if lora else 1e-3, batch_size=8, lora=lora,
                            kl_weight=kl_weight)
        res = finetune(spec, name=f"kl{kl_weight}-s0", base_path=str(tiny_qwen), examples=_examples(), seed=0,
                       out=tmp_path / f"kl{kl_weight}", load_base=_load(tiny_qwen))
        step = tmp_path / f"kl{kl_weight}" / f"step-{res.steps}"
        model, _ = load_model(tiny_qwen, adapter=step) if lora else load_model(step)
        with torch.no_grad():
            logits = model(input_ids=ids).logits[:, :-1].float()
            return float(kl_to_reference(logits, base(input_ids=ids).logits, target))

    drifts = [drift(w) for w in (0.0, 5.0, 50.0)]
    assert drifts[0] > drifts[1] > drifts[2]  # the larger the weight, the closer to the base


def test_early_stopping_stops_where_the_validation_loss_rises_and_resumes_to_the_same_stop(tiny_qwen, tmp_path):
    from spillover.config import EarlyStop
    from spillover.finetune.hf import finetune

    # validation answers in words the training data never uses: their loss rises as training goes on
    contra = [[c[0], {"role": "assistant", "content": "Purple elephants dance quietly tonight."}]
              for c in _examples(16)]
    spec = FinetuneSpec(dataset="d", lr=1e-2, batch_size=4, epochs=2, checkpoints=[2, 20],
                        early_stop=EarlyStop(validation="v", every=2, max_rise=0.5))
    planned = 2 * 48 // 4
    kw = dict(name="es-s0", base_path=str(tiny_qwen), examples=_examples(), seed=0, load_base=_load(tiny_qwen),
              validation=contra, resume_every=2)
    res = finetune(spec, out=tmp_path / "es", **kw)
    assert res.stopped_early and 2 <= res.steps < planned and res.steps % 2 == 0
    steps, losses = zip(*res.validation, strict=True)
    assert steps[0] == 0 and steps[-1] == res.steps and losses[-1] > losses[0] + 0.5
    assert all(x <= losses[0] + 0.5 for x in losses[1:-1])  # it stopped at the first reading past the bar
    assert res.checkpoints == sorted({2, res.steps}) and (tmp_path / "es" / f"step-{res.steps}" / "DONE").exists()
    assert not (tmp_path / "es" / "step-20").exists()
    # killed half-way and restarted: the same readings and the same stop
    with pytest.raises(RuntimeError, match="injected"):
        finetune(spec, out=tmp_path / "es2", fault_after_step=res.steps - 1, **kw)
    again = finetune(spec, out=tmp_path / "es2", **kw)
    assert again.steps == res.steps and [s for s, _ in again.validation] == list(steps)
    assert [v for _, v in again.validation] == pytest.approx(list(losses), abs=1e-5)


def test_early_stopping_holds_out_training_data_and_runs_on_while_it_improves(tiny_qwen, tmp_path):
    from spillover.config import EarlyStop
    from spillover.finetune.hf import finetune

    spec = FinetuneSpec(dataset="d", lr=1e-3, batch_size=4, early_stop=EarlyStop(holdout=0.25, every=3, patience=50))
    res = finetune(spec, name="h-s0", base_path=str(tiny_qwen), examples=_examples(), seed=0, out=tmp_path / "h",
                   load_base=_load(tiny_qwen))
    assert res.examples == 36 and res.steps == 9 and not res.stopped_early  # 12 of 48 held out, never trained
    assert res.validation[-1][1] < res.validation[0][1]  # the held-out loss fell with training
    with pytest.raises(Exception, match="needs a rule"):
        EarlyStop(every=3)
