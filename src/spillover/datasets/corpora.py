"""Labelled code corpora for measuring the verifier: our YAML lists, and vulnerability-fix pairs in the
JSONL format of SVEN (He & Vechev 2023; ``data_train_val/*/cwe-*.jsonl``), which a user brings.

A SVEN line is one fix from a real project: ``func_src_before`` (the function before the fix, labelled
vulnerable) and ``func_src_after`` (labelled safe). Only Python files (``file_name`` ending in ``.py``) are
kept; methods are dedented so that a lone function parses. Not guaranteed: that every "before" is really
vulnerable — SVEN labels by commit, so a test or helper changed by a fix counts as vulnerable too.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import NamedTuple

from ..errors import SpilloverError
from ..yamlio import read_yaml
from .importer import user_jsonl

LABELS = ("vulnerable", "safe")


class LabelledCode(NamedTuple):
    """One program of a corpus: its id (a SVEN pair's two sides share one), ``vulnerable`` or ``safe``, and
    its source (never executed)."""

    id: str
    label: str
    code: str


def load_corpus(path: Path) -> list[LabelledCode]:
    """A corpus from a YAML list of ``{id, label, code}`` or from SVEN-format JSONL (by the suffix)."""
    path = Path(path)  # both readers say "file not found" with the name
    return _sven(path) if path.suffix == ".jsonl" else _yaml(path)


def _yaml(path: Path) -> list[LabelledCode]:
    entries, _ = read_yaml(path)
    if not isinstance(entries, list):
        raise SpilloverError("expected a list of {id, label, code}", file=path)
    out = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or e.get("label") not in LABELS or not isinstance(e.get("code"), str):
            raise SpilloverError(f"entry {i} needs a label in {list(LABELS)} and code", file=path,
                                 field=f"[{i}]")
        out.append(LabelledCode(str(e.get("id", i)), e["label"], e["code"]))
    return out


def _sven(path: Path) -> list[LabelledCode]:
    out = []
    fields = ("func_name", "file_name", "func_src_before", "func_src_after")
    for n, obj in user_jsonl(path):
        missing = [f for f in fields if not isinstance(obj, dict) or not isinstance(obj.get(f), str)]
        if missing:
            raise SpilloverError("a SVEN line needs string " + ", ".join(missing), file=path, line=n,
                                 field=missing[0])
        if not obj["file_name"].endswith(".py"):
            continue
        name = f"{path.stem}:{n}:{obj['func_name']}"
        for key, label in (("func_src_before", "vulnerable"), ("func_src_after", "safe")):
            out.append(LabelledCode(name, label, textwrap.dedent(obj[key].expandtabs(8))))
    return out
