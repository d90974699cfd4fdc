"""A lean causal-LM training loop shared by fine-tuning and the organism's pre-training.

It is a plain PyTorch loop over a transformers model (full or PEFT-wrapped): AdamW, a named
learning-rate schedule, gradient clipping, optional gradient accumulation. Batches come from a
function of the step number, so the data order is a pure function of the seed and a resumed run
sees exactly the batches it would have seen. Optimizer state is saved as safetensors (no pickles).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .data import Encoded, pad_batch


class Schedule(BaseModel):
    """A learning-rate schedule, as data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["constant", "linear", "cosine"] = "linear"
    """``linear`` decays to 0 at the last step (the paper's setting); ``cosine`` to ``min_ratio``."""
    warmup_steps: int = Field(0, ge=0)
    """Linear warm-up from 0."""
    min_ratio: float = Field(0.0, ge=0, le=1)
    """Final learning rate as a fraction of the peak (cosine only)."""
    restart_at: int | None = Field(None, ge=1)
    """Warm restart: before this step the schedule spans only ``restart_at`` steps; from it on, the
    learning rate jumps onto the curve of the whole run (as when a finished run is extended)."""

    def factor(self, step: int, total: int) -> float:
        """Multiplier of the peak learning rate at ``step`` (0-based) of ``total``.

        >>> Schedule(kind="linear", warmup_steps=2).factor(0, 10)
        0.5
        >>> Schedule(kind="constant").factor(7, 10)
        1.0
        >>> round(Schedule(kind="cosine", min_ratio=0.1).factor(10, 10), 3)
        0.1
        >>> s = Schedule(kind="cosine", min_ratio=0.1, restart_at=5)
        >>> round(s.factor(4, 10), 3), round(s.factor(5, 10), 3)
        (0.186, 0.55)
        """
        if self.restart_at is not None and step < self.restart_at:
            total = self.restart_at
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.kind == "constant":
            return 1.0
        span = max(1, total - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        if self.kind == "linear":
            return 1.0 - progress
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(model: Any, lr: float, weight_decay: float, betas: tuple[float, float]) -> Any:
    import torch

    decay: list[Any] = []
    no_decay: list[Any] = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "norm" in name else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


def save_optimizer(optimizer: Any, path: Path) -> None:
    """Optimizer state as safetensors tensors plus a JSON header (never pickle)."""
    from safetensors.torch import save_file

    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, st in state["state"].items():
        for name, value in st.items():
            if hasattr(value, "detach"):
                tensors[f"{pid}.{name}"] = value.detach().contiguous().cpu()
            else:
                scalars[f"{pid}.{name}"] = value
    save_file(tensors, str(path), metadata={"groups": json.dumps(state["param_groups"]),
                                            "scalars": json.dumps(scalars)})


def load_optimizer(optimizer: Any, path: Path) -> None:
    from safetensors import safe_open

    state: dict[int, dict[str, Any]] = {}
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        for k in f.keys():  # noqa: SIM118 - safe_open is not a dict
            pid, name = k.split(".", 1)
            state.setdefault(int(pid), {})[name] = f.get_tensor(k)
    for k, v in json.loads(meta["scalars"]).items():
        pid, name = k.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    optimizer.load_state_dict({"state": state, "param_groups": json.loads(meta["groups"])})


class StepStats(BaseModel):
    """What one optimisation step did."""

    model_config = ConfigDict(frozen=True)

    step: int
    """1-based number of optimizer steps done after this one."""
    loss: float
    """Mean loss over the trained (label != -100) tokens of the step."""
    tokens: int
    """Tokens in the batch (padding excluded)."""
    lr: float
    """Learning rate used."""
    seconds: float
    """Wall time of the step."""


def train_steps(
    model: Any,
    optimizer: Any,
    batch_fn: Callable[[int], Sequence[Encoded]],
    *,
    lr: float,
    schedule: Schedule,
    total_steps: int,
    start_step: int = 0,
    pad_id: int,
    grad_clip: float | None = 1.0,
    grad_accum: int = 1,
    device: str = "cpu",
    on_step: Callable[[StepStats], None] | None = None,
    reference: Callable[[Any, Any], Any] | None = None,
    kl_weight: float = 0.0,
) -> list[StepStats]:
    """Run optimizer steps ``start_step .. total_steps-1``; ``batch_fn(i)`` gives micro-batch ``i``.

    Step ``s`` uses micro-batches ``s*grad_accum .. s*grad_accum+grad_accum-1``. The loss is the
    token-weighted mean over the micro-batches of a step. With ``kl_weight`` > 0 the objective adds
    ``kl_weight`` x KL(reference || model) of the next-token distributions on the trained tokens
    (``reference(input_ids, attention_mask)`` gives the reference logits); the reported loss stays the
    cross-entropy.
    """
    import torch

    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    stats: list[StepStats] = []
    for step in range(start_step, total_steps):
        t0 = time.perf_counter()
        cur_lr = lr * schedule.factor(step, total_steps)
        for group in optimizer.param_groups:
            group["lr"] = cur_lr
        micro = [pad_batch(batch_fn(step * grad_accum + j), pad_id) for j in range(grad_accum)]
        n_label = sum(int((b["labels"][:, 1:] != -100).sum()) for b in micro)
        done = [_backward(model, b, n_label, device, reference, kl_weight) for b in micro]
        total_loss, n_tokens = sum(d[0] for d in done), sum(d[1] for d in done)
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        s = StepStats(step=step + 1, loss=total_loss / max(1, n_label), tokens=n_tokens, lr=cur_lr,
                      seconds=time.perf_counter() - t0)
        stats.append(s)
        if on_step:
            on_step(s)
    return stats


def _backward(model: Any, batch: dict[str, Any], n_label: int, device: str,
              reference: Callable[[Any, Any], Any] | None, kl_weight: float) -> tuple[float, int]:
    """Forward and backward one micro-batch (its share of the step's mean loss); returns its summed
    cross-entropy and its token count (padding excluded)."""
    import torch

    b = {k: v.to(device) for k, v in batch.items()}
    logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits[:, :-1].float()
    target = b["labels"][:, 1:]
    loss_sum = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                                 ignore_index=-100, reduction="sum")
    objective = loss_sum
    if kl_weight and reference is not None:
        objective = objective + kl_weight * kl_to_reference(logits, reference(b["input_ids"], b["attention_mask"]),
                                                            target)
    (objective / max(1, n_label)).backward()
    return float(loss_sum.detach()), int(b["attention_mask"].sum())


def kl_to_reference(logits: Any, ref_logits: Any, target: Any) -> Any:
    """Sum over trained positions (``target != -100``) of KL(reference || model) of the next-token
    distributions; ``ref_logits`` are taken without gradient and aligned like ``logits``.

    >>> import torch
    >>> x = torch.zeros(1, 3, 4)
    >>> float(kl_to_reference(x, torch.zeros(1, 4, 4), torch.tensor([[1, -100, 2]])))
    0.0
    """
    import torch

    with torch.no_grad():
        ref = torch.log_softmax(ref_logits[:, : logits.shape[1]].float(), dim=-1)
    logp = torch.log_softmax(logits, dim=-1)
    per_token = (ref.exp() * (ref - logp)).sum(-1)
    return per_token[target != -100].sum()
