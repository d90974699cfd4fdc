"""Shared set-up for benchmarks: one torch thread by default (SPILLOVER_THREADS to change)."""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import Callable
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


def interleaved(name: str, ours: Callable[[], float], baseline: Callable[[], float], target: float,
                repeats: int = 3) -> float:
    """Run ``ours`` and ``baseline`` alternately (AB BA AB ...: drift hits both alike), each returning
    a rate (higher is better); print each pair's ratio, then the median with its spread. Returns it."""
    ratios = []
    for i in range(repeats):
        if i % 2 == 0:
            a, b = ours(), baseline()
        else:
            b, a = baseline(), ours()
        ratios.append(a / b)
        print(f"  {name} pair {i + 1}: ours {a:,.2f}/s, baseline {b:,.2f}/s, ratio {a / b:.2f}", flush=True)
    med = statistics.median(ratios)
    print(f"  {name}: median of {repeats}, spread {min(ratios):.2f}-{max(ratios):.2f}")
    report(name, med, target)
    return med
