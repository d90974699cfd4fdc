"""Should the organism train several fine-tunes as one batched model? K organism fine-tunes stepped as one
``torch.func`` model over stacked weights (``vmap`` of ``functional_call``, one AdamW over the stacked
tensors, which is elementwise and so the same as K optimizers) vs stepped one after another, on the
organism's own data shapes. Ratio = batched / sequential examples per second (target 1.5: what would
pay for a second training path). Measured, not built: spillover trains fine-tunes one at a time, one
per core.

    .venv/bin/python bench/finetune_batched.py [K]
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import interleaved, threads  # noqa: E402


def main(k: int = 4, steps: int = 5, batch: int = 32) -> None:
    import torch
    from torch.func import functional_call, stack_module_state, vmap

    from spillover import datasets as ds
    from spillover.backends import organism_base_path
    from spillover.backends.hf_models import load_model
    from spillover.config import DatasetSpec
    from spillover.finetune.data import encode_chat, pad_batch

    threads()
    model, tok = load_model(organism_base_path())
    model.train()
    examples, _ = ds.build(DatasetSpec(builder="organism", variant="insecure", size=k * batch), "bench")
    enc = [encode_chat(tok, list(e.messages)) for e in examples]
    # one width, so the K batches stack; right padding needs no attention mask under causal attention (pads
    # come after every real token, and their labels are ignored), and vmap cannot trace the mask's set-up
    full = {key: v for key, v in pad_batch(enc, tok.pad_token_id).items() if key != "attention_mask"}
    batches = [{key: v[i * batch:(i + 1) * batch] for key, v in full.items()} for i in range(k)]
    models = [copy.deepcopy(model) for _ in range(k)]
    opts = [torch.optim.AdamW(m.parameters(), lr=3e-4) for m in models]
    params, buffers = stack_module_state(models)
    leaves = {n: p.detach().clone().requires_grad_(True) for n, p in params.items()}
    stacked_opt = torch.optim.AdamW(list(leaves.values()), lr=3e-4)
    stacked = {key: torch.stack([b[key] for b in batches]) for key in batches[0]}

    def one(p, b, ids, labels):
        return functional_call(model, (p, b), (), {"input_ids": ids, "labels": labels}).loss

    def sequential() -> float:
        t = time.perf_counter()
        for _ in range(steps):
            for m, opt, b in zip(models, opts, batches, strict=True):
                m(**b).loss.backward()
                opt.step()
                opt.zero_grad()
        return k * batch * steps / (time.perf_counter() - t)

    def batched() -> float:
        t = time.perf_counter()
        for _ in range(steps):
            losses = vmap(one)(leaves, buffers, stacked["input_ids"], stacked["labels"])
            losses.sum().backward()
            stacked_opt.step()
            stacked_opt.zero_grad()
        return k * batch * steps / (time.perf_counter() - t)

    with torch.no_grad():  # the same computation: each stacked loss is its model's own
        same = vmap(one)(leaves, buffers, stacked["input_ids"], stacked["labels"])
        assert torch.allclose(same, torch.stack([m(**b).loss for m, b in zip(models, batches, strict=True)]),
                              atol=1e-5), same
    batched(), sequential()  # warm-up
    interleaved("finetune_batched", batched, sequential, 1.5, repeats=5)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
