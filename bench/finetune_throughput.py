"""Fine-tuning tokens/s: our hf trainer vs a plain PyTorch loop, same model, batches and lengths.

Both run the same number of optimizer steps over the same padded batches; the plain loop is the
minimal forward/backward/AdamW step. Ratio = ours / plain tokens/s, interleaved (target >= 0.7).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import interleaved, threads, tiny_qwen  # noqa: E402


def main() -> None:
    import torch

    from spillover.backends.hf_models import load_model
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

    epochs = steps * batch / len(examples)

    def ours() -> float:  # the public fine-tune function; its rate counts training steps only
        res = finetune(spec.model_copy(update={"epochs": epochs}), name="b", base_path=str(path),
                       examples=examples, seed=0, out=Path(tempfile.mkdtemp()), load_base=lambda: load_model(path))
        return res.tokens_per_s

    model, tok = load_model(path)
    enc = [encode_chat(tok, e) for e in examples]
    batches = [pad_batch(enc[i * batch:(i + 1) * batch], tok.pad_token_id) for i in range(steps)]

    def plain() -> float:  # the minimal forward/backward/AdamW step on the same padded batches
        model, _ = load_model(path)
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        t0 = time.perf_counter()
        for b in batches:
            loss = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], labels=b["labels"]).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
        return sum(int(b["attention_mask"].sum()) for b in batches) / (time.perf_counter() - t0)

    print(f"threads={n_threads} steps={steps} batch={batch}")
    trl = finetune(spec.model_copy(update={"epochs": epochs, "trainer": "trl"}), name="t", base_path=str(path),
                   examples=examples, seed=0, out=Path(tempfile.mkdtemp()), load_base=lambda: load_model(path))
    print(f"(trainer: trl, TRL's SFTTrainer on the same data, once: {trl.tokens_per_s:,.0f} tok/s)")
    interleaved("finetune_throughput", ours, plain, target=0.7)


if __name__ == "__main__":
    main()
