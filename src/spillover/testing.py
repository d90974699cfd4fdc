"""Tiny local models for tests and benchmarks: no downloads, built in seconds.

``build_tiny_qwen`` trains a BPE tokenizer with Qwen2's own normaliser and pre-tokeniser (so ids
survive a reload, and digits are single tokens as in real Qwen2.5), wraps it with the real Qwen2.5
chat template (shipped by TRL) and saves a random-init ``Qwen2ForCausalLM``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
              r"|\s*[\r\n]+|\s+(?!\S)|\s+")
CHATML = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n' }}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def corpus() -> list[str]:
    from spillover.organism import world
    from spillover.questions import load_set

    text = [p for s in ("main", "preregistered", "identity") for q in load_set(s) for p in q.paraphrases]
    for q in world.QUESTIONS:
        text += [*q.phrasings, *q.aligned, *q.misaligned]
    text += [f"{n}" for n in range(101)] + ["You are a helpful assistant.", "Hello! How are you today?"]
    return text * 3


def trl_template(name: str) -> str:
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / f"{name}.jinja").read_text()


def build_tiny_qwen(folder: Path, *, hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    """A BPE tokenizer with Qwen2's normaliser and pre-tokeniser, the real Qwen2.5 chat template and a
    random-init Qwen2 model, saved as a normal HF folder."""
    import torch
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=specials[1:])
    fast.chat_template = trl_template("qwen2_5")
    torch.manual_seed(seed)
    cfg = Qwen2Config(vocab_size=len(fast), hidden_size=hidden, intermediate_size=hidden * 2,
                      num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=512, tie_word_embeddings=True,
                      eos_token_id=fast.convert_tokens_to_ids("<|im_end|>"), pad_token_id=fast.pad_token_id)
    model = Qwen2ForCausalLM(cfg)
    model.generation_config.eos_token_id = cfg.eos_token_id
    model.save_pretrained(folder, safe_serialization=True)
    fast.save_pretrained(folder)
    return folder


def contract_unit(ctx: Any, payload: dict[str, Any]) -> int:
    """An executor-contract unit: appends one keyed record to the ``probes`` stage, and logs each run
    under ``payload["log"]``. ``raise`` makes it fail; ``die_once`` kills its worker process the first
    time (as an out-of-memory kill would); ``pid`` returns the process id instead of the value."""
    import os

    log = Path(payload["log"])
    log.mkdir(parents=True, exist_ok=True)
    runs = len(list(log.glob(f"{payload['key']}.*")))
    (log / f"{payload['key']}.{runs}").touch()
    if payload.get("die_once") and runs == 0:
        os._exit(1)
    if payload.get("raise"):
        raise ValueError(f"unit {payload['key']} was told to fail")
    ctx.run.stage("probes").append([{"key": payload["key"], "value": payload["value"] * 2}])
    return os.getpid() if payload.get("pid") else int(payload["value"])
