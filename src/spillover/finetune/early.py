"""Early stopping on a validation signal (a defence during training).

The signal is the mean assistant-token loss of validation examples, read every ``every`` steps and
before the first: a held-out slice of the training data (plain early stopping), or another dataset,
e.g. aligned answers to questions outside the evaluation, whose loss rises as a fine-tune drifts
towards misalignment. Training stops when the signal has not improved for ``patience`` readings, or
when it has risen ``max_rise`` above its value before training; the model at that step is the final
one. Not guaranteed: that a signal read on a few hundred examples anticipates EM on other questions
(the scorecard measures what it cost and what it removed).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, NamedTuple

from ..config import EarlyStop
from .data import IGNORE, Encoded, pad_batch

Chat = Sequence[dict[str, str]]


class Reading(NamedTuple):
    step: int
    loss: float


class StopTraining(Exception):
    """Raised from a step callback: the validation signal says stop after ``step``."""

    def __init__(self, step: int) -> None:
        super().__init__(f"early stop after step {step}")
        self.step = step


def holdout(examples: Sequence[Chat], fraction: float, seed: int) -> tuple[list[Chat], list[Chat]]:
    """Split off ``fraction`` of the examples (at least one, seeded) as validation data.

    >>> train, val = holdout([[{"n": str(i)}] for i in range(20)], 0.1, 0)
    >>> len(train), len(val), sorted(map(str, train + val)) == sorted(str([{"n": str(i)}]) for i in range(20))
    (18, 2, True)
    """
    idx = list(range(len(examples)))
    random.Random(f"holdout-{seed}").shuffle(idx)
    n = max(1, round(fraction * len(examples)))
    held = set(idx[:n])
    return [e for i, e in enumerate(examples) if i not in held], [examples[i] for i in sorted(held)]


def should_stop(readings: Sequence[Reading], spec: EarlyStop) -> bool:
    """The stopping rule on the readings so far (the first is before training).

    >>> from spillover.config import EarlyStop
    >>> r = [Reading(0, 1.0), Reading(10, 0.8), Reading(20, 0.85), Reading(30, 0.9)]
    >>> should_stop(r, EarlyStop(patience=2)), should_stop(r[:3], EarlyStop(patience=2))
    (True, False)
    >>> should_stop([Reading(0, 1.0), Reading(10, 1.3)], EarlyStop(max_rise=0.25))
    True
    """
    losses = [r.loss for r in readings]
    if spec.max_rise is not None and losses[-1] > losses[0] + spec.max_rise:
        return True
    if spec.patience is None or len(losses) <= spec.patience:
        return False
    best_before = min(losses[: -spec.patience])
    return all(x > best_before - spec.min_delta for x in losses[-spec.patience:])


class Validation:
    """Readings of the validation loss while training, and the stopping rule."""

    def __init__(self, spec: EarlyStop, examples: list[Encoded], pad_id: int, device: str,
                 readings: Sequence[Sequence[float]] = ()) -> None:
        self.spec, self.examples, self.pad_id, self.device = spec, examples[: spec.max_examples], pad_id, device
        self.readings = [Reading(int(s), float(v)) for s, v in readings]

    def loss(self, model: Any) -> float:
        """Mean loss per assistant token of the validation examples (no gradient; mode restored)."""
        import torch

        was_training = model.training
        model.eval()
        total, n = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(self.examples), 32):
                b = {k: v.to(self.device) for k, v in pad_batch(self.examples[i:i + 32], self.pad_id).items()}
                logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits[:, :-1].float()
                target = b["labels"][:, 1:]
                total += float(torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                                 target.reshape(-1), ignore_index=IGNORE,
                                                                 reduction="sum"))
                n += int((target != IGNORE).sum())
        model.train(was_training)
        return total / max(1, n)

    def read(self, model: Any, step: int) -> bool:
        """Take a reading at ``step`` when one is due; True when training should stop there."""
        if step % self.spec.every or any(r.step == step for r in self.readings):
            return False
        self.readings.append(Reading(step, self.loss(model)))
        return step > 0 and should_stop(self.readings, self.spec)
