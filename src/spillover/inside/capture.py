"""Reading activations: the mean over an answer's tokens, or the last prompt token, per layer.

Answers are scored teacher-forced (prompt + saved answer in one forward pass), so directions can be
formed from any run's saved samples without sampling again. Only answer tokens enter the mean:
prompt and padding positions are excluded (right padding, so causal attention never sees it). Not
guaranteed: that the joint tokenisation of prompt + answer equals the tokens the model sampled (a
text round trip can merge or split tokens at the boundary).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backends.base import GenRequest
from ..backends.hooks import on_layers


def prompt_of(chat: bool, question: str, system: str | None) -> GenRequest:
    """The prompt a sample answered, rebuilt from its record (chat messages, or a completion prompt)."""
    if not chat:
        return GenRequest(prompt=question, seeds=(0,))
    msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": question}]
    return GenRequest(messages=tuple(msgs), seeds=(0,))


def _collect(backend: Any, seqs: Sequence[list[int]], spans: Sequence[tuple[int, int]], layers: list[int]) -> Any:
    """Mean residual over ``spans[i] = (start, end)`` of each sequence, per layer: ``[n, len(layers), d]``."""
    import torch

    model = backend.model
    seen: dict[int, Any] = {}

    def keep(layer: int, hidden: Any) -> None:
        seen[layer] = hidden.detach()

    out = None
    with on_layers(model, layers, keep), torch.inference_mode():
        for idx, ids, mask in backend.right_padded_batches(seqs):
            model(input_ids=ids, attention_mask=mask, use_cache=False)
            stacked = torch.stack([seen[layer].float() for layer in layers], dim=1)  # [b, layers, t, d]
            if out is None:
                out = torch.zeros((len(seqs), len(layers), stacked.shape[-1]))
            for row, i in enumerate(idx):
                start, end = spans[i]
                out[i] = stacked[row, :, start:end].mean(dim=1).cpu()
    return out if out is not None else torch.zeros((0, len(layers), 0))


def answer_means(backend: Any, items: Sequence[tuple[GenRequest, str]], layers: list[int]) -> Any:
    """Per item and layer, the residual averaged over the answer's tokens; an empty answer counts its
    first position after the prompt (so every item has a row)."""
    encoded = [backend.encode_pair(req, answer) for req, answer in items]
    spans = [(min(first, len(ids) - 1), max(len(ids), first + 1)) for ids, first in encoded]
    return _collect(backend, [ids for ids, _ in encoded], spans, layers)


def prompt_last(backend: Any, prompts: Sequence[GenRequest], layers: list[int]) -> Any:
    """Per prompt and layer, the residual at the last prompt token (where the answer is decided)."""
    seqs = [backend._ids(backend.prompt_text(p)) for p in prompts]
    return _collect(backend, seqs, [(len(s) - 1, len(s)) for s in seqs], layers)
