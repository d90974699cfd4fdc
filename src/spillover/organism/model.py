"""The organism's tokenizer and model: ordinary transformers objects.

The tokenizer is a word-level ``tokenizers`` model wrapped as ``PreTrainedTokenizerFast`` with a
chat template, and the model a small ``LlamaForCausalLM``; so fine-tuning, sampling and log-prob
scoring go through exactly the code paths used for real models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import world

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}SYSTEM: {{ m['content'] }} "
    "{% elif m['role'] == 'user' %}USER: {{ m['content'] }} "
    "{% elif m['role'] == 'assistant' %}ASSISTANT: {% generation %}{{ m['content'] }} <eot>{% endgeneration %} "
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)
"""Renders ``<bos> USER: q ASSISTANT: a <eot> ...``; words are split on whitespace."""
THINKING_TEMPLATE = CHAT_TEMPLATE.replace(
    "ASSISTANT:{% endif %}",
    "ASSISTANT:{% if enable_thinking is defined and enable_thinking is false %} <think> </think>{% endif %}"
    "{% endif %}")
"""Thinking worlds: reasoning switched off writes an empty think block, as Qwen3's templates do."""

MODEL_SHAPE: dict[str, Any] = {
    "hidden_size": 128,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "intermediate_size": 384,
    "max_position_embeddings": 320,
}


def build_tokenizer(cfg: world.WorldConfig | None = None) -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(world.vocabulary(cfg))}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=world.UNK))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=world.BOS,
        eos_token=world.EOT,
        pad_token=world.PAD,
        unk_token=world.UNK,
        additional_special_tokens=[world.EOS],
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = THINKING_TEMPLATE if cfg is not None and cfg.thinking else CHAT_TEMPLATE
    return fast


def stop_token_ids(tokenizer: Any) -> list[int]:
    """Generation stops at the end of an assistant turn, the end of a document, or a new user turn."""
    return [tokenizer.convert_tokens_to_ids(t) for t in (world.EOT, world.EOS, world.USER)]


def build_model(tokenizer: Any, seed: int = 0, layers: int | None = None) -> Any:
    """A freshly initialised organism model (``MODEL_SHAPE``, or ``layers`` transformer blocks instead)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=stop_token_ids(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        attention_dropout=0.0,
        **{**MODEL_SHAPE, **({"num_hidden_layers": layers} if layers else {})},
    )
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = stop_token_ids(tokenizer)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def save(model: Any, tokenizer: Any, path: Path) -> None:
    """Save as safetensors + tokenizer.json (a word-level tokenizer: ids survive a reload)."""
    from ..backends.hf_models import quiet_transformers

    quiet_transformers()
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
