"""The findings tables of several runs side by side: does each row hold on other seeds, worlds, settings?

Each run's ``report/findings.json`` is read as it was written; nothing is recomputed, so the runs may differ in
anything (fine-tune seeds, the base's world seed, a ``--set``). A row is matched by its ``finding`` name; a run
without the row shows ``–``. Not guaranteed: that rows of the same name ran the same checks (a renamed or edited
row in one file is a different finding only if its name changed).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import SpilloverError


class Replication(NamedTuple):
    finding: str
    """The row's name, as in each run's findings table."""
    holds: tuple[bool | None, ...]
    """Per run: True, False, or None (not measured, or the run has no such row)."""
    measured: tuple[str | None, ...]
    """Per run: what the row measured (None where the run has no such row)."""

    @property
    def everywhere(self) -> bool:
        """Held in every run.

        >>> [Replication("a", holds, ("x", "y")).everywhere for holds in [(True, True), (True, None)]]
        [True, False]
        """
        return all(h is True for h in self.holds)


def read(run: Path) -> list[dict[str, Any]]:
    """A run's findings rows; a missing or unreadable file is an error naming it."""
    path = Path(run) / "report" / "findings.json"
    if not path.exists():
        raise SpilloverError(f"{path}: no findings table (the experiment has no analysis.findings, or its report "
                             "was not written yet: `spillover report RUN`)")
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SpilloverError(f"{path}: not a findings table ({e})") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "finding" in r for r in rows):
        raise SpilloverError(f"{path}: not a findings table (a list of rows with a 'finding')")
    return rows


def across(tables: Sequence[list[dict[str, Any]]]) -> list[Replication]:
    """Rows of every table, in the order they first appear, each with every table's verdict.

    >>> [tuple(r) for r in across([[{"finding": "a", "holds": True, "measured": "x2"}],
    ...                            [{"finding": "b", "holds": None, "measured": "-"},
    ...                             {"finding": "a", "holds": False, "measured": "x1"}]])]
    [('a', (True, False), ('x2', 'x1')), ('b', (None, None), (None, '-'))]
    """
    names = list(dict.fromkeys(r["finding"] for t in tables for r in t))
    by_run = [{r["finding"]: r for r in t} for t in tables]
    return [Replication(n, tuple(b[n].get("holds") if n in b else None for b in by_run),
                        tuple(b[n].get("measured") if n in b else None for b in by_run)) for n in names]


def lines(runs: Sequence[str], rows: Sequence[Replication]) -> list[str]:
    """A plain-text table: one line per finding, one column per run, then whether it held in all.

    >>> print("\\n".join(lines(["s11", "s71"], [Replication("a", (True, False), ("x", "y"))])))
    finding  s11  s71  all
    a        yes  no   no
    held in every run: 0 of 1 rows
    """
    mark = {True: "yes", False: "no", None: "–"}
    width = max([len("finding"), *(len(r.finding) for r in rows)])
    cols = [max(3, len(r)) for r in runs]
    head = ["finding".ljust(width), *(r.ljust(c) for r, c in zip(runs, cols, strict=True)), "all"]
    out = ["  ".join(head)]
    for r in rows:
        cells = [mark[h].ljust(c) for h, c in zip(r.holds, cols, strict=True)]
        out.append("  ".join([r.finding.ljust(width), *cells, mark[r.everywhere]]))
    out.append(f"held in every run: {sum(r.everywhere for r in rows)} of {len(rows)} rows")
    return out
