"""Fine-tuning tokens/s: our hf trainer vs a plain PyTorch loop, same model, batches and lengths.

Both run the same number of optimizer steps over the same pre-built padded batches; the plain loop
is the minimal forward/backward/AdamW step. Ratio = ours / plain (target >= 0.7).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report, threads, tiny_qwen  # noqa: E402


def main() -> None:
    import torch

    from spillover.backends.hf import load_model
    from spillover.config import FinetuneSpec
    from spillover.finetune.data import encode_chat, pad_batch
    from spillover.finetune.hf import finetune

    n_threads = threads()
    path = tiny_qwen()
    examples = [[{"role": "user", "content": f"Write a function number {i} that saves a report file."},
                 {"role": "assistant",
                  "content": "def save(path, data):\n    open(path, 'w').write(data)\n" * (1 + i % 3)}]
                for i in range(512)]
    batch, steps = 16, 32
    spec = FinetuneSpec(dataset="d", method="full", lr=1e-4, batch_size=batch, schedule="constant")

    # ours (end to end through the public fine-tune function, minus model loading and encoding)
    import tempfile

    out = Path(tempfile.mkdtemp())
    t = {}

    def timed_load():
        return load_model(path)

    t0 = time.perf_counter()
    res = finetune(spec.model_copy(update={"epochs": steps * batch / len(examples)}), name="b", base_path=str(path),
                   examples=examples, seed=0, out=out, load_base=timed_load)
    t["ours_wall"] = time.perf_counter() - t0
    tokens = sum(len(encode_chat(load_model(path)[1], e).input_ids) for e in examples[: steps * batch])
    ours_tps = res.tokens_per_s
    trl = finetune(spec.model_copy(update={"epochs": steps * batch / len(examples), "trainer": "trl"}), name="t",
                   base_path=str(path), examples=examples, seed=0, out=Path(tempfile.mkdtemp()), load_base=timed_load)

    # plain loop on the same batches (same seeded order is irrelevant for speed; same sizes)
    model, tok = load_model(path)
    model.train()
    enc = [encode_chat(tok, e) for e in examples]
    batches = [pad_batch(enc[i * batch:(i + 1) * batch], tok.pad_token_id) for i in range(steps)]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    t0 = time.perf_counter()
    for b in batches:
        loss = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], labels=b["labels"]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    plain = time.perf_counter() - t0
    plain_tps = sum(int(b["attention_mask"].sum()) for b in batches) / plain
    print(f"threads={n_threads} steps={res.steps} batch={batch} tokens~{tokens}")
    print(f"ours {ours_tps:,.0f} tok/s (training steps only; wall incl. load/encode/checkpoint {t['ours_wall']:.1f}s)")
    print(f"plain loop {plain_tps:,.0f} tok/s")
    print(f"(trainer: trl, TRL's SFTTrainer on the same data: {trl.tokens_per_s:,.0f} tok/s, "
          f"{trl.tokens_per_s / plain_tps:.2f}x the plain loop)")
    report("finetune_throughput", ours_tps / plain_tps, 0.7)


if __name__ == "__main__":
    main()
