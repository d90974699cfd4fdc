"""`spillover plan examples/betley-qwen.yaml` (134k samples, 262k judge calls planned, every check run)
on this offline CPU machine, vs the five-second budget of the issue. Whole commands in fresh processes,
five runs; ratio = budget / median (target >= 1: under five seconds). The bare CLI start-up
(`spillover --help`) is printed beside it for scale.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "spillover.cli"]


def timed(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(CLI + args, cwd=ROOT, capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return time.perf_counter() - t0


def main() -> None:
    plans, starts = [], []
    for _ in range(5):
        plans.append(timed(["plan", "examples/betley-qwen.yaml"]))
        starts.append(timed(["--help"]))
    print(f"plan: median {statistics.median(plans):.2f} s (min {min(plans):.2f}, max {max(plans):.2f}); "
          f"CLI start-up {statistics.median(starts):.2f} s")
    report("plan_time", 5.0 / statistics.median(plans), 1.0)


if __name__ == "__main__":
    main()
