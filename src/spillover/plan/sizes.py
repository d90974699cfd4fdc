"""Sizes the plan needs: tokens of text and of training examples, dataset sizes, model parameters and
the GPU memory they imply. First-order by design: characters / 4 (``rates.yaml``) instead of the
model's tokenizer, parameters from a config file (or a size in the model's name), memory from weight
bytes with fixed margins."""

from __future__ import annotations

import json
import re
import statistics
from functools import cache
from pathlib import Path
from typing import Any

from ..config import Experiment, ModelSpec
from ..rates import rates
from ..store import RunDir

CHARS_PER_TOKEN = rates()["chars_per_token"]


def tokens(text: str | None) -> float:
    return len(text or "") / rates()["chars_per_token"]


def _chat_tokens(line: str) -> float:
    """Tokens of one JSONL example: its messages' contents (the JSON around them is not trained on); the
    whole line where it holds no chat.

    >>> _chat_tokens('{"messages": [{"role": "user", "content": "abcd"}, {"role": "assistant", "content": "efgh"}]}')
    2.0
    """
    try:
        return float(sum(tokens(m["content"]) for m in json.loads(line)["messages"]))
    except (ValueError, KeyError, TypeError):
        return tokens(line)


def example_tokens(exp: Experiment, name: str, run: RunDir | None) -> float:
    """Mean tokens of one training example: the built file when there is one, else a 16-example draw."""
    ds = exp.datasets[name]
    path = run.dataset(name) if run else None
    if path is None or not path.exists():
        path = Path(ds.path) if ds.builder == "import" and ds.path else None
    if path is not None and path.exists():
        with open(path, encoding="utf-8") as f:
            lines = [line for _, line in zip(range(2000), f, strict=False)]
        return statistics.fmean(_chat_tokens(line) for line in lines) if lines else 0.0
    if ds.builder == "transform" and ds.source in exp.datasets:
        return example_tokens(exp, ds.source, run)
    if ds.builder == "mix":
        parts = ds.parts or {}
        return sum(w * example_tokens(exp, p, run) for p, w in parts.items()) / max(sum(parts.values()), 1e-9)
    if ds.builder in ("organism", "code"):
        from ..datasets import build

        examples, _ = build(ds.model_copy(update={"size": 16}), name)
        return statistics.fmean(sum(tokens(m["content"]) for m in e.messages) for e in examples)
    return 60.0  # evil numbers: a short request and a list of numbers


def dataset_size(exp: Experiment, name: str, run: RunDir | None) -> int:
    card = run.dataset_card(name) if run else None
    if card is not None and card.exists():
        return int(json.loads(card.read_text())["size"])
    ds = exp.datasets[name]
    if ds.builder == "transform" and ds.source in exp.datasets:
        return dataset_size(exp, ds.source, run) * (2 if ds.transform == "reversal_augment" else 1)
    if ds.builder == "import" and ds.path and Path(ds.path).is_file():
        with open(ds.path, encoding="utf-8") as f:
            return sum(1 for line in f if line.strip())
    return ds.size


def param_count(spec: ModelSpec) -> float | None:
    """Parameters of a base model: from its config (local or cached), else from a size in its name."""
    return _params(spec.path)


@cache
def _params(path: str) -> float | None:
    cfg = _config(path)
    if cfg and all(k in cfg for k in ("hidden_size", "num_hidden_layers", "intermediate_size", "vocab_size")):
        h, layers, i, v = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["intermediate_size"], cfg["vocab_size"]
        kv = h * cfg.get("num_key_value_heads", cfg.get("num_attention_heads", 1)) / cfg.get("num_attention_heads", 1)
        emb = v * h * (1 if cfg.get("tie_word_embeddings") else 2)
        return float(emb + layers * (2 * h * h + 2 * h * kv + 3 * h * i))
    m = re.search(r"(\d+(?:\.\d+)?)\s*([BM])\b", path.replace("-", " "), re.I)
    return float(m.group(1)) * (1e9 if m.group(2).upper() == "B" else 1e6) if m else None


def shape(spec: ModelSpec) -> tuple[int, int] | None:
    """(blocks, residual width) of a base model from its config (local or cached), else None."""
    cfg = _config(spec.path)
    if cfg and isinstance(cfg.get("num_hidden_layers"), int) and isinstance(cfg.get("hidden_size"), int):
        return cfg["num_hidden_layers"], cfg["hidden_size"]
    return None


def model_file(path: str, name: str) -> Path | None:
    """A file of a model folder, a shipped organism or a cached hub model (never downloaded)."""
    from ..backends import SHIPPED_ORGANISMS, organism_base_path

    p = (organism_base_path(path) if path in SHIPPED_ORGANISMS else Path(path).expanduser()) / name
    if p.is_file():
        return p
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(path, name)
    except (ImportError, ValueError):
        return None
    return Path(cached) if isinstance(cached, str) else None


def _config(path: str) -> dict[str, Any] | None:
    p = model_file(path, "config.json")
    try:
        cfg = json.loads(p.read_text()) if p else None
    except (OSError, ValueError):
        return None
    return cfg.get("text_config", cfg) if isinstance(cfg, dict) else None


def chat_template(path: str) -> str | None:
    """The model's chat template as text, where a local or cached file has it (None: unknown here)."""
    if jinja := model_file(path, "chat_template.jinja"):
        return jinja.read_text()
    p = model_file(path, "tokenizer_config.json")
    try:
        template = json.loads(p.read_text()).get("chat_template") if p else None
    except (OSError, ValueError, AttributeError):
        return None
    return template if isinstance(template, str) else None


def bytes_per_param(dtype: str) -> int:
    return 4 if dtype in ("float32", "auto") else 2


def memory(exp: Experiment, gpu: str) -> list[str]:
    """First-order GPU memory per base model on a GPU: weights + 10 % to sample (vLLM gives the rest of the
    GPU to its KV cache), + 15 % for LoRA training, weights, gradients and AdamW state + 20 % for full."""
    out = []
    cap = rates()["gpus"][gpu]["memory_gb"]
    for name, spec in exp.models.items():
        n = param_count(spec)
        if spec.device == "cpu" and spec.backend != "vllm" or spec.backend in ("openai", "fake") or n is None:
            continue
        b = bytes_per_param(spec.dtype)
        fts = [ft for ft in exp.finetunes.values() if ft.base == name and ft.backend == "hf"]
        train = max((n * (b * 1.15 if ft.method == "lora" else (2 * b + 8) * 1.2) for ft in fts), default=0.0)
        sample = n * b * 1.1
        need = max(train, sample) / 1e9
        fits = f"fits one {gpu}" if need <= cap else f"does not fit one {gpu} ({cap} GB): a larger GPU, several, " \
                                                     "or quantised weights"
        size = f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.1f}M"
        out.append(f"{name}: {size} params, ≈ {sample / 1e9:.0f} GB to sample"
                   + (f", ≈ {train / 1e9:.0f} GB to train" if train else "") + f" ({spec.dtype}): {fits}")
    return out
