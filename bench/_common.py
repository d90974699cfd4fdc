"""Shared set-up for benchmarks: one torch thread by default (SPILLOVER_THREADS to change)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def threads() -> int:
    import torch

    n = int(os.environ.get("SPILLOVER_THREADS", "1"))
    torch.set_num_threads(n)
    return n


def tiny_qwen(hidden: int = 128, layers: int = 2) -> Path:
    from spillover.testing import build_tiny_qwen

    folder = Path(tempfile.mkdtemp(prefix="bench-qwen-"))
    return build_tiny_qwen(folder, hidden=hidden, layers=layers)


def report(name: str, ratio: float, target: float) -> None:
    print(f"{name} ratio={ratio:.2f} target={target}")
