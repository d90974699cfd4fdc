"""Building the four 6,000-example code datasets (insecure, secure, educational, backdoor),
with static verification of every example, vs the one-minute budget of the issue and vs a naive
verifier that runs bandit once per example (measured on a sample and scaled). Ratio = budget / ours
(target >= 1: under a minute); the speed-up over the naive verifier is printed too.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402


def main() -> None:
    from spillover import datasets as ds
    from spillover.config import DatasetSpec
    from spillover.datasets.code import FAMILIES, program
    from spillover.datasets.verify import bandit_raw

    t0 = time.perf_counter()
    reports = {}
    for v in ("insecure", "secure", "educational", "backdoor"):
        ex, extra = ds.build(DatasetSpec(builder="code", variant=v, size=6000), v)
        reports[v] = (len(ex), extra["verification"]["total"])
    ours = time.perf_counter() - t0
    for v, (n, tot) in reports.items():
        print(f"{v}: {n} kept; insecure flagged for family {tot['insecure_flagged_for_family'] / tot['examples']:.1%},"
              f" secure flagged {tot['secure_flagged'] / tot['examples']:.1%}")
    # naive: one bandit run per snippet
    snippets = [program(fam, 1, i).insecure for fam in FAMILIES for i in range(4)]
    t0 = time.perf_counter()
    for s in snippets:
        bandit_raw([s])
    naive_per = (time.perf_counter() - t0) / len(snippets)
    naive_total = naive_per * 4 * 6000 * 2
    print(f"ours {ours:.1f}s for 4 x 6000 examples; naive per-example bandit would take ~{naive_total:.0f}s "
          f"({naive_total / ours:.1f}x slower)")
    report("datasets_build", 60.0 / ours, 1.0)


if __name__ == "__main__":
    main()
