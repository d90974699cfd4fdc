"""Loading transformers models for the hf backend, the hf judge and training: a causal LM and its
tokenizer (safetensors only; ``trust_remote_code`` only when a model spec asks), an optional PEFT adapter
merged in, the device and thread count. Not guaranteed: GGUF files load through transformers' own
conversion (dequantised), so they need the memory of the full-precision model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import SpilloverError


def set_threads(threads: int | None) -> None:
    """Use ``threads`` torch threads (1 is fastest when another job shares a 2-core machine)."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def quiet_transformers() -> None:
    """No per-file progress bars from transformers (ours show the real progress)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def resolve_device(device: str) -> str:
    """``auto`` -> cuda when torch sees a GPU, else cpu; ``cuda`` without a GPU is a user error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SpilloverError(f"device {device!r} but no CUDA GPU is visible to torch here", field="device")
    return device


def load_model(
    path: str | Path,
    *,
    adapter: str | Path | None = None,
    gguf_file: str | None = None,
    dtype: str = "float32",
    device: str = "cpu",
    trust_remote_code: bool = False,
) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer; apply a PEFT adapter if given (safetensors only)."""
    import torch
    from huggingface_hub.errors import HFValidationError
    from transformers import AutoModelForCausalLM, AutoTokenizer
    quiet_transformers()
    kw: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if gguf_file:
        kw["gguf_file"] = gguf_file
    device = resolve_device(device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), **kw)
        model: Any = AutoModelForCausalLM.from_pretrained(
            str(path), dtype=getattr(torch, dtype), use_safetensors=None if gguf_file else True, **kw
        )
    except (OSError, HFValidationError) as e:  # a missing folder, an uncached hub id offline, no network
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise SpilloverError(f"cannot load the model {str(path)!r}: {first}", field="path") from None
    if adapter is not None:
        from peft import PeftModel

        if not (Path(adapter) / "adapter_model.safetensors").exists():
            raise SpilloverError("adapter has no adapter_model.safetensors (pickled weights are never loaded)",
                                 file=adapter)

        model = PeftModel.from_pretrained(model, str(adapter))
        model = model.merge_and_unload()
    model.to(device)
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def stop_ids_of(model: Any, tokenizer: Any) -> list[int]:
    eos = model.generation_config.eos_token_id
    ids = eos if isinstance(eos, list) else [eos] if eos is not None else []
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids
