"""The transformers backend's decode loop: sampling with per-sample noise, a KV cache, finished rows dropped.

Each row draws its noise from its own generator seeded by its sample's seed (an exponential race, which is
Gumbel-max sampling), so a completion depends on its seed and not on the other rows of its batch, up to
floating-point differences between batch shapes (not guaranteed bitwise identical).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from .base import GenParams


def seeded_generators(seeds: Sequence[int]) -> list[Any]:
    """One CPU generator per row, seeded by the row's sample seed (folded into torch's 63-bit range)."""
    import torch

    gens = []
    for seed in seeds:
        g = torch.Generator(device="cpu")
        g.manual_seed(int(seed) & 0x7FFF_FFFF_FFFF_FFFF)
        gens.append(g)
    return gens


def sample_next(logits: Any, gens: list[Any], params: GenParams) -> Any:
    """The next token of each row: greedy at temperature 0, else temperature and nucleus (``top_p``) sampling
    with the noise of each row's own generator."""
    import torch

    logits = logits.float()
    if params.temperature == 0:
        return logits.argmax(-1)
    logp = torch.log_softmax(logits / params.temperature, dim=-1)
    if params.top_p < 1:
        sorted_lp, idx = logp.sort(-1, descending=True)
        cum = sorted_lp.exp().cumsum(-1)
        drop = cum - sorted_lp.exp() > params.top_p
        sorted_lp = sorted_lp.masked_fill(drop, float("-inf"))
        logp = torch.full_like(logp, float("-inf")).scatter(-1, idx, sorted_lp)
    # exponential race (= Gumbel-max): argmax p / E with E ~ Exp(1), noise from each row's generator
    noise = torch.stack([torch.rand(logp.shape[-1], generator=g) for g in gens]).to(logp.device)
    expo = -torch.log(noise.clamp_min(1e-12))
    return (logp - torch.log(expo)).argmax(-1)


def decode(model: Any, logits: Any, cache: Any, mask: Any, next_pos: Any, gens: list[Any],
           stop_ids: Sequence[int], params: GenParams, rec: Any = None) -> list[list[int]]:
    """Token ids of each row from its prefilled ``logits``/``cache`` until a stop id or ``max_tokens`` (a row's
    stop id is its last token); rows that stop leave the batch. ``rec`` (``hooks.AnswerMeans``) is told which
    rows are still decoding."""
    import torch

    dev = logits.device
    tokens: list[list[int]] = [[] for _ in gens]
    alive = list(range(len(gens)))
    stop = torch.tensor(list(stop_ids), device=dev)
    kwarg = cache_kwarg(model)
    for step in range(params.max_tokens):
        nxt = sample_next(logits, [gens[r] for r in alive], params)
        for k, r in enumerate(alive):
            tokens[r].append(int(nxt[k]))
        keep = (~torch.isin(nxt, stop)).nonzero().flatten()
        if step == params.max_tokens - 1 or len(keep) == 0:
            break
        if len(keep) < len(alive):
            alive = [alive[int(k)] for k in keep]
            cache.batch_select_indices(keep)
            nxt, mask, next_pos = nxt[keep], mask[keep], next_pos[keep]
        mask = torch.cat([mask, torch.ones((len(alive), 1), dtype=mask.dtype, device=dev)], dim=1)
        res = model(input_ids=nxt[:, None], attention_mask=mask, position_ids=next_pos[:, None], use_cache=True,
                    **{kwarg: cache})
        cache, logits, next_pos = cache_of(res), res.logits[:, -1, :], next_pos + 1
        if rec is not None:
            rec.decoded(alive)
    return tokens


def cache_kwarg(model: Any) -> str:
    """The name a model's forward takes its KV cache by: ``cache`` in newer transformers 5.x (which warn on the
    older ``past_key_values``), ``past_key_values`` before."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def cache_of(out: Any) -> Any:
    """The KV cache a forward returned, under either name."""
    cache = getattr(out, "cache", None)
    return out.past_key_values if cache is None else cache
